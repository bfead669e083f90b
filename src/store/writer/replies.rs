//! A subscriber's reply matched to a message is kept on the message too, so that its story
//! (`khabar show`, `get`) tells it after the event log has been trimmed.

use super::tx::Tx;
use crate::message::{REPLIES_KEPT, ReplySeen};
use crate::store::error::StoreError;
use crate::store::event::Event;

/// Notes a matched `Reply` event on its message (the newest [`REPLIES_KEPT`] are kept); any
/// other event, or a reply whose message is gone, changes nothing.
pub(super) fn note_on_message(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
    let Event::Reply {
        id: Some(id),
        class,
        text,
        at,
        ..
    } = event
    else {
        return Ok(());
    };
    if tx.load(*id)?.is_none() {
        return Ok(());
    }
    let mut message = tx.load_for_update(*id)?;
    let replies = &mut message.extra.replies;
    replies.push(ReplySeen {
        at: *at,
        class: class.unwrap_or(crate::replies::ReplyClass::Other),
        text: Some(text.clone()),
    });
    if replies.len() > REPLIES_KEPT {
        replies.drain(..replies.len() - REPLIES_KEPT);
    }
    tx.save(&message)
}
