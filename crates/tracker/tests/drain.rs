//! Draining a node before it stops: health 503, upgrades refused, sessions closed a few at a
//! time with 1001, then the usual shutdown.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tracker::TrackerConfig;

mod support;

use support::{announce, http_status, metrics, peer, recv, send, Server, Ws};

/// Waits for the close frame; returns its code and reason.
async fn closed(mut ws: Ws) -> (u16, String) {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string())
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[tokio::test]
async fn a_draining_node_leaves_the_balancer_and_closes_its_sessions_gradually() {
    // Three sessions over three seconds: one closes about every second.
    let config = TrackerConfig {
        drain: Duration::from_secs(3),
        ..TrackerConfig::default()
    };
    let mut server = Server::start(config).await;
    let health = |server: &Server| reqwest::get(server.http("/health"));
    assert_eq!(health(&server).await.unwrap().status(), 200);
    let mut sessions = Vec::new();
    for n in 0..3 {
        let mut ws = server.connect().await;
        send(&mut ws, announce(&peer(n), 0)).await;
        recv(&mut ws).await;
        sessions.push(ws);
    }

    server.signal_stop();
    // The health check fails at once, so that the balancer sends new clients elsewhere, and
    // new WebSocket upgrades are refused.
    let mut status = 200;
    for _ in 0..100 {
        status = health(&server).await.unwrap().status().as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, 503, "/health while draining");
    let refused = tokio_tungstenite::connect_async(server.ws_url("/announce")).await;
    assert_eq!(http_status(refused.unwrap_err()), 503);

    // Sessions are closed one after the other, not all at once: when the first one is
    // closed, the others are still open.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for ws in sessions {
        let tx = tx.clone();
        tokio::spawn(async move { tx.send(closed(ws).await) });
    }
    let first = rx.recv().await.unwrap();
    let open = gauge(&metrics(&server).await, "tracker_connections");
    assert!(open >= 1, "{open} sessions open after the first close");
    let mut all = vec![first];
    for _ in 1..3 {
        all.push(rx.recv().await.unwrap());
    }
    for (code, reason) in all {
        assert_eq!(code, 1001);
        assert_eq!(reason, "tracker node draining: reconnect");
    }
    server.shutdown().await;
}
