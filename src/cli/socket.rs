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
    match explicit {
        Some(path) => Ok(path.to_path_buf()),
        None => path_in_config(config, &["api", "socket_path"], DEFAULT_SOCKET_PATH),
    }
}

/// The daemon's `data_dir` (default `data`), relative paths from the config file's directory.
pub(crate) fn data_dir(config: &Path) -> Result<PathBuf, CliError> {
    path_in_config(config, &["data_dir"], "data")
}

/// The path at `key` (a table path) of the config file, else `default`, relative paths taken
/// from the config file's directory; a missing file counts as one without the key.
fn path_in_config(config: &Path, key: &[&str], default: &str) -> Result<PathBuf, CliError> {
    let dir = config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let unreadable = |e: &dyn std::fmt::Display| {
        CliError::Usage(format!("cannot read {}: {e}", config.display()))
    };
    let configured = match std::fs::read_to_string(config) {
        Ok(text) => string_in(&text, key).map_err(|e| unreadable(&e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(unreadable(&e)),
    };
    let path = configured.map_or_else(|| PathBuf::from(default), PathBuf::from);
    Ok(if path.is_absolute() {
        path
    } else {
        dir.join(path)
    })
}

/// The string at `key` (a table path such as `["api", "socket_path"]`) of a config text.
fn string_in(text: &str, key: &[&str]) -> Result<Option<String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let (last, tables) = key.split_last().expect("a key has a name");
    let mut at = &table;
    for name in tables {
        match at.get(*name) {
            Some(toml::Value::Table(inner)) => at = inner,
            _ => return Ok(None),
        }
    }
    match at.get(*last) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{} must be a string, not {other}", key.join("."))),
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
