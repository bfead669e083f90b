//! The embedded simulator: operators with `host = "embedded"` talk to an smpp-sim started
//! inside the daemon (ephemeral 127.0.0.1 ports), so the repository's config.toml gives a
//! working gateway on a fresh machine. Its control socket lets `smpp-sim ctl` drive it.
//!
//! Across a restart: at a clean stop the receipts (and subscriber messages) it still owes are
//! saved to `<data_dir>/smpp-sim-owed.json` (0600, receipts without the text excerpt that
//! could hold an OTP code); the next start gives them to the new simulator, ready at once,
//! and deletes the file. Without that file (the daemon was killed) the start warns how many
//! messages awaiting receipts will get none.

use crate::config::Config;
use crate::message::{Millis, now_ms};
use crate::sessions::{Endpoint, OperatorConfig};
use serde::{Deserialize, Serialize};
use smpp_sim::control::ControlServer;
use smpp_sim::{OwedDeliveries, SimConfig, SimHandle, Simulator};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file, in the data directory, of what the simulator owed at the last clean stop.
const OWED_FILE: &str = "smpp-sim-owed.json";
/// The format of [`OwedFile`].
const OWED_VERSION: u32 = 1;

/// What `smpp-sim-owed.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct OwedFile {
    /// [`OWED_VERSION`].
    version: u32,
    /// When it was saved.
    saved_at: Millis,
    /// Per operator, the deliver_sm it still owed (receipts without their text excerpt).
    operators: Vec<OwedDeliveries>,
}

/// The running embedded simulator.
pub(super) struct Embedded {
    sim: SimHandle,
    control: Option<ControlServer>,
    /// Where what it owes is saved at a clean stop.
    owed_path: PathBuf,
}

impl Embedded {
    /// Stops it and saves what it still owes to [`OWED_FILE`] (an empty list when it owes
    /// nothing: the file also says the stop was clean).
    pub(super) async fn stop(mut self) {
        // no more injected MO once the operators are stopping
        drop(self.control.take());
        let owed = self.sim.shutdown_and_take_pending().await;
        let (receipts, mos) = totals(&owed);
        let file = OwedFile {
            version: OWED_VERSION,
            saved_at: now_ms(),
            operators: owed,
        };
        match save(&self.owed_path, &file) {
            Ok(()) if receipts + mos > 0 => tracing::info!(
                path = %self.owed_path.display(),
                receipts,
                mo = mos,
                "the embedded simulator saved {} it still owed, for the next start",
                count(receipts, "receipt")
            ),
            Ok(()) => {}
            Err(e) => tracing::warn!(
                path = %self.owed_path.display(),
                error = %e,
                "cannot save what the embedded simulator still owes: {} will not come after the \
                 restart",
                count(receipts, "receipt")
            ),
        }
    }

    /// Gives the simulator what it owed at the last clean stop (ready at once) and deletes
    /// the file. Without the file, the last stop was not clean (SIGKILL, a crash) and the
    /// simulator forgot what it owed: warns how many of the `awaiting` messages (those in
    /// `submitted` when the store opened) will get no receipt.
    pub(super) fn restore_owed(&self, config: &Config, awaiting: u64) {
        let file = match read(&self.owed_path) {
            Ok(Some(file)) => file,
            Ok(None) => {
                warn_unsaved(config, awaiting);
                return;
            }
            Err(e) => {
                tracing::warn!(
                    path = %self.owed_path.display(),
                    error = %e,
                    "cannot restore what the embedded simulator owed before the restart; the \
                     file is left in place"
                );
                return;
            }
        };
        let counts: Vec<(String, usize, usize)> = (file.operators.iter())
            .map(|o| (o.operator.clone(), o.receipts(), o.mos()))
            .collect();
        let refused = self.sim.restore_pending(file.operators);
        if let Err(e) = fs::remove_file(&self.owed_path) {
            tracing::warn!(
                path = %self.owed_path.display(),
                error = %e,
                "cannot delete the embedded simulator's saved receipts; the next start sends \
                 them again"
            );
        }
        for (operator, receipts, mos) in counts {
            let (lost_receipts, lost_mos) = refused
                .iter()
                .find(|r| r.operator == operator)
                .map_or((0, 0), |r| (r.receipts(), r.mos()));
            let (receipts, mos) = (
                receipts.saturating_sub(lost_receipts),
                mos.saturating_sub(lost_mos),
            );
            if receipts + mos > 0 {
                let and_mo = if mos > 0 {
                    format!(" and {}", count(mos, "subscriber message"))
                } else {
                    String::new()
                };
                tracing::info!(
                    %operator,
                    receipts,
                    mo = mos,
                    "the embedded simulator restored {}{and_mo} it still owed",
                    count(receipts, "receipt")
                );
            }
        }
        let (receipts, mos) = totals(&refused);
        if receipts + mos > 0 {
            let operators: Vec<&str> = refused.iter().map(|r| r.operator.as_str()).collect();
            tracing::warn!(
                operators = %operators.join(", "),
                receipts,
                mo = mos,
                "the embedded simulator could not restore {} it owed (operators no longer \
                 simulated, or unreadable items)",
                count(receipts, "receipt")
            );
        }
    }
}

/// `1 receipt`, `3 receipts`.
fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Receipts and MO in `owed`.
fn totals(owed: &[OwedDeliveries]) -> (usize, usize) {
    (owed.iter()).fold((0, 0), |(r, m), o| (r + o.receipts(), m + o.mos()))
}

/// Writes `file` to `path` whole or not at all (a temporary file, fsynced, renamed over it),
/// private to the daemon's user.
fn save(path: &Path, file: &OwedFile) -> Result<(), String> {
    let json = serde_json::to_vec(file).map_err(|e| format!("cannot encode: {e}"))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> io::Result<()> {
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(super::private::FILE_MODE)
            .open(&tmp)?;
        out.write_all(&json)?;
        out.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// The saved file, or `None` when there is none.
fn read(path: &Path) -> Result<Option<OwedFile>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let file: OwedFile = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} does not decode: {e}", path.display()))?;
    if file.version != OWED_VERSION {
        return Err(format!(
            "{} has format {}, this khabar reads {OWED_VERSION}",
            path.display(),
            file.version
        ));
    }
    Ok(Some(file))
}

/// After a stop that saved nothing: how many messages awaiting receipts the simulator forgot.
fn warn_unsaved(config: &Config, awaiting: u64) {
    if awaiting == 0 {
        return;
    }
    let timeout = hours(config.scheduler.final_receipt_timeout);
    let embedded: Vec<&str> = (config.operators.iter())
        .filter(|o| o.is_embedded())
        .map(|o| o.name.as_str())
        .collect();
    if embedded.len() == config.operators.len() {
        tracing::warn!(
            awaiting,
            "the embedded simulator was stopped without saving: {} awaiting receipts from it \
             will get none and become unknown after final_receipt_timeout ({timeout})",
            count(awaiting as usize, "message")
        );
    } else {
        // the store counts messages per state only, not per operator
        tracing::warn!(
            awaiting,
            operators = %embedded.join(", "),
            "the embedded simulator was stopped without saving: of the {} awaiting receipts, \
             those sent to {} will get none and become unknown after final_receipt_timeout \
             ({timeout})",
            count(awaiting as usize, "message"),
            embedded.join(", ")
        );
    }
}

/// `72h` for whole hours, else humantime's form.
fn hours(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs > 0 && secs.is_multiple_of(3600) && duration.subsec_nanos() == 0 {
        format!("{}h", secs / 3600)
    } else {
        humantime::format_duration(duration).to_string()
    }
}

/// Starts the simulator when an operator asks for it.
pub(super) async fn start_if_needed(config: &Config) -> Result<Option<Embedded>, String> {
    let owed_path = config.data_dir.join(OWED_FILE);
    if !config.needs_simulator() {
        forget_owed(&owed_path);
        return Ok(None);
    }
    let mut sim_config: SimConfig = config.simulator.clone();
    for operator in &mut sim_config.operators {
        operator.port = 0;
    }
    let control_path = config.data_dir.join("smpp-sim.sock");
    sim_config.control_socket = None;
    let sim = Simulator::start(sim_config)
        .await
        .map_err(|e| format!("cannot start the embedded simulator: {e}"))?;
    let control = match ControlServer::start(sim.clone(), &control_path).await {
        Ok(control) => Some(control),
        Err(e) => {
            tracing::warn!(error = %e, "the embedded simulator runs without its control socket");
            None
        }
    };
    let ports: Vec<String> = sim
        .operators()
        .iter()
        .map(|o| format!("{} on {}", o.name, o.addr))
        .collect();
    let simulated: Vec<&str> = (config.operators.iter())
        .filter(|o| o.is_embedded())
        .map(|o| o.name.as_str())
        .collect();
    tracing::warn!(
        operators = %ports.join(", "),
        control = %control_path.display(),
        "operators {} are the embedded simulator: their messages reach no handset (give them \
         an SMSC's host to send for real)",
        simulated.join(", ")
    );
    Ok(Some(Embedded {
        sim,
        control,
        owed_path,
    }))
}

/// No operator is simulated any more: what the simulator owed at its last stop goes nowhere.
fn forget_owed(path: &Path) {
    match read(path) {
        Ok(None) => return,
        Ok(Some(file)) => {
            let (receipts, _) = totals(&file.operators);
            tracing::warn!(
                path = %path.display(),
                receipts,
                "no operator is embedded any more: dropped {} the embedded simulator owed at \
                 its last stop",
                count(receipts, "receipt")
            );
        }
        Err(e) => tracing::warn!(error = %e, "the embedded simulator's saved receipts are dropped"),
    }
    if let Err(e) = fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot delete the embedded simulator's saved receipts");
    }
}

/// Where to reach `operator`: its own host, or the embedded simulator's port for it.
pub(super) fn endpoint(
    operator: &OperatorConfig,
    embedded: Option<&Embedded>,
) -> Result<Endpoint, String> {
    let (host, port) = match (operator.is_embedded(), embedded) {
        (true, Some(e)) => {
            let port = e
                .sim
                .port(&operator.name)
                .map_err(|e| format!("operator {}: {e}", operator.name))?;
            ("127.0.0.1".to_owned(), port)
        }
        (true, None) => return Err(format!("operator {}: no embedded simulator", operator.name)),
        (false, _) => (operator.host.clone(), operator.port),
    };
    Ok(Endpoint {
        config: operator.clone(),
        host,
        port,
        lease: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_saved_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OWED_FILE);
        assert!(read(&path).unwrap().is_none(), "no file: an unclean stop");
        let file = OwedFile {
            version: OWED_VERSION,
            saved_at: 1,
            operators: vec![OwedDeliveries {
                operator: "kcell".to_owned(),
                items: Vec::new(),
            }],
        };
        save(&path, &file).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!path.with_extension("json.tmp").exists());
        let back = read(&path).unwrap().unwrap();
        assert_eq!(back.operators, file.operators);
        fs::write(&path, r#"{"version":2,"saved_at":1,"operators":[]}"#).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.contains("format 2"), "{e}");
    }

    #[test]
    fn timeouts_read_in_hours() {
        assert_eq!(hours(Duration::from_secs(72 * 3600)), "72h");
        assert_eq!(hours(Duration::from_secs(90)), "1m 30s");
    }
}
