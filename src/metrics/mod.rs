//! The optional Prometheus endpoint (`[metrics] listen`, off unless set; bind it to 127.0.0.1
//! or a private network): on every scrape it takes the same status report `khabar status`
//! shows, plus the store's counts by state, and renders them with prometheus-client.

mod http;
mod latency;

pub use latency::Latencies;

use crate::api::backend::Backend;
use crate::api::views::StatusReport;
use crate::message::State;
use crate::store::Counts;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

/// The `[metrics]` section of config.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `GET /metrics`, e.g. `127.0.0.1:9464`; none turns the endpoint off.
    pub listen: Option<SocketAddr>,
}

pub use http::{bind, serve};

type Labels = Vec<(String, String)>;
type Values = Family<Labels, Gauge<f64, AtomicU64>>;

/// Adds a labelled gauge family `name` to `registry`, filled from `values`.
fn family(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, f64)>,
) {
    let family = Values::default();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
    registry.register(name, help, family);
}

fn label(key: &str, value: impl ToString) -> Labels {
    vec![(key.to_owned(), value.to_string())]
}

/// The exposition text for one scrape.
pub fn render(status: &StatusReport, counts: &Counts, latencies: &Latencies) -> String {
    let mut registry = Registry::with_prefix("khabar");
    registry.register(
        "submit_latency_seconds",
        "From acceptance to every part acknowledged by the operator",
        latencies.submit.clone(),
    );
    registry.register(
        "receipt_latency_seconds",
        "From acknowledgement to the final delivery receipt",
        latencies.receipt.clone(),
    );
    let one = |v: f64| [(Labels::new(), v)];
    family(
        &mut registry,
        "uptime_seconds",
        "Seconds since the daemon started",
        one(status.daemon.uptime_s as f64),
    );
    family(
        &mut registry,
        "messages",
        "Messages in the store by state",
        State::ALL
            .iter()
            .map(|s| (label("state", s), counts.in_state(*s) as f64)),
    );
    family(
        &mut registry,
        "queue_depth",
        "Messages not yet final",
        one(status.queue.depth as f64),
    );
    for (name, help, pick) in [
        ("lane_queued", "Queued messages by lane", 0),
        ("lane_submitting", "Messages being submitted by lane", 1),
        (
            "lane_submitted",
            "Messages awaiting their receipt by lane",
            2,
        ),
        (
            "lane_oldest_queued_age_seconds",
            "Age of the oldest queued message by lane",
            3,
        ),
    ] {
        let values = status.lanes.iter().map(|l| {
            let v = match pick {
                0 => l.queued,
                1 => l.submitting,
                2 => l.submitted,
                _ => l.oldest_queued_age_s.unwrap_or(0),
            };
            (label("lane", l.kind), v as f64)
        });
        family(&mut registry, name, help, values);
    }
    family(
        &mut registry,
        "receipts_overdue",
        "Messages past receipt_by without a final receipt",
        one(status.receipts_overdue as f64),
    );
    family(
        &mut registry,
        "at_risk",
        "Queued messages likely to miss their send_by",
        one(status.at_risk_count as f64),
    );
    if let Some(disk) = &status.disk {
        if let Some(free) = disk.free_bytes {
            family(
                &mut registry,
                "store_disk_free_bytes",
                "Bytes free on the store's disk",
                one(free as f64),
            );
        }
        family(
            &mut registry,
            "store_disk_reserve_bytes",
            "The free-space reserve ([store] min_free_disk_mib); below it new messages are refused",
            one(disk.min_free_bytes as f64),
        );
        family(
            &mut registry,
            "store_disk_refusing",
            "1 while new messages are refused for lack of disk space",
            one(f64::from(u8::from(disk.refusing))),
        );
    }
    if let Some(calendar) = &status.calendar {
        family(
            &mut registry,
            "calendar_covered_days",
            "Days ahead the working-day calendar files cover (warn below 60)",
            one(calendar.days_ahead as f64),
        );
    }
    let ops = &status.operators;
    let per_op = |f: fn(&crate::api::views::OperatorStatus) -> f64| {
        ops.iter()
            .map(move |o| (label("operator", &o.name), f(o)))
            .collect::<Vec<_>>()
    };
    family(
        &mut registry,
        "operator_binds_up",
        "Binds up per operator",
        per_op(|o| {
            o.binds
                .iter()
                .filter(|b| b.state == crate::api::views::BindState::Up)
                .count() as f64
        }),
    );
    family(
        &mut registry,
        "operator_binds",
        "Binds configured per operator",
        per_op(|o| o.binds.len() as f64),
    );
    family(
        &mut registry,
        "operator_window_in_use",
        "Submits outstanding per operator",
        per_op(|o| f64::from(o.window_in_use)),
    );
    family(
        &mut registry,
        "operator_tps",
        "SMS parts per second now",
        per_op(|o| o.tps_now),
    );
    family(
        &mut registry,
        "operator_tps_cap",
        "Configured TPS cap",
        per_op(|o| o.tps_cap),
    );
    family(
        &mut registry,
        "operator_throttled_last_hour",
        "Throttled answers in the last hour",
        per_op(|o| o.throttled_last_hour as f64),
    );
    family(
        &mut registry,
        "operator_resent_unanswered",
        "SMS parts sent again since start because no submit_sm_resp came (timeout, lost connection)",
        per_op(|o| o.resent_unanswered as f64),
    );
    for (window, outcomes) in [("minute", &status.last_minute), ("hour", &status.last_hour)] {
        let o = outcomes;
        let values = [
            ("accepted", o.accepted),
            ("submitted", o.submitted),
            ("delivered", o.delivered),
            ("undeliverable", o.undeliverable),
            ("expired", o.expired),
            ("rejected", o.rejected),
            ("failed", o.failed),
            ("cancelled", o.cancelled),
        ]
        .map(|(outcome, n)| (label("outcome", outcome), n as f64));
        family(
            &mut registry,
            &format!("outcomes_last_{window}"),
            &format!("Messages reaching each outcome in the last {window}"),
            values,
        );
    }
    let mut text = String::new();
    // writing to a String cannot fail
    let _ = encode(&mut text, &registry);
    text
}

/// One scrape: the backend's status and the store's counts.
pub async fn scrape<B: Backend>(
    backend: &B,
    counts: Counts,
    latencies: &Latencies,
) -> Result<String, String> {
    let status = backend.status().await.map_err(|e| e.message)?;
    Ok(render(&status, &counts, latencies))
}
