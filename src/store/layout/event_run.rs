//! Runs of events: the events a writer group appends are stored under one `e/` key (the first
//! one's seq) instead of one key each, because the engine's cost follows the number of keys written
//! and events were a third of them. A value is either a single event (`EVENT_VERSION`, as
//! stores written before runs hold them) or a run: `EVENT_RUN_VERSION`, then
//! `(seq u64, length u32, single event bytes)*`, seqs increasing.

use super::codec::{self, EVENT_VERSION};
use crate::store::error::StoreError;
use crate::store::event::{Event, StoredEvent};

/// Version byte of a run of events.
pub const EVENT_RUN_VERSION: u8 = 2;

/// Packs single encoded events (as `codec::encode(EVENT_VERSION, ..)` wrote them), in seq
/// order, into one value; a lone event stays as it is.
pub fn pack(events: &[(u64, &[u8])]) -> Vec<u8> {
    if let [(_, only)] = events {
        return only.to_vec();
    }
    let size = events.iter().map(|(_, e)| 12 + e.len()).sum::<usize>();
    let mut out = Vec::with_capacity(1 + size);
    out.push(EVENT_RUN_VERSION);
    for (seq, bytes) in events {
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// The single encoded events under the key of event `first`, with their seqs.
pub fn split(first: u64, bytes: &[u8]) -> Result<Vec<(u64, &[u8])>, StoreError> {
    match bytes.first() {
        Some(&EVENT_VERSION) => return Ok(vec![(first, bytes)]),
        Some(&EVENT_RUN_VERSION) => {}
        _ => {
            return Err(StoreError::Corrupt(format!(
                "event {first} has an unknown format"
            )));
        }
    }
    let mut rest = &bytes[1..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let bad = || StoreError::Corrupt(format!("truncated run of events at {first}"));
        let (head, tail) = rest.split_at_checked(12).ok_or_else(bad)?;
        let seq = u64::from_be_bytes(head[..8].try_into().map_err(|_| bad())?);
        let len = u32::from_be_bytes(head[8..].try_into().map_err(|_| bad())?) as usize;
        let (event, tail) = tail.split_at_checked(len).ok_or_else(bad)?;
        out.push((seq, event));
        rest = tail;
    }
    Ok(out)
}

/// Decodes every event under the key of event `first`.
pub fn decode(first: u64, bytes: &[u8]) -> Result<Vec<StoredEvent>, StoreError> {
    split(first, bytes)?
        .into_iter()
        .map(|(seq, raw)| {
            let event: Event = codec::decode(EVENT_VERSION, raw, "event")?;
            Ok(StoredEvent { seq, event })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    fn encoded(seq: u64) -> Vec<u8> {
        let event = Event::ReceiptOverdue {
            id: MessageId(seq),
            reference: None,
            receipt_by: 0,
            at: seq as i64,
        };
        codec::encode(EVENT_VERSION, &event).unwrap()
    }

    #[test]
    fn a_run_reads_back_as_its_events_and_a_lone_event_as_itself() {
        let raw: Vec<(u64, Vec<u8>)> = (7..10).map(|s| (s, encoded(s))).collect();
        let refs: Vec<(u64, &[u8])> = raw.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        let run = pack(&refs);
        let seqs: Vec<u64> = decode(7, &run).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![7, 8, 9]);
        assert_eq!(pack(&refs[..1]), raw[0].1);
        assert_eq!(decode(7, &raw[0].1).unwrap()[0].seq, 7);
        assert!(decode(7, &run[..run.len() - 1]).is_err());
    }
}
