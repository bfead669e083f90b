//! What the Debian package installs: the systemd unit (checked by `systemd-analyze verify`
//! where it exists, and its command run the way systemd runs it, readiness notification
//! included), the production configuration it points at, and the alert rules and dashboard,
//! whose every metric must be one the daemon exports.

mod daemon_support;

use daemon_support::{
    Daemon, PATIENCE, config_text, free_port, sigterm, simulator, wait_exit_ok, wait_for_socket,
    write_config,
};
use khabar::api::client::Client;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn unit() -> String {
    std::fs::read_to_string(repo("packaging/khabar.service")).unwrap()
}

/// The values of `key=` in the unit, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    unit.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_unit_restarts_on_failure_runs_unprivileged_and_is_hardened() {
    let unit = unit();
    for (key, value) in [
        ("Type", "notify"),
        ("Restart", "on-failure"),
        ("User", "khabar"),
        ("StateDirectory", "khabar"),
        ("StateDirectoryMode", "0700"),
        ("RuntimeDirectory", "khabar"),
        ("UMask", "0077"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ] {
        assert_eq!(unit_values(&unit, key), [value], "{key}");
    }
}

#[test]
fn systemd_accepts_the_unit() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("NOT CHECKED: systemd-analyze is not installed on this machine");
        return;
    };
    assert!(version.status.success());
    // verify wants the ExecStart binary to exist: point it at the one just built
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("khabar.service");
    let text = unit().replace("/usr/bin/khabar", env!("CARGO_BIN_EXE_khabar"));
    std::fs::write(&path, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

#[test]
fn the_packaged_configuration_loads_and_uses_the_units_directories() {
    let config = khabar::config::Config::load(&repo("packaging/config.toml")).unwrap();
    let unit = unit();
    let state = unit_values(&unit, "StateDirectory")[0].clone();
    let runtime = unit_values(&unit, "RuntimeDirectory")[0].clone();
    assert_eq!(config.data_dir, Path::new("/var/lib").join(state));
    assert!(
        config
            .api
            .socket_path
            .starts_with(Path::new("/run").join(runtime))
    );
    let exec = &unit_values(&unit, "ExecStart")[0];
    assert!(exec.ends_with("--config /etc/khabar/config.toml"), "{exec}");
    assert!(
        config.metrics.listen.is_some(),
        "metrics on, for the alert rules"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_units_command_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(dir.path(), &sim, "")).unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(PATIENCE)).unwrap();
    // ExecStart's arguments, with the test's config file in place of /etc/khabar/config.toml
    let exec = unit_values(&unit(), "ExecStart")[0].clone();
    let args: Vec<String> = exec
        .split_whitespace()
        .skip(1)
        .map(|a| match a {
            "/etc/khabar/config.toml" => config.display().to_string(),
            other => other.to_owned(),
        })
        .collect();
    let daemon = Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(&args)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start khabar");
    let said = move |wanted: &'static str| {
        let notify = notify.try_clone().unwrap();
        tokio::task::spawn_blocking(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = notify.recv(&mut buf).expect("a notification in time");
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if text.lines().any(|l| l == wanted) {
                    return text;
                }
            }
        })
    };
    said("READY=1").await.unwrap();
    // ready means the socket already accepts
    let socket = dir.path().join("khabar.sock");
    let mut client = Client::connect(&socket)
        .await
        .expect("ready means accepting");
    assert!(client.status().await.unwrap().is_ok());
    drop(client);
    sigterm(&daemon);
    said("STOPPING=1").await.unwrap();
    wait_exit_ok(daemon).await;
}

/// Every `khabar_*` name in `text`, with a histogram's `_bucket`/`_sum`/`_count` taken off.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("khabar_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.push(base.to_owned());
        rest = &tail[end..];
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_alert_rules_and_dashboard_use_only_metrics_khabar_exports() {
    let sim = simulator().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let daemon = Daemon::start(&write_config(dir.path(), &sim, &extra)).await;
    wait_for_socket(&daemon.socket).await;
    let exported = scrape(port).await;
    let dashboard =
        std::fs::read_to_string(repo("packaging/monitoring/khabar-dashboard.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    let rules = std::fs::read_to_string(repo("packaging/monitoring/khabar-alerts.yml")).unwrap();
    for (file, text) in [("alert rules", &rules), ("dashboard", &dashboard)] {
        let used = metric_names(text);
        assert!(used.len() >= 8, "{file} uses {used:?}");
        for name in used {
            assert!(
                exported.contains(&format!("# TYPE {name} ")),
                "the {file} use {name}, which khabar does not export:\n{exported}"
            );
        }
    }
    daemon.stop().await;
}

async fn scrape(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            // the operators' families appear once their binds have reported
            if response.contains("khabar_operator_binds_up{") {
                return response;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no metrics");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
