//! End-to-end benchmark (not a test): khabar in this process against smpp-sim in this process,
//! everything on 127.0.0.1 ephemeral ports, every load bounded.
//!
//! ```text
//! cargo bench --bench end_to_end                          # 200,000 messages, 3 runs
//! cargo bench --bench end_to_end -- --quick --runs 1      # 20,000 messages, one run
//! cargo bench --bench end_to_end -- --only accept        # or e2e, e2e-3, e2e-1, otp, cold-start
//! cargo bench --bench end_to_end -- --only soak --minutes 10   # E, only when asked for by name
//! cargo bench --bench end_to_end -- --only history --history 1000000,5000000   # F, likewise
//! cargo bench --bench end_to_end -- --only purge --purge 1000000   # F's purge, likewise
//! ```
//!
//! - **A, accept**: durable accepts over the socket (each answered after its fsync), sending
//!   held back (one operator capped at 1 part/s), a fresh daemon per case.
//! - **B, e2e**: messages in batches of 1,000 from 4 connections (half Kazakh UCS-2, a tenth
//!   2–3 parts, `notification` kind), sent while they are being accepted; three operators
//!   (and then one) with 2 binds, window 100 and a 20,000 parts/s cap each; receipts after
//!   0–50 ms. submit_sm/s is counted at the simulator; "all final" is the daemon's own status.
//!   The simulator's ceiling is measured in the same run with a minimal raw SMPP client
//!   sending the same PDUs over the same binds and window.
//! - **C, otp**: 1,000,000 `bulk` messages accepted as in B (three operators), then, while
//!   they drain, 3,000 `otp_send` at 50/s, each to its own number; per OTP the time from its
//!   accept answer to its submit_sm at smpp-sim, and the bulk backlog meanwhile
//!   (`--quick`: 100,000 and 500; `--bulk`, `--otps` to choose).
//! - **D, cold-start**: 5,000,000 messages queued with the `Store` API in a temporary data dir
//!   (about 7.5 GiB free needed, checked first), then the `khabar` binary started over it as a
//!   child: spawn → first submit_sm at smpp-sim, and the child's RSS then and after 10,000
//!   submit_sm (`--quick`: 500,000; `--queued` to choose). One fill, started `--runs` times.
//! - **E, soak** (only with `--only soak`; one run whatever `--runs`): the `khabar` binary as a
//!   child over a fresh data dir, three operators as in B; a steady `--rate` (2,000 messages/s)
//!   for `--minutes` (30; `--quick`: 2) of B's mix with a few `bulk` and references on half.
//!   Every `--sample-secs` (30; `--quick`: 10) the daemon's RSS, the data dir's size on disk,
//!   messages accepted and final, queue depth; then every message final, `--settle-secs` (60)
//!   later a last sample, SIGTERM, the disk again. `--erase-texts-after 1m` sets
//!   `[store] erase_texts_after` (and housekeeping every 15 s); `--subscribe` adds an upstream
//!   that follows the events and acknowledges them (housekeeping every 15 s too). The free
//!   space in `TMPDIR` the run needs is checked first.
//! - **F, history** (only with `--only history`): one store grown through `--history` sizes of
//!   finished messages (1,000,000, 5,000,000 and 10,000,000; `--quick`: 100,000 and 300,000)
//!   with the `Store` API; at each, `Store::get` of random finished messages, then D's start
//!   measurements (`--runs` starts, each over 100,000 freshly queued bulk messages).
//! - **F, purge** (only with `--only purge`): `--purge` finished messages (1,000,000;
//!   `--quick`: 100,000) made as in F, then C's OTPs (no backlog) asked of the daemon twice:
//!   with nothing to forget, and while its retention forgets all of them
//!   (`end_to_end/purge.rs`).
//!
//! Each scenario runs `--runs` times (default 3); the table shows the median and the spread.
//! `--thread-nice N` sets `[store] thread_nice` of every daemon the bench configures.
//! `--engine postgres` keeps every daemon's store in a fresh database of a PostgreSQL the bench
//! starts (test-postgres) instead of sled: `cargo bench --bench end_to_end -- --only e2e-3
//! --engine postgres`.

#[path = "end_to_end/accept.rs"]
mod accept;
#[path = "end_to_end/ceiling.rs"]
mod ceiling;
#[path = "end_to_end/cold_start.rs"]
mod cold_start;
#[path = "end_to_end/cpu.rs"]
mod cpu;
#[path = "end_to_end/e2e.rs"]
mod e2e;
#[path = "end_to_end/harness.rs"]
mod harness;
#[path = "end_to_end/history_scale.rs"]
mod history_scale;
#[path = "end_to_end/otp_latency.rs"]
mod otp_latency;
#[path = "end_to_end/purge.rs"]
mod purge;
#[path = "end_to_end/soak.rs"]
mod soak;
#[path = "end_to_end/subscriber.rs"]
mod subscriber;
#[path = "end_to_end/traffic.rs"]
mod traffic;

use harness::Shape;
use std::time::{Duration, Instant};
use traffic::Mix;

struct Args {
    messages: u64,
    accept_messages: u64,
    runs: usize,
    only: Option<String>,
    otp: otp_latency::Plan,
    cold_queued: u64,
    history_sizes: Vec<u64>,
    purge: u64,
    soak: soak::Plan,
}

fn parse_args() -> Args {
    let mut args = Args {
        messages: 200_000,
        accept_messages: 50_000,
        runs: 3,
        only: None,
        otp: otp_latency::Plan {
            bulk: 1_000_000,
            otps: 3_000,
            per_second: 50,
            settle: Duration::from_secs(5),
        },
        cold_queued: 5_000_000,
        history_sizes: vec![1_000_000, 5_000_000, 10_000_000],
        purge: 1_000_000,
        soak: soak::Plan::default(),
    };
    let mut messages = None;
    let (mut bulk, mut otps, mut queued) = (None, None, None);
    let (mut minutes, mut sample_secs) = (None, None);
    let number = |n: Option<String>| n.and_then(|n| n.replace('_', "").parse().ok());
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => {
                args.messages = 20_000;
                args.accept_messages = 10_000;
                args.otp.bulk = 100_000;
                args.otp.otps = 500;
                args.otp.settle = Duration::from_secs(2);
                args.cold_queued = 500_000;
                args.history_sizes = vec![100_000, 300_000];
                args.purge = 100_000;
                args.soak.duration = Duration::from_secs(2 * 60);
                args.soak.sample_every = Duration::from_secs(10);
            }
            "--messages" => messages = number(it.next()),
            "--bulk" => bulk = number(it.next()),
            "--otps" => otps = number(it.next()),
            "--queued" => queued = number(it.next()),
            "--purge" => args.purge = number(it.next()).unwrap_or(args.purge),
            "--history" => {
                let sizes = it.next().unwrap_or_default();
                let sizes: Vec<u64> = sizes
                    .split(',')
                    .filter_map(|n| number(Some(n.to_owned())))
                    .collect();
                if !sizes.is_empty() {
                    args.history_sizes = sizes;
                }
            }
            "--rate" => args.soak.rate = number(it.next()).unwrap_or(args.soak.rate).max(1),
            "--minutes" => minutes = it.next().and_then(|m| m.parse::<f64>().ok()),
            "--sample-secs" => sample_secs = number(it.next()),
            "--settle-secs" => {
                let settle = number(it.next()).unwrap_or(args.soak.settle.as_secs());
                args.soak.settle = Duration::from_secs(settle);
            }
            "--erase-texts-after" => args.soak.erase_texts_after = it.next(),
            "--subscribe" => args.soak.subscribe = true,
            "--engine" => match it.next().as_deref() {
                Some("postgres") => {
                    let durable = test_postgres::Options {
                        flush_to_disk: true,
                        // as docs/CLUSTER.md advises for khabar's queue (the default, a minute,
                        // lets claimed rows' dead index entries pile up at the queue's head)
                        settings: vec![("autovacuum_naptime", "'10s'")],
                        ..Default::default()
                    };
                    let pg = test_postgres::TestPostgres::try_start(durable)
                        .unwrap_or_else(|e| panic!("{e}"));
                    *harness::POSTGRES.lock().unwrap() = Some(pg);
                }
                Some("sled") | None => {}
                Some(other) => panic!("--engine {other}: sled or postgres"),
            },
            "--thread-nice" => {
                if let Some(nice) = it.next().and_then(|n| n.parse().ok()) {
                    let _ = harness::THREAD_NICE.set(nice);
                }
            }
            "--runs" => args.runs = it.next().and_then(|n| n.parse().ok()).unwrap_or(3),
            "--only" => args.only = it.next(),
            _ => {} // cargo passes --bench
        }
    }
    if let Some(n) = messages {
        args.messages = n;
    }
    args.otp.bulk = bulk.unwrap_or(args.otp.bulk);
    args.otp.otps = otps.unwrap_or(args.otp.otps).max(1);
    args.cold_queued = queued.unwrap_or(args.cold_queued);
    if let Some(m) = minutes.filter(|m| m.is_finite() && *m > 0.0) {
        args.soak.duration = Duration::from_secs_f64(m * 60.0);
    }
    if let Some(s) = sample_secs {
        args.soak.sample_every = Duration::from_secs(s.max(1));
    }
    args.runs = args.runs.max(1);
    args
}

/// The daemon's operators in scenario B (and the raw client's binds and window).
fn e2e_shape(operators: usize) -> Shape {
    Shape {
        operators,
        binds: 2,
        window: 100,
        tps: 20_000,
    }
}

/// One table row's samples and how to print them.
struct Row {
    label: String,
    unit: &'static str,
    samples: Vec<f64>,
}

impl Row {
    fn new(label: impl Into<String>, unit: &'static str) -> Row {
        Row {
            label: label.into(),
            unit,
            samples: Vec::new(),
        }
    }

    fn show(&self, x: f64) -> String {
        match self.unit {
            "s" | "ms" if x < 10.0 => format!("{x:.2}"),
            "µs" => format!("{x:.0}"),
            "s" | "ms" => format!("{x:.1}"),
            "%" => format!("{:.1}", x * 100.0),
            _ => thousands(x),
        }
    }

    fn line(&self) -> String {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let Some((&min, &max)) = sorted.first().zip(sorted.last()) else {
            return format!("| {} | – | – | {} |", self.label, self.unit);
        };
        let mid = sorted.len() / 2;
        let median = if !sorted.len().is_multiple_of(2) {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        format!(
            "| {} | {} | {} – {} | {} |",
            self.label,
            self.show(median),
            self.show(min),
            self.show(max),
            self.unit,
        )
    }
}

/// `12345.6` → `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn scenario_accept(args: &Args, rows: &mut Vec<Row>) -> Result<(), String> {
    let cases = accept::cases(args.accept_messages);
    let first = rows.len();
    for case in &cases {
        rows.push(Row::new(
            format!(
                "A accept: {} ({} msgs)",
                case.label,
                thousands(case.messages as f64)
            ),
            "accepted/s",
        ));
    }
    for run in 0..args.runs {
        let sim = harness::simulator().await?;
        for (i, case) in cases.iter().enumerate() {
            let rate = accept::run(&sim, *case, run).await?;
            println!(
                "  run {}: {:<34} {:>9} accepted/s",
                run + 1,
                case.label,
                thousands(rate)
            );
            rows[first + i].samples.push(rate);
        }
        sim.shutdown().await;
    }
    Ok(())
}

async fn scenario_e2e(
    args: &Args,
    mix: Mix,
    operators: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let shape = e2e_shape(operators);
    let name = if operators == 1 {
        "1 operator"
    } else {
        "3 operators"
    };
    let mut submit = Row::new(format!("B e2e {name}: submit_sm/s at smpp-sim"), "parts/s");
    let mut ceiling = Row::new(
        format!("B e2e {name}: smpp-sim ceiling (raw client)"),
        "parts/s",
    );
    let mut ratio = Row::new(format!("B e2e {name}: khabar / ceiling"), "%");
    let mut finals = Row::new(format!("B e2e {name}: until every message final"), "s");
    let mut accepts = Row::new(format!("B e2e {name}: accepting all (while sending)"), "s");
    let mut writer_cpu = Row::new(
        format!("B e2e {name}: store writer thread CPU per message"),
        "µs",
    );
    let mut process_cpu = Row::new(
        format!("B e2e {name}: CPU per message, whole process (daemon + smpp-sim + clients)"),
        "µs",
    );
    // Generous bound: ten times a slow 2,000 parts/s, plus start-up.
    let patience = Duration::from_secs(60 + mix.parts / 200);
    for run in 0..args.runs {
        let figures = e2e::run(mix, shape, run, patience).await?;
        let sim = harness::simulator().await?;
        let binds = shape.binds as usize;
        let raw = ceiling::measure(
            &sim,
            mix.messages,
            operators,
            binds,
            shape.window as usize,
            patience,
        )
        .await?;
        sim.shutdown().await;
        let per_message_us = |cpu_s: f64| cpu_s * 1e6 / mix.messages as f64;
        let writer_us = per_message_us(figures.writer_cpu_s);
        let process_us = per_message_us(figures.process_cpu_s);
        println!(
            "  run {}: {name}: {} parts/s (first submit after {:.2} s), all accepted {:.1} s, \
             all final {:.1} s, {} delivered, {} duplicates, {} throttled; ceiling {} parts/s \
             (receipts done {:.1} s); CPU per message: store writer {:.0} µs, whole process \
             {:.0} µs",
            run + 1,
            thousands(figures.submits_per_s),
            figures.first_submit_s,
            figures.accept_s,
            figures.final_s,
            thousands(figures.delivered as f64),
            figures.duplicates,
            figures.throttled,
            thousands(raw.submits_per_s),
            raw.receipts_done.as_secs_f64(),
            writer_us,
            process_us,
        );
        writer_cpu.samples.push(writer_us);
        process_cpu.samples.push(process_us);
        submit.samples.push(figures.submits_per_s);
        ceiling.samples.push(raw.submits_per_s);
        ratio
            .samples
            .push(figures.submits_per_s / raw.submits_per_s);
        finals.samples.push(figures.final_s);
        accepts.samples.push(figures.accept_s);
    }
    rows.extend([
        submit,
        ceiling,
        ratio,
        finals,
        accepts,
        writer_cpu,
        process_cpu,
    ]);
    Ok(())
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let mix = Mix::of(args.messages);
    println!(
        "end-to-end benchmark: {} runs; B: {} messages = {} parts ({} UCS-2, {} multi-part); \
         {} CPUs",
        args.runs,
        thousands(mix.messages as f64),
        thousands(mix.parts as f64),
        thousands(mix.ucs2 as f64),
        thousands(mix.multipart as f64),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let wanted = |s: &str| {
        args.only
            .as_deref()
            .is_none_or(|o| o == s || s.starts_with(o))
    };
    let mut rows = Vec::new();
    let outcome = runtime.block_on(async {
        if wanted("accept") {
            println!("A: durable accepts over the socket");
            scenario_accept(&args, &mut rows).await?;
        }
        for operators in [3, 1] {
            if wanted(&format!("e2e-{operators}")) {
                println!("B: end to end against smpp-sim, {operators} operator(s)");
                scenario_e2e(&args, mix, operators, &mut rows).await?;
            }
        }
        if wanted("otp") {
            println!("C: OTP latency behind a bulk backlog");
            otp_latency::scenario(&args, &mut rows).await?;
        }
        if wanted("cold-start") {
            println!("D: daemon cold start over a full store");
            cold_start::scenario(&args, &mut rows).await?;
        }
        // Long: run only when asked for by name.
        if args.only.as_deref() == Some("history") {
            println!("F: the daemon over millions of finished messages");
            history_scale::scenario(&args, &args.history_sizes, &mut rows).await?;
        }
        if args.only.as_deref() == Some("purge") {
            println!("F: OTPs while retention forgets finished messages");
            purge::scenario(&args, &mut rows).await?;
        }
        if args.only.as_deref() == Some("soak") {
            println!("E: soak at a steady rate");
            soak::scenario(&args.soak).await?;
        }
        Ok::<_, String>(())
    });
    if !rows.is_empty() {
        println!();
        println!("| scenario | median | spread (min – max) | unit |");
        println!("| --- | ---: | ---: | --- |");
        for row in &rows {
            println!("{}", row.line());
        }
    }
    println!("\nwall time {:.0} s", started.elapsed().as_secs_f64());
    // the server started for --engine postgres stops with its handle
    drop(harness::POSTGRES.lock().map(|mut pg| pg.take()));
    if let Err(e) = outcome {
        eprintln!("end_to_end: {e}");
        std::process::exit(1);
    }
}
