//! The daemon: opens the store, starts every stage of the data path and the socket (in progress).

use std::path::Path;

/// Runs the gateway until SIGTERM/ctrl-c, with the config file at `config_path`.
pub async fn run(config_path: &Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = config_path;
    Err("the daemon is not built yet".into())
}
