//! The key file, restarts, crash snapshots and what the database files hold.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Copies the data dir as it is on disk right now: what a crash at this moment would leave.
fn snapshot(from: &Path, to: &Path) {
    for file in files_under(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&file, &target).unwrap();
    }
}

#[test]
fn key_file_is_created_with_mode_0600_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join(&OtpConfig::default().secret_file);
    drop(open(dir.path()));
    let meta = fs::metadata(&key_path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let key = fs::read(&key_path).unwrap();
    assert_eq!(key.len(), secret::NEW_KEY_BYTES);
    assert!(key.iter().any(|&b| b != 0));
    drop(open(dir.path()));
    assert_eq!(fs::read(&key_path).unwrap(), key, "reopening kept the key");

    // Another data dir gets another key.
    let other = tempfile::tempdir().unwrap();
    drop(open(other.path()));
    let other_key = fs::read(other.path().join(&OtpConfig::default().secret_file)).unwrap();
    assert_ne!(other_key, key);
}

#[test]
fn key_file_path_may_be_nested_or_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let nested = OtpConfig {
        secret_file: PathBuf::from("keys/otp.key"),
        ..OtpConfig::default()
    };
    drop(OtpService::open(&nested, dir.path()).unwrap());
    assert!(dir.path().join("keys/otp.key").is_file());

    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = OtpConfig {
        secret_file: elsewhere.path().join("secret"),
        ..OtpConfig::default()
    };
    let data = tempfile::tempdir().unwrap();
    drop(OtpService::open(&absolute, data.path()).unwrap());
    let mode = fs::metadata(elsewhere.path().join("secret")).unwrap();
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    assert!(!data.path().join("secret").exists());
}

#[test]
fn short_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join(&OtpConfig::default().secret_file);
    fs::write(&key_path, vec![7u8; secret::MIN_KEY_BYTES - 1]).unwrap();
    match OtpService::open(&OtpConfig::default(), dir.path()) {
        Err(OtpError::Storage(why)) => assert!(why.contains("otp.key"), "{why}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[test]
fn readable_key_file_is_used_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join(&OtpConfig::default().secret_file);
    fs::write(&key_path, [42u8; 40]).unwrap();
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let (otp, logs) = with_logs(|| open(dir.path()));
    assert!(
        logs.contains("WARN") && logs.contains("chmod 600"),
        "{logs}"
    );
    let issued = otp
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    assert_eq!(
        otp.verify("s1", &issued.code, T0).unwrap().result,
        OtpResult::Ok
    );
    // The key on disk is the one in use: the hash matches one made from those bytes.
    let stored = otp.sessions.get("s1").unwrap().unwrap();
    let record = issued::CodeRecord::decode(&stored).unwrap();
    let same_key = secret::Secret::from_key(&[42u8; 40]).unwrap();
    assert_eq!(record.hash, same_key.hash("s1", &issued.code));
}

#[test]
fn a_new_key_voids_outstanding_codes() {
    let dir = tempfile::tempdir().unwrap();
    let issued = open(dir.path())
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    let key_path = dir.path().join(&OtpConfig::default().secret_file);
    fs::remove_file(&key_path).unwrap();
    let otp = open(dir.path());
    let answer = otp.verify("s1", &issued.code, T0).unwrap();
    assert_eq!(answer.result, OtpResult::WrongCode);
}

#[test]
fn sessions_and_attempts_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let max = OtpConfig::default().max_attempts;
    let issued = open(dir.path())
        .issue("s1", &number("77011234567"), None, None, T0)
        .unwrap();
    let wrong = other_code(&issued.code);
    let first = open(dir.path()).verify("s1", &wrong, T0).unwrap();
    assert_eq!(first, verdict(OtpResult::WrongCode, Some(max - 1)));
    let second = open(dir.path()).verify("s1", &wrong, T0).unwrap();
    assert_eq!(second, verdict(OtpResult::WrongCode, Some(max - 2)));
    let ok = open(dir.path()).verify("s1", &issued.code, T0).unwrap();
    assert_eq!(ok.result, OtpResult::Ok);
    let again = open(dir.path()).verify("s1", &issued.code, T0).unwrap();
    assert_eq!(again.result, OtpResult::AlreadyUsed);
}

#[test]
fn what_a_crash_leaves_on_disk_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    let issued = otp.issue("s1", &to, None, None, T0).unwrap();
    let after_issue = tempfile::tempdir().unwrap();
    snapshot(dir.path(), after_issue.path());
    assert_eq!(
        otp.verify("s1", &issued.code, T0).unwrap().result,
        OtpResult::Ok
    );
    let after_verify = tempfile::tempdir().unwrap();
    snapshot(dir.path(), after_verify.path());

    // Crash right after issue: the code is there and the resend gap still holds.
    let recovered = open(after_issue.path());
    assert!(matches!(
        recovered.issue("s2", &to, None, None, T0 + 1000),
        Err(OtpError::RateLimited { .. })
    ));
    assert_eq!(
        recovered.verify("s1", &issued.code, T0).unwrap().result,
        OtpResult::Ok
    );
    // Crash right after a successful verify: the code stays used.
    let recovered = open(after_verify.path());
    assert_eq!(
        recovered.verify("s1", &issued.code, T0).unwrap().result,
        OtpResult::AlreadyUsed
    );
}

#[test]
fn database_files_never_hold_a_code_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let mut issued = Vec::new();
    for i in 0..5u32 {
        let session = format!("marker-session-{i}");
        let to = number(&format!("7701123456{i}"));
        let code = otp
            .issue(&session, &to, Some(MAX_LENGTH), None, T0)
            .unwrap();
        let value = otp.sessions.get(&session).unwrap().unwrap();
        assert!(
            !contains(&value, code.code.as_bytes()),
            "record holds the code"
        );
        issued.push((session, code));
    }
    // Verify a few so used/attempt updates are written too.
    otp.verify(&issued[0].0, &issued[0].1.code, T0).unwrap();
    otp.verify(&issued[1].0, &other_code(&issued[1].1.code), T0)
        .unwrap();
    drop(otp);

    let files = files_under(&dir.path().join("otp"));
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    for (session, code) in &issued {
        // The scan does see stored data: session ids are there in plain text…
        assert!(
            bytes.iter().any(|b| contains(b, session.as_bytes())),
            "{session} not found in {files:?}"
        );
        // …but no code is.
        assert!(
            !bytes.iter().any(|b| contains(b, code.code.as_bytes())),
            "a code was found in plain text"
        );
    }
}

/// Issues a new code for session "s1" as soon as the resend gap after `first_at` allows.
fn replace_code(otp: &OtpService, first_at: Millis) -> IssuedCode {
    let later = first_at + ms(OtpConfig::default().resend_after);
    otp.issue("s1", &number("77011234567"), None, None, later)
        .unwrap()
}

/// Session "s1"'s code `first` was replaced by `second`.
fn assert_replaced(otp: &OtpService, first: &IssuedCode, second: &IssuedCode) {
    assert_eq!(
        otp.current("s1", first.issued_at).unwrap(),
        Currency::Replaced
    );
    assert_eq!(
        otp.current("s1", second.issued_at).unwrap(),
        Currency::Current
    );
}

#[test]
fn a_code_is_current_until_a_newer_one_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    assert_eq!(otp.current("s1", T0).unwrap(), Currency::Missing);
    let first = otp.issue("s1", &to, None, None, T0).unwrap();
    let after_issue = tempfile::tempdir().unwrap();
    snapshot(dir.path(), after_issue.path());
    assert_eq!(
        open(after_issue.path())
            .current("s1", first.issued_at)
            .unwrap(),
        Currency::Current,
        "a crash right after issue leaves the code current"
    );
    let second = replace_code(&otp, T0);
    assert_replaced(&otp, &first, &second);
}

#[test]
fn a_code_issued_since_the_start_is_judged_from_memory_and_from_disk_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let otp = open(dir.path());
    let to = number("77011234567");
    let now = crate::message::now_ms();
    let first = otp.issue("s1", &to, None, None, now).unwrap();
    let second = replace_code(&otp, now);
    assert_replaced(&otp, &first, &second);
    drop(otp);
    // after a restart the session's record on disk tells
    assert_replaced(&open(dir.path()), &first, &second);
}
