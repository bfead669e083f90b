//! Calendar files: the days off and working weekend days of each year, one entry a day with
//! its source, and the years a file is complete for. khabar ships `calendar/kazakhstan.toml`
//! (built into the binary, so it is always there); `[calendar] files` adds the operator's own.

use super::CalendarError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The calendar shipped with khabar.
pub const SHIPPED: &str = include_str!("../../calendar/kazakhstan.toml");
/// How the shipped calendar is named in messages and in `khabar calendar`.
pub const SHIPPED_NAME: &str = "calendar/kazakhstan.toml (shipped with khabar)";

/// One calendar file as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    /// The years the file is complete for.
    #[serde(default)]
    pub years: Vec<YearEntry>,
    /// One entry per day off or working weekend day.
    #[serde(default)]
    pub days: Vec<DayEntry>,
    /// The documents entries cite, by key.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

/// A year a file is complete for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearEntry {
    /// The year.
    pub year: i32,
    /// Whether its decree and its lunar holidays were published when the file was written.
    pub status: YearStatus,
    /// Keys of the sources the year's entries rest on.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Anything an operator checking the year should know.
    #[serde(default)]
    pub note: Option<String>,
}

/// How sure a file is of a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YearStatus {
    /// Checked against the published decree and announcements.
    Confirmed,
    /// Written before the decree on transfers or a lunar holiday's date was published.
    Provisional,
}

/// One day that is not what its weekday makes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayEntry {
    /// The day (a TOML date, `2026-03-09`, or the same as a string).
    #[serde(deserialize_with = "toml_date")]
    pub date: NaiveDate,
    /// Why it is a day off.
    #[serde(default)]
    pub off: Option<String>,
    /// Why it is a working day (a Saturday or Sunday made one by decree).
    #[serde(default)]
    pub working: Option<String>,
    /// Key of the source in the file's `sources`.
    pub source: String,
}

/// What a day entry says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// A day off, with why.
    Off(String),
    /// A working day, with why.
    Working(String),
}

impl CalendarFile {
    /// Parses and checks a file's text; `name` says which file in errors.
    pub fn parse(text: &str, name: &str) -> Result<CalendarFile, CalendarError> {
        let bad = |reason: String| CalendarError::BadFile {
            file: name.to_owned(),
            reason,
        };
        let file: CalendarFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let known = |key: &str| file.sources.contains_key(key);
        for year in &file.years {
            if let Some(key) = year.sources.iter().find(|k| !known(k)) {
                return Err(bad(format!(
                    "year {} cites unknown source {key:?}",
                    year.year
                )));
            }
        }
        for day in &file.days {
            if !known(&day.source) {
                return Err(bad(format!(
                    "{} cites unknown source {:?}; add it to [sources]",
                    day.date, day.source
                )));
            }
            if day.off.is_some() == day.working.is_some() {
                return Err(bad(format!(
                    "{} must say either off = \"why\" or working = \"why\"",
                    day.date
                )));
            }
        }
        Ok(file)
    }

    /// Reads and checks a file from disk.
    pub fn read(path: &Path) -> Result<CalendarFile, CalendarError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CalendarError::BadFile {
            file: name.clone(),
            reason: format!("cannot read it: {e}"),
        })?;
        CalendarFile::parse(&text, &name)
    }
}

impl DayEntry {
    /// What the entry says (checked by [`CalendarFile::parse`] to be one of the two).
    pub fn kind(&self) -> DayKind {
        match (&self.off, &self.working) {
            (Some(why), _) => DayKind::Off(why.clone()),
            (None, why) => DayKind::Working(why.clone().unwrap_or_default()),
        }
    }
}

/// A TOML local date (or a `"YYYY-MM-DD"` string) as a chrono date: chrono's serde reads only
/// strings, and the files are more readable with TOML's own dates.
fn toml_date<'de, D: serde::Deserializer<'de>>(de: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Written::deserialize(de)? {
        Written::Toml(at) => match (at.date, at.time) {
            (Some(date), None) => date.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "expected a date such as 2026-03-09",
                ));
            }
        },
        Written::Text(text) => text,
    };
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date such as 2026-03-09")))
}
