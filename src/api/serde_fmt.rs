//! How the protocol writes ids, times and durations: ids as 16 hex digits, times as RFC 3339
//! in UTC with milliseconds, durations as seconds or a humantime string ("24h", "5m").
//!
//! The domain types keep compact forms (`MessageId(u64)`, unix-millisecond `Millis`); these
//! `#[serde(with = …)]` adapters give the JSON a form a person can read in `socat`.

use crate::message::{MessageId, Millis};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Formats unix milliseconds as RFC 3339 in UTC, e.g. `2026-11-23T09:05:09.123Z`.
pub fn format_time(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time (any offset) into unix milliseconds.
pub fn parse_time(s: &str) -> Result<Millis, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-11-23T14:05:00+05:00 ({e})"))
}

/// Parses a duration given as a number of seconds or a humantime string ("90s", "24h").
pub fn parse_duration(value: &serde_json::Value) -> Result<Duration, String> {
    match value {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{n} is not a whole, non-negative number of seconds")),
        serde_json::Value::String(s) => humantime::parse_duration(s)
            .map_err(|e| format!("{s:?} is not a duration like \"24h\" or \"90s\" ({e})")),
        other => Err(format!(
            "expected seconds or a string like \"24h\", got {other}"
        )),
    }
}

/// `MessageId` as 16 hex digits.
pub mod message_id {
    use super::*;

    /// Writes the id as 16 hex digits.
    pub fn serialize<S: Serializer>(id: &MessageId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    /// Reads an id from 16 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MessageId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `Option<MessageId>` as 16 hex digits or absent.
pub mod message_id_opt {
    use super::*;

    /// Writes the id as 16 hex digits (use with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(id: &Option<MessageId>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional id.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MessageId>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `Millis` as an RFC 3339 string.
pub mod time {
    use super::*;

    /// Writes the time as RFC 3339 UTC.
    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(*ms))
    }

    /// Reads an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map_err(serde::de::Error::custom)
    }
}

/// `Option<Millis>` as an RFC 3339 string or absent.
pub mod time_opt {
    use super::*;

    /// Writes the time as RFC 3339 UTC (use with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&format_time(*ms)),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse_time(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc3339() {
        let ms = 1_795_423_509_123;
        assert_eq!(parse_time(&format_time(ms)), Ok(ms));
        assert_eq!(
            parse_time("2026-11-23T14:05:09+05:00"),
            parse_time("2026-11-23T09:05:09Z")
        );
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn durations_accept_seconds_or_humantime() {
        assert_eq!(
            parse_duration(&serde_json::json!(90)),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration(&serde_json::json!("24h")),
            Ok(Duration::from_secs(86_400))
        );
        assert!(parse_duration(&serde_json::json!(-1)).is_err());
        assert!(parse_duration(&serde_json::json!("soon")).is_err());
        assert!(parse_duration(&serde_json::json!(true)).is_err());
    }
}
