//! The Prometheus endpoint shows the same figures as `khabar status`.

mod daemon_support;

use daemon_support::{Daemon, PATIENCE, simulator, submit, wait_final, write_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The value of the sample `name{labels}` (exact label text) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_follow_what_the_daemon_does() {
    // the simulator's listeners first, so the port picked next cannot be one of theirs
    let sim = simulator().await;
    let port = daemon_support::free_port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[metrics]\nlisten = \"{addr}\"\n");
    let daemon = Daemon::start(&write_config(dir.path(), &sim, &extra)).await;
    let mut client = daemon.client().await;
    let id = submit(&mut client, "+77011234567", "metrics", "notification").await;
    wait_final(&mut client, id).await;

    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = get(addr, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let status = client.status().await.unwrap().unwrap();
        let delivered = sample(&response, "khabar_messages{state=\"delivered\"}");
        let binds = sample(&response, "khabar_operator_binds_up{operator=\"kcell\"}");
        let kcell = status.operators.iter().find(|o| o.name == "kcell").unwrap();
        let kcell_up = kcell
            .binds
            .iter()
            .filter(|b| b.state == khabar::api::views::BindState::Up)
            .count();
        let submits = sample(&response, "khabar_submit_latency_seconds_count");
        let receipts = sample(&response, "khabar_receipt_latency_seconds_count");
        if delivered == Some(1.0)
            && binds == Some(kcell_up as f64)
            && (submits, receipts) == (Some(1.0), Some(1.0))
        {
            assert!(response.contains("khabar_lane_queued{lane=\"otp\"} 0"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never showed the delivery:\n{response}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(get(addr, "/other").await.starts_with("HTTP/1.1 404"));
    daemon.stop().await;
}
