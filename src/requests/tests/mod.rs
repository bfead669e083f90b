//! Tests of the request registry: matching, windows, due order, persistence. The closer's
//! tests (with a real store) are in [`closer`].

mod closer;
mod hooks;

use super::*;

/// A fixed "now" (2026-05-28 in unix ms); tests move time by adding to it.
const T0: Millis = 1_780_000_000_000;
/// One hour in ms.
const HOUR: i64 = 3_600_000;
const ALMA: &str = "77011234567";
const BERIK: &str = "77051234568";

fn open(dir: &Path) -> RequestRegistry {
    RequestRegistry::open(dir).expect("open the registry")
}

/// A request id created at `at` (ids sort by creation time).
fn id_at(at: Millis, counter: u64) -> MessageId {
    MessageId::from_parts(at, counter)
}

#[test]
fn a_reply_answers_the_newest_open_request_of_that_number() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let older = id_at(T0, 0);
    let newer = id_at(T0 + 10, 0);
    let other = id_at(T0 + 20, 0);
    registry.register(older, ALMA, 24 * HOUR, None, T0).unwrap();
    registry
        .register(newer, ALMA, 24 * HOUR, None, T0 + 10)
        .unwrap();
    registry
        .register(other, BERIK, 24 * HOUR, None, T0 + 20)
        .unwrap();

    assert_eq!(registry.match_reply(ALMA, T0 + HOUR).unwrap(), Some(newer));
    let answered = registry.get(newer).unwrap().expect("still registered");
    assert_eq!(answered.answered_at, Some(T0 + HOUR));
    // Berik's request and Alma's older one are untouched.
    assert_eq!(registry.get(other).unwrap().unwrap().answered_at, None);
    assert_eq!(registry.get(older).unwrap().unwrap().answered_at, None);
}

#[test]
fn one_reply_closes_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let older = id_at(T0, 0);
    let newer = id_at(T0, 1);
    registry.register(older, ALMA, HOUR, None, T0).unwrap();
    registry.register(newer, ALMA, HOUR, None, T0).unwrap();
    assert_eq!(registry.match_reply(ALMA, T0 + 1).unwrap(), Some(newer));
    assert_eq!(registry.match_reply(ALMA, T0 + 2).unwrap(), Some(older));
    assert_eq!(registry.match_reply(ALMA, T0 + 3).unwrap(), None);
}

#[test]
fn a_reply_after_the_window_matches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let id = id_at(T0, 0);
    registry.register(id, ALMA, HOUR, None, T0).unwrap();
    let end = registry.get(id).unwrap().unwrap().closes_at();
    assert_eq!(end, T0 + HOUR);
    assert_eq!(registry.match_reply(ALMA, end).unwrap(), None);
    assert_eq!(registry.match_reply(ALMA, end + HOUR).unwrap(), None);
    // still waiting for the closer, unanswered
    assert_eq!(registry.due(end, 10).unwrap().len(), 1);
    // the last instant inside the window still counts
    assert_eq!(registry.match_reply(ALMA, end - 1).unwrap(), Some(id));
}

#[test]
fn a_newer_request_whose_window_closed_is_skipped_for_an_older_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let long = id_at(T0, 0);
    let short = id_at(T0 + 1, 0);
    registry.register(long, ALMA, 24 * HOUR, None, T0).unwrap();
    registry.register(short, ALMA, HOUR, None, T0 + 1).unwrap();
    assert_eq!(
        registry.match_reply(ALMA, T0 + 2 * HOUR).unwrap(),
        Some(long)
    );
}

#[test]
fn numbers_are_matched_whole_not_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    registry
        .register(id_at(T0, 0), "770112345678", HOUR, None, T0)
        .unwrap();
    assert_eq!(registry.match_reply(ALMA, T0 + 1).unwrap(), None);
}

#[test]
fn due_lists_unanswered_requests_earliest_closing_first() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    // created in one order, closing in another
    let windows = [5 * HOUR, HOUR, 3 * HOUR, 2 * HOUR, 4 * HOUR];
    let ids: Vec<MessageId> = (0..windows.len() as u64).map(|n| id_at(T0, n)).collect();
    for (id, window) in ids.iter().zip(windows) {
        registry.register(*id, ALMA, window, None, T0).unwrap();
    }
    let answered = registry.match_reply(ALMA, T0 + 1).unwrap().unwrap();

    let mut expected: Vec<(Millis, MessageId)> = ids
        .iter()
        .zip(windows)
        .filter(|(id, _)| **id != answered)
        .map(|(id, window)| (T0 + window, *id))
        .collect();
    expected.sort();
    assert!(registry.due(T0 + HOUR - 1, 10).unwrap().is_empty());
    let all: Vec<_> = registry
        .due(T0 + 10 * HOUR, 10)
        .unwrap()
        .iter()
        .map(|r| (r.closes_at(), r.id))
        .collect();
    assert_eq!(all, expected);
    // a limit takes the earliest ones
    let first_two: Vec<_> = registry
        .due(T0 + 10 * HOUR, 2)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let expected_two: Vec<_> = expected.iter().take(2).map(|(_, id)| *id).collect();
    assert_eq!(first_two, expected_two);
    // only what closed by `now`
    let by_third: Vec<_> = registry
        .due(expected[2].0, 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(by_third.len(), 3);
}

#[test]
fn an_answered_request_is_never_due_and_is_forgotten_after_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let id = id_at(T0, 0);
    registry.register(id, ALMA, HOUR, None, T0).unwrap();
    registry.match_reply(ALMA, T0 + 1).unwrap();
    assert!(registry.due(T0 + 2 * HOUR, 10).unwrap().is_empty());
    assert_eq!(
        registry.get(id).unwrap(),
        None,
        "forgotten once its window passed"
    );
}

#[test]
fn the_delivery_receipt_restarts_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let id = id_at(T0, 0);
    registry.register(id, ALMA, HOUR, None, T0).unwrap();
    let delivered = T0 + 30 * 60_000;
    assert!(registry.restart_window(id, delivered).unwrap());
    assert!(registry.due(T0 + HOUR, 10).unwrap().is_empty());
    // a reply after the submission's window but inside the receipt's still counts
    assert_eq!(
        registry.get(id).unwrap().unwrap().closes_at(),
        delivered + HOUR
    );
    let due: Vec<_> = registry.due(delivered + HOUR, 10).unwrap();
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
    // an earlier time, an unknown id or an answered request do not move anything
    assert!(!registry.restart_window(id, T0).unwrap());
    assert!(!registry.restart_window(id_at(T0, 9), delivered).unwrap());
    assert_eq!(registry.match_reply(ALMA, delivered + 1).unwrap(), Some(id));
    assert!(!registry.restart_window(id, delivered + 2).unwrap());
}

#[test]
fn registering_again_keeps_the_first_registration() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let id = id_at(T0, 0);
    assert!(
        registry
            .register(id, ALMA, HOUR, Some("first".into()), T0)
            .unwrap()
    );
    registry.match_reply(ALMA, T0 + 1).unwrap();
    assert!(!registry.register(id, ALMA, 2 * HOUR, None, T0 + 5).unwrap());
    let kept = registry.get(id).unwrap().unwrap();
    assert_eq!(kept.follow_up.as_deref(), Some("first"));
    assert_eq!(kept.answered_at, Some(T0 + 1), "still answered");
}

#[test]
fn close_forgets_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let closed = id_at(T0, 0);
    let kept = id_at(T0, 1);
    registry.register(closed, ALMA, HOUR, None, T0).unwrap();
    registry.register(kept, BERIK, HOUR, None, T0).unwrap();
    assert!(registry.close(closed).unwrap());
    assert!(!registry.close(closed).unwrap());
    assert_eq!(registry.get(closed).unwrap(), None);
    assert_eq!(registry.match_reply(ALMA, T0 + 1).unwrap(), None);
    let due: Vec<_> = registry.due(T0 + HOUR, 10).unwrap();
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [kept]);
}

#[test]
fn requests_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open_one = id_at(T0, 0);
    let answered = id_at(T0, 1);
    let closed = id_at(T0, 2);
    {
        let registry = open(dir.path());
        registry
            .register(open_one, ALMA, HOUR, Some("Мерзімі өтті".into()), T0)
            .unwrap();
        registry.register(answered, BERIK, HOUR, None, T0).unwrap();
        registry.register(closed, BERIK, HOUR, None, T0).unwrap();
        registry.close(closed).unwrap();
        assert_eq!(registry.match_reply(BERIK, T0 + 1).unwrap(), Some(answered));
    }
    let registry = open(dir.path());
    let kept = registry.get(open_one).unwrap().unwrap();
    assert_eq!(kept.follow_up.as_deref(), Some("Мерзімі өтті"));
    assert_eq!(
        registry.get(answered).unwrap().unwrap().answered_at,
        Some(T0 + 1)
    );
    assert_eq!(registry.get(closed).unwrap(), None);
    assert_eq!(registry.match_reply(BERIK, T0 + 2).unwrap(), None);
    let due: Vec<_> = registry.due(T0 + HOUR, 10).unwrap();
    assert_eq!(due, [kept]);
}

#[test]
fn a_recipient_too_long_to_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let long = "7".repeat(300);
    let result = registry.register(id_at(T0, 0), &long, HOUR, None, T0);
    assert!(
        matches!(result, Err(RequestError::Invalid(_))),
        "{result:?}"
    );
    assert_eq!(registry.match_reply(&long, T0).unwrap(), None);
}
