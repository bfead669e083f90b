//! The `khabar status` screen: plain text in aligned columns, Asia/Almaty times.

use super::display::{Align, age, table, time, time_or_dash};
use crate::api::views::{BindState, OperatorStatus, Outcomes, StatusReport};
use std::fmt::Write;

/// Renders a status report for a person.
pub(crate) fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    let d = &r.daemon;
    let _ = writeln!(
        out,
        "khabar {} — up {} (since {}), report at {} Asia/Almaty\n",
        d.version,
        age(d.uptime_s),
        time(d.started_at),
        time(d.now)
    );
    operators(&mut out, r);
    queue(&mut out, r);
    disk(&mut out, r);
    cluster(&mut out, r);
    calendar(&mut out, r);
    deadlines(&mut out, r);
    outcomes(&mut out, &r.last_minute, &r.last_hour);
    out
}

fn operators(out: &mut String, r: &StatusReport) {
    out.push_str("OPERATORS\n");
    if r.operators.is_empty() {
        out.push_str("  (none configured)\n\n");
        return;
    }
    let rows: Vec<Vec<String>> = r.operators.iter().map(operator_row).collect();
    out.push_str(&table(
        &[
            ("operator", Align::Left),
            ("binds up", Align::Right),
            ("window", Align::Right),
            ("tps now/cap", Align::Right),
            ("throttled 1m/1h", Align::Right),
            ("last throttled", Align::Left),
            ("resent unanswered", Align::Right),
        ],
        &rows,
    ));
    for op in &r.operators {
        for bind in &op.binds {
            let state = match bind.state {
                BindState::Up => "up",
                BindState::Binding => "binding",
                BindState::Down => "DOWN",
                BindState::Other => "?",
            };
            let _ = writeln!(
                out,
                "  {}: {state} since {}",
                bind.name,
                time_or_dash(bind.since)
            );
        }
        if let Some(e) = &op.last_error {
            let _ = writeln!(
                out,
                "  {} last error {}: {}",
                op.name,
                time(e.at),
                e.message
            );
        }
    }
    out.push('\n');
}

fn operator_row(op: &OperatorStatus) -> Vec<String> {
    let up = op.binds.iter().filter(|b| b.state == BindState::Up).count();
    vec![
        op.name.clone(),
        format!("{up}/{}", op.binds.len()),
        format!("{}/{}", op.window_in_use, op.window_size),
        format!("{:.0}/{:.0}", op.tps_now, op.tps_cap),
        format!("{}/{}", op.throttled_last_minute, op.throttled_last_hour),
        time_or_dash(op.last_throttled_at),
        op.resent_unanswered.to_string(),
    ]
}

fn queue(out: &mut String, r: &StatusReport) {
    let max = r
        .queue
        .max_depth
        .map(|m| format!(" of max {m}"))
        .unwrap_or_default();
    let _ = writeln!(out, "QUEUE  depth {}{max}", r.queue.depth);
    let rows: Vec<Vec<String>> = r
        .lanes
        .iter()
        .map(|l| {
            vec![
                l.kind.to_string(),
                l.queued.to_string(),
                l.submitting.to_string(),
                l.submitted.to_string(),
                l.oldest_queued_age_s.map(age).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            ("lane", Align::Left),
            ("queued", Align::Right),
            ("submitting", Align::Right),
            ("awaiting receipt", Align::Right),
            ("oldest queued", Align::Right),
        ],
        &rows,
    ));
    out.push('\n');
}

/// One line when the working-day calendar runs out within the warning horizon.
fn calendar(out: &mut String, r: &StatusReport) {
    if let Some(warning) = r.calendar.as_ref().and_then(|c| c.warning.as_ref()) {
        let _ = writeln!(out, "CALENDAR  {warning}\n");
    }
}

/// One line: the store's free space, and whether new messages are refused for lack of it.
fn disk(out: &mut String, r: &StatusReport) {
    let Some(d) = &r.disk else {
        return;
    };
    let free = d.free_bytes.map_or_else(
        || "free space unknown".to_owned(),
        |b| format!("{} free", mib(b)),
    );
    let reserve = if d.min_free_bytes == 0 {
        "no reserve".to_owned()
    } else {
        format!("reserve {}", mib(d.min_free_bytes))
    };
    let verdict = if d.refusing {
        "  FULL: new messages are refused until space is freed"
    } else {
        ""
    };
    let _ = writeln!(out, "DISK  {}: {free}, {reserve}{verdict}\n", d.dir);
}

/// Cluster mode: the database, each node and who holds each operator's binds.
fn cluster(out: &mut String, r: &StatusReport) {
    let Some(c) = &r.cluster else {
        return;
    };
    let _ = writeln!(out, "CLUSTER  database: PostgreSQL {}", c.database);
    let nodes: Vec<Vec<String>> = c
        .nodes
        .iter()
        .map(|n| {
            let state = if n.alive { "up" } else { "GONE" };
            let silent = format!("{:.1} s", n.silent_ms as f64 / 1000.0);
            vec![n.name.clone(), state.to_owned(), silent]
        })
        .collect();
    out.push_str(&table(
        &[
            ("node", Align::Left),
            ("state", Align::Left),
            ("last heard", Align::Right),
        ],
        &nodes,
    ));
    out.push('\n');
    let leases: Vec<Vec<String>> = c
        .leases
        .iter()
        .map(|l| {
            let expires = if l.expires_in_ms >= 0 {
                format!("in {:.1} s", l.expires_in_ms as f64 / 1000.0)
            } else {
                "EXPIRED".to_owned()
            };
            vec![
                l.operator.clone(),
                l.node.clone(),
                l.epoch.to_string(),
                expires,
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            ("operator", Align::Left),
            ("binds held by", Align::Left),
            ("epoch", Align::Right),
            ("lease ends", Align::Right),
        ],
        &leases,
    ));
    out.push('\n');
}

/// Bytes as whole MiB.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

fn deadlines(out: &mut String, r: &StatusReport) {
    let _ = writeln!(out, "RECEIPTS OVERDUE  {}", r.receipts_overdue);
    for m in &r.overdue {
        let _ = writeln!(
            out,
            "  {}  {}  {}  receipt due {}",
            m.message_id,
            m.kind,
            m.operator.as_deref().unwrap_or("-"),
            time(m.receipt_by)
        );
    }
    let _ = writeln!(
        out,
        "AT RISK OF MISSING THEIR DEADLINE  {}",
        r.at_risk_count
    );
    for m in &r.at_risk {
        let left = if m.seconds_left >= 0 {
            format!("{} left", age(m.seconds_left.unsigned_abs()))
        } else {
            format!("{} late", age(m.seconds_left.unsigned_abs()))
        };
        let _ = writeln!(
            out,
            "  {}  {}  {}  send by {} ({left})",
            m.message_id,
            m.kind,
            m.state,
            time(m.send_by)
        );
    }
    out.push('\n');
}

fn outcomes(out: &mut String, minute: &Outcomes, hour: &Outcomes) {
    let row = |span: &str, o: &Outcomes| {
        vec![
            span.to_string(),
            o.accepted.to_string(),
            o.submitted.to_string(),
            o.delivered.to_string(),
            o.undeliverable.to_string(),
            o.expired.to_string(),
            o.rejected.to_string(),
            o.failed.to_string(),
            o.cancelled.to_string(),
        ]
    };
    out.push_str("OUTCOMES\n");
    out.push_str(&table(
        &[
            ("", Align::Left),
            ("accepted", Align::Right),
            ("submitted", Align::Right),
            ("delivered", Align::Right),
            ("undeliverable", Align::Right),
            ("expired", Align::Right),
            ("rejected", Align::Right),
            ("failed", Align::Right),
            ("cancelled", Align::Right),
        ],
        &[row("last minute", minute), row("last hour", hour)],
    ));
}
