//! Resend limits per number: the gap between codes and the rolling-hour cap.

use super::*;

/// Whole seconds from `now` until `at`, rounded up (what `retry_after_s` must say).
fn seconds_until(at: Millis, now: Millis) -> u64 {
    u64::try_from(at - now).unwrap().div_ceil(1000)
}

fn retry_after(result: Result<IssuedCode, OtpError>) -> u64 {
    match result {
        Err(OtpError::RateLimited { retry_after_s }) => retry_after_s,
        Err(other) => panic!("expected rate_limited, got {other}"),
        Ok(_) => panic!("expected rate_limited, got a code"),
    }
}

#[test]
fn no_second_code_within_the_resend_gap() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let gap = ms(OtpConfig::default().resend_after);
    let to = number("77011234567");
    let first = otp.issue("s1", &to, None, None, T0).unwrap();

    let now = T0 + 1000;
    let wait = retry_after(otp.issue("s1", &to, None, None, now));
    assert_eq!(wait, seconds_until(T0 + gap, now));
    // A fraction of a second left still says "1".
    let wait = retry_after(otp.issue("s2", &to, None, None, T0 + gap - 1));
    assert_eq!(wait, 1);
    // The refused issue did not replace the session's code.
    assert_eq!(
        otp.verify("s1", &first.code, now).unwrap().result,
        OtpResult::Ok
    );
    // Another number is not affected.
    otp.issue("s3", &number("77021234567"), None, None, now)
        .unwrap();
    // Once the gap has passed, a new code goes out.
    otp.issue("s2", &to, None, None, T0 + gap).unwrap();
}

#[test]
fn at_most_max_per_hour_codes_in_a_rolling_hour() {
    let dir = tempfile::tempdir().unwrap();
    // No resend gap, so only the hourly cap is at work.
    let config = OtpConfig {
        resend_after: Duration::ZERO,
        ..OtpConfig::default()
    };
    let otp = OtpService::open(&config, dir.path()).unwrap();
    let step = ms(Duration::from_secs(10));
    let hour = ms(Duration::from_secs(3600));
    let to = number("77011234567");
    let mut sent = Vec::new();
    for i in 0..config.max_per_hour {
        let now = T0 + Millis::from(i) * step;
        otp.issue(&format!("s{i}"), &to, None, None, now).unwrap();
        sent.push(now);
    }
    let now = sent[sent.len() - 1] + step;
    let wait = retry_after(otp.issue("over", &to, None, None, now));
    assert_eq!(wait, seconds_until(sent[0] + hour, now));
    // Waiting exactly as told is enough: the oldest code has left the window.
    let now = now + Millis::try_from(wait).unwrap() * 1000;
    otp.issue("over", &to, None, None, now).unwrap();
    // The window rolls: the next slot opens when the second-oldest code turns an hour old.
    let next = now + 1;
    let wait = retry_after(otp.issue("over2", &to, None, None, next));
    assert_eq!(wait, seconds_until(sent[1] + hour, next));
    otp.issue("over2", &to, None, None, sent[1] + hour).unwrap();
}

#[test]
fn gap_and_cap_together_report_the_longer_wait() {
    let dir = tempfile::tempdir().unwrap();
    let config = OtpConfig {
        resend_after: Duration::from_secs(600),
        max_per_hour: 1,
        ..OtpConfig::default()
    };
    let otp = OtpService::open(&config, dir.path()).unwrap();
    let to = number("77011234567");
    otp.issue("s1", &to, None, None, T0).unwrap();
    let now = T0 + 5000;
    let wait = retry_after(otp.issue("s2", &to, None, None, now));
    assert_eq!(wait, seconds_until(T0 + ms(Duration::from_secs(3600)), now));
}

#[test]
fn limits_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gap = ms(OtpConfig::default().resend_after);
    let to = number("77011234567");
    {
        let otp = open(dir.path());
        otp.issue("s1", &to, None, None, T0).unwrap();
    }
    let otp = open(dir.path());
    let now = T0 + 2000;
    let wait = retry_after(otp.issue("s2", &to, None, None, now));
    assert_eq!(wait, seconds_until(T0 + gap, now));
}

#[test]
fn prune_removes_long_expired_sessions_and_old_send_times() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let ttl = OtpConfig::default().ttl;
    let numbers = ["77011234567", "77021234567", "77051234567"];
    let mut issued = Vec::new();
    for (i, digits) in numbers.iter().enumerate() {
        let session = format!("s{i}");
        let code = otp
            .issue(&session, &number(digits), None, None, T0)
            .unwrap();
        issued.push((session, code));
    }
    let expires_at = issued[0].1.expires_at;
    let keep = ms(KEEP_EXPIRED_FOR);
    let hour = ms(Duration::from_secs(3600));
    assert_eq!(otp.prune(T0).unwrap(), 0);

    // Just before the keep period ends: the send times (over an hour old) go, sessions stay.
    let now = expires_at + keep - 1;
    assert!(
        now - T0 >= hour,
        "the test assumes ttl + keep > 1 h: {ttl:?}"
    );
    assert_eq!(otp.prune(now).unwrap(), numbers.len());
    assert_eq!(otp.sends.len(), 0);
    for (session, code) in &issued {
        let late = otp.verify(session, &code.code, now).unwrap();
        assert_eq!(late.result, OtpResult::Expired);
    }
    // At the end of the keep period the sessions go too.
    let now = expires_at + keep;
    assert_eq!(otp.prune(now).unwrap(), issued.len());
    assert_eq!(otp.sessions.len(), 0);
    let gone = otp.verify(&issued[0].0, &issued[0].1.code, now).unwrap();
    assert_eq!(gone.result, OtpResult::UnknownSession);
    assert_eq!(otp.prune(now).unwrap(), 0);
}

#[test]
fn prune_keeps_send_times_inside_the_hour() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let gap = ms(OtpConfig::default().resend_after);
    let to = number("77011234567");
    otp.issue("a", &to, None, None, T0).unwrap();
    otp.issue("b", &to, None, None, T0 + gap).unwrap();
    let hour = ms(Duration::from_secs(3600));
    // Only the first time is an hour old.
    assert_eq!(otp.prune(T0 + hour).unwrap(), 1);
    let kept = otp
        .sends
        .get(to.as_str())
        .unwrap()
        .expect("the number's send times");
    let mut expected = SendLog::default();
    expected.record(T0 + gap);
    assert_eq!(SendLog::decode(&kept).unwrap(), expected);
}
