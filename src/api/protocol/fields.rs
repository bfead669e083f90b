//! Reads the fields of one request object, one at a time, so that every mistake names the
//! field it is about. (Serde's derive reports an ill-typed value without its field name, and
//! the protocol promises "name the field"; hence this small reader instead of a derive.)

use crate::api::error::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The not-yet-read fields of a request object, with the path prefix used in error messages
/// (e.g. `messages[3].` inside a batch).
pub(crate) struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    /// Wraps a request object's fields.
    pub(crate) fn new(map: Map<String, Value>, prefix: impl Into<String>) -> Self {
        Fields {
            map,
            prefix: prefix.into(),
        }
    }

    /// The full name of a field, as shown to the client.
    pub(crate) fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// Takes the raw value of a field; `null` counts as absent.
    pub(crate) fn take_raw(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    /// Takes an optional field of type `T`.
    pub(crate) fn take<T: DeserializeOwned>(&mut self, field: &str) -> Result<Option<T>, ApiError> {
        match self.take_raw(field) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| ApiError::invalid(&self.name(field), e)),
        }
    }

    /// Takes a required field of type `T`.
    pub(crate) fn require<T: DeserializeOwned>(&mut self, field: &str) -> Result<T, ApiError> {
        self.take(field)?
            .ok_or_else(|| ApiError::missing(&self.name(field)))
    }

    /// Takes an optional string field that, when present, must not be blank.
    pub(crate) fn take_nonblank(&mut self, field: &str) -> Result<Option<String>, ApiError> {
        match self.take::<String>(field)? {
            Some(s) if s.trim().is_empty() => {
                Err(ApiError::invalid(&self.name(field), "it must not be empty"))
            }
            other => Ok(other),
        }
    }

    /// Takes a required string field that must not be blank.
    pub(crate) fn require_nonblank(&mut self, field: &str) -> Result<String, ApiError> {
        self.take_nonblank(field)?
            .ok_or_else(|| ApiError::missing(&self.name(field)))
    }

    /// Fails with `invalid_request` if a field was not read: a typo such as `refrence`
    /// must not silently drop the caller's idempotency key.
    pub(crate) fn finish(self, what: &str) -> Result<(), ApiError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(ApiError::field(
                ErrorCode::InvalidRequest,
                format!("{}{key}", self.prefix),
                format!("unknown field `{}{key}` for {what}", self.prefix),
            )),
        }
    }
}
