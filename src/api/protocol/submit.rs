//! The `submit` request: one message as upstream describes it, checked for shape.
//!
//! The API checks what needs no daemon state (types, required fields, kind, empty text,
//! RFC 3339 deadlines already past); the backend checks the rest (number, parts, template,
//! working-day deadline expressions, queue depth) with the same error codes.

use super::fields::Fields;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::serde_fmt::{parse_duration, parse_time};
use crate::message::{Kind, Millis, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest accepted `reference` (idempotency key), in bytes.
pub const MAX_REFERENCE_BYTES: usize = 256;

/// A template language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Kazakh.
    Kk,
    /// Russian.
    Ru,
}

impl Language {
    /// The code used on the wire: `kk` or `ru`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
        }
    }
}

/// What the message says: literal text, or a template to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The text to send, as given.
    Text(String),
    /// A named template with its fields.
    Template {
        /// The template's name.
        name: String,
        /// Values for the template's placeholders (numbers are given as their decimal text).
        fields: BTreeMap<String, String>,
        /// The language wanted; None = the template's default.
        language: Option<Language>,
    },
}

/// A `submit` request (also one item of `submit_batch`), checked for shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitRequest {
    /// The recipient as given (`+77011234567`, `77011234567`, `87011234567`); the backend
    /// normalises it and answers `invalid_number` when it cannot.
    pub to: String,
    /// What the message is for (default `notification`).
    pub kind: Kind,
    /// Text or template.
    pub content: Content,
    /// Sender name or short code; None = the operator default.
    pub sender: Option<String>,
    /// Upstream's idempotency key: a second submit with the same reference gets the first
    /// message's id, flagged as a duplicate.
    pub reference: Option<String>,
    /// Do not send after this time (from RFC 3339 `send_by`); already checked to be future.
    pub send_by: Option<Millis>,
    /// Raise `receipt_overdue` if no final receipt by then (from RFC 3339 `receipt_by`).
    pub receipt_by: Option<Millis>,
    /// A deadline expression for the backend's calendar, e.g. "2 working days",
    /// "next working day 18:00", "the 27th". Exclusive with `send_by`.
    pub deadline: Option<String>,
    /// For `request`: how long a reply is awaited.
    pub reply_window: Option<Duration>,
    /// For `request`: the notification sent when the window closes unanswered.
    pub follow_up_text: Option<String>,
}

impl SubmitRequest {
    /// A plain text message with every option unset (convenient for backends and tests).
    pub fn text(to: impl Into<String>, text: impl Into<String>, kind: Kind) -> Self {
        SubmitRequest {
            to: to.into(),
            kind,
            content: Content::Text(text.into()),
            sender: None,
            reference: None,
            send_by: None,
            receipt_by: None,
            deadline: None,
            reply_window: None,
            follow_up_text: None,
        }
    }

    /// Parses a submit object's fields (without `id`/`op`); `prefix` is prepended to field
    /// names in errors (`messages[3].`).
    pub(crate) fn parse(map: Map<String, Value>, prefix: &str) -> Result<Self, ApiError> {
        let mut f = Fields::new(map, prefix);
        let to: String = f.require("to")?;
        if to.trim().is_empty() {
            return Err(ApiError::field(
                ErrorCode::InvalidNumber,
                f.name("to"),
                "no recipient number was given",
            ));
        }
        let kind = match f.take::<String>("kind")? {
            None => Kind::Notification,
            Some(k) => k
                .parse::<Kind>()
                .map_err(|why| ApiError::field(ErrorCode::UnknownKind, f.name("kind"), why))?,
        };
        let content = parse_content(&mut f)?;
        let sender = f.take_nonblank("sender")?;
        let reference = f.take_nonblank("reference")?;
        if reference
            .as_ref()
            .is_some_and(|r| r.len() > MAX_REFERENCE_BYTES)
        {
            return Err(ApiError::invalid(
                &f.name("reference"),
                format!("it is longer than {MAX_REFERENCE_BYTES} bytes"),
            ));
        }
        let send_by = take_future_time(&mut f, "send_by")?;
        let receipt_by = take_future_time(&mut f, "receipt_by")?;
        let deadline = f.take_nonblank("deadline")?;
        if send_by.is_some() && deadline.is_some() {
            return Err(ApiError::invalid(
                &f.name("deadline"),
                "give either `send_by` or `deadline`, not both",
            ));
        }
        let reply_window = match f.take_raw("reply_window") {
            None => None,
            Some(v) => Some(
                parse_duration(&v).map_err(|e| ApiError::invalid(&f.name("reply_window"), e))?,
            ),
        };
        let follow_up_text = f.take_nonblank("follow_up_text")?;
        if kind != Kind::Request {
            for (present, field) in [
                (reply_window.is_some(), "reply_window"),
                (follow_up_text.is_some(), "follow_up_text"),
            ] {
                if present {
                    return Err(ApiError::invalid(
                        &f.name(field),
                        format!("only a `request` has it, this is `{kind}`"),
                    ));
                }
            }
        }
        f.finish("submit")?;
        Ok(SubmitRequest {
            to,
            kind,
            content,
            sender,
            reference,
            send_by,
            receipt_by,
            deadline,
            reply_window,
            follow_up_text,
        })
    }
}

/// Reads `text`, or `template` + `fields` + `language`.
fn parse_content(f: &mut Fields) -> Result<Content, ApiError> {
    let text: Option<String> = f.take("text")?;
    let template = f.take_nonblank("template")?;
    let fields = f.take_raw("fields");
    let language: Option<Language> = f.take("language")?;
    match (text, template) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            &f.name("template"),
            "give either `text` or `template`, not both",
        )),
        (Some(text), None) => {
            if fields.is_some() || language.is_some() {
                let which = if fields.is_some() {
                    "fields"
                } else {
                    "language"
                };
                return Err(ApiError::invalid(
                    &f.name(which),
                    "it only goes with `template`",
                ));
            }
            if text.trim().is_empty() {
                return Err(ApiError::field(
                    ErrorCode::EmptyText,
                    f.name("text"),
                    "the text is empty; there is nothing to send",
                ));
            }
            Ok(Content::Text(text))
        }
        (None, Some(name)) => Ok(Content::Template {
            name,
            fields: parse_template_fields(f, fields)?,
            language,
        }),
        (None, None) => Err(ApiError::field(
            ErrorCode::MissingField,
            f.name("text"),
            "the field `text` is required (or `template` with `fields`)",
        )),
    }
}

/// Template fields: an object of strings (numbers are accepted and kept as written).
fn parse_template_fields(
    f: &Fields,
    value: Option<Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let map = match value {
        None => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(ApiError::invalid(
                &f.name("fields"),
                format!("expected an object of strings, got {other}"),
            ));
        }
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            other => Err(ApiError::invalid(
                &f.name(&format!("fields.{k}")),
                format!("expected a string, got {other}"),
            )),
        })
        .collect()
}

/// An optional RFC 3339 time that must lie in the future.
fn take_future_time(f: &mut Fields, field: &str) -> Result<Option<Millis>, ApiError> {
    let Some(s) = f.take::<String>(field)? else {
        return Ok(None);
    };
    let at = parse_time(&s).map_err(|e| ApiError::invalid(&f.name(field), e))?;
    if at <= now_ms() {
        return Err(ApiError::field(
            ErrorCode::DeadlineInPast,
            f.name(field),
            format!("`{}` {s} has already passed", f.name(field)),
        ));
    }
    Ok(Some(at))
}
