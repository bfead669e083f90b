//! Sealing an OTP's SMS text for the store: the queued text carries the code, so it is kept
//! encrypted (ChaCha20-Poly1305 under a key derived from the OTP key file) and opened only by
//! the sending stage when it builds the PDU. The code is never in the store in plain text.

use super::OtpError;
use super::secret::Secret;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

/// Prefix of a sealed text (with the format version).
const PREFIX: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;

/// True when `text` is a sealed OTP text.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// The cipher keyed for sealing texts (a key separate from the code-hash key).
pub(crate) fn cipher(secret: &Secret) -> ChaCha20Poly1305 {
    let key = secret.derive(b"khabar: otp sms text sealing v1");
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Encrypts `text` under a fresh random nonce.
pub(crate) fn seal(cipher: &ChaCha20Poly1305, text: &str) -> Result<String, OtpError> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), text.as_bytes())
        .map_err(|_| OtpError::Storage("cannot seal the OTP text".into()))?;
    Ok(format!("{PREFIX}{}{}", hex(&nonce), hex(&sealed)))
}

/// Decrypts a text made by [`seal`] with the same key.
pub(crate) fn open(cipher: &ChaCha20Poly1305, sealed: &str) -> Result<String, OtpError> {
    let bad =
        || OtpError::Storage("the sealed OTP text cannot be opened (key file changed?)".into());
    let bytes = unhex(sealed.strip_prefix(PREFIX).ok_or_else(bad)?).ok_or_else(bad)?;
    if bytes.len() < NONCE_BYTES {
        return Err(bad());
    }
    let (nonce, body) = bytes.split_at(NONCE_BYTES);
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce), body)
        .map_err(|_| bad())?;
    String::from_utf8(plain).map_err(|_| bad())
}

// Hex by hand: a dozen lines do not justify another dependency.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_text_opens_only_with_its_key() {
        let cipher = cipher(&Secret::from_key(&[7u8; 32]).unwrap());
        let text = "Бір реттік құпия сөз: 482913.";
        let sealed = seal(&cipher, text).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("482913"));
        assert_eq!(open(&cipher, &sealed).unwrap(), text);
        let other = super::cipher(&Secret::from_key(&[8u8; 32]).unwrap());
        assert!(open(&other, &sealed).is_err());
        assert!(open(&cipher, "sealed:v1:zz").is_err());
    }
}
