//! How the CLI shows times, ages and tables to a person: local time in Asia/Almaty.

use crate::message::Millis;
use chrono::{DateTime, Utc};
use chrono_tz::Asia::Almaty;
use std::time::Duration;

/// A time in Asia/Almaty, e.g. `2026-11-23 14:05:09`.
pub(crate) fn time(ms: Millis) -> String {
    local(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A time in Asia/Almaty with milliseconds, for message histories.
pub(crate) fn time_ms(ms: Millis) -> String {
    local(ms).format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// An optional time, `-` when absent.
pub(crate) fn time_or_dash(ms: Option<Millis>) -> String {
    ms.map(time).unwrap_or_else(|| "-".into())
}

fn local(ms: Millis) -> DateTime<chrono_tz::Tz> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&Almaty)
}

/// A span of seconds as `3h 12m`, `4m 10s` or `12s` (two units at most).
pub(crate) fn age(secs: u64) -> String {
    let text = humantime::format_duration(Duration::from_secs(secs)).to_string();
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// A recipient as dialled: `+77011234567`.
pub(crate) fn number(digits: &str) -> String {
    if digits.starts_with('+') {
        digits.to_string()
    } else {
        format!("+{digits}")
    }
}

/// Column alignment for [`table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Renders rows under headers with aligned columns. Hand-written because no table crate is
/// a dependency and two-space-separated columns are all `khabar status` needs; widths count
/// characters, so Cyrillic names align too.
pub(crate) fn table(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|(h, _)| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|(h, _)| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(headers.iter().zip(&widths))
            .map(|(cell, ((_, align), width))| {
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                match align {
                    Align::Left => format!("{cell}{pad}"),
                    Align::Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_almaty() {
        let utc = crate::api::serde_fmt::parse_time("2026-11-23T09:05:09Z").unwrap();
        let offset = local(utc).format("%:z").to_string();
        // Kazakhstan moved to a single UTC+5 zone in 2024; older tz data says +06:00.
        let hour = if offset == "+06:00" { "15" } else { "14" };
        assert_eq!(time(utc), format!("2026-11-23 {hour}:05:09"));
    }

    #[test]
    fn columns_line_up_with_cyrillic_text() {
        let out = table(
            &[("name", Align::Left), ("n", Align::Right)],
            &[
                vec!["қазақ".into(), "7".into()],
                vec!["kcell".into(), "1234".into()],
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "қазақ     7");
        assert_eq!(lines[2], "kcell  1234");
    }

    #[test]
    fn ages_keep_two_units() {
        assert_eq!(age(11_520), "3h 12m");
        assert_eq!(age(12), "12s");
    }
}
