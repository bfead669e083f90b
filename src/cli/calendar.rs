//! `khabar calendar [YEAR]`: the working days and days off khabar counts deadlines by, read
//! from the config's calendar (shipped file, the operator's files, inline days), so that an
//! operator can check them against the year's decree. Does not need the daemon.

use super::{CliError, CliResult, Exit};
use crate::calendar::{COVERAGE_WARN_DAYS, Calendar, DayKind, YearStatus};
use crate::config::Config;
use chrono::{Datelike, NaiveDate};
use clap::Args;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

const AFTER_HELP: &str = "\
Lists every day of the year that is not what its weekday makes it (holidays, holidays moved
off a weekend, transferred days off, working Saturdays) with its source, then the working days
of each month. A year no calendar file covers is counted by the Law's fixed-date holidays only
(no Kurban ait, no transfers by decree), and says so: add a file with `[calendar] files`.

Examples:
  khabar calendar            # this year
  khabar calendar 2027
  khabar calendar 2027 --json";

/// Arguments of `khabar calendar`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct CalendarArgs {
    /// The year (default: this year in the calendar's time zone).
    year: Option<i32>,
    /// Print the year as JSON.
    #[arg(long)]
    json: bool,
}

/// One listed day.
#[derive(Debug, Serialize)]
struct ListedDay {
    date: NaiveDate,
    weekday: String,
    working: bool,
    why: String,
    source: Option<String>,
}

/// The year as `--json` prints it.
#[derive(Debug, Serialize)]
struct YearReport {
    year: i32,
    time_zone: String,
    /// "confirmed", "provisional" or null when no file covers the year.
    status: Option<YearStatus>,
    file: Option<String>,
    sources: Vec<String>,
    note: Option<String>,
    days: Vec<ListedDay>,
    /// Working days of each month, January first.
    working_days_by_month: Vec<u32>,
    working_days: u32,
}

/// Runs `khabar calendar`.
pub(crate) fn run(config_path: &Path, args: CalendarArgs) -> CliResult {
    let config = Config::load(config_path).map_err(|e| CliError::Usage(e.to_string()))?;
    let calendar = Calendar::new(&config.calendar).map_err(|e| CliError::Usage(e.to_string()))?;
    let now = crate::message::now_ms();
    let year = args.year.unwrap_or_else(|| calendar.local_date(now).year());
    let Some(report) = report(&calendar, year) else {
        return Err(CliError::Usage(format!(
            "{year} is not a year khabar counts"
        )));
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", render(&report));
        if let Some(warning) = calendar.coverage(now).warning {
            println!("\nWARNING (next {COVERAGE_WARN_DAYS} days): {warning}");
        }
    }
    Ok(Exit::Ok)
}

/// The year's listed days and working-day counts.
fn report(calendar: &Calendar, year: i32) -> Option<YearReport> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
    let covered = calendar.covered_year(year);
    let mut days = Vec::new();
    let mut by_month = vec![0u32; 12];
    for date in first.iter_days().take_while(|d| d.year() == year) {
        let working = calendar.is_working_day(date);
        if working {
            by_month[date.month0() as usize] += 1;
        }
        if let Some(note) = calendar.note(date) {
            let why = match &note.kind {
                DayKind::Off(why) | DayKind::Working(why) => why.clone(),
            };
            days.push(ListedDay {
                date,
                weekday: date.format("%a").to_string(),
                working,
                why,
                source: note.source.clone(),
            });
        }
    }
    Some(YearReport {
        year,
        time_zone: calendar.time_zone().name().to_owned(),
        status: covered.map(|c| c.status),
        file: covered.map(|c| c.file.clone()),
        sources: covered.map(|c| c.sources.clone()).unwrap_or_default(),
        note: covered.and_then(|c| c.note.clone()),
        working_days: by_month.iter().sum(),
        working_days_by_month: by_month,
        days,
    })
}

/// The year as text: header, sources, listed days, working days per month.
fn render(r: &YearReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Working-day calendar {} ({})", r.year, r.time_zone);
    match (&r.file, r.status) {
        (Some(file), Some(status)) => {
            let status = match status {
                YearStatus::Confirmed => "confirmed",
                YearStatus::Provisional => "PROVISIONAL",
            };
            let _ = writeln!(out, "covered by {file}: {status}");
        }
        _ => {
            let _ = writeln!(
                out,
                "NOT COVERED by any calendar file: counted by the Law's fixed-date holidays \
                 only (no Kurban ait, no transfers by decree)"
            );
        }
    }
    if let Some(note) = &r.note {
        let _ = writeln!(out, "note: {note}");
    }
    let mut sources: Vec<&str> = r.sources.iter().map(String::as_str).collect();
    for day in &r.days {
        if let Some(s) = day.source.as_deref().filter(|s| !sources.contains(s)) {
            sources.push(s);
        }
    }
    for (n, source) in sources.iter().enumerate() {
        let _ = writeln!(out, "  [{}] {source}", n + 1);
    }
    out.push_str("\ndays that are not what their weekday makes them\n");
    for day in &r.days {
        let cite = day
            .source
            .as_deref()
            .and_then(|s| sources.iter().position(|k| *k == s))
            .map_or_else(
                || "(config.toml / by rule)".to_owned(),
                |n| format!("[{}]", n + 1),
            );
        let kind = if day.working { "working" } else { "off" };
        let _ = writeln!(
            out,
            "  {} {}  {kind:<8} {}  {cite}",
            day.date, day.weekday, day.why
        );
    }
    out.push_str("\nworking days\n ");
    for (month, count) in r.working_days_by_month.iter().enumerate() {
        let name = NaiveDate::from_ymd_opt(r.year, month as u32 + 1, 1)
            .map_or_else(String::new, |d| d.format("%b").to_string());
        let _ = write!(out, " {name} {count}");
    }
    let _ = writeln!(out, "  — {} in the year", r.working_days);
    out
}
