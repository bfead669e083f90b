//! Kazakhstan's IIN / BIN (individual / business identification number): 12 digits, the last
//! a check digit. Service results sent by SMS must carry the recipient's IIN/BIN (seed 001),
//! so templates validate it before a message is accepted.
//!
//! Check digit: the first 11 digits weighted 1, 2, …, 11, summed, modulo 11. If that is 10, a
//! second pass uses the weights 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2; if that is also 10 the
//! number is invalid (no such IIN/BIN is issued). Otherwise the result is the 12th digit.
//!
//! An IIN is personal data (it encodes the birth date): `Debug` and [`Iin::masked`] hide all
//! but the last four digits, and errors never quote the number.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Weights of the first pass.
const FIRST_PASS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/// Weights of the second pass, used when the first gives 10.
const SECOND_PASS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// A valid IIN or BIN: 12 digits with a correct check digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iin(String);

impl Iin {
    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: `********0126` (only the last four digits).
    pub fn masked(&self) -> String {
        format!("********{}", &self.0[8..])
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({})", self.masked())
    }
}

impl From<Iin> for String {
    fn from(iin: Iin) -> String {
        iin.0
    }
}

impl TryFrom<String> for Iin {
    type Error = IinError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate_iin(&s)
    }
}

/// Why a string is not a valid IIN/BIN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    /// Something other than a digit (after trimming surrounding whitespace).
    #[error("an IIN/BIN has only digits; found {character:?} at position {position}")]
    NonDigit {
        /// The offending character.
        character: char,
        /// Its position, in characters from 0.
        position: usize,
    },
    /// Not exactly 12 digits.
    #[error("an IIN/BIN has exactly 12 digits, this has {digits}")]
    WrongLength {
        /// How many digits were given.
        digits: usize,
    },
    /// The 12th digit is not the check digit of the first 11.
    #[error(
        "the IIN/BIN's check digit (12th digit) is wrong: it is mistyped or not a real IIN/BIN"
    )]
    BadCheckDigit,
    /// Both check passes give 10: no IIN/BIN starts with these 11 digits.
    #[error("no valid IIN/BIN starts with these 11 digits (the check digit is undefined)")]
    NoCheckDigit,
}

/// The weighted sum of the first 11 digits modulo 11.
fn weighted_remainder(first: &[u8; 11], weights: &[u32; 11]) -> u32 {
    let sum: u32 = first
        .iter()
        .zip(weights)
        .map(|(&digit, &weight)| u32::from(digit) * weight)
        .sum();
    sum % 11
}

/// The check digit for the first 11 digits (each 0–9), or None when both passes give 10.
///
/// Note: the 11th digit's first-pass weight is 11 ≡ 0 (mod 11), so the official check cannot
/// notice a change to that digit alone unless the second pass is involved.
pub fn check_digit(first: &[u8; 11]) -> Option<u8> {
    let result = match weighted_remainder(first, &FIRST_PASS) {
        10 => weighted_remainder(first, &SECOND_PASS),
        r => r,
    };
    // A remainder below 10 fits a digit.
    u8::try_from(result).ok().filter(|digit| *digit < 10)
}

/// Validates an IIN/BIN (surrounding whitespace is ignored).
pub fn validate_iin(input: &str) -> Result<Iin, IinError> {
    let trimmed = input.trim();
    if let Some((position, character)) = trimmed
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit())
    {
        return Err(IinError::NonDigit {
            character,
            position,
        });
    }
    let digits: Vec<u8> = trimmed.bytes().map(|b| b - b'0').collect();
    let Ok(digits) = <[u8; 12]>::try_from(digits.as_slice()) else {
        return Err(IinError::WrongLength {
            digits: digits.len(),
        });
    };
    let mut first = [0u8; 11];
    first.copy_from_slice(&digits[..11]);
    match check_digit(&first) {
        None => Err(IinError::NoCheckDigit),
        Some(check) if check == digits[11] => Ok(Iin(trimmed.to_owned())),
        Some(_) => Err(IinError::BadCheckDigit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the check digit to 11 digits.
    fn with_check(first: &str) -> String {
        let digits: Vec<u8> = first.bytes().map(|b| b - b'0').collect();
        let array: [u8; 11] = digits.try_into().unwrap();
        format!("{first}{}", check_digit(&array).unwrap())
    }

    #[test]
    fn worked_example_first_pass() {
        // 9·1 + 0·2 + 0·3 + 1·4 + 0·5 + 1·6 + 3·7 + 0·8 + 0·9 + 1·10 + 2·11 = 72; 72 mod 11 = 6.
        assert_eq!(
            validate_iin("900101300126").unwrap().as_str(),
            "900101300126"
        );
    }

    #[test]
    fn worked_example_second_pass() {
        // First pass: 9 + 4 + 6 + 21 + 80 + 11 = 131; 131 mod 11 = 10, so a second pass:
        // 9·3 + 1·6 + 1·8 + 3·9 + 8·1 + 1·2 = 78; 78 mod 11 = 1.
        assert!(validate_iin("900101300811").is_ok());
        assert_eq!(validate_iin("900101300810"), Err(IinError::BadCheckDigit));
    }

    #[test]
    fn both_passes_ten_is_invalid_whatever_the_last_digit() {
        // First pass 120 mod 11 = 10; second pass 76 mod 11 = 10.
        for last in 0..=9 {
            assert_eq!(
                validate_iin(&format!("90010130080{last}")),
                Err(IinError::NoCheckDigit)
            );
        }
    }

    #[test]
    fn constructed_iins_and_bins_validate() {
        // A 1985 birth date IIN and a BIN registered in April 2015 (5th digit 4: legal entity).
        for first in ["85051540001", "15044000123", "04022865001"] {
            let iin = with_check(first);
            assert!(validate_iin(&iin).is_ok(), "{iin}");
        }
    }

    /// The first 11 digits of a 12-digit string.
    fn first_eleven(iin: &str) -> [u8; 11] {
        let digits: Vec<u8> = iin.bytes().take(11).map(|b| b - b'0').collect();
        digits.try_into().unwrap()
    }

    /// Every number that differs from `valid` in exactly one digit, with that position.
    fn single_digit_changes(valid: &str) -> Vec<(usize, String)> {
        let mut changes = Vec::new();
        for position in 0..12 {
            for replacement in b'0'..=b'9' {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[position] != replacement {
                    bytes[position] = replacement;
                    changes.push((position, String::from_utf8(bytes).unwrap()));
                }
            }
        }
        changes
    }

    #[test]
    fn single_digit_changes_are_detected_where_the_check_can_see_them() {
        for first in ["85051540001", "90010130012", "15044000123"] {
            let valid = with_check(first);
            let decisive = |iin: &str| weighted_remainder(&first_eleven(iin), &FIRST_PASS) != 10;
            for (position, changed) in single_digit_changes(&valid) {
                let decisive = decisive(&valid) && decisive(&changed);
                // The check digit always; digits 1-10 whenever the first pass decides both the
                // original and the changed number (a second pass can coincide by chance).
                if position == 11 || (position < 10 && decisive) {
                    assert!(validate_iin(&changed).is_err(), "{changed} accepted");
                }
            }
        }
    }

    #[test]
    fn eleventh_digit_alone_is_invisible_to_the_first_pass() {
        // A documented weakness of the official algorithm (weight 11 = 0 mod 11), shown here
        // so nobody relies on the check for that digit.
        let valid = with_check("85051540001");
        let changed = format!("{}0{}", &valid[..10], &valid[11..]);
        assert_eq!(
            weighted_remainder(&first_eleven(&valid), &FIRST_PASS),
            weighted_remainder(&first_eleven(&changed), &FIRST_PASS)
        );
        assert!(validate_iin(&changed).is_ok());
    }

    #[test]
    fn wrong_length_and_non_digits() {
        assert_eq!(validate_iin(""), Err(IinError::WrongLength { digits: 0 }));
        assert_eq!(
            validate_iin("90010130012"),
            Err(IinError::WrongLength { digits: 11 })
        );
        assert_eq!(
            validate_iin("9001013001267"),
            Err(IinError::WrongLength { digits: 13 })
        );
        assert_eq!(
            validate_iin("9001 01300126"),
            Err(IinError::NonDigit {
                character: ' ',
                position: 4
            })
        );
        assert!(validate_iin(" 900101300126\n").is_ok());
    }

    #[test]
    fn debug_and_errors_do_not_reveal_the_number() {
        let iin = validate_iin("900101300126").unwrap();
        assert_eq!(format!("{iin:?}"), "Iin(********0126)");
        assert_eq!(iin.to_string(), "900101300126");
        let err = validate_iin("900101300127").unwrap_err().to_string();
        assert!(!err.contains("9001013001"), "{err}");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Iin>("\"900101300126\"").is_ok());
        assert!(serde_json::from_str::<Iin>("\"900101300127\"").is_err());
    }
}
