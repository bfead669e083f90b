//! Opening a connection to the cluster's database.

use crate::store::config::{PostgresConfig, TlsMode};
use crate::store::error::StoreError;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::config::TargetSessionAttrs;
use tokio_postgres::{AsyncMessage, Client, Notification};

/// Connects to the database as `config` says; the connection's I/O runs as a task of the
/// current tokio runtime until the returned client is dropped or the server goes away.
/// Fails with [`StoreError::Storage`] naming the server when it cannot be reached, refuses
/// the role or password, or its certificate does not verify, and with
/// [`StoreError::Invalid`] when the password or CA file cannot be read.
pub async fn connect(config: &PostgresConfig) -> Result<Client, StoreError> {
    connect_hearing(config, None).await
}

/// [`connect`], with the server's notifications (`NOTIFY`) on this connection sent to
/// `notices` (to a connection that `LISTEN`s).
pub async fn connect_hearing(
    config: &PostgresConfig,
    notices: Option<mpsc::UnboundedSender<Notification>>,
) -> Result<Client, StoreError> {
    let mut pg = tokio_postgres::Config::new();
    let servers = config.servers().map_err(StoreError::Invalid)?;
    for (host, port) in &servers {
        pg.host(host).port(*port);
    }
    // a standby (or a former primary come back as one) never takes khabar's writes
    pg.target_session_attrs(TargetSessionAttrs::ReadWrite)
        .dbname(&config.database)
        .user(&config.user)
        .application_name("khabar")
        // a statement's plan is made for its own values and the tables as they are: a plan
        // kept from when the tables were small (a new database) may scan a table that grew
        .options("-c plan_cache_mode=force_custom_plan")
        .connect_timeout(config.connect_timeout);
    if let Some(password) = config.resolve_password().map_err(StoreError::Invalid)? {
        pg.password(password);
    }
    let at: Vec<String> = servers.iter().map(|(h, p)| format!("{h}:{p}")).collect();
    let server = format!(
        "cannot connect to the database {} at {} as {}",
        config.database,
        at.join(" or "),
        config.user
    );
    let client = match config.tls {
        TlsMode::Off => {
            let (client, connection) = pg
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| StoreError::storage(format!("{server}: {e}"), e))?;
            tokio::spawn(drive(connection, notices));
            client
        }
        TlsMode::Verify => {
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = crate::tls::client_config(config.ca_file.as_deref())
                .map_err(|e| StoreError::Invalid(format!("[store.postgres] {e}")))?;
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, connection) = pg
                .connect(tls)
                .await
                .map_err(|e| StoreError::storage(format!("{server} over TLS: {e}"), e))?;
            tokio::spawn(drive(connection, notices));
            client
        }
    };
    Ok(client)
}

/// How long to wait before the next attempt to connect again after `attempt` failed ones:
/// from a tenth of a second, doubling, at most two seconds (a failover takes seconds; an
/// outage should not be met with a storm of connections).
pub fn retry_pause(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(2))
}

/// Runs a connection's I/O to its end, handing its notifications to `notices`; a connection
/// lost is reported by the next query on its client, so here it is only logged.
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    notices: Option<mpsc::UnboundedSender<Notification>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(notice)) => {
                if let Some(to) = &notices {
                    let _ = to.send(notice);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the connection to the database ended");
                return;
            }
        }
    }
}
