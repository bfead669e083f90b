//! The server secret: the HMAC key file (created with mode 0600 when absent) and the keyed hash
//! under which codes are stored. The key is never logged and has no readable `Debug`.

use super::OtpError;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Bytes of key material in a newly created key file.
pub(crate) const NEW_KEY_BYTES: usize = 32;
/// A key file shorter than this is refused.
pub(crate) const MIN_KEY_BYTES: usize = 32;
/// A key file longer than this is refused (it is surely not a key file).
const MAX_KEY_BYTES: usize = 4096;

/// A code's stored form: HMAC-SHA256(key, session || 0x00 || code).
pub(crate) type CodeHash = [u8; 32];

type HmacSha256 = Hmac<Sha256>;

/// The keyed hash, ready to use.
pub(crate) struct Secret {
    mac: HmacSha256,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Reads the key file at `path`, or creates it with fresh random bytes (mode 0600).
    pub(crate) fn load_or_create(path: &Path) -> Result<Secret, OtpError> {
        let key = match create(path) {
            Ok(key) => {
                tracing::info!(path = %path.display(), "created a new OTP key file (mode 0600)");
                key
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(path)?,
            Err(e) => {
                return Err(OtpError::Storage(format!(
                    "cannot create the OTP key file {}: {e}",
                    path.display()
                )));
            }
        };
        Secret::from_key(&key)
    }

    /// Wraps key bytes (any length HMAC accepts, which is any length).
    pub(crate) fn from_key(key: &[u8]) -> Result<Secret, OtpError> {
        let mac = HmacSha256::new_from_slice(key)
            .map_err(|_| OtpError::Storage("the OTP key cannot be used for HMAC".into()))?;
        Ok(Secret { mac })
    }

    /// A 32-byte key for another purpose, derived from the key file (HMAC of `label`).
    pub(crate) fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    /// The stored form of `code` for `session`.
    pub(crate) fn hash(&self, session: &str, code: &str) -> CodeHash {
        let mut mac = self.mac.clone();
        mac.update(session.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Creates the key file with `create_new` and mode 0600, filled from the OS generator.
/// Fails with `AlreadyExists` when the file is there.
fn create(path: &Path) -> io::Result<Vec<u8>> {
    let mut key = vec![0u8; NEW_KEY_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| io::Error::other(format!("the OS random generator failed: {e}")))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = file.write_all(&key).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written key would be refused at the next start; leave nothing behind.
        let _ = fs::remove_file(path);
        return Err(e);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the new directory entry durable too; a failure here is not worth refusing.
        let _ = File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(key)
}

/// Reads an existing key file, warning when group or others may read it.
fn read(path: &Path) -> Result<Vec<u8>, OtpError> {
    let fail = |e: io::Error| {
        OtpError::Storage(format!(
            "cannot read the OTP key file {}: {e}",
            path.display()
        ))
    };
    let file = File::open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(OtpError::Storage(format!(
            "the OTP key file {} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "the OTP key file can be read by others than its owner; chmod 600 it"
        );
    }
    let mut key = Vec::with_capacity(NEW_KEY_BYTES);
    file.take(MAX_KEY_BYTES as u64 + 1)
        .read_to_end(&mut key)
        .map_err(fail)?;
    if key.len() < MIN_KEY_BYTES {
        return Err(OtpError::Storage(format!(
            "the OTP key file {} holds {} bytes, at least {MIN_KEY_BYTES} are needed; delete it \
             to have a new key made (codes already sent then stop working)",
            path.display(),
            key.len()
        )));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(OtpError::Storage(format!(
            "the OTP key file {} is longer than {MAX_KEY_BYTES} bytes; is it the right file?",
            path.display()
        )));
    }
    Ok(key)
}
