//! The connection reads share, made again when it is lost (the database restarted or failed
//! over to its standby): the call that finds it closed connects once more, and a call that
//! fails while the server is away returns its error; the next one tries again.

use super::connect::connect;
use crate::store::config::PostgresConfig;
use crate::store::error::StoreError;
use std::sync::{Arc, Mutex};
use tokio_postgres::Client;

/// The shared read connection, reconnected on demand.
pub struct Reads {
    config: PostgresConfig,
    client: Mutex<Arc<Client>>,
    /// Held while connecting, so that callers finding it closed at once connect once.
    connecting: tokio::sync::Mutex<()>,
}

impl Reads {
    /// Connects as `config` says.
    pub async fn open(config: &PostgresConfig) -> Result<Reads, StoreError> {
        let client = connect(config).await?;
        Ok(Reads {
            config: config.clone(),
            client: Mutex::new(Arc::new(client)),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// The connection, made again first if it was lost.
    pub async fn get(&self) -> Result<Arc<Client>, StoreError> {
        let current = self.current();
        if !current.is_closed() {
            return Ok(current);
        }
        let _one = self.connecting.lock().await;
        let current = self.current();
        if !current.is_closed() {
            return Ok(current); // another caller connected it meanwhile
        }
        let client = Arc::new(connect(&self.config).await?);
        tracing::info!(host = %self.config.host, "reconnected to the database (reads)");
        if let Ok(mut slot) = self.client.lock() {
            *slot = Arc::clone(&client);
        }
        Ok(client)
    }

    fn current(&self) -> Arc<Client> {
        match self.client.lock() {
            Ok(client) => Arc::clone(&client),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}
