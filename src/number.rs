//! Recipient phone numbers: normalising what upstream sends into E.164 digits, and masking
//! numbers for logs.
//!
//! Kazakhstan mobiles arrive as `+77011234567`, `77011234567`, `87011234567` (the domestic
//! trunk prefix 8) or with separators (`+7 (701) 123-45-67`). [`normalize`] turns each of them
//! into `77011234567` (E.164 without '+'), the form the store, the router and SMPP use.
//! [`normalize_any`] additionally accepts other countries' numbers written with '+', for
//! deployments that configure a default route. [`mask`] renders a number for logs as
//! `+7701***4567`; [`Msisdn`]'s `Debug` is masked too, so a stray `{:?}` leaks nothing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Digits in a Kazakhstan number in E.164 form: country code 7 plus ten national digits.
const KZ_DIGITS: usize = 11;
/// Shortest international number accepted by [`normalize_any`] (E.164 allows fewer, but no
/// mobile network in use assigns them).
const MIN_INTERNATIONAL_DIGITS: usize = 8;
/// Longest number E.164 allows.
const MAX_INTERNATIONAL_DIGITS: usize = 15;

/// A normalised recipient number: E.164 digits without '+', e.g. `77011234567`.
///
/// `Display` and serde give the full digits (SMPP and the store need them); `Debug` is masked
/// so that logging a value with `{:?}` never reveals the number.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    /// Wraps digits that are already normalised E.164 (8–15 digits, no leading 0, no '+'),
    /// e.g. a recipient read back from the store.
    pub fn from_e164_digits(digits: &str) -> Result<Msisdn, NumberError> {
        if digits.is_empty() {
            return Err(NumberError::Missing);
        }
        if let Some((position, character)) = digits
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_digit())
        {
            return Err(NumberError::InvalidCharacter {
                character,
                position,
            });
        }
        check_international_length(digits)?;
        Ok(Msisdn(digits.to_owned()))
    }

    /// The E.164 digits without '+'.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a Kazakhstan mobile number (`77…`, eleven digits).
    pub fn is_kazakhstan_mobile(&self) -> bool {
        self.0.len() == KZ_DIGITS && self.0.starts_with("77")
    }

    /// The number masked for logs, e.g. `+7701***4567`; see [`mask`].
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.masked())
    }
}

impl AsRef<str> for Msisdn {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Msisdn> for String {
    fn from(number: Msisdn) -> String {
        number.0
    }
}

impl TryFrom<String> for Msisdn {
    type Error = NumberError;
    fn try_from(digits: String) -> Result<Self, Self::Error> {
        Msisdn::from_e164_digits(&digits)
    }
}

impl FromStr for Msisdn {
    type Err = NumberError;
    /// Parses with [`normalize_any`]: Kazakhstan forms plus '+'-prefixed international numbers.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        normalize_any(s)
    }
}

/// Why a string is not a usable recipient number. Messages never contain the full number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing (or only separators) was given: the recipient has no phone number on record.
    #[error("no phone number: the recipient has none on record, so no SMS can be sent")]
    Missing,
    /// A character other than digits, '+', spaces, '-', '.', '(' and ')'.
    #[error(
        "phone number contains {character:?} at position {position}; only digits, a leading '+', \
         spaces, '-', '.', '(' and ')' are allowed"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position (in characters) in the input.
        position: usize,
    },
    /// '+' somewhere other than at the start.
    #[error("phone number has '+' at position {position}; '+' may only start the number")]
    MisplacedPlus {
        /// Its position (in characters) in the input.
        position: usize,
    },
    /// A Kazakhstan number with the wrong number of digits.
    #[error(
        "phone number {masked} has {digits} digits; a Kazakhstan mobile has 11 \
         (+7 7xx xxx xx xx, or 8 7xx xxx xx xx)"
    )]
    WrongLength {
        /// How many digits were given.
        digits: usize,
        /// The number, masked.
        masked: String,
    },
    /// Eleven digits, but not in Kazakhstan's mobile range `+7 7xx`.
    #[error(
        "phone number {masked} is not a Kazakhstan mobile number (+7 7xx …); international \
         numbers must be written with '+' and need a configured default route"
    )]
    NotKazakhstanMobile {
        /// The number, masked.
        masked: String,
    },
    /// A Kazakhstan fixed-line number (city codes 7 71x / 7 72x), which cannot receive SMS.
    #[error("phone number {masked} is a Kazakhstan landline (city code 7 71x/72x), not a mobile")]
    Landline {
        /// The number, masked.
        masked: String,
    },
    /// A '+' number whose length E.164 does not allow.
    #[error(
        "international number {masked} has {digits} digits after '+'; between 8 and 15 are allowed"
    )]
    InternationalLength {
        /// How many digits were given.
        digits: usize,
        /// The number, masked.
        masked: String,
    },
    /// A '+' number starting with 0, which is no country code.
    #[error("international number {masked} starts with 0, which is not a country code")]
    NoCountryCode {
        /// The number, masked.
        masked: String,
    },
}

/// Normalises a Kazakhstan mobile number to E.164 digits without '+' (`77011234567`).
///
/// Accepted forms: `+77011234567`, `77011234567`, `87011234567` and the bare national
/// `7011234567`, each with optional spaces, '-', '.', '(' and ')'. Everything else is refused
/// with a [`NumberError`] saying why.
pub fn normalize(input: &str) -> Result<Msisdn, NumberError> {
    let (plus, digits) = strip_separators(input)?;
    normalize_kazakhstan(plus, &digits)
}

/// Like [`normalize`], but also accepts other countries' numbers written in E.164 with a
/// leading '+' (8–15 digits), for deployments with a default route. A number starting with
/// `+7 7` still has to be a valid Kazakhstan mobile, and every `+7` number (Kazakhstan and
/// Russia share the code) must have 11 digits.
pub fn normalize_any(input: &str) -> Result<Msisdn, NumberError> {
    let (plus, digits) = strip_separators(input)?;
    if !plus || digits.starts_with("77") {
        return normalize_kazakhstan(plus, &digits);
    }
    if digits.starts_with('7') && digits.len() != KZ_DIGITS {
        return Err(NumberError::InternationalLength {
            digits: digits.len(),
            masked: mask_digits(&digits),
        });
    }
    check_international_length(&digits)?;
    Ok(Msisdn(digits))
}

/// Masks a number for logs: `+7701***4567` (country code and the first three national digits,
/// then the last four). Numbers with fewer than 11 digits are masked entirely, one '*' per
/// digit, so only their length shows. Accepts any input form; non-digits are ignored.
pub fn mask(number: &str) -> String {
    match normalize_any(number) {
        Ok(msisdn) => mask_digits(msisdn.as_str()),
        Err(_) => {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            mask_digits(&digits)
        }
    }
}

/// Masks a string of digits (see [`mask`]).
fn mask_digits(digits: &str) -> String {
    let n = digits.len();
    if n == 0 {
        return "(none)".to_owned();
    }
    if n < KZ_DIGITS || !digits.is_ascii() {
        return "*".repeat(n.min(MAX_INTERNATIONAL_DIGITS));
    }
    format!("+{}***{}", &digits[..4], &digits[n - 4..])
}

/// Removes separators; returns whether a leading '+' was present and the digits.
fn strip_separators(input: &str) -> Result<(bool, String), NumberError> {
    let mut plus = false;
    let mut digits = String::with_capacity(input.len());
    for (position, character) in input.chars().enumerate() {
        match character {
            '0'..='9' => digits.push(character),
            '+' if digits.is_empty() && !plus => plus = true,
            '+' => return Err(NumberError::MisplacedPlus { position }),
            ' ' | '\t' | '\u{a0}' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(NumberError::InvalidCharacter {
                    character,
                    position,
                });
            }
        }
    }
    if digits.is_empty() {
        return Err(NumberError::Missing);
    }
    Ok((plus, digits))
}

/// Applies Kazakhstan's forms to separator-free digits.
fn normalize_kazakhstan(plus: bool, digits: &str) -> Result<Msisdn, NumberError> {
    let e164 = match (plus, digits.len(), digits.as_bytes()[0]) {
        (_, KZ_DIGITS, b'7') => digits.to_owned(),
        (false, KZ_DIGITS, b'8') => format!("7{}", &digits[1..]),
        // The bare national form "701 123 45 67".
        (false, 10, b'7') => format!("7{digits}"),
        (true, _, first) if first != b'7' => {
            return Err(NumberError::NotKazakhstanMobile {
                masked: mask_digits(digits),
            });
        }
        _ => {
            return Err(NumberError::WrongLength {
                digits: digits.len(),
                masked: mask_digits(digits),
            });
        }
    };
    match e164.as_bytes()[1..3] {
        [b'7', b'1' | b'2'] => Err(NumberError::Landline {
            masked: mask_digits(&e164),
        }),
        [b'7', _] => Ok(Msisdn(e164)),
        _ => Err(NumberError::NotKazakhstanMobile {
            masked: mask_digits(&e164),
        }),
    }
}

/// Checks an international number's length and country code.
fn check_international_length(digits: &str) -> Result<(), NumberError> {
    if !(MIN_INTERNATIONAL_DIGITS..=MAX_INTERNATIONAL_DIGITS).contains(&digits.len()) {
        return Err(NumberError::InternationalLength {
            digits: digits.len(),
            masked: mask_digits(digits),
        });
    }
    if digits.starts_with('0') {
        return Err(NumberError::NoCountryCode {
            masked: mask_digits(digits),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
