//! The writer thread: its state, its loop (gather ops, apply them as one group, hand the
//! group to the flusher) and the answers that wait for a flush. The ops themselves are
//! applied by the sibling modules, each an `impl Writer` for one part of a message's life.

use super::flights::Flights;
use super::flusher::{FlushJob, Pending, flusher};
use super::history_commit::HistoryCommitter;
use super::history_view::HistoryView;
use super::inbox::{self, Inbox, OpSender};
use super::layers::Staged;
use super::moves_state::Moves;
use super::ops::{AcceptReply, Op, Reply};
use super::records::RecordCache;
use super::replies::note_on_message;
use super::slow::Step;
use super::state::{Shared, WriterConfig, WriterState};
use super::tx::{Staging, Tx};
use super::verify;
use crate::message::{Kind, NewMessage, now_ms};
use crate::store::engine::{Db, log_sync, priority};
use crate::store::error::StoreError;
use crate::store::history::{self, History};
use crate::store::layout::{codec, keys};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

/// Staged keys after which the group is applied to the engine even while more ops wait (a few
/// ms of its work, so an urgent op never queues behind a huge batch).
const MAX_STAGED_KEYS: usize = 256;

/// The writer thread's state.
pub struct Writer {
    pub(super) db: Db,
    pub(super) state: WriterState,
    pub(super) staged: Staged,
    /// True when something was staged since the last apply.
    pub(super) dirty: bool,
    pub(super) config: WriterConfig,
    pub(super) shared: Arc<Shared>,
    pub(super) accepts: Vec<(Vec<NewMessage>, AcceptReply)>,
    /// Accepts with an OTP among them: handed to the flusher first, without the others.
    pub(super) urgent_accepts: Vec<(Vec<NewMessage>, AcceptReply)>,
    pub(super) pending: Vec<Pending>,
    pub(super) new_events: Option<u64>,
    pub(super) flusher_busy: bool,
    pub(super) flush_tx: Sender<FlushJob>,
    /// How many of each in-flight run are still `submitting`.
    pub(super) flights: Flights,
    /// Decoded copies of in-flight records.
    pub(super) records: RecordCache,
    /// The history tier, with the writes not yet durable.
    pub(super) history: HistoryView,
    /// History writes for the next flush job.
    pub(super) history_writes: Vec<history::HistoryWrite>,
    /// Flush jobs handed off so far (numbers the history writes each makes durable).
    pub(super) jobs: u64,
    /// Finished messages on their way to the history tier.
    pub(super) moves: Moves,
    /// True while the writer copies finished messages to the history (its writes there are
    /// nobody's answer).
    moving: bool,
    /// True when an op answered with the next flush job wrote to the history: the job then
    /// commits the history before it answers.
    answers_need_history: bool,
}

/// Starts the writer and flusher threads; returns the op channel and the writer's handle.
pub fn spawn(
    db: Db,
    history: Arc<History>,
    state: WriterState,
    config: WriterConfig,
    shared: Arc<Shared>,
) -> Result<(OpSender, JoinHandle<()>), StoreError> {
    let (op_tx, op_rx) = inbox::inbox();
    let (flush_tx, flush_rx) = channel::<FlushJob>();
    let flusher = {
        let (db, shared, op_tx) = (db.clone(), shared.clone(), op_tx.clone());
        let log = log_sync::LogSync::open(&config.store_dir);
        let nice = config.thread_nice;
        let committer =
            HistoryCommitter::spawn(history.writer()?, shared.clone(), op_tx.clone(), nice)?;
        std::thread::Builder::new()
            .name("khabar-store-flush".into())
            .spawn(move || flusher(db, committer, log, shared, flush_rx, op_tx, nice))
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
        moves: Moves::starting(events_in_history),
        moving: false,
        answers_need_history: false,
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
                let step = Step::start("move finished messages");
                self.move_finished();
                step.end(String::new);
            }
            let step = Step::start("apply the group");
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
        let step = Step::start(op.name());
        let stop = self.handle_op(op);
        step.end(String::new);
        stop
    }

    /// Handles one op (see [`Writer::handle`]).
    fn handle_op(&mut self, op: Op) -> bool {
        let urgent = inbox::is_urgent(&op);
        if matches!(op, Op::TrimEvents { .. } | Op::Verify { .. }) {
            // these read the engine directly
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
                let result = note_on_message(&mut tx, &event)
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
            Op::FlusherIdle => self.flusher_busy = false,
            Op::HistoryDurable { job } => {
                self.history.durable(job);
                self.moves.durable(job, &self.shared);
            }
            Op::Wake => {}
            Op::Shutdown => return true,
        }
        false
    }

    /// Queues an answer for after the next flush (failures are answered at once).
    pub(super) fn answer_durable<T: Send + 'static>(
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
    pub(super) fn hand_off(&mut self, all: bool) {
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
            job: self.jobs,
            pending: std::mem::take(&mut self.pending),
            last_event: self.new_events.take(),
            history,
            answers_need_history: std::mem::take(&mut self.answers_need_history),
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
    pub(super) fn tx(&self) -> Tx {
        Tx::new(
            &self.db,
            &self.staged,
            &self.records,
            &self.state,
            &self.history,
        )
    }

    /// Moves finished messages on: drops the live copies of those the committer made
    /// durable in the history, copies the next ones (a failure trips the fail-stop).
    pub(super) fn move_finished(&mut self) {
        if self.shared.failure.error().is_some() {
            return;
        }
        let now = now_ms();
        self.moving = true;
        let moved = self.drop_moved_live_copies(now).and_then(|()| {
            if self.moves.copies_pending() {
                return Ok(()); // one job's copies at a time
            }
            self.copy_finished(now)
                .map(|()| self.moves.copies_go_with(self.jobs + 1))
        });
        self.moving = false;
        if let Err(e) = moved {
            self.shared.failure.trip(&e);
        }
    }

    /// Stages a finished write and adopts its bookkeeping (applied with the group).
    pub(super) fn commit(&mut self, tx: Tx) {
        let Staging {
            changed,
            state,
            flights,
            history_writes,
            finished,
        } = tx.stage();
        self.dirty |= changed;
        // readable at once by the next operations; durable with the next flush job
        self.history.add(self.jobs + 1, &history_writes);
        self.answers_need_history |= !self.moving && !history_writes.is_empty();
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

    /// Applies the staged group to the engine in one batch (a failure trips the fail-stop).
    pub(super) fn apply_staged(&mut self) {
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

    pub(super) fn ack_cursor(&mut self, name: &str, seq: u64) -> Result<(), StoreError> {
        if seq > self.state.event_seq {
            return Err(StoreError::Invalid(format!(
                "cursor {name:?} cannot move to event {seq}: the last event is {}",
                self.state.event_seq
            )));
        }
        let mut tx = self.tx();
        let key = keys::cursor(name);
        let current = tx
            .get(&key)?
            .and_then(|v| codec::read_u64(&v, 0))
            .unwrap_or(0);
        tx.put(key, seq.max(current).to_be_bytes().to_vec());
        self.commit(tx);
        Ok(())
    }
}
