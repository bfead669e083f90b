//! Log output: text or JSON lines on stderr, level from `RUST_LOG` (default `info`).
//! Numbers are masked and codes never logged by the stages themselves. Times are in the
//! calendar's time zone (Asia/Almaty), as the CLI shows them, with the offset written out
//! (`2026-12-04T16:20:01.123+05:00`) so that no reader has to guess.
//!
//! The SMPP client library's own lines (`rusmppc`, `rusmpp`) are off unless `RUST_LOG` names
//! them: each of their errors already reaches khabar, which logs it once with the operator
//! and the cause ("session lost; reconnecting", "cannot bind").

use crate::config::LogFormat;
use chrono_tz::Tz;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Log times in one time zone with its offset. (tracing-subscriber's own local timer needs
/// the `time` crate's local-offset probe, which is unsound in a threaded process; chrono-tz
/// already knows the zone.)
struct ZonedTime(Tz);

impl FormatTime for ZonedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = chrono::Utc::now().with_timezone(&self.0);
        write!(w, "{}", now.format("%Y-%m-%dT%H:%M:%S%.3f%:z"))
    }
}

/// Targets silenced unless `RUST_LOG` mentions them.
const QUIET: [&str; 2] = ["rusmppc", "rusmpp"];

/// The filter for `RUST_LOG` (or `info`), with the SMPP library's targets off unless named.
fn filter(env: Option<&str>) -> EnvFilter {
    let spec = env.filter(|s| !s.trim().is_empty()).unwrap_or("info");
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in QUIET {
        if !spec.contains(target)
            && let Ok(off) = format!("{target}=off").parse()
        {
            filter = filter.add_directive(off);
        }
    }
    filter
}

/// Installs the global subscriber with times in `zone` (a second call, e.g. in tests,
/// changes nothing).
pub(super) fn init(format: LogFormat, zone: Tz) {
    let env = std::env::var("RUST_LOG").ok();
    // colours only for a person at a terminal, not in journald or a log file
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(env.as_deref()))
        .with_ansi(ansi)
        .with_timer(ZonedTime(zone))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Offset;

    #[test]
    fn times_carry_the_zone_offset() {
        let mut line = String::new();
        ZonedTime(chrono_tz::Asia::Almaty)
            .format_time(&mut Writer::new(&mut line))
            .unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(&line).unwrap();
        let offset = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Almaty)
            .offset()
            .fix();
        assert_eq!(parsed.offset(), &offset, "{line}");
    }

    #[test]
    fn the_smpp_library_is_quiet_unless_named() {
        assert!(filter(Some("debug")).to_string().contains("rusmppc=off"));
        assert!(filter(None).to_string().contains("rusmpp=off"));
        let named = filter(Some("info,rusmppc=debug")).to_string();
        assert!(
            named.contains("rusmppc=debug") && !named.contains("rusmppc=off"),
            "{named}"
        );
    }
}
