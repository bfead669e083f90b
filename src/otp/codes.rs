//! Making codes and checking typed ones against their stored hash.

use super::secret::{CodeHash, Secret};
use rand::Rng;
use subtle::ConstantTimeEq;

/// Shortest code accepted.
pub const MIN_LENGTH: u32 = 4;
/// Longest code accepted.
pub const MAX_LENGTH: u32 = 10;

/// A code of `length` uniformly random decimal digits.
///
/// `rand::rng()` is a ChaCha12 generator seeded (and periodically reseeded) from the OS, i.e. a
/// CSPRNG; `random_range` samples without modulo bias.
pub(crate) fn generate(length: u32) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// True when `typed` (surrounding whitespace ignored) is the code stored as `stored` for
/// `session`. Anything that is not 4–10 digits is simply wrong; the hash comparison is
/// constant-time.
pub(crate) fn matches(secret: &Secret, session: &str, typed: &str, stored: &CodeHash) -> bool {
    let typed = typed.trim();
    let plausible = (MIN_LENGTH as usize..=MAX_LENGTH as usize).contains(&typed.len())
        && typed.bytes().all(|b| b.is_ascii_digit());
    if !plausible {
        return false;
    }
    secret.hash(session, typed).ct_eq(stored).into()
}
