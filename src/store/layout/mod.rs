//! The live store's key layout: how records, indexes and events are laid out as ordered byte
//! keys and values ([`keys`]), how each value is encoded ([`codec`]), how a group's events
//! share one key ([`event_run`]) and how a record is read back ([`lookup`]). It knows nothing
//! of the message rules above it and needs of the engine below it only an ordered key space
//! with atomic batches.

pub mod codec;
pub mod event_run;
pub mod keys;
pub mod lookup;
