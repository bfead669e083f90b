//! Default deadlines per kind, and the scheduler's config as an operator writes it.

use khabar::calendar::{Calendar, DeadlineExpr};
use khabar::message::{Extra, Kind, NewMessage};
use khabar::scheduler::{DeadlineSpec, SchedulerConfig};
use std::time::Duration;

fn new(kind: Kind) -> NewMessage {
    NewMessage {
        reference: None,
        kind,
        recipient: "77771234567".into(),
        sender: None,
        text: "text".into(),
        send_by: None,
        receipt_by: None,
        extra: Extra::default(),
    }
}

#[test]
fn each_kind_gets_its_default_deadlines() {
    let config = SchedulerConfig::default();
    let days = Calendar::default();
    let now = 1_750_000_000_000;
    let filled = |kind| {
        let mut m = new(kind);
        config.kinds.apply(&mut m, now, &days);
        m
    };
    let otp = filled(Kind::Otp);
    assert_eq!(
        (otp.send_by, otp.receipt_by),
        (Some(now + 60_000), Some(now + 300_000))
    );
    let request = filled(Kind::Request);
    assert_eq!(request.extra.reply_window_ms, Some(24 * 3_600_000));
    assert_eq!((request.send_by, request.receipt_by), (None, None));
    let notification = filled(Kind::Notification);
    assert_eq!(
        notification.send_by,
        Some(days.end_of_next_working_day(now)),
        "a notification must be sent within one working day (seeds 000, 003)"
    );
    assert_eq!(notification.receipt_by, None);
    assert_eq!(
        notification.extra.deadline_rule.as_deref(),
        Some("1 working day (notification default)"),
        "khabar show says where the deadline came from"
    );
    let bulk = filled(Kind::Bulk);
    assert_eq!(
        (bulk.send_by, bulk.receipt_by, bulk.extra.reply_window_ms),
        (None, None, None)
    );
}

#[test]
fn upstream_deadlines_win_over_defaults() {
    let config = SchedulerConfig::default();
    let mut otp = new(Kind::Otp);
    otp.send_by = Some(5);
    config.kinds.apply(&mut otp, 1_000, &Calendar::default());
    assert_eq!(otp.send_by, Some(5));
    assert_eq!(otp.receipt_by, Some(1_000 + 300_000));
}

#[test]
fn config_reads_from_toml() {
    let text = r#"
        final_receipt_timeout = "48h"
        [min_share]
        bulk = 0.1
        [retry]
        base = "500ms"
        max_attempts = 4
        jitter = "full"
        [kinds.otp]
        send_by = "30s"
        receipt_by = "3m"
        [kinds.notification]
        send_by = "end_of_next_working_day"
    "#;
    let config: SchedulerConfig = toml::from_str(text).unwrap();
    assert_eq!(config.final_receipt_timeout, Duration::from_secs(48 * 3600));
    assert_eq!(config.min_share.bulk, 0.1);
    assert_eq!(
        config.min_share.request,
        SchedulerConfig::default().min_share.request
    );
    assert_eq!(config.retry.base, Duration::from_millis(500));
    assert_eq!(config.retry.max_attempts, 4);
    assert_eq!(
        config.kinds.otp.send_by,
        DeadlineSpec::after(Duration::from_secs(30))
    );
    assert_eq!(
        config.kinds.notification.send_by,
        DeadlineSpec(Some(DeadlineExpr::WorkingDays { days: 1, at: None }))
    );
    assert_eq!(config.kinds.notification.receipt_by, DeadlineSpec(None));
    assert!(toml::from_str::<SchedulerConfig>("[kinds.otp]\nsend_by = \"later\"").is_err());
}
