//! Proactive-service requests (seed 002) end to end: the real daemon against the real
//! simulator. A reply inside the window is matched to the request and classified; a request
//! nobody answers is closed with one follow-up, also across a restart; a reply that matches
//! nothing still reaches subscribers.

mod daemon_support;

use daemon_support::{Daemon, PATIENCE, simulator, wait_final, wait_for_view, write_config};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::api::views::MessageView;
use khabar::message::{MessageId, State, now_ms};
use serde_json::{Value, json};
use smpp_sim::SimHandle;
use std::time::Duration;

/// The simulator's service number the replies are sent to.
const SHORT_CODE: &str = "1414";
const FOLLOW_UP: &str = "Жауап мерзімі өтті, өтінім жабылды.";

/// A raw event stream from the first event on (raw JSON, so that fields this build's
/// `EventView` does not know yet are visible too).
struct Events {
    client: Client,
}

impl Events {
    async fn from_start(daemon: &Daemon) -> Events {
        let mut client = daemon.client().await;
        client
            .send_raw(b"{\"op\":\"subscribe\",\"from\":1}\n")
            .await
            .expect("socket");
        let reply: Value = serde_json::from_str(&client.read_line().await.unwrap()).unwrap();
        assert_eq!(reply["ok"], json!(true), "{reply}");
        Events { client }
    }

    /// The first event (from here on) that `matches`, waiting at most [`PATIENCE`].
    async fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let mut seen = self.collect_until(what, matches).await;
        seen.pop().expect("the matching event")
    }

    /// Every event from here on up to and including the first that `matches`.
    async fn collect_until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let line = tokio::time::timeout_at(deadline, self.client.read_line())
                .await
                .unwrap_or_else(|_| panic!("no {what} event in time"))
                .expect("the event stream");
            let mut line: Value = serde_json::from_str(&line).unwrap();
            let event = line["event"].take();
            if !event.is_object() {
                continue;
            }
            let found = matches(&event);
            seen.push(event);
            if found {
                return seen;
            }
        }
    }
}

/// Submits a request and returns its id.
async fn submit_request(client: &mut Client, request: Value) -> MessageId {
    let mut request = request;
    request["kind"] = json!("request");
    client
        .submit(request)
        .await
        .expect("socket")
        .expect("accepted")
        .message_id
}

/// Waits until the operator has message `id` and returns it.
async fn wait_submitted(client: &mut Client, id: MessageId) -> MessageView {
    wait_for_view(client, id, |view| {
        !matches!(view.state, State::Queued | State::Submitting)
    })
    .await
}

/// Messages the simulator received for `number` with `text`.
fn received(sim: &SimHandle, number: &str, text: &str) -> usize {
    sim.messages()
        .into_iter()
        .filter(|m| m.destination == number && m.text == text)
        .count()
}

fn is_type(event: &Value, kind: &str) -> bool {
    event["type"] == json!(kind)
}

fn is_about(event: &Value, id: MessageId) -> bool {
    event["message_id"] == json!(id.to_string())
}

/// A request sent to `to` and answered with `answer`: the reply event names it and carries
/// `class`.
async fn answered_request(to: &str, answer: &str, class: &str) {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let reference = format!("offer-{to}");
    let id = submit_request(
        &mut client,
        json!({"to": to, "text": "Келісесіз бе? Иә / Жоқ", "reference": reference, "reply_window": "24h"}),
    )
    .await;
    let view = wait_submitted(&mut client, id).await;
    let operator = view.operator.expect("sent through an operator");
    let mut events = Events::from_start(&daemon).await;
    sim.inject_mo(&operator, &view.recipient, SHORT_CODE, answer)
        .unwrap();
    let reply = events
        .wait_for("reply", |e| {
            is_type(e, "reply") && e["text"] == json!(answer)
        })
        .await;
    assert_eq!(reply["message_id"], json!(id.to_string()), "{reply}");
    assert_eq!(reply["reference"], json!(reference), "{reply}");
    assert_eq!(reply["from"], json!(view.recipient), "{reply}");
    assert_eq!(reply["class"], json!(class), "{reply}");
    let told = client.get(&MessageRef::Id(id)).await.unwrap().unwrap();
    let replies: Vec<(Option<&str>, Value)> = (told.replies.iter())
        .map(|r| (r.text.as_deref(), serde_json::to_value(r.class).unwrap()))
        .collect();
    assert_eq!(
        replies,
        vec![(Some(answer), json!(class))],
        "get tells the reply"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_answered_yes_inside_its_window_is_an_accept_reply() {
    answered_request("+77011234567", "ИӘ", "accept").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_answered_no_inside_its_window_is_a_decline_reply() {
    answered_request("87051234568", "Жоқ", "decline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unanswered_request_is_closed_with_one_follow_up_across_a_restart() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let id = submit_request(
        &mut client,
        json!({"to": "+77011230017", "text": "Келісесіз бе? Иә / Жоқ", "reference": "offer-silent",
               "reply_window": "2s", "follow_up_text": FOLLOW_UP}),
    )
    .await;
    let view = wait_submitted(&mut client, id).await;
    let submitted_at = now_ms();
    drop(client);
    daemon.stop().await;
    // Let the window close while the daemon is down (a receipt that comes after the restart
    // may open it again: then it closes while the daemon runs; either way, one follow-up).
    let closed_by = submitted_at + 3000;
    tokio::time::sleep(Duration::from_millis((closed_by - now_ms()).max(0) as u64)).await;

    let daemon = Daemon::start(&config).await;
    let mut events = Events::from_start(&daemon).await;
    let closed = events
        .wait_for("reply_window_closed", |e| {
            is_type(e, "reply_window_closed") && is_about(e, id)
        })
        .await;
    assert_eq!(closed["reference"], json!("offer-silent"), "{closed}");
    assert_eq!(closed["reason"], json!("no_reply"), "{closed}");
    let follow_up_id: MessageId = closed["follow_up_id"]
        .as_str()
        .expect("a follow_up_id")
        .parse()
        .unwrap();
    let mut client = daemon.client().await;
    let follow_up = wait_final(&mut client, follow_up_id).await;
    assert_eq!(follow_up.state, State::Delivered, "{follow_up:?}");
    assert_eq!(follow_up.recipient, view.recipient);
    assert_eq!(received(&sim, &view.recipient, FOLLOW_UP), 1);
    let request = client
        .get(&khabar::api::protocol::MessageRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.state, State::Cancelled, "{request:?}");
    let last = request.history.last().unwrap();
    assert_eq!(last.reason.as_deref(), Some("no_reply"));

    // Another short request closing proves the closer went round again after the first:
    // still exactly one follow-up, and one closing event, for the first request.
    let marker = submit_request(
        &mut client,
        json!({"to": "+77011230029", "text": "Келісесіз бе?", "reply_window": "1s",
               "follow_up_text": FOLLOW_UP}),
    )
    .await;
    let log = Events::from_start(&daemon)
        .await
        .collect_until("the marker's reply_window_closed", |e| {
            is_type(e, "reply_window_closed") && is_about(e, marker)
        })
        .await;
    assert_eq!(received(&sim, &view.recipient, FOLLOW_UP), 1);
    let closings = log
        .iter()
        .filter(|e| is_type(e, "reply_window_closed") && is_about(e, id))
        .count();
    assert_eq!(closings, 1, "{log:#?}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reply_that_matches_no_request_reaches_subscribers_unmatched() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut events = Events::from_start(&daemon).await;
    sim.inject_mo("kcell", "77011239999", SHORT_CODE, "Сәлеметсіз бе, бұл не?")
        .unwrap();
    let reply = events.wait_for("reply", |e| is_type(e, "reply")).await;
    assert_eq!(reply["from"], json!("77011239999"), "{reply}");
    assert_eq!(reply["text"], json!("Сәлеметсіз бе, бұл не?"), "{reply}");
    assert!(reply.get("message_id").is_none(), "unmatched: {reply}");
    assert_eq!(reply["class"], json!("other"), "{reply}");
    daemon.stop().await;
}
