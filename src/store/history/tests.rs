//! The history tier alone: what is put is found, what is forgotten is gone, texts live apart.
use super::*;
use crate::message::{Part, ReplySeen, Transition};

fn finished(id: u64, reference: Option<&str>) -> Message {
    Message {
        id: MessageId(id),
        reference: reference.map(str::to_owned),
        kind: Kind::Notification,
        recipient: "77011234567".into(),
        sender: None,
        text: Some("Сәлем".into()),
        created: 1,
        send_by: None,
        receipt_by: None,
        attempts: 1,
        next_try: 1,
        state: State::Delivered,
        operator: Some("kcell".into()),
        parts: vec![Part {
            operator_id: Some(format!("ab{id:04x}")),
            receipt: Some("DELIVRD".into()),
            error: None,
            receipt_at: Some(2),
        }],
        history: vec![Transition {
            state: State::Delivered,
            at: 2,
            reason: None,
        }],
        extra: Default::default(),
        concat_ref: None,
    }
}

/// A history in `dir` holding message 1 (reference "crm-1") and message 2 (none), with its
/// writer and the two messages.
fn two_finished(dir: &Path) -> (History, HistoryWriter, Message, Message) {
    let history = History::open(dir).unwrap();
    let mut writer = history.writer().unwrap();
    let a = finished(1, Some("crm-1"));
    let b = finished(2, None);
    writer
        .apply(&[
            HistoryWrite::Put(Box::new(a.clone())),
            HistoryWrite::Put(Box::new(b.clone())),
        ])
        .unwrap();
    (history, writer, a, b)
}

#[test]
fn what_is_put_is_found_by_id_reference_and_operator_id_until_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (history, mut writer, a, b) = two_finished(dir.path());
    assert_eq!(history.get(MessageId(1)).unwrap(), Some(a.clone()));
    assert_eq!(history.get_by_reference("crm-1").unwrap(), Some(a.clone()));
    let found = history.references(&["crm-1", "crm-9"]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found["crm-1"], (MessageId(1), State::Delivered));
    let key = keys::operator_id("kcell", "ab0002");
    assert_eq!(
        history.find_operator_key(&key).unwrap(),
        Some((MessageId(2), 0))
    );
    assert_eq!(
        history.counts().unwrap(),
        vec![(Kind::Notification, State::Delivered, 2)]
    );
    let page = history.page(MessageId(0), MessageId(2), 10).unwrap();
    assert_eq!(page, vec![a.clone()]);

    writer.apply(&[HistoryWrite::Forget(Box::new(b))]).unwrap();
    assert_eq!(history.get(MessageId(2)).unwrap(), None);
    assert_eq!(history.find_operator_key(&key).unwrap(), None);
    drop(writer);
    drop(history);
    let reopened = History::open(dir.path()).unwrap();
    assert_eq!(reopened.get(MessageId(1)).unwrap(), Some(a));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = Connection::open(dir.path().join(FILE)).unwrap();
    c.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(c);
    let refused = History::open(dir.path()).err().unwrap().to_string();
    assert!(refused.contains("history schema 99"), "{refused}");
}

/// Rows in `table`.
fn rows(history: &History, table: &str) -> i64 {
    history
        .read(|c, _| {
            c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| failed("count", e))
        })
        .unwrap()
}

#[test]
fn texts_live_in_their_own_rows_which_an_erase_or_a_forget_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let (history, mut writer, a, b) = two_finished(dir.path());
    assert_eq!(rows(&history, "texts"), 2);
    assert_eq!(history.get_by_reference("crm-1").unwrap(), Some(a.clone()));
    let erased = Message {
        text: None,
        ..a.clone()
    };
    writer
        .apply(&[HistoryWrite::Put(Box::new(erased.clone()))])
        .unwrap();
    assert_eq!(
        rows(&history, "texts"),
        1,
        "the erase deleted the text's row"
    );
    assert_eq!(history.get(MessageId(1)).unwrap(), Some(erased));
    writer.apply(&[HistoryWrite::Forget(Box::new(b))]).unwrap();
    assert_eq!(rows(&history, "texts"), 0);
}

#[test]
fn a_schema_1_history_opens_and_its_texts_are_read_and_erased() {
    let dir = tempfile::tempdir().unwrap();
    let old = finished(7, Some("crm-7"));
    let c = Connection::open(dir.path().join(FILE)).unwrap();
    c.execute_batch(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, reference TEXT, kind TEXT NOT NULL,
             state TEXT NOT NULL, record BLOB NOT NULL);
         CREATE UNIQUE INDEX messages_by_reference ON messages(reference)
             WHERE reference IS NOT NULL;
         CREATE TABLE operator_ids (key BLOB PRIMARY KEY, id INTEGER NOT NULL,
             part INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, event BLOB NOT NULL);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    c.execute(
        "INSERT INTO messages VALUES (7, 'crm-7', 'notification', 'delivered', ?1)",
        [codec::encode_record(&old).unwrap()],
    )
    .unwrap();
    drop(c);

    let history = History::open(dir.path()).unwrap();
    assert_eq!(
        history.get(MessageId(7)).unwrap(),
        Some(old.clone()),
        "a schema-1 row keeps its text in its record"
    );
    let erased = Message {
        text: None,
        ..old.clone()
    };
    let mut writer = history.writer().unwrap();
    writer
        .apply(&[HistoryWrite::Put(Box::new(erased.clone()))])
        .unwrap();
    assert_eq!(history.get_by_reference("crm-7").unwrap(), Some(erased));
    drop((writer, history));
    let version: i64 = Connection::open(dir.path().join(FILE))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA);
}

/// Message `n` of a varied run: states, kinds, operators, parts and times differ.
fn varied(n: u64) -> Message {
    let states = [State::Delivered, State::Undeliverable, State::Expired];
    let mut m = finished(
        n,
        n.is_multiple_of(2).then(|| format!("crm-{n}")).as_deref(),
    );
    m.kind = Kind::ALL[n as usize % Kind::ALL.len()];
    m.state = states[n as usize % states.len()];
    m.recipient = format!("7701{:07}", n * 7919 % 10_000_000);
    m.operator = Some(["kcell", "beeline", "tele2"][n as usize % 3].into());
    m.created = 1_790_000_000_000 + n as i64 * 37;
    m.parts = (0..=n % 3)
        .map(|i| Part {
            operator_id: Some(format!("{n:x}-{i}")),
            ..m.parts[0].clone()
        })
        .collect();
    m.history.push(Transition {
        state: m.state,
        at: m.created + 900,
        reason: Some(format!("receipt {}", m.state)),
    });
    m.extra.replies = vec![ReplySeen {
        at: m.created + 2_000,
        class: crate::replies::ReplyClass::Other,
        text: Some(format!("private reply {n}")),
    }];
    m.extra.otp_session = Some(format!("session-{n}"));
    m
}

/// Whether any dictionary in the history holds `needle`.
fn in_a_dictionary(history: &History, needle: &[u8]) -> bool {
    let dictionaries: Vec<Vec<u8>> = history
        .read(|c, _| {
            let mut q = c.prepare("SELECT dict FROM dictionaries").unwrap();
            let rows = q.query_map([], |r| r.get(0)).unwrap();
            Ok(rows.map(Result::unwrap).collect())
        })
        .unwrap();
    dictionaries
        .iter()
        .any(|d| d.windows(needle.len()).any(|w| w == needle))
}

/// How many rows of the messages table are packed, and their bytes.
fn packed_rows(history: &History) -> (i64, i64) {
    history
        .read(|c, _| {
            c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(record)), 0) FROM messages
                 WHERE substr(record, 1, 1) = ?1",
                [vec![packing::PACKED]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| failed("count", e))
        })
        .unwrap()
}

#[test]
fn records_are_packed_with_dictionaries_trained_on_them_and_read_back_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path()).unwrap();
    let training = Training {
        samples: 200,
        dictionary_bytes: 4096,
        retrain_after: 300,
    };
    let mut writer = history.writer_training(training).unwrap();
    let messages: Vec<Message> = (1..=1_000).map(varied).collect();
    for batch in messages.chunks(50) {
        let writes: Vec<_> = batch
            .iter()
            .map(|m| HistoryWrite::Put(Box::new(m.clone())))
            .collect();
        writer.apply(&writes).unwrap();
    }
    let (packed, packed_bytes) = packed_rows(&history);
    assert_eq!(
        packed,
        1_000 - 200 + 1,
        "every record from the one that completed the first sample on is packed"
    );
    let plain_bytes: usize = messages[199..]
        .iter()
        .map(|m| {
            let m = Message {
                text: None,
                ..m.clone()
            };
            codec::encode_record(&m).unwrap().len()
        })
        .sum();
    assert!(
        (packed_bytes as usize) < plain_bytes,
        "packed {packed_bytes} bytes, plain {plain_bytes}"
    );
    assert!(
        rows(&history, "dictionaries") >= 2,
        "a new dictionary is trained after retrain_after records"
    );
    for needle in ["crm-", "private reply", "session-"] {
        assert!(
            !in_a_dictionary(&history, needle.as_bytes()),
            "a dictionary holds {needle:?}"
        );
    }
    for m in &messages {
        assert!(
            !in_a_dictionary(&history, m.recipient.as_bytes()),
            "a dictionary holds {}",
            m.recipient
        );
    }
    drop((writer, history));

    let history = History::open(dir.path()).unwrap();
    for m in &messages {
        assert_eq!(history.get(m.id).unwrap().as_ref(), Some(m));
    }
    assert_eq!(
        history.get_by_reference("crm-500").unwrap().as_ref(),
        Some(&messages[499])
    );
    let page = history.page(MessageId(0), MessageId(1_001), 2_000).unwrap();
    assert!(page == messages, "a page reads every message back");
    let dictionaries = rows(&history, "dictionaries");
    let mut writer = history.writer_training(training).unwrap();
    let next = varied(1_001);
    writer
        .apply(&[HistoryWrite::Put(Box::new(next.clone()))])
        .unwrap();
    assert_eq!(
        packed_rows(&history).0,
        packed + 1,
        "packed with the newest dictionary"
    );
    assert_eq!(rows(&history, "dictionaries"), dictionaries);
    assert_eq!(history.get(next.id).unwrap(), Some(next));
}
