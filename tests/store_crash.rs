//! Crash safety with a real SIGKILL. This test binary re-runs itself as the child (the
//! `child_process_entry` test, which does nothing unless `KHABAR_CRASH_DIR` is set): the
//! child accepts messages from many concurrent writers (singly and in batches) while a
//! dispatcher claims, submits, retries, defers and records receipts and a watcher fires
//! deadlines; it prints each acknowledged id only after `accept` returned. The parent kills
//! it at a random moment, reopens the store and checks that every acknowledged message is
//! there with a consistent state and that every index agrees with the records.
//!
//! `KHABAR_CRASH_KILLS=50 cargo test --test store_crash -- --nocapture` runs a longer series
//! (the default is 3 kills).

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::store::Store;
use rand::Rng;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use store_support::{message, open, open_sled};

const DIR_ENV: &str = "KHABAR_CRASH_DIR";
const ROUND_ENV: &str = "KHABAR_CRASH_ROUND";
const REPEAT_ENV: &str = "KHABAR_CRASH_REPEAT";
/// The child stops by itself after this long even if nobody kills it.
const CHILD_LIFETIME: Duration = Duration::from_secs(90);
const SINGLE_WRITERS: usize = 48;
const BATCH_WRITERS: usize = 4;

#[test]
fn acknowledged_messages_survive_sigkill() {
    let kills: usize = std::env::var("KHABAR_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: HashMap<String, MessageId> = HashMap::new();
    let mut rng = rand::rng();
    for round in 0..kills {
        let repeat: Vec<String> = acked.keys().take(20).cloned().collect();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(ROUND_ENV, round.to_string())
            .env(REPEAT_ENV, repeat.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child");
        let (lines_tx, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .expect("the child reports ready");
            if line == "ready" {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(200..2_000)));
        child.kill().expect("SIGKILL the child");
        child.wait().unwrap();
        reader.join().unwrap();
        let mut new_acks = 0;
        for line in lines.try_iter() {
            let fields: Vec<&str> = line.split(' ').collect();
            match fields.as_slice() {
                ["ack", reference, id] => {
                    let id: MessageId = id.parse().unwrap();
                    assert!(
                        acked.insert((*reference).to_owned(), id).is_none(),
                        "{reference} acknowledged twice"
                    );
                    new_acks += 1;
                }
                ["dup", reference, id] => {
                    let id: MessageId = id.parse().unwrap();
                    assert_eq!(
                        acked.get(*reference),
                        Some(&id),
                        "a repeated reference kept its message"
                    );
                }
                _ => {}
            }
        }
        let store = open_sled(dir.path());
        check_after_crash(&store, &acked);
        eprintln!(
            "kill {}/{kills}: {new_acks} new acks ({} in all) after {:.1}s; {} messages stored",
            round + 1,
            acked.len(),
            started.elapsed().as_secs_f64(),
            store.counts().total(),
        );
    }
}

fn check_after_crash(store: &Store, acked: &HashMap<String, MessageId>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (reference, id) in acked {
        let m = runtime
            .block_on(store.get(*id))
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {id} ({reference}) was lost"));
        assert_eq!(m.reference.as_deref(), Some(reference.as_str()));
        assert_eq!(m.history.last().map(|t| t.state), Some(m.state));
        assert_eq!(
            runtime
                .block_on(store.get_by_reference(reference))
                .unwrap()
                .map(|m| m.id),
            Some(*id)
        );
    }
    assert_eq!(
        store.counts().in_state(State::Submitting),
        0,
        "recovery requeued everything in flight"
    );
    let problems = runtime.block_on(store.verify_integrity()).unwrap();
    assert!(
        problems.is_empty(),
        "integrity problems after a crash: {problems:#?}"
    );
}

/// The child's work; a no-op in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_entry() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let round = std::env::var(ROUND_ENV).unwrap_or_default();
    let store = open(std::path::Path::new(&dir)).await;
    println!("\nready"); // on a line of its own, after libtest's "test … " prefix
    for reference in std::env::var(REPEAT_ENV)
        .unwrap_or_default()
        .split(',')
        .filter(|r| !r.is_empty())
    {
        let again = store
            .accept(message(Kind::Bulk, Some(reference)))
            .await
            .unwrap();
        assert!(again.duplicate);
        println!("dup {reference} {}", again.id);
    }
    let stop_at = Instant::now() + CHILD_LIFETIME;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..SINGLE_WRITERS {
        let (store, round) = (store.clone(), round.clone());
        tasks.spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                let kind = Kind::ALL[(w + n) % 4];
                let reference = format!("r{round}-w{w}-{n}");
                let mut m = message(kind, Some(&reference));
                if kind == Kind::Otp {
                    m.send_by = Some(now_ms() + 300);
                    m.receipt_by = Some(now_ms() + 600);
                }
                let accepted = store.accept(m).await.unwrap();
                println!("ack {reference} {}", accepted.id);
                n += 1;
            }
        });
    }
    for w in 0..BATCH_WRITERS {
        let (store, round) = (store.clone(), round.clone());
        tasks.spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                let references: Vec<String> =
                    (0..50).map(|i| format!("r{round}-b{w}-{n}-{i}")).collect();
                let batch = references
                    .iter()
                    .map(|r| message(Kind::Bulk, Some(r)))
                    .collect();
                for (reference, answer) in references.iter().zip(store.accept_batch(batch).await) {
                    println!("ack {reference} {}", answer.unwrap().id);
                }
                n += 1;
            }
        });
    }
    tasks.spawn(dispatch(store.clone(), stop_at));
    tasks.spawn(async move {
        while Instant::now() < stop_at {
            store.fire_due_deadlines(now_ms(), 500).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    while tasks.join_next().await.is_some() {}
}

/// Claims and moves messages through every state change while the writers write.
async fn dispatch(store: Store, stop_at: Instant) {
    let mut n: u64 = 0;
    while Instant::now() < stop_at {
        let kind = Kind::ALL[(n % 4) as usize];
        let Some(m) = store.claim_next(kind, now_ms()).await.unwrap() else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            n += 1;
            continue;
        };
        let now = now_ms();
        match n % 6 {
            0 => drop(
                store
                    .requeue(m.id, now + 20, "ESME_RTHROTTLED", now)
                    .await
                    .unwrap(),
            ),
            1 => drop(store.defer(m.id, now + 10, now).await.unwrap()),
            2 => drop(
                store
                    .finish(m.id, State::Rejected, "ESME_RINVDSTADR", now)
                    .await
                    .unwrap(),
            ),
            _ => {
                let op_id = format!("{:x}", m.id.0);
                store
                    .mark_submitted(m.id, "sim", vec![op_id.clone()], Some(now + 400))
                    .await
                    .unwrap();
                if n.is_multiple_of(2) {
                    let found = store.find_by_operator_id("sim", &op_id).await.unwrap();
                    assert_eq!(found, Some((m.id, 0)));
                    store
                        .record_receipt(m.id, 0, "DELIVRD", None, now)
                        .await
                        .unwrap();
                }
            }
        }
        n += 1;
    }
}
