//! Tests of the OTP service: verdicts here, resend limits and storage in submodules.

mod limits;
mod storage;

use super::*;
use std::io;
use std::sync::{Arc, Mutex};

/// A fixed "now" (2026-05-28 in unix ms); tests move time by adding to it.
const T0: Millis = 1_780_000_000_000;

fn number(digits: &str) -> Msisdn {
    Msisdn::from_e164_digits(digits).expect("a valid test number")
}

fn open(dir: &Path) -> OtpService {
    OtpService::open(&OtpConfig::default(), dir).expect("open the OTP service")
}

fn ms(d: Duration) -> Millis {
    millis(d)
}

/// A code of the same length that differs from `code` in every digit.
fn other_code(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

fn verdict(result: OtpResult, attempts_left: Option<u32>) -> OtpVerdict {
    OtpVerdict {
        result,
        attempts_left,
    }
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with every log line at every level captured; returns its result and the logs.
fn with_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    // With a single live dispatcher, tracing caches each callsite's interest as judged by the
    // thread that hits it first (tests run on parallel threads without a subscriber). A second
    // live dispatcher makes it judge over all of them, and the rebuild fixes earlier verdicts.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();
    let result = tracing::dispatcher::with_default(&dispatch, f);
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned();
    (result, logs)
}

#[test]
fn right_code_verifies_once_then_is_already_used() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let issued = otp
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    assert_eq!(issued.code.len(), OtpConfig::default().length as usize);
    assert!(issued.code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(issued.expires_at, T0 + ms(OtpConfig::default().ttl));

    let ok = otp.verify("s1", &issued.code, T0 + 1000).unwrap();
    assert_eq!(ok, verdict(OtpResult::Ok, None));
    let again = otp.verify("s1", &issued.code, T0 + 2000).unwrap();
    assert_eq!(again, verdict(OtpResult::AlreadyUsed, None));
    let wrong_after_use = otp.verify("s1", &other_code(&issued.code), T0 + 3000);
    assert_eq!(wrong_after_use.unwrap().result, OtpResult::AlreadyUsed);
}

#[test]
fn wrong_code_is_refused_then_right_code_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let issued = otp
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    let max = OtpConfig::default().max_attempts;
    let wrong = otp.verify("s1", &other_code(&issued.code), T0).unwrap();
    assert_eq!(wrong, verdict(OtpResult::WrongCode, Some(max - 1)));
    let ok = otp.verify("s1", &issued.code, T0).unwrap();
    assert_eq!(ok.result, OtpResult::Ok);
}

#[test]
fn attempts_run_out_and_lock_the_session_until_a_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let config = OtpConfig::default();
    let to = number("77011234567");
    let issued = otp.issue("s1", &to, None, None, T0).unwrap();
    let wrong = other_code(&issued.code);
    for used in 1..=config.max_attempts {
        let answer = otp.verify("s1", &wrong, T0 + 1).unwrap();
        assert_eq!(
            answer,
            verdict(OtpResult::WrongCode, Some(config.max_attempts - used))
        );
    }
    // Locked: even the right code is refused now.
    let locked = otp.verify("s1", &issued.code, T0 + 2).unwrap();
    assert_eq!(locked, verdict(OtpResult::TooManyAttempts, None));
    let locked_wrong = otp.verify("s1", &wrong, T0 + 3).unwrap();
    assert_eq!(locked_wrong.result, OtpResult::TooManyAttempts);

    // A new code unlocks the session with all attempts back.
    let later = T0 + ms(config.resend_after);
    let fresh = otp.issue("s1", &to, None, None, later).unwrap();
    let wrong = otp.verify("s1", &other_code(&fresh.code), later).unwrap();
    assert_eq!(
        wrong,
        verdict(OtpResult::WrongCode, Some(config.max_attempts - 1))
    );
    assert_eq!(
        otp.verify("s1", &fresh.code, later).unwrap().result,
        OtpResult::Ok
    );
}

#[test]
fn code_expires_at_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let ttl = Duration::from_secs(45);
    let a = otp
        .issue("a", &number("77011234567"), None, Some(ttl), T0)
        .unwrap();
    let b = otp
        .issue("b", &number("77021234567"), None, Some(ttl), T0)
        .unwrap();
    assert_eq!(a.expires_at, T0 + ms(ttl));
    // One millisecond before expiry it still works.
    let ok = otp.verify("a", &a.code, a.expires_at - 1).unwrap();
    assert_eq!(ok.result, OtpResult::Ok);
    // At expiry it does not, right or wrong, and no attempt is spent.
    let late = otp.verify("b", &b.code, b.expires_at).unwrap();
    assert_eq!(late, verdict(OtpResult::Expired, None));
    let late_wrong = otp.verify("b", &other_code(&b.code), b.expires_at + 1);
    assert_eq!(late_wrong.unwrap(), verdict(OtpResult::Expired, None));
}

#[test]
fn unknown_sessions_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let issued = otp
        .issue("known", &number("77011234567"), None, None, T0)
        .unwrap();
    let unknown = otp.verify("never-issued", &issued.code, T0).unwrap();
    assert_eq!(unknown, verdict(OtpResult::UnknownSession, None));
    let huge = "x".repeat(MAX_SESSION_BYTES + 1);
    assert_eq!(
        otp.verify(&huge, "123456", T0).unwrap().result,
        OtpResult::UnknownSession
    );
}

#[test]
fn a_code_is_valid_for_its_own_session_only() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    let a = otp.issue("a", &to, None, None, T0).unwrap();
    let b = otp
        .issue("b", &number("77021234567"), None, None, T0)
        .unwrap();
    if a.code != b.code {
        let cross = otp.verify("b", &a.code, T0).unwrap();
        assert_eq!(cross.result, OtpResult::WrongCode);
    }
    // Even the same digits hash differently per session.
    assert_ne!(otp.secret.hash("a", &a.code), otp.secret.hash("b", &a.code));
}

#[test]
fn a_new_code_replaces_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let config = OtpConfig::default();
    let to = number("77011234567");
    let first = otp.issue("s1", &to, None, None, T0).unwrap();
    // Spend one attempt on the first code.
    otp.verify("s1", &other_code(&first.code), T0).unwrap();
    let later = T0 + ms(config.resend_after);
    let second = otp.issue("s1", &to, None, None, later).unwrap();
    if first.code != second.code {
        // The old code is now just a wrong code, counted against the fresh attempts.
        let old = otp.verify("s1", &first.code, later).unwrap();
        assert_eq!(
            old,
            verdict(OtpResult::WrongCode, Some(config.max_attempts - 1))
        );
    }
    let new = otp.verify("s1", &second.code, later).unwrap();
    assert_eq!(new.result, OtpResult::Ok);
}

#[test]
fn typed_codes_are_trimmed_and_non_digits_are_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    let issued = otp.issue("s1", &to, None, None, T0).unwrap();
    let max = OtpConfig::default().max_attempts;
    let letters = otp.verify("s1", "abcdef", T0).unwrap();
    assert_eq!(letters, verdict(OtpResult::WrongCode, Some(max - 1)));
    let empty = otp.verify("s1", "   ", T0).unwrap();
    assert_eq!(empty, verdict(OtpResult::WrongCode, Some(max - 2)));
    let padded = format!(" \t{}\r\n", issued.code);
    assert_eq!(otp.verify("s1", &padded, T0).unwrap().result, OtpResult::Ok);
}

#[test]
fn length_and_ttl_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    for (i, length) in (MIN_LENGTH..=MAX_LENGTH).enumerate() {
        let session = format!("len-{length}");
        let now = T0 + i as Millis * ms(Duration::from_secs(3600));
        let issued = otp.issue(&session, &to, Some(length), None, now).unwrap();
        assert_eq!(issued.code.len(), length as usize);
        assert!(issued.code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            otp.verify(&session, &issued.code, now).unwrap().result,
            OtpResult::Ok
        );
    }
    for length in [0, MIN_LENGTH - 1, MAX_LENGTH + 1] {
        let refused = otp.issue("s", &to, Some(length), None, T0);
        assert!(matches!(refused, Err(OtpError::Invalid(_))), "{length}");
    }
    for ttl in [
        MIN_TTL - Duration::from_millis(1),
        MAX_TTL + Duration::from_secs(1),
    ] {
        let refused = otp.issue("s", &to, None, Some(ttl), T0);
        assert!(matches!(refused, Err(OtpError::Invalid(_))), "{ttl:?}");
    }
    for session in ["", "  ", &"s".repeat(MAX_SESSION_BYTES + 1)] {
        let refused = otp.issue(session, &to, None, None, T0);
        assert!(matches!(refused, Err(OtpError::Invalid(_))));
    }
    let at_bounds = [(MIN_TTL, "min"), (MAX_TTL, "max")];
    for (i, (ttl, session)) in at_bounds.into_iter().enumerate() {
        let now = T0 + 100 * ms(MAX_TTL) + i as Millis * ms(Duration::from_secs(3600));
        let issued = otp.issue(session, &to, None, Some(ttl), now).unwrap();
        assert_eq!(issued.expires_at, now + ms(ttl));
    }
}

#[test]
fn digits_are_spread_evenly() {
    let codes: Vec<String> = (0..2000).map(|_| codes::generate(MAX_LENGTH)).collect();
    let mut counts = [0u32; 10];
    for code in &codes {
        for b in code.bytes() {
            counts[usize::from(b - b'0')] += 1;
        }
    }
    let total: u32 = counts.iter().sum();
    let expected = f64::from(total) / 10.0;
    // 20000 digits: one standard deviation is about 42, so ±300 is beyond 7 sigma.
    for (digit, &count) in counts.iter().enumerate() {
        let off = (f64::from(count) - expected).abs();
        assert!(off < 300.0, "digit {digit}: {count} of {total}");
    }
    let distinct: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), codes.len(), "10-digit codes repeated");
}

#[test]
fn concurrent_verifies_of_one_code_succeed_once() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let issued = otp
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    let results: Vec<OtpResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| otp.verify("s1", &issued.code, T0).unwrap().result))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let oks = results.iter().filter(|r| **r == OtpResult::Ok).count();
    assert_eq!(oks, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, OtpResult::Ok | OtpResult::AlreadyUsed))
    );
}

#[test]
fn codes_and_keys_stay_out_of_logs_and_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let (issued, logs) = with_logs(|| {
        let otp = open(dir.path());
        let issued = otp
            .issue("s1", &number("77011234567"), Some(MAX_LENGTH), None, T0)
            .unwrap();
        otp.verify("s1", &other_code(&issued.code), T0).unwrap();
        otp.verify("s1", &issued.code, T0).unwrap();
        otp.verify("s1", &issued.code, T0).unwrap();
        let limited = otp.issue("s1", &number("77011234567"), None, None, T0);
        assert!(matches!(limited, Err(OtpError::RateLimited { .. })));
        assert!(!format!("{otp:?}").contains(&issued.code));
        issued
    });
    assert!(logs.contains("otp issued"), "logging was captured: {logs}");
    assert!(!logs.contains(&issued.code), "{logs}");
    assert!(logs.contains("+7701***4567"), "numbers are masked: {logs}");
    assert!(!logs.contains("77011234567"), "{logs}");
    let debug = format!("{issued:?}");
    assert!(!debug.contains(&issued.code), "{debug}");
    assert!(debug.contains("redacted"));
    let key = std::fs::read(dir.path().join("otp.key")).unwrap();
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!logs.contains(&key_hex[..16]));
}

#[test]
fn config_reads_humantime_and_bad_values_are_refused() {
    let config: OtpConfig =
        toml::from_str("ttl = \"2m\"\nresend_after = \"30s\"\nmax_attempts = 5").unwrap();
    assert_eq!(config.ttl, Duration::from_secs(120));
    assert_eq!(config.resend_after, Duration::from_secs(30));
    assert_eq!(config.max_attempts, 5);
    assert_eq!(config.length, OtpConfig::default().length);

    let dir = tempfile::tempdir().unwrap();
    let bad = [
        OtpConfig {
            length: MIN_LENGTH - 1,
            ..OtpConfig::default()
        },
        OtpConfig {
            ttl: MAX_TTL * 2,
            ..OtpConfig::default()
        },
        OtpConfig {
            max_attempts: 0,
            ..OtpConfig::default()
        },
        OtpConfig {
            max_per_hour: 0,
            ..OtpConfig::default()
        },
    ];
    for config in bad {
        let refused = OtpService::open(&config, dir.path());
        assert!(matches!(refused, Err(OtpError::Invalid(_))), "{config:?}");
    }
}
