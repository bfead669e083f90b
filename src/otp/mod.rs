//! One-time passwords (seed 001): codes from a secure generator, kept only as a keyed hash,
//! valid for one identification session, once, until their TTL.
//!
//! The sessions and the per-number resend counters live in their own sled database at
//! `<data dir>/otp`; the HMAC key lives in [`OtpConfig::secret_file`]. [`OtpService::issue`]
//! and [`OtpService::verify`] are synchronous and flush to disk before they return (run them
//! in `spawn_blocking`), so a verified code cannot come back to life after a crash, and a code
//! is on disk before the SMS carrying it is accepted. That SMS records when its code was
//! issued; the sending stage asks [`OtpService::current`] just before it sends, so a code a
//! newer one replaced is never sent.

mod checks;
mod codes;
mod db;
mod issued;
mod limits;
mod replaced;
mod seal;
mod secret;
#[cfg(test)]
mod tests;

pub use codes::{MAX_LENGTH, MIN_LENGTH};

use crate::api::protocol::{OtpResult, OtpVerdict};
use crate::log_gate::{Repeated, note};
use crate::message::Millis;
use crate::number::Msisdn;
use checks::{check_config, check_length, check_session, check_ttl};
use issued::CodeRecord;
use limits::{ResendPolicy, SendLog};
use replaced::Replaced;
pub use seal::is_sealed;
use secret::Secret;
use serde::Deserialize;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const ISSUED: Repeated = Repeated::info("otp issued");
const REFUSED: Repeated = Repeated::info("otp refused: resend limit");

/// Shortest TTL a code may have.
pub const MIN_TTL: Duration = Duration::from_secs(30);
/// Longest TTL a code may have.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// Longest session id accepted, in bytes.
pub const MAX_SESSION_BYTES: usize = 256;
/// How long past its expiry a session is kept (so late verifies still answer `expired`).
pub const KEEP_EXPIRED_FOR: Duration = Duration::from_secs(3600);

/// The `[otp]` section of config.toml.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpConfig {
    /// The HMAC key file, created with mode 0600 if absent (relative paths: under the data dir).
    pub secret_file: PathBuf,
    /// Digits in a code.
    pub length: u32,
    /// How long a code is valid.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Wrong codes allowed before the session is locked.
    pub max_attempts: u32,
    /// No new code to the same number within this.
    #[serde(with = "humantime_serde")]
    pub resend_after: Duration,
    /// At most this many codes per number per hour.
    pub max_per_hour: u32,
}

impl Default for OtpConfig {
    fn default() -> Self {
        OtpConfig {
            secret_file: PathBuf::from("otp.key"),
            length: 6,
            ttl: Duration::from_secs(300),
            max_attempts: 3,
            resend_after: Duration::from_secs(60),
            max_per_hour: 5,
        }
    }
}

/// Why an OTP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The number asked too often; try again after this many seconds.
    #[error("too many codes for this number; try again in {retry_after_s} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// A request field is out of range (length, ttl).
    #[error("{0}")]
    Invalid(String),
    /// Storage or key file trouble.
    #[error("otp storage: {0}")]
    Storage(String),
}

/// A freshly issued code: to be put into the SMS, never logged or stored in plain text.
/// Its `Debug` shows `<redacted>` instead of the digits.
pub struct IssuedCode {
    /// The digits.
    pub code: String,
    /// When it was issued: the mark the OTP message carries for [`OtpService::current`].
    pub issued_at: Millis,
    /// When it stops being valid.
    pub expires_at: Millis,
}

impl fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCode")
            .field("code", &"<redacted>")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whether an OTP message's code is still the one its session holds ([`OtpService::current`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Currency {
    /// The session holds this code: it may be sent.
    Current,
    /// The session holds a newer code: this one would not verify.
    Replaced,
    /// The session is gone (pruned after its expiry): this code would not verify.
    Missing,
}

/// The OTP sessions, on disk.
pub struct OtpService {
    db: sled::Db,
    log: crate::store::engine::log_sync::LogSync,
    sessions: sled::Tree,
    sends: sled::Tree,
    secret: Secret,
    sealer: chacha20poly1305::ChaCha20Poly1305,
    config: OtpConfig,
    path: PathBuf,
    /// Serialises read-modify-write of records (one process owns the db; OTP traffic is light,
    /// so a plain mutex is simpler than optimistic sled transactions with retries).
    write: Mutex<()>,
    /// When this process opened the database: codes issued since are judged by `replaced`.
    opened_at: Millis,
    /// Sessions whose code was replaced since `opened_at`.
    replaced: Replaced,
    /// Other nodes of a cluster issue codes too (with the same key), into their own OTP
    /// databases: a session this node does not know may be one of theirs.
    shared: bool,
}

impl fmt::Debug for OtpService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpService")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The sled tree of session records, keyed by session id.
const SESSIONS_TREE: &str = "otp_sessions";
/// The sled tree of resend times, keyed by recipient digits.
const SENDS_TREE: &str = "otp_sends";

impl OtpService {
    /// Opens (or creates) the OTP store in `dir` and loads (or creates) the key file.
    /// Blocking. Refuses a config whose values are out of range.
    pub fn open(config: &OtpConfig, dir: &Path) -> Result<OtpService, OtpError> {
        check_config(config)?;
        let path = dir.join("otp");
        let (db, log) = db::open(&path)?;
        let sessions = db
            .open_tree(SESSIONS_TREE)
            .map_err(|e| storage("open", e))?;
        let sends = db.open_tree(SENDS_TREE).map_err(|e| storage("open", e))?;
        let secret = Secret::load_or_create(&dir.join(&config.secret_file))?;
        crate::side_db::flush(&db, &log).map_err(OtpError::Storage)?;
        Ok(OtpService {
            db,
            log,
            sessions,
            sends,
            sealer: seal::cipher(&secret),
            secret,
            config: config.clone(),
            path,
            write: Mutex::new(()),
            opened_at: crate::message::now_ms(),
            replaced: Replaced::default(),
            shared: false,
        })
    }

    /// In cluster mode: other nodes issue codes too (see [`OtpService::current`]).
    pub fn share_with_other_nodes(&mut self) {
        self.shared = true;
    }

    /// What tells this node's key file from another's without revealing it (an HMAC of a fixed
    /// label under the key, in hex): the nodes of a cluster must share one key, since any node
    /// may send an OTP another sealed, and a code must verify whichever node hashed it.
    pub fn key_fingerprint(&self) -> String {
        let check = self.secret.derive(b"khabar: otp key fingerprint v1");
        check[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts an OTP's SMS text for the store (see [`is_sealed`]).
    pub fn seal_text(&self, text: &str) -> Result<String, OtpError> {
        seal::seal(&self.sealer, text)
    }

    /// Decrypts a text made by [`OtpService::seal_text`] (the sending stage, just before
    /// the PDU is built).
    pub fn open_text(&self, sealed: &str) -> Result<String, OtpError> {
        seal::open(&self.sealer, sealed)
    }

    /// Issues a new code for `session` to `to` (invalidating the session's previous code),
    /// or refuses with `RateLimited`. `length`/`ttl` override the config when given.
    /// Durable (flushed) when it returns.
    pub fn issue(
        &self,
        session: &str,
        to: &Msisdn,
        length: Option<u32>,
        ttl: Option<Duration>,
        now: Millis,
    ) -> Result<IssuedCode, OtpError> {
        check_session(session)?;
        let length = length.unwrap_or(self.config.length);
        check_length(length)?;
        let ttl = ttl.unwrap_or(self.config.ttl);
        check_ttl(ttl)?;
        let policy = ResendPolicy {
            resend_after_ms: millis(self.config.resend_after),
            max_per_hour: self.config.max_per_hour,
        };
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let to_digits = to.as_str();
        let mut log = match self.sends.get(to_digits).map_err(|e| storage("read", e))? {
            Some(bytes) => SendLog::decode(&bytes)?,
            None => SendLog::default(),
        };
        log.forget_before(now);
        if let Err(retry_after_s) = log.check(now, policy) {
            note(
                &REFUSED,
                || tracing::info!(to = %to.masked(), retry_after_s, "{}", REFUSED.what),
            );
            return Err(OtpError::RateLimited { retry_after_s });
        }
        log.record(now);
        let code = codes::generate(length);
        let expires_at = now.saturating_add(millis(ttl));
        let previous = (self.sessions.get(session.as_bytes()))
            .map_err(|e| storage("read", e))?
            .and_then(|bytes| CodeRecord::decode(&bytes).ok())
            .map(|record| record.expires_at)
            .filter(|until| *until > now);
        let record = CodeRecord::new(self.secret.hash(session, &code), to_digits, now, expires_at);
        let record_bytes = record.encode()?;
        let log_bytes = log.encode()?;
        (&self.sessions, &self.sends)
            .transaction(|(sessions, sends)| {
                sessions.insert(session.as_bytes(), record_bytes.as_slice())?;
                sends.insert(to_digits.as_bytes(), log_bytes.as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => storage("write", e),
                TransactionError::Abort(()) => OtpError::Storage("write aborted".into()),
            })?;
        self.flush()?;
        self.replaced.note(session, now, previous);
        note(
            &ISSUED,
            || tracing::info!(to = %to.masked(), length, ttl_s = ttl.as_secs(), "{}", ISSUED.what),
        );
        Ok(IssuedCode {
            code,
            issued_at: now,
            expires_at,
        })
    }

    /// Whether the code `session` was issued at `issued_at` is still the session's code: the
    /// sending stage's check just before an OTP goes out. A code issued since the database was
    /// opened is judged from memory; an older one is read from disk. In cluster mode a session
    /// this node does not hold is another node's, and taken as current.
    pub fn current(&self, session: &str, issued_at: Millis) -> Result<Currency, OtpError> {
        if issued_at >= self.opened_at {
            return Ok(if self.replaced.is_replaced(session, issued_at) {
                Currency::Replaced
            } else {
                Currency::Current
            });
        }
        let stored = self
            .sessions
            .get(session.as_bytes())
            .map_err(|e| storage("read", e))?;
        Ok(match stored {
            // another node's session: only that node could tell whether it was replaced
            None if self.shared => Currency::Current,
            None => Currency::Missing,
            Some(bytes) if CodeRecord::decode(&bytes)?.issued_at == issued_at => Currency::Current,
            Some(_) => Currency::Replaced,
        })
    }

    /// Admits one more OTP SMS to the number `to` (E.164 digits) under the rolling-hour cap
    /// `max_per_hour` that `otp_send` counts against too: `Ok(None)` = it may go now,
    /// `Ok(Some(at))` = it is held until `at` (its place in the hour is reserved), or
    /// `RateLimited` when that place comes after `send_by` — it could never go out in time,
    /// so it is refused and nothing is reserved. Durable (flushed) when it returns.
    pub fn admit(
        &self,
        to: &str,
        now: Millis,
        send_by: Option<Millis>,
    ) -> Result<Option<Millis>, OtpError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut log = match self.sends.get(to).map_err(|e| storage("read", e))? {
            Some(bytes) => SendLog::decode(&bytes)?,
            None => SendLog::default(),
        };
        log.forget_before(now);
        let slot = log.earliest_slot(now, self.config.max_per_hour);
        if send_by.is_some_and(|by| slot > by) {
            let retry_after_s = (u64::try_from(slot - now).unwrap_or(0))
                .div_ceil(1000)
                .max(1);
            return Err(OtpError::RateLimited { retry_after_s });
        }
        log.record(slot);
        self.sends
            .insert(to.as_bytes(), log.encode()?)
            .map_err(|e| storage("write", e))?;
        self.flush()?;
        Ok((slot > now).then_some(slot))
    }

    /// Checks `code` for `session` (see the verdicts of [`OtpResult`]). A right code is used up
    /// and a wrong one counts against the session's attempts; both are durable (flushed) when
    /// this returns. A replaced (older) code of the session is simply a wrong code.
    pub fn verify(&self, session: &str, code: &str, now: Millis) -> Result<OtpVerdict, OtpError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stored = if session.len() > MAX_SESSION_BYTES {
            None
        } else {
            self.sessions
                .get(session.as_bytes())
                .map_err(|e| storage("read", e))?
        };
        let Some(bytes) = stored else {
            tracing::debug!(result = "unknown_session", "otp verify");
            return Ok(OtpVerdict {
                result: OtpResult::UnknownSession,
                attempts_left: None,
            });
        };
        let mut record = CodeRecord::decode(&bytes)?;
        let stored_hash = record.hash;
        let (verdict, changed) = record.judge(now, self.config.max_attempts, || {
            codes::matches(&self.secret, session, code, &stored_hash)
        });
        if changed {
            self.sessions
                .insert(session.as_bytes(), record.encode()?)
                .map_err(|e| storage("write", e))?;
            self.flush()?;
        }
        tracing::debug!(
            result = ?verdict.result,
            attempts_left = ?verdict.attempts_left,
            "otp verify"
        );
        Ok(verdict)
    }

    /// Deletes sessions that expired more than [`KEEP_EXPIRED_FOR`] before `now` and resend
    /// times older than an hour; returns how many entries went (sessions plus send times).
    /// Also forgets replacements whose replaced codes have all expired.
    pub fn prune(&self, now: Millis) -> Result<usize, OtpError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let keep_ms = millis(KEEP_EXPIRED_FOR);
        self.replaced.forget_expired(now);
        let mut removed = 0;
        let mut unreadable = 0;
        for entry in self.sessions.iter() {
            let (key, bytes) = entry.map_err(|e| storage("read", e))?;
            let Ok(record) = CodeRecord::decode(&bytes) else {
                unreadable += 1;
                continue;
            };
            if record.expires_at.saturating_add(keep_ms) <= now {
                self.sessions.remove(key).map_err(|e| storage("write", e))?;
                removed += 1;
            }
        }
        for entry in self.sends.iter() {
            let (key, bytes) = entry.map_err(|e| storage("read", e))?;
            let Ok(mut log) = SendLog::decode(&bytes) else {
                unreadable += 1;
                continue;
            };
            let gone = log.forget_before(now);
            if gone == 0 {
                continue;
            }
            removed += gone;
            if log.is_empty() {
                self.sends.remove(key).map_err(|e| storage("write", e))?;
            } else {
                self.sends
                    .insert(key, log.encode()?)
                    .map_err(|e| storage("write", e))?;
            }
        }
        if unreadable > 0 {
            tracing::warn!(unreadable, "unreadable OTP records were left in place");
        }
        if removed > 0 {
            self.flush()?;
        }
        Ok(removed)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), OtpError> {
        crate::side_db::flush(&self.db, &self.log).map_err(OtpError::Storage)
    }
}

/// A sled error as an `OtpError`.
fn storage(what: &str, e: impl fmt::Display) -> OtpError {
    OtpError::Storage(format!("{what}: {e}"))
}

/// A duration as `Millis` (saturating).
fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}
