//! The stage hooks: only requests are registered, replies are classified and matched, a
//! delivery restarts the window.

use super::*;
use crate::message::{Extra, Kind, NewMessage};
use crate::replies::ReplyClass;
use crate::requests::hooks::{MatchedReply, on_delivered, on_reply, on_submitted};
use crate::store::{Store, StoreConfig};
use std::sync::Arc;

async fn stored(store: &Store, kind: Kind, to: &str, reference: &str) -> crate::message::Message {
    let message = NewMessage {
        reference: Some(reference.to_owned()),
        kind,
        recipient: to.to_owned(),
        sender: None,
        text: "Келісесіз бе? Иә / Жоқ".into(),
        send_by: None,
        receipt_by: None,
        extra: Extra {
            reply_window_ms: (kind == Kind::Request).then_some(HOUR),
            follow_up_text: (kind == Kind::Request).then(|| "Мерзімі өтті".to_owned()),
            ..Extra::default()
        },
    };
    let id = store.accept(message).await.unwrap().id;
    store.get(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn only_requests_are_registered_and_replies_are_matched_and_classified() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::at(dir.path().join("store"))).unwrap();
    let registry = Arc::new(open(dir.path()));
    let request = stored(&store, Kind::Request, ALMA, "offer-1").await;
    let notice = stored(&store, Kind::Notification, BERIK, "notice-1").await;
    on_submitted(&registry, &store, request.id, T0).await;
    on_submitted(&registry, &store, notice.id, T0).await;

    let registered = registry.get(request.id).unwrap().expect("the request");
    assert_eq!(registered.window_ms, HOUR);
    assert_eq!(registered.follow_up.as_deref(), Some("Мерзімі өтті"));
    assert_eq!(registered.opened_at, T0);
    assert_eq!(registry.get(notice.id).unwrap(), None, "not a request");

    on_delivered(&registry, &request, T0 + HOUR / 2).await;
    let moved = registry.get(request.id).unwrap().unwrap();
    assert_eq!(moved.closes_at(), T0 + HOUR / 2 + HOUR);
    // a notification never touches the registry, even one with a request's id
    let mut lookalike = notice.clone();
    lookalike.id = request.id;
    on_delivered(&registry, &lookalike, T0 + HOUR).await;
    assert_eq!(registry.get(request.id).unwrap().unwrap(), moved);

    // after the submission's window, inside the delivery's
    let at = T0 + HOUR + 1;
    let unmatched = on_reply(&registry, &store, BERIK, "Жоқ", at).await;
    assert_eq!(
        unmatched,
        MatchedReply {
            id: None,
            reference: None,
            class: ReplyClass::Decline
        }
    );
    let matched = on_reply(&registry, &store, ALMA, "иа, рақмет", at).await;
    assert_eq!(
        matched,
        MatchedReply {
            id: Some(request.id),
            reference: Some("offer-1".into()),
            class: ReplyClass::Accept
        }
    );
    let again = on_reply(&registry, &store, ALMA, "не понял", at + 1).await;
    assert_eq!(again.id, None, "one reply closes a request");
    assert_eq!(again.class, ReplyClass::Other);
}
