//! Every example in `khabar --help` and its subcommands' `--help` is run, as a new user would
//! type it, against a gateway started by the first of them (`khabar run --config config.toml`,
//! the repository's config with the embedded simulator). Examples that run until Ctrl-C
//! (`--watch`, `events` without `--count`) must show their first screen or event; `otp verify`
//! and `cancel` may be refused for a reason they print (a made-up code, a message already
//! delivered); every other example must succeed.

mod daemon_support;

use daemon_support::{PATIENCE, sigterm, wait_exit_ok, wait_for_socket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The subcommands whose help has examples, `send` first: later examples name its messages.
const HELPS: [&[&str]; 11] = [
    &["send"],
    &[],
    &["show"],
    &["status"],
    &["events"],
    &["cancel"],
    &["otp"],
    &["otp", "send"],
    &["otp", "verify"],
    &["calendar"],
    &["templates"],
];

fn khabar(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_khabar"))
        .current_dir(dir)
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .args(args)
        .output()
        .expect("run khabar")
}

/// The example command lines of a help text (continuation lines joined), as words.
fn examples(help: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in help.lines().skip_while(|l| !l.starts_with("Examples")) {
        let line = line.trim();
        if pending.is_empty() && !line.starts_with("khabar ") {
            continue;
        }
        let line = line.split(" # ").next().unwrap_or(line).trim_end();
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                let command = pending.split(" | ").next().unwrap_or_default().to_owned();
                out.push(shlex::split(&command).expect("an example a shell can read"));
                pending.clear();
            }
        }
    }
    out
}

/// The gateway under test, killed if the test fails before stopping it.
struct Gateway(Option<std::process::Child>);

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a command that only stops on Ctrl-C until a line of its output contains `shows`.
async fn until_it_shows(dir: &Path, args: &[String], shows: &str) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .current_dir(dir)
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run khabar");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = tokio::time::timeout(PATIENCE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(shows) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{args:?} never showed {shows:?}");
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_help_example_works_as_shown() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("config.toml"), dir.path().join("config.toml")).unwrap();
    let batch: String = (1..=3)
        .map(|n| format!("{{\"to\":\"+7701123456{n}\",\"text\":\"batch {n}\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("batch.ndjson"), batch).unwrap();
    let top = khabar(dir.path(), &["--help".to_owned()]);
    let run = examples(&String::from_utf8_lossy(&top.stdout))
        .into_iter()
        .find(|e| e[1] == "run")
        .expect("a run example");
    let mut gateway = Gateway(Some(
        Command::new(env!("CARGO_BIN_EXE_khabar"))
            .current_dir(dir.path())
            .args(&run[1..])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("start khabar"),
    ));
    wait_for_socket(&dir.path().join("data/khabar.sock")).await;

    let mut first_id: Option<String> = None;
    let mut ran = 0;
    let mut shown = std::collections::HashSet::new();
    for sub in HELPS {
        let mut args: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
        args.push("--help".into());
        let help = khabar(dir.path(), &args);
        assert!(help.status.success(), "{args:?}");
        for example in examples(&String::from_utf8_lossy(&help.stdout)) {
            let mut words: Vec<String> = example[1..].to_vec();
            if words[0] == "run" {
                continue; // the gateway is running: started by the first of them
            }
            if !shown.insert(words.clone()) {
                continue; // shown in an earlier help too, and run there
            }
            if let Some(id) = &first_id {
                for word in &mut words {
                    *word = word.replace("0190f3a2b4c5d6e7", id);
                }
            }
            let streams = words.iter().any(|w| w == "--watch")
                || (words[0] == "events" && !words.iter().any(|w| w == "--count"));
            if streams {
                let shows = if words[0] == "status" {
                    "OPERATORS"
                } else {
                    "\""
                };
                let shows = if words.iter().any(|w| w == "--json") {
                    "{"
                } else {
                    shows
                };
                let shows = if words[0] == "events" && shows == "\"" {
                    ":"
                } else {
                    shows
                };
                until_it_shows(dir.path(), &words, shows).await;
                ran += 1;
                continue;
            }
            let out = khabar(dir.path(), &words);
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            let may_refuse = matches!(words[0].as_str(), "cancel")
                || words.starts_with(&["otp".into(), "verify".into()]);
            match out.status.code() {
                Some(0) => {}
                Some(1) if may_refuse && (stderr.contains("refused") || !stdout.is_empty()) => {}
                other => panic!("{words:?} exited {other:?}:\n{stdout}\n{stderr}"),
            }
            if words[0] == "send" && first_id.is_none() {
                first_id = Some(stdout.trim().to_owned());
            }
            ran += 1;
        }
    }
    assert!(ran >= 20, "only {ran} examples ran");
    let daemon = gateway.0.take().unwrap();
    sigterm(&daemon);
    wait_exit_ok(daemon).await;
}
