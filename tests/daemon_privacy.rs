//! What other local users can and cannot do: read the store (they must not: the data
//! directory is 0700 and every file in it 0600, whatever the umask), hold every socket slot by
//! trickling bytes (they must not: a request line must arrive whole in time, and one uid has
//! a cap below the total), and what a user outside the socket's group is told.

mod daemon_support;

use daemon_support::{
    Daemon, PATIENCE, config_text, sigterm, simulator, wait_exit_ok, wait_final, wait_for_socket,
};
use khabar::api::client::Client;
use khabar::message::State;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every directory and file below `dir` (sockets skipped) with its mode.
fn modes_below(dir: &Path) -> Vec<(std::path::PathBuf, u32)> {
    let mut found = vec![(dir.to_path_buf(), mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        if kind.is_dir() {
            found.extend(modes_below(&path));
        } else if !std::os::unix::fs::FileTypeExt::is_socket(&kind) {
            found.push((path.clone(), mode(&path)));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_is_readable_by_khabars_user_only_whatever_the_umask() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(dir.path(), &sim, "")).unwrap();
    // a data directory someone made world-readable, with a file in it
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("notes.txt"), "77011234567").unwrap();
    std::fs::set_permissions(
        data.join("notes.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_khabar"));
    command
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    // SAFETY: umask is async-signal-safe and only sets the child's creation mask
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let daemon = command.spawn().expect("start khabar");
    let socket = dir.path().join("khabar.sock");
    wait_for_socket(&socket).await;
    let mut client = Client::connect(&socket).await.unwrap();
    let id = daemon_support::submit(
        &mut client,
        "+77011234567",
        "Құрметті 900101300123 ЖСН иесі, өтінішіңіз қабылданды",
        "notification",
    )
    .await;
    assert_eq!(wait_final(&mut client, id).await.state, State::Delivered);
    sigterm(&daemon);
    wait_exit_ok(daemon).await;

    let modes = modes_below(&data);
    assert!(modes.len() > 5, "the store's files are there: {modes:?}");
    for (path, mode) in &modes {
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
    assert_eq!(self::mode(&data), 0o700);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("narrowed"), "the fix is logged: {logged}");
}

/// Sends one byte of a request line every `every` on `stream`, until it is closed; returns
/// the last line the daemon wrote to it.
async fn trickle(stream: UnixStream, every: Duration) -> String {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let request = br#"{"id":1,"op":"status"}"#;
    let mut last = String::new();
    for byte in request.iter().cycle().take(10_000) {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => last = line,
                _ => return last,
            },
            _ = tokio::time::sleep(every) => {
                if write.write_all(&[*byte]).await.is_err() {
                    return last;
                }
            }
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trickling_clients_are_cut_off_and_one_user_cannot_take_every_slot() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "";
    let text = config_text(dir.path(), &sim, extra).replace(
        "[api]\n",
        "[api]\nmax_connections = 40\nmax_connections_per_uid = 8\nline_timeout = \"1s\"\n",
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config).await;
    let socket = daemon.socket.clone();
    // this user takes its whole share with connections that trickle one byte at a time
    let mut trickles = Vec::new();
    for _ in 0..8 {
        let stream = UnixStream::connect(&socket).await.unwrap();
        trickles.push(tokio::spawn(trickle(stream, Duration::from_millis(200))));
    }
    // the ninth, accepted after them, is refused although the daemon has room for 40: the
    // daemon says why at once and closes (read it without sending, or the write may meet the
    // closed socket first)
    let mut ninth = Client::connect(&socket).await.unwrap();
    let refusal = match tokio::time::timeout(PATIENCE, ninth.read_answer()).await {
        Ok(Ok(reply)) => match reply.result {
            Err(e) => e,
            Ok(payload) => panic!("the ninth connection was served: {payload:?}"),
        },
        other => panic!("no answer on the ninth connection: {other:?}"),
    };
    assert_eq!(refusal.code.as_str(), "too_many_connections");
    assert!(
        refusal.message.contains("max_connections_per_uid"),
        "{refusal:?}"
    );
    // each trickling connection is told its line was too slow, and closed
    for trickling in trickles {
        let last = tokio::time::timeout(PATIENCE, trickling)
            .await
            .expect("closed in time")
            .unwrap();
        assert!(last.contains("slow_request"), "{last}");
    }
    // then the user is served again
    let mut client = Client::connect(&socket).await.unwrap();
    assert!(client.status().await.unwrap().is_ok());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_outside_the_sockets_group_is_told_so() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(dir.path(), &sim, "")).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let daemon = Daemon::start(&config).await;
    let socket = daemon.socket.clone();
    let mut cli = Command::new(env!("CARGO_BIN_EXE_khabar"));
    cli.args(["status", "--config"]).arg(&config);
    // root may open any file: as root, ask as nobody (not in the socket's group); as anyone
    // else, take our own permission away
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        cli.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let out = tokio::task::spawn_blocking(move || cli.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("permission denied") && stderr.contains("group"),
        "{stderr}"
    );
    assert!(!stderr.contains("is `khabar run` running"), "{stderr}");
    if !root {
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
    }
    daemon.stop().await;
}
