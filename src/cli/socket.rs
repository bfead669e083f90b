//! Finds the daemon's socket: `--socket`/`KHABAR_SOCKET`, else `[api] socket_path` in the
//! config file, else the default next to the config file; and its data directory.
//!
//! Only those keys are read (with `toml`), so the CLI works whatever else the daemon's
//! config holds and even when the file does not exist.

use super::CliError;
use crate::api::DEFAULT_SOCKET_PATH;
use std::path::{Path, PathBuf};

/// The socket path to use. Relative paths from the config file are taken relative to the
/// config file's directory, as the daemon does.
pub(crate) fn resolve(explicit: Option<&Path>, config: &Path) -> Result<PathBuf, CliError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let dir = config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let configured = match std::fs::read_to_string(config) {
        Ok(text) => socket_path_in(&text)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", config.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(CliError::Usage(format!(
                "cannot read {}: {e}",
                config.display()
            )));
        }
    };
    let path = configured.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET_PATH));
    Ok(if path.is_absolute() {
        path
    } else {
        dir.join(path)
    })
}

/// The daemon's `data_dir` (default `data`), relative paths from the config file's directory.
pub(crate) fn data_dir(config: &Path) -> Result<PathBuf, CliError> {
    let dir = config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let unreadable = |e: &dyn std::fmt::Display| {
        CliError::Usage(format!("cannot read {}: {e}", config.display()))
    };
    let configured = match std::fs::read_to_string(config) {
        Ok(text) => {
            let table: toml::Table = toml::from_str(&text).map_err(|e| unreadable(&e))?;
            match table.get("data_dir") {
                None => None,
                Some(toml::Value::String(s)) => Some(PathBuf::from(s)),
                Some(other) => {
                    return Err(unreadable(&format!(
                        "data_dir must be a string, not {other}"
                    )));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(unreadable(&e)),
    };
    let path = configured.unwrap_or_else(|| PathBuf::from("data"));
    Ok(if path.is_absolute() {
        path
    } else {
        dir.join(path)
    })
}

/// `[api] socket_path` of a config file's text, if set.
fn socket_path_in(text: &str) -> Result<Option<PathBuf>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    match table.get("api").and_then(|api| api.get("socket_path")) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(PathBuf::from(s))),
        Some(other) => Err(format!("[api] socket_path must be a string, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_comes_from_the_flag_then_the_config_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("khabar.toml");
        let explicit = Path::new("/run/khabar.sock");
        assert_eq!(resolve(Some(explicit), &config).unwrap(), explicit);
        assert_eq!(
            resolve(None, &config).unwrap(),
            dir.path().join(DEFAULT_SOCKET_PATH)
        );
        std::fs::write(&config, "[api]\nsocket_path = \"run/k.sock\"\n").unwrap();
        assert_eq!(
            resolve(None, &config).unwrap(),
            dir.path().join("run/k.sock")
        );
        std::fs::write(&config, "[store]\npath = \"x\"\n").unwrap();
        assert_eq!(
            resolve(None, &config).unwrap(),
            dir.path().join(DEFAULT_SOCKET_PATH)
        );
        std::fs::write(&config, "[api]\nsocket_path = 5\n").unwrap();
        assert!(matches!(resolve(None, &config), Err(CliError::Usage(_))));
    }
}
