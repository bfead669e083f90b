//! The history tier alone: what is put is found, what is forgotten is gone, texts live apart.
use super::*;
use crate::message::{Part, Transition};

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
        .read(|c| {
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
    assert_eq!(version, 2);
}
