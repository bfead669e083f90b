//! The sled engine's side of a message's life ([`crate::store::rules::life`] holds the rules):
//! its indexes for the rules, as queue chunks, in-flight runs, deadline buckets and keys, and
//! one change applied as one group.

use super::chunks;
use super::ops::Change;
use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Kind, Message, MessageId, Millis, State};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::{
    self, DeadlineEntry, DeadlineKind, PARKED_VERSION, ParkedReceipt,
};
use crate::store::layout::keys;
use crate::store::rules::{self, Indexes};

impl Indexes for Tx {
    fn dequeue(&mut self, lane: u8, due: Millis, id: MessageId) -> Result<bool, StoreError> {
        chunks::dequeue(self, lane, due, id)
    }

    fn enqueue(&mut self, lane: u8, due: Millis, id: MessageId) -> Result<(), StoreError> {
        chunks::enqueue(self, lane, due, &[id])
    }

    fn enter_flight(&mut self, id: MessageId) {
        self.take_off(id);
    }

    fn leave_flight(&mut self, id: MessageId) {
        self.land(id);
    }

    fn finished(&mut self, id: MessageId) {
        Tx::finished(self, id);
    }

    fn count_moved(&mut self, kind: Kind, from: State, to: State) {
        self.state.counts.moved(kind, from, to);
    }

    fn add_deadline(
        &mut self,
        id: MessageId,
        when: Millis,
        kind: DeadlineKind,
    ) -> Result<(), StoreError> {
        chunks::add_deadlines(self, &[DeadlineEntry { when, kind, id }])
    }

    fn index_operator_id(&mut self, operator: &str, operator_id: &str, id: MessageId, part: u32) {
        self.put(
            keys::operator_id(operator, operator_id),
            codec::pack_part_ref(id, part),
        );
    }

    fn unindex_operator_id(&mut self, operator: &str, operator_id: &str) {
        self.remove(keys::operator_id(operator, operator_id));
    }

    fn any_parked(&self) -> bool {
        self.state.parked > 0
    }

    fn take_parked(
        &mut self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<ParkedReceipt>, StoreError> {
        let key = keys::parked(operator, operator_id);
        let Some(bytes) = self.get(&key)? else {
            return Ok(None);
        };
        let parked = codec::decode(PARKED_VERSION, &bytes, "parked receipt")?;
        self.remove(key);
        self.state.parked = self.state.parked.saturating_sub(1);
        Ok(Some(parked))
    }

    fn emit(&mut self, event: Event) -> Result<(), StoreError> {
        Tx::emit(self, event)
    }

    fn save(&mut self, message: &Message) -> Result<(), StoreError> {
        Tx::save(self, message)
    }
}

impl Writer {
    /// Applies one change to one message.
    pub(super) fn change(
        &mut self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let mut tx = self.tx();
        let mut m = tx.load_for_update(id)?;
        rules::apply_change(&mut tx, &mut m, change, now)?;
        self.commit(tx);
        Ok(m)
    }
}
