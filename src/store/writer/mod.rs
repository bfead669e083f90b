//! The single writer: every change to the store goes through one thread, so read-modify-write
//! needs no locks and each operation is one atomic batch. Durability is a group commit:
//! a second thread fsyncs while the writer keeps applying, and accepts that arrive during a
//! flush are gathered into one batch for the next one, so the accept rate grows with the
//! number of concurrent writers instead of being bounded by fsync latency.

mod accept;
mod chunks;
mod claim;
mod deadlines;
mod direct;
mod failure;
mod flights;
mod flusher;
mod inbox;
mod layers;
mod lifecycle;
mod moves;
mod ops;
mod parked;
mod records;
mod recover;
mod replies;
mod retention;
mod slow;
mod tx;
mod verify;

pub use deadlines::Fired;
pub use direct::{AcceptedOtps, DirectClaims};
pub use failure::{EXIT_STORE_FAILED, Failure};
pub use inbox::OpSender;
pub use moves::HistoryView;
pub use ops::{Change, Op};
pub use parked::{DroppedReceipts, ReceiptLanding};
pub use recover::recover_in_flight;
pub use retention::RetentionReport;

use super::StoreError;
use super::counts::Counts;
use super::history::{self, History};
use super::priority;
use crate::message::{Kind, Millis, NewMessage, now_ms};
use flights::Flights;
use flusher::{FlushJob, Pending, flusher};
use inbox::Inbox;
use layers::Staged;
use ops::{AcceptReply, Reply};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::watch;
use tx::Tx;

/// Staged keys after which the group is applied to sled even while more ops wait (a few ms of
/// sled work, so an urgent op never queues behind a huge batch).
const MAX_STAGED_KEYS: usize = 256;

/// The writer's bookkeeping, persisted in `meta/state` with every batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterState {
    /// The last message id issued.
    pub last_id: u64,
    /// The last event seq issued.
    pub event_seq: u64,
    /// The last chunk seq issued.
    pub chunk_seq: u64,
    /// Messages per state and queued per lane.
    pub counts: Counts,
    /// Every deadline up to this time has fired.
    pub deadline_clock: Millis,
    /// Every record below this id has had its text erased (or never needs to).
    pub erase_cursor: u64,
    /// Every record below this id has been forgotten (or never needs to be).
    pub forget_cursor: u64,
    /// Receipts parked under `p/` (none: a submit result need not look for one).
    #[serde(default)]
    pub parked: u64,
    /// Every history record below this id has had its text erased (or never needs to).
    #[serde(default)]
    pub history_erase_cursor: u64,
    /// Every history record below this id has been forgotten (or never needs to be).
    #[serde(default)]
    pub history_forget_cursor: u64,
    /// Every event up to this seq has moved to the history tier (and left the live store).
    #[serde(default)]
    pub events_moved: u64,
}

/// What the readers share with the writer.
pub struct Shared {
    /// The latest counters.
    pub counts: Mutex<Counts>,
    /// The seq of the last durable event; subscribers wake when it moves.
    pub events: watch::Sender<u64>,
    /// Set by the first storage failure; after it nothing more is written.
    pub failure: Failure,
    /// Who takes OTPs claimed at acceptance.
    pub direct: DirectClaims,
    /// Every event up to this seq is in the history tier (readers read them there; the live
    /// store may already have dropped them).
    pub events_in_history: std::sync::atomic::AtomicU64,
}

/// Settings the writer needs.
pub struct WriterConfig {
    /// Most messages applied in one accept batch.
    pub max_group: usize,
    /// Text retention, in ms.
    pub erase_after_ms: Millis,
    /// Record retention, in ms.
    pub forget_after_ms: Millis,
    /// Event retention, in ms.
    pub keep_events_ms: Millis,
    /// The store's directory (its log is fsynced after every flush, see [`super::log_sync`]).
    pub store_dir: std::path::PathBuf,
    /// Niceness of the writer, the flusher and sled's I/O pool (see [`super::priority`]).
    pub thread_nice: i32,
    /// A finished message moves to the history tier this long after it finished, in ms.
    pub move_after_ms: Millis,
}

/// The writer thread's state.
pub struct Writer {
    db: sled::Db,
    state: WriterState,
    staged: Staged,
    /// True when something was staged since the last apply.
    dirty: bool,
    config: WriterConfig,
    shared: Arc<Shared>,
    accepts: Vec<(Vec<NewMessage>, AcceptReply)>,
    /// Accepts with an OTP among them: handed to the flusher first, without the others.
    urgent_accepts: Vec<(Vec<NewMessage>, AcceptReply)>,
    pending: Vec<Pending>,
    new_events: Option<u64>,
    flusher_busy: bool,
    flush_tx: Sender<FlushJob>,
    /// How many of each in-flight run are still `submitting`.
    flights: Flights,
    /// Decoded copies of in-flight records.
    records: records::RecordCache,
    /// The history tier, with the writes not yet durable.
    history: HistoryView,
    /// History writes for the next flush job.
    history_writes: Vec<history::HistoryWrite>,
    /// Flush jobs handed off so far (numbers the history writes each makes durable).
    jobs: u64,
    /// Finished messages on their way to the history tier.
    moves: moves::Moves,
}

/// Starts the writer and flusher threads; returns the op channel and the writer's handle.
pub fn spawn(
    db: sled::Db,
    history: Arc<History>,
    state: WriterState,
    config: WriterConfig,
    shared: Arc<Shared>,
) -> Result<(OpSender, JoinHandle<()>), StoreError> {
    let (op_tx, op_rx) = inbox::inbox();
    let (flush_tx, flush_rx) = channel::<FlushJob>();
    let flusher = {
        let (db, shared, op_tx) = (db.clone(), shared.clone(), op_tx.clone());
        let log = super::log_sync::LogSync::open(&config.store_dir);
        let nice = config.thread_nice;
        let history_writer = history.writer()?;
        std::thread::Builder::new()
            .name("khabar-store-flush".into())
            .spawn(move || flusher(db, history_writer, log, shared, flush_rx, op_tx, nice))
            .map_err(|e| StoreError::storage(format!("cannot start the store's flusher: {e}"), e))?
    };
    let events_in_history = shared.events_in_history.load(Ordering::Acquire);
    let writer = Writer {
        db,
        state,
        staged: Staged::default(),
        dirty: false,
        config,
        shared,
        accepts: Vec::new(),
        urgent_accepts: Vec::new(),
        pending: Vec::new(),
        new_events: None,
        flusher_busy: false,
        flush_tx,
        flights: Flights::default(),
        records: Default::default(),
        history: HistoryView::new(history),
        history_writes: Vec::new(),
        jobs: 0,
        moves: moves::Moves::starting(events_in_history),
    };
    let handle = std::thread::Builder::new()
        .name("khabar-store-write".into())
        .spawn(move || {
            priority::lower_this_thread(writer.config.thread_nice);
            writer.run(op_rx, flusher)
        })
        .map_err(|e| StoreError::storage(format!("cannot start the store's writer: {e}"), e))?;
    Ok((op_tx, handle))
}

impl Writer {
    fn run(mut self, mut ops: Inbox, flusher: JoinHandle<()>) {
        while let Some(op) = ops.recv() {
            let mut stop = self.handle(op);
            // drain what is waiting, but hand off regularly even under a steady stream
            for _ in 0..self.config.max_group {
                if stop {
                    break;
                }
                if !self.flusher_busy
                    && (!self.urgent_accepts.is_empty() || !self.pending.is_empty())
                {
                    // an OTP or a change waits for this flush (the sending stage holds an
                    // in-flight place until a change is durable); other accepts gather
                    break;
                }
                if self.staged.len() >= MAX_STAGED_KEYS {
                    self.apply_staged();
                }
                match ops.try_recv() {
                    Some(op) => stop = self.handle(op),
                    None => break,
                }
            }
            if !self.flusher_busy && !stop {
                let step = slow::Step::start("move finished messages");
                self.move_finished();
                step.end(String::new);
            }
            let step = slow::Step::start("apply the group");
            self.apply_staged();
            step.end(String::new);
            if !self.flusher_busy || stop {
                self.hand_off(stop);
            }
            if stop {
                break;
            }
        }
        drop(self.flush_tx);
        let _ = flusher.join();
    }

    /// Handles one op; true when the writer should stop.
    fn handle(&mut self, op: Op) -> bool {
        let step = slow::Step::start(op.name());
        let stop = self.handle_op(op);
        step.end(String::new);
        stop
    }

    /// Handles one op (see [`Writer::handle`]).
    fn handle_op(&mut self, op: Op) -> bool {
        let urgent = inbox::is_urgent(&op);
        if matches!(op, Op::TrimEvents { .. } | Op::Verify { .. }) {
            // these read sled directly
            self.apply_staged();
        }
        if let Some(error) = self.shared.failure.error() {
            return self.refuse(op, error.clone());
        }
        match op {
            Op::Accept { messages, reply } if urgent => self.urgent_accepts.push((messages, reply)),
            Op::Accept { messages, reply } => self.accepts.push((messages, reply)),
            Op::Change {
                id,
                change,
                now,
                reply,
            } => {
                let result = self.change(id, change, now);
                self.answer_durable(reply, result);
            }
            Op::Claim {
                lane,
                now,
                max,
                reply,
            } => {
                let claimed = self.claim_many(lane, now, max);
                // answered before the flush, but readers must already see the claim
                self.apply_staged();
                let claimed = match self.shared.failure.error() {
                    Some(error) => Err(error.clone()),
                    None => claimed,
                };
                let _ = reply.send(claimed);
            }
            Op::Fire { now, limit, reply } => {
                let result = self.fire_deadlines(now, limit);
                self.answer_durable(reply, result);
            }
            Op::Retention { now, limit, reply } => {
                let result = self.retention(now, limit);
                self.answer_durable(reply, result);
            }
            Op::TrimEvents { now, limit, reply } => {
                let result = self.trim_events(now, limit);
                self.answer_durable(reply, result);
            }
            Op::Receipt {
                operator,
                candidates,
                receipt,
                reply,
            } => {
                let result = self.receipt_or_park(&operator, &candidates, receipt);
                self.answer_durable(reply, result);
            }
            Op::DropParked {
                before,
                limit,
                reply,
            } => {
                let result = self.drop_parked(before, limit);
                self.answer_durable(reply, result);
            }
            Op::AppendEvent { event, reply } => {
                let mut tx = self.tx();
                let result = replies::note_on_message(&mut tx, &event)
                    .and_then(|()| tx.emit(event))
                    .map(|()| self.commit(tx));
                let seq = self.state.event_seq;
                self.answer_durable(reply, result.map(|()| seq));
            }
            Op::AckCursor { name, seq, reply } => {
                let result = self.ack_cursor(&name, seq);
                self.answer_durable(reply, result);
            }
            Op::Verify { reply } => {
                let _ = reply.send(verify::check(&self.db, &self.history, &self.state));
            }
            Op::Flush { reply } => self.answer_durable(reply, Ok(())),
            Op::FlusherIdle => {
                self.flusher_busy = false;
                self.history.durable(self.jobs);
                self.moves.copies_durable(&self.shared);
            }
            Op::Wake => {}
            Op::Shutdown => return true,
        }
        false
    }

    /// Queues an answer for after the next flush (failures are answered at once).
    fn answer_durable<T: Send + 'static>(
        &mut self,
        reply: Reply<T>,
        result: Result<T, StoreError>,
    ) {
        match result {
            Err(e) => {
                self.shared.failure.trip(&e);
                let _ = reply.send(Err(e));
            }
            Ok(value) => self
                .pending
                .push(Box::new(move |flushed: Result<(), StoreError>| {
                    let _ = reply.send(flushed.map(|()| value));
                })),
        }
    }

    /// Applies the gathered accepts and hands everything waiting to the flusher.
    fn hand_off(&mut self, all: bool) {
        if self.shared.failure.error().is_none() {
            self.apply_accepts(all);
            self.apply_staged();
        }
        if let Some(error) = self.shared.failure.error() {
            let error = error.clone();
            return self.refuse_waiting(&error);
        }
        if self.pending.is_empty() && self.new_events.is_none() && self.history_writes.is_empty() {
            return;
        }
        self.jobs += 1;
        let history = std::mem::take(&mut self.history_writes);
        let job = FlushJob {
            pending: std::mem::take(&mut self.pending),
            last_event: self.new_events.take(),
            history,
        };
        match self.flush_tx.send(job) {
            Ok(()) => self.flusher_busy = true,
            Err(std::sync::mpsc::SendError(job)) => {
                for answer in job.pending {
                    answer(Err(StoreError::Closed));
                }
            }
        }
    }

    /// Applies the gathered accepts: unless `all`, only those with OTPs when there are any
    /// (the others wait for the next flush, a few ms).
    fn apply_accepts(&mut self, all: bool) {
        let mut gathered = std::mem::take(&mut self.urgent_accepts);
        if all || gathered.is_empty() {
            gathered.append(&mut self.accepts);
        }
        let mut ops = gathered.into_iter().peekable();
        while ops.peek().is_some() {
            // one batch of up to `max_group` messages (an op is never split)
            let mut run = Vec::new();
            let mut replies = Vec::new();
            while let Some((messages, _)) = ops.peek() {
                if !run.is_empty() && run.len() + messages.len() > self.config.max_group {
                    break;
                }
                let Some((messages, reply)) = ops.next() else {
                    break;
                };
                replies.push((messages.len(), reply));
                run.extend(messages);
            }
            let otps = run.iter().filter(|m| m.kind == Kind::Otp).count();
            let now = now_ms();
            let mut results = self.accept_run(run, now).into_iter();
            self.claim_accepted_otps(otps, now);
            for (n, reply) in replies {
                let mine: Vec<_> = results.by_ref().take(n).collect();
                self.pending
                    .push(Box::new(move |flushed: Result<(), StoreError>| {
                        let answer = match flushed {
                            Ok(()) => mine,
                            Err(e) => mine.into_iter().map(|_| Err(e.clone())).collect(),
                        };
                        let _ = reply.send(answer);
                    }));
            }
        }
    }

    /// A new write on top of the current state.
    fn tx(&self) -> Tx {
        Tx::new(
            &self.db,
            &self.staged,
            &self.records,
            &self.state,
            &self.history,
        )
    }

    /// Moves finished messages on: drops the live copies of those the last flush made
    /// durable in the history, copies the next ones (a failure trips the fail-stop).
    fn move_finished(&mut self) {
        if self.shared.failure.error().is_some() {
            return;
        }
        let now = now_ms();
        let moved = self
            .drop_moved_live_copies(now)
            .and_then(|()| self.copy_finished(now));
        if let Err(e) = moved {
            self.shared.failure.trip(&e);
        }
    }

    /// Stages a finished write and adopts its bookkeeping (applied with the group).
    fn commit(&mut self, tx: Tx) {
        let tx::Staging {
            changed,
            state,
            flights,
            history_writes,
            finished,
        } = tx.stage();
        self.dirty |= changed;
        // readable at once by the next operations; durable with the next flush job
        self.history.add(self.jobs + 1, &history_writes);
        self.history_writes.extend(history_writes);
        if !finished.is_empty() {
            self.moves.finished(finished, now_ms());
        }
        if state.counts != self.state.counts
            && let Ok(mut counts) = self.shared.counts.lock()
        {
            *counts = state.counts.clone();
        }
        if state.event_seq > self.state.event_seq {
            self.new_events = Some(state.event_seq);
        }
        self.state = state;
        if flights.is_empty() {
            return; // most ops: no need to lock the staged group
        }
        let next_seq = || {
            self.state.chunk_seq += 1;
            self.state.chunk_seq
        };
        self.flights
            .stage(flights, next_seq, &mut self.staged.lock());
    }

    /// Applies the staged group to sled in one batch (a failure trips the fail-stop).
    fn apply_staged(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        if self.shared.failure.error().is_some() {
            // after a failure nothing more is written
            *self.staged.lock() = Default::default();
            return;
        }
        if let Err(e) = self.staged.apply(&self.db, &self.state) {
            self.shared.failure.trip(&e);
        }
    }

    fn ack_cursor(&mut self, name: &str, seq: u64) -> Result<(), StoreError> {
        if seq > self.state.event_seq {
            return Err(StoreError::Invalid(format!(
                "cursor {name:?} cannot move to event {seq}: the last event is {}",
                self.state.event_seq
            )));
        }
        let mut tx = self.tx();
        let key = super::keys::cursor(name);
        let current = tx
            .get(&key)?
            .and_then(|v| super::keys::read_u64(&v, 0))
            .unwrap_or(0);
        tx.put(key, seq.max(current).to_be_bytes().to_vec());
        self.commit(tx);
        Ok(())
    }
}
