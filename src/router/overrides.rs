//! The ported-numbers override file: one `number operator` per line.
//!
//! ```text
//! # numbers ported between operators (mobile number portability)
//! +77011234567 beeline
//! 8-705-765-43-21 kcell     # separators other than spaces may appear inside the number
//! 87057654322 tele2         # a trailing comment is fine
//! ```
//!
//! The number is the first whitespace-free token (any form [`normalize_any`] accepts), the
//! operator the second; `#` starts a comment; blank lines are skipped.

use crate::number::{Msisdn, NumberError, normalize_any};
use std::collections::HashMap;

/// One invalid line of an override file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverrideLineError {
    /// The line does not have exactly two fields.
    #[error("line {line}: expected `number operator`, found {fields} field(s)")]
    Fields {
        /// 1-based line number.
        line: usize,
        /// How many whitespace-separated fields it has.
        fields: usize,
    },
    /// The number is not a valid phone number.
    #[error("line {line}: {source}")]
    Number {
        /// 1-based line number.
        line: usize,
        /// Why the number is invalid.
        #[source]
        source: NumberError,
    },
    /// The number was already listed with a different operator.
    #[error("line {line}: number {number} is already routed to {first:?} on line {first_line}")]
    Conflict {
        /// 1-based line number.
        line: usize,
        /// The number, masked.
        number: String,
        /// The operator from the earlier line.
        first: String,
        /// The earlier line.
        first_line: usize,
    },
}

/// Parses an override file's text into number → operator. Every invalid line is reported
/// (not just the first), each with its line number. A number listed twice with the same
/// operator is accepted.
pub fn parse_overrides(text: &str) -> Result<HashMap<Msisdn, String>, Vec<OverrideLineError>> {
    let mut map: HashMap<Msisdn, (String, usize)> = HashMap::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [number, operator] = fields[..] else {
            errors.push(OverrideLineError::Fields {
                line,
                fields: fields.len(),
            });
            continue;
        };
        let number = match normalize_any(number) {
            Ok(number) => number,
            Err(source) => {
                errors.push(OverrideLineError::Number { line, source });
                continue;
            }
        };
        match map.get(&number) {
            Some((first, first_line)) if first != operator => {
                errors.push(OverrideLineError::Conflict {
                    line,
                    number: number.masked(),
                    first: first.clone(),
                    first_line: *first_line,
                });
            }
            Some(_) => {}
            None => {
                map.insert(number, (operator.to_owned(), line));
            }
        }
    }
    if errors.is_empty() {
        Ok(map.into_iter().map(|(k, (op, _))| (k, op)).collect())
    } else {
        Err(errors)
    }
}
