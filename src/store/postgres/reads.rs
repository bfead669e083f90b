//! The connection reads share, made again when it is lost (the database restarted or failed
//! over to its standby): the call that finds it closed connects once more, and a call that
//! fails while the server is away returns its error; the next one tries again.

use super::connect::connect;
use crate::store::config::PostgresConfig;
use crate::store::error::StoreError;
use std::sync::{Arc, Mutex};
use tokio::sync::{MappedMutexGuard, MutexGuard};
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

/// A connection one caller at a time uses for transactions of its own (the lease keeper's, so
/// that a busy writer never delays a heartbeat), made again when it is lost.
pub struct Exclusive {
    config: PostgresConfig,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl Exclusive {
    /// Not connected until first used.
    pub fn new(config: &PostgresConfig) -> Exclusive {
        Exclusive {
            config: config.clone(),
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// The connection, for this caller alone until the guard drops; connected first if it
    /// never was or was lost.
    pub async fn lock(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(|client| client.is_closed()) {
            *slot = Some(connect(&self.config).await?);
        }
        Ok(MutexGuard::map(slot, |client| {
            client.as_mut().expect("connected just above")
        }))
    }
}
