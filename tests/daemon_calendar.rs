//! Deadlines in words and the working-day calendar, through the real daemon and the `khabar`
//! binary: the documented deadline forms are accepted and shown with their rule, `khabar
//! calendar` prints what the daemon counts, an operator's file is read from the config's
//! directory, and a calendar that runs out is reported.

mod daemon_support;

use daemon_support::{Daemon, simulator, write_config};
use khabar::api::protocol::MessageRef;
use khabar::calendar::{Calendar, CalendarConfig, parse_deadline_expr};
use std::path::Path;
use std::process::Output;

/// Runs `khabar --config CONFIG ARGS` from `cwd`.
fn khabar(cwd: &Path, config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .current_dir(cwd)
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run khabar")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documented_deadlines_are_accepted_and_shown_with_the_rule_that_set_them() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let calendar = Calendar::default();
    for expr in [
        "next working day 18:00",
        "the 27th",
        "2 working days",
        "1 working day",
    ] {
        let accepted = client
            .submit(serde_json::json!({"to": "+77011234567", "text": expr, "deadline": expr}))
            .await
            .expect("socket")
            .unwrap_or_else(|e| panic!("{expr}: {e:?}"));
        let view = client
            .get(&MessageRef::Id(accepted.message_id))
            .await
            .unwrap()
            .unwrap();
        let expected = calendar.resolve(&parse_deadline_expr(expr).unwrap(), view.created);
        assert_eq!(view.send_by, Some(expected), "{expr}");
        assert_eq!(view.send_by_rule.as_deref(), Some(expr));
        if expr == "the 27th" {
            let out = khabar(
                dir.path(),
                &config,
                &["show", &accepted.message_id.to_string()],
            );
            let shown = text(&out.stdout);
            assert!(shown.contains("(the 27th)"), "{shown}");
        }
    }
    let plain = client
        .submit(serde_json::json!({"to": "+77011234567", "text": "default"}))
        .await
        .unwrap()
        .unwrap();
    let out = khabar(
        dir.path(),
        &config,
        &["show", &plain.message_id.to_string()],
    );
    let shown = text(&out.stdout);
    assert!(
        shown.contains("(1 working day (notification default))"),
        "{shown}"
    );
    let refused = client
        .submit(
            serde_json::json!({"to": "+77011234567", "text": "x", "deadline": "tomorrow 18:00"}),
        )
        .await
        .unwrap()
        .expect_err("refused");
    assert_eq!(refused.field.as_deref(), Some("deadline"));
    for form in ["\"next working day 18:00\"", "\"the 27th\"", "\"24h\""] {
        assert!(refused.message.contains(form), "{}", refused.message);
    }
    daemon.stop().await;
}

#[tokio::test]
async fn khabar_calendar_prints_the_year_the_daemon_counts_with_its_sources() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let out = khabar(dir.path(), &config, &["calendar", "2026", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let year: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calendar = Calendar::new(&CalendarConfig::default()).unwrap();
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let working = first
        .iter_days()
        .take(365)
        .filter(|d| calendar.is_working_day(*d))
        .count();
    assert_eq!(year["working_days"], working);
    assert_eq!(year["status"], "confirmed");
    let kurban = year["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == "2026-05-27")
        .expect("Kurban ait listed");
    assert!(
        kurban["source"].as_str().unwrap().contains("Muslims"),
        "{kurban}"
    );

    let out = khabar(dir.path(), &config, &["calendar", "2028"]);
    let shown = text(&out.stdout);
    assert!(shown.contains("NOT COVERED"), "{shown}");
    assert!(shown.contains("2028-01-04 Tue  off"), "{shown}");
}

#[tokio::test]
async fn an_operators_calendar_file_is_read_from_the_configs_directory() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kz-2028.toml"),
        r#"
        years = [{ year = 2028, status = "confirmed", sources = ["decree"] }]
        days = [{ date = 2028-01-08, working = "Saturday made a working day", source = "decree" }]
        [sources]
        decree = "Government decree on transfers of days off in 2028"
        "#,
    )
    .unwrap();
    let config = write_config(dir.path(), &sim, "[calendar]\nfiles = [\"kz-2028.toml\"]\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = khabar(elsewhere.path(), &config, &["calendar", "2028", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let year: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(year["status"], "confirmed");
    assert_eq!(year["days"][0]["date"], "2028-01-08");
    assert_eq!(year["days"][0]["working"], true);

    std::fs::write(
        dir.path().join("kz-2028.toml"),
        "days = [{ date = 2028-01-08 }]",
    )
    .unwrap();
    let out = khabar(elsewhere.path(), &config, &["calendar", "2028"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("kz-2028.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_calendar_that_does_not_reach_60_days_ahead_is_reported() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "[calendar]\nshipped = false\n");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let status = client.status().await.unwrap().unwrap();
    let coverage = status.calendar.expect("the calendar's coverage");
    assert_eq!(coverage.days_ahead, 0);
    let warning = coverage.warning.expect("a warning");
    assert!(warning.contains("khabar calendar"), "{warning}");
    let out = khabar(dir.path(), &config, &["status"]);
    assert!(
        text(&out.stdout).contains("CALENDAR"),
        "{}",
        text(&out.stdout)
    );
    daemon.stop().await;
}
