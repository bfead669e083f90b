//! Every request docs/PROTOCOL.md shows (`echo '{…}' | $S`) is sent, in the document's order
//! and each on its own connection as `socat` would, to a real daemon; the answer must agree
//! with the one documented below it: the same `ok`, the same error `code`, and, where the
//! documented answer is whole JSON, the same fields. Message ids the document shows are mapped
//! to the ones the daemon gave. The operators' SMSCs are unreachable, so nothing is sent and
//! the document's `cancel` finds its message still queued.

mod daemon_support;

use daemon_support::{Daemon, free_port};
use khabar::api::client::Client;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One documented exchange: the request line and the answer line under it (a request shown
/// without an answer must be answered `ok`).
struct Example {
    line: usize,
    request: String,
    answer: String,
}

fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(start) = line.find("echo '{") else {
            continue;
        };
        let rest = &line[start + "echo '".len()..];
        let Some(end) = rest.find("}'") else {
            continue;
        };
        let answer = lines
            .get(i + 1)
            .copied()
            .filter(|next| next.starts_with('{'))
            .unwrap_or(r#"{"ok":true}"#);
        out.push(Example {
            line: i + 1,
            request: rest[..=end].to_owned(),
            answer: answer.to_owned(),
        });
    }
    out
}

/// `"key":value` of a flat scalar in a documented answer that may not be whole JSON.
fn documented(answer: &str, key: &str) -> Option<String> {
    let at = answer.find(&format!("\"{key}\":"))? + key.len() + 3;
    let value: String = answer[at..]
        .trim_start_matches('"')
        .chars()
        .take_while(|c| !matches!(c, '"' | ',' | '}'))
        .collect();
    Some(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_documented_request_is_answered_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = format!(
        "data_dir = {:?}\n[api]\nsocket_path = {:?}\n",
        dir.path().join("data"),
        dir.path().join("khabar.sock")
    );
    for name in ["kcell", "beeline", "tele2"] {
        config.push_str(&format!(
            "[[operator]]\nname = {name:?}\nhost = \"127.0.0.1\"\nport = {}\nsystem_id = {name:?}\npassword = \"secret\"\n",
            free_port()
        ));
    }
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let daemon = Daemon::start(&path).await;

    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    let examples = examples(&doc);
    assert!(
        examples.len() >= 15,
        "found only {} examples",
        examples.len()
    );
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for example in examples {
        let mut request = example.request.clone();
        for (shown, real) in &ids {
            request = request.replace(shown, real);
        }
        let mut client = Client::connect(&daemon.socket).await.unwrap();
        client
            .send_raw(format!("{request}\n").as_bytes())
            .await
            .unwrap();
        let reply: Value = serde_json::from_str(&client.read_line().await.unwrap()).unwrap();
        let at = format!(
            "PROTOCOL.md line {}: {request}\n  got {reply}",
            example.line
        );
        let ok = documented(&example.answer, "ok").expect("the answer says ok");
        assert_eq!(reply["ok"].to_string(), ok, "{at}");
        if let Some(code) = documented(&example.answer, "code").filter(|_| ok == "false") {
            assert_eq!(reply["error"]["code"], code.as_str(), "{at}");
        }
        let Ok(shown) = serde_json::from_str::<Value>(&example.answer) else {
            continue;
        };
        if shown.get("id").is_none() {
            continue;
        }
        if reply.get("result").is_some() {
            // otp_verify: the document's right code is not the one the daemon made
            assert!(reply["result"].is_string(), "{at}");
            continue;
        }
        let keys = |v: &Value| -> BTreeSet<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(keys(&reply), keys(&shown), "{at}");
        let shown_ids = shown["message_id"].as_str().into_iter().chain(
            shown["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["message_id"].as_str()),
        );
        let real_ids = reply["message_id"].as_str().into_iter().chain(
            reply["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["message_id"].as_str()),
        );
        for (s, r) in shown_ids.zip(real_ids) {
            ids.entry(s.to_owned()).or_insert_with(|| r.to_owned());
        }
    }
    daemon.stop().await;
}

/// Every `deadline` the document's "Deadlines in words" table shows is understood, and (but
/// for the fixed instant) lies after the moment it is accepted.
#[test]
fn every_deadline_the_document_shows_is_understood() {
    use khabar::calendar::{Calendar, CalendarConfig, DeadlineExpr, parse_deadline_expr};
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    let table = doc
        .split("| `deadline` | means")
        .nth(1)
        .expect("PROTOCOL.md has the deadlines table");
    let calendar = Calendar::new(&CalendarConfig::default()).unwrap();
    let accepted = khabar::message::now_ms();
    let mut shown = 0;
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let first = row.split('|').nth(1).unwrap();
        for example in first.split('`').skip(1).step_by(2) {
            let words = example.trim_matches('"');
            let expr = parse_deadline_expr(words)
                .unwrap_or_else(|e| panic!("{example} is documented but refused: {e}"));
            if !matches!(expr, DeadlineExpr::At(_)) {
                let at = calendar.resolve(&expr, accepted);
                assert!(
                    at > accepted,
                    "{example} resolves to {at}, not later than now"
                );
            }
            shown += 1;
        }
    }
    assert!(shown >= 10, "only {shown} deadlines found in the table");
}
