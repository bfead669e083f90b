//! The window closer against a real store: one follow-up per unanswered request, also when a
//! crash made it see the request again.

use super::*;
use crate::message::{Extra, Kind, NewMessage, State, now_ms};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::store::{Event, Store, StoreConfig};
use crate::templates::{Language, Template, Templates, TemplatesConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    registry: Arc<RequestRegistry>,
    closer: WindowCloser,
}

fn rig(templates: TemplatesConfig) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::at(dir.path().join("store"))).unwrap();
    let registry = Arc::new(open(dir.path()));
    let scheduler = Arc::new(Scheduler::new(store.clone(), SchedulerConfig::default()));
    let closer = WindowCloser {
        registry: registry.clone(),
        scheduler,
        templates: Arc::new(Templates::new(&templates).unwrap()),
        language: Language::Kk,
        wake: None,
        tick: Duration::from_millis(50),
    };
    Rig {
        _dir: dir,
        store,
        registry,
        closer,
    }
}

/// The follow-up the closer queued for request `id`.
async fn follow_up_of(rig: &Rig, id: MessageId) -> crate::message::Message {
    rig.store
        .get_by_reference(&follow_up_reference(id))
        .await
        .unwrap()
        .expect("the follow-up is stored")
}

/// Stores a request to `to` and registers it with a window that closed an hour ago.
async fn overdue_request(rig: &Rig, to: &str, follow_up: Option<&str>) -> MessageId {
    let request = NewMessage {
        reference: Some(format!("crm-{to}")),
        kind: Kind::Request,
        recipient: to.to_owned(),
        sender: Some("eGov".into()),
        text: "Келісесіз бе? Иә / Жоқ".into(),
        send_by: None,
        receipt_by: None,
        extra: Extra {
            reply_window_ms: Some(HOUR),
            follow_up_text: follow_up.map(str::to_owned),
            ..Extra::default()
        },
    };
    let id = rig.store.accept(request).await.unwrap().id;
    let opened = now_ms() - 2 * HOUR;
    let follow = follow_up.map(str::to_owned);
    rig.registry.register(id, to, HOUR, follow, opened).unwrap();
    id
}

/// The `reply_window_closed` events in the log, as (request, follow-up).
async fn closed_events(store: &Store) -> Vec<(MessageId, Option<String>, MessageId)> {
    store
        .read_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|stored| match stored.event {
            Event::ReplyWindowClosed {
                id,
                reference,
                follow_up_id,
                ..
            } => Some((id, reference, follow_up_id)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_unanswered_request_gets_its_follow_up_and_an_event() {
    let rig = rig(TemplatesConfig::default());
    let id = overdue_request(&rig, ALMA, Some("Жауап мерзімі өтті, өтінім жабылды.")).await;
    assert_eq!(rig.closer.round(now_ms()).await.unwrap(), 1);

    let follow_up = follow_up_of(&rig, id).await;
    assert_eq!(follow_up.kind, Kind::Notification);
    assert_eq!(follow_up.recipient, ALMA);
    assert_eq!(follow_up.sender.as_deref(), Some("eGov"));
    assert_eq!(
        follow_up.text.as_deref(),
        Some("Жауап мерзімі өтті, өтінім жабылды.")
    );
    assert_eq!(follow_up.state, State::Queued);
    assert_eq!(
        closed_events(&rig.store).await,
        [(id, Some(format!("crm-{ALMA}")), follow_up.id)]
    );
    assert_eq!(rig.registry.get(id).unwrap(), None, "closed");
    assert_eq!(rig.closer.round(now_ms()).await.unwrap(), 0);
}

#[tokio::test]
async fn a_crash_before_closing_does_not_queue_a_second_follow_up() {
    let rig = rig(TemplatesConfig::default());
    let id = overdue_request(&rig, ALMA, Some("Мерзімі өтті")).await;
    rig.closer.round(now_ms()).await.unwrap();
    let messages = rig.store.counts().total();
    // as if the daemon died after queueing the follow-up but before closing the request
    let opened = now_ms() - 2 * HOUR;
    rig.registry
        .register(id, ALMA, HOUR, Some("Мерзімі өтті".into()), opened)
        .unwrap();
    assert_eq!(rig.closer.round(now_ms()).await.unwrap(), 1);

    assert_eq!(rig.store.counts().total(), messages, "nothing new stored");
    let events = closed_events(&rig.store).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].2, events[1].2, "both name the one follow-up");
    assert_eq!(rig.registry.get(id).unwrap(), None);
}

#[tokio::test]
async fn an_answered_or_still_open_request_gets_no_follow_up() {
    let rig = rig(TemplatesConfig::default());
    let answered = overdue_request(&rig, ALMA, None).await;
    rig.registry.restart_window(answered, now_ms() - 1).unwrap();
    rig.registry.match_reply(ALMA, now_ms()).unwrap();
    let open_id = overdue_request(&rig, BERIK, None).await;
    rig.registry.restart_window(open_id, now_ms()).unwrap();
    assert_eq!(rig.closer.round(now_ms()).await.unwrap(), 0);
    assert!(closed_events(&rig.store).await.is_empty());
    for id in [answered, open_id] {
        let reference = follow_up_reference(id);
        assert_eq!(rig.store.get_by_reference(&reference).await.unwrap(), None);
    }
}

#[tokio::test]
async fn without_a_follow_up_text_the_template_is_used() {
    let text = "Сұрауыңызға жауап болмады, ол жабылды.";
    let configured = BTreeMap::from([(
        FOLLOW_UP_TEMPLATE.to_owned(),
        Template {
            kk: text.to_owned(),
            ru: None,
            required: Vec::new(),
            iin_fields: Vec::new(),
            about: None,
        },
    )]);
    let rig = rig(TemplatesConfig::from(configured));
    let id = overdue_request(&rig, ALMA, None).await;
    rig.closer.round(now_ms()).await.unwrap();
    let follow_up = follow_up_of(&rig, id).await;
    assert_eq!(follow_up.text.as_deref(), Some(text));
    assert_eq!(
        follow_up.extra.template.as_deref(),
        Some(FOLLOW_UP_TEMPLATE)
    );
}

#[tokio::test]
async fn the_built_in_template_needs_a_service_so_a_generic_text_goes() {
    let rig = rig(TemplatesConfig::default());
    let id = overdue_request(&rig, ALMA, None).await;
    rig.closer.round(now_ms()).await.unwrap();
    let follow_up = follow_up_of(&rig, id).await;
    let text = follow_up.text.unwrap();
    assert!(!text.trim().is_empty());
    assert!(!text.contains('{'), "no unrendered placeholder: {text}");
}

#[tokio::test]
async fn a_request_the_operator_rejected_gets_no_follow_up() {
    let rig = rig(TemplatesConfig::default());
    let id = overdue_request(&rig, ALMA, Some("Мерзімі өтті")).await;
    let scheduler = rig.closer.scheduler.clone();
    let claimed = scheduler.next_due(now_ms()).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    scheduler
        .reject(id, "ESME_RINVDSTADR", now_ms())
        .await
        .unwrap();
    assert_eq!(rig.closer.round(now_ms()).await.unwrap(), 1);
    let reference = follow_up_reference(id);
    assert_eq!(rig.store.get_by_reference(&reference).await.unwrap(), None);
    assert!(closed_events(&rig.store).await.is_empty());
    assert_eq!(rig.registry.get(id).unwrap(), None, "forgotten");
}
