//! Abuse limits of the tracker over real sockets: announce and offer rate limits per
//! connection and per IP (refused with an error frame, counted in /metrics), viewer tokens that
//! expire and hold a connection to their channel, and a private tracker that serves only the
//! swarms of its operator's channels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite;
use tracker::admission::{Limits, Rate};
use tracker::channels::{parse_list, SwarmList};
use tracker::{viewer_token, TrackerConfig};

mod support;

use support::{announce, metrics, peer, recv, send, Server, HASH};

/// Rates so low that no token comes back while a test runs, however slow the machine.
fn rate(burst: u32) -> Rate {
    Rate::new(0.001, burst)
}

fn counter(metrics: &str, reason: &str) -> u64 {
    let key = format!("tracker_refused_messages_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in {metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn announces_over_the_rate_are_refused_and_counted() {
    let server = Server::start(TrackerConfig {
        limits: Limits {
            announces_per_connection: rate(3),
            announces_per_ip: rate(5),
            ..Limits::NONE
        },
        ..TrackerConfig::default()
    })
    .await;
    let mut a = server.connect().await;
    for _ in 0..3 {
        send(&mut a, announce(&peer(0), 0)).await;
        assert!(recv(&mut a).await.get("interval").is_some());
    }
    send(&mut a, announce(&peer(0), 0)).await;
    let refused = recv(&mut a).await;
    assert_eq!(refused["action"], "announce");
    assert_eq!(refused["info_hash"], HASH);
    let reason = refused["failure reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "too many announces: at most 0.001 per second (bursts of 3) on one connection"
        ),
        "{reason}"
    );
    // A second socket from the same address has what is left of the address's 5.
    let mut b = server.connect().await;
    for _ in 0..2 {
        send(&mut b, announce(&peer(1), 0)).await;
        assert!(recv(&mut b).await.get("interval").is_some());
    }
    send(&mut b, announce(&peer(1), 0)).await;
    let reason = recv(&mut b).await["failure reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("from one IP address"), "{reason}");
    // Scrapes count as announces.
    send(&mut b, json!({"action": "scrape", "info_hash": HASH})).await;
    assert_eq!(recv(&mut b).await["action"], "scrape");
    let m = metrics(&server).await;
    assert_eq!(counter(&m, "announce_rate_connection"), 1);
    assert_eq!(counter(&m, "announce_rate_ip"), 2);
    // The socket stays open: the refusal is a warning.
    assert!(m.contains("tracker_connections 2"), "{m}");
    server.shutdown().await;
}

#[tokio::test]
async fn offers_over_the_rate_are_dropped_and_counted() {
    let server = Server::start(TrackerConfig {
        limits: Limits {
            offers_per_connection: rate(5),
            ..Limits::NONE
        },
        ..TrackerConfig::default()
    })
    .await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    send(&mut a, announce(&peer(0), 0)).await;
    recv(&mut a).await;
    send(&mut b, announce(&peer(1), 1)).await;
    recv(&mut b).await;
    assert_eq!(
        recv(&mut a).await["peer_id"],
        peer(1),
        "the first offer is relayed"
    );
    // 4 more fit in the burst of 5; then 3 are over it.
    send(&mut b, announce(&peer(1), 4)).await;
    recv(&mut b).await;
    send(&mut b, announce(&peer(1), 3)).await;
    let response = recv(&mut b).await;
    assert!(
        response.get("interval").is_some(),
        "the announce itself is taken: {response}"
    );
    let reason = recv(&mut b).await["failure reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.starts_with("offers dropped: at most"), "{reason}");
    let m = metrics(&server).await;
    assert_eq!(counter(&m, "offer_rate_connection"), 3);
    assert!(
        m.contains("tracker_messages_out_total{type=\"offer\"} 2"),
        "{m}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn expired_viewer_tokens_are_refused_and_valid_ones_hold_their_channel() {
    let secret = b"shared with the site";
    let server = Server::start(TrackerConfig {
        token_secret: Some(secret.to_vec()),
        ..TrackerConfig::default()
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let channel = "https://cdn.example/live/news/index.m3u8";
    let expired = viewer_token::sign(secret, channel, now - 10);
    let err =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/announce?token={expired}")))
            .await
            .unwrap_err();
    let tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal: {err}")
    };
    assert_eq!(response.status().as_u16(), 401);
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("the viewer token expired"), "{body}");
    assert!(!body.contains(&expired));

    let valid = viewer_token::sign(secret, channel, now + 3600);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/announce?token={valid}")))
            .await
            .unwrap();
    send(&mut ws, announce(&peer(0), 0)).await;
    assert!(recv(&mut ws).await.get("interval").is_some());
    // Its stats may name its own channel only.
    let stats = |channel: &str| {
        json!({"action": "stats", "info_hash": HASH, "peer_id": peer(0), "channel": channel,
               "http_down": 10})
    };
    send(&mut ws, stats("https://cdn.example/other/index.m3u8")).await;
    let refused = recv(&mut ws).await;
    assert_eq!(refused["action"], "stats");
    send(&mut ws, stats(channel)).await;
    let client = reqwest::Client::new();
    let post = |token: String, channel: &str| {
        client
            .post(server.http(&format!("/stats?token={token}")))
            .body(stats(channel).to_string())
            .send()
    };
    assert_eq!(post(valid.clone(), channel).await.unwrap().status(), 204);
    assert_eq!(
        post(valid.clone(), "https://x/y.m3u8")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(post(expired, channel).await.unwrap().status(), 401);
    let m = metrics(&server).await;
    assert!(
        m.contains("tracker_rejected_connections_total{reason=\"token_expired\"} 2"),
        "{m}"
    );
    assert_eq!(counter(&m, "other_channel"), 2);
    server.shutdown().await;
}

const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p.m3u8\n";

/// The info_hashes players derive for `url` with the two variants of [`MASTER`].
fn hashes_of(url: &str) -> Vec<String> {
    wire::swarm_id::hls::streams(MASTER)
        .iter()
        .map(|s| {
            let id = wire::swarm_id::stream_swarm_id(url, s.stream_type, &s.identity.short_id());
            wire::swarm_id::info_hash(&id)
        })
        .collect()
}

fn list(urls: &[&str]) -> Arc<SwarmList> {
    let mut list = SwarmList::default();
    for entry in parse_list(&urls.join("\n")).unwrap() {
        list.add(&entry, &entry.manifest_url.clone(), MASTER);
    }
    Arc::new(list)
}

#[tokio::test]
async fn a_private_tracker_serves_its_channels_only_and_takes_list_changes() {
    let (a, b) = ("https://cdn.example/a.m3u8", "https://cdn.example/b.m3u8");
    let (tx, rx) = tokio::sync::watch::channel(list(&[a]));
    let secret = b"s";
    let server = Server::start(TrackerConfig {
        swarm_list: Some(rx),
        token_secret: Some(secret.to_vec()),
        token: Some("static".into()),
        ..TrackerConfig::default()
    })
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/?token=static"))
        .await
        .unwrap();
    let join = |hash: &str| json!({"action": "announce", "info_hash": hash, "peer_id": peer(0), "event": "started", "offers": []});
    for hash in hashes_of(a) {
        send(&mut ws, join(&hash)).await;
        assert!(recv(&mut ws).await.get("interval").is_some());
    }
    let b_hash = hashes_of(b)[1].clone();
    send(&mut ws, join(&b_hash)).await;
    let refused = recv(&mut ws).await;
    assert!(
        refused["failure reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown info_hash"),
        "{refused}"
    );
    // The operator adds channel b: it is served within a sweep (once a second).
    tx.send(list(&[a, b])).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        send(&mut ws, join(&b_hash)).await;
        if recv(&mut ws).await.get("interval").is_some() {
            break;
        }
        assert!(Instant::now() < until, "the new list was not taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A viewer token for channel a does not open channel b's swarms.
    let token = viewer_token::sign(secret, a, u64::MAX / 2);
    let (mut viewer, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/?token={token}")))
            .await
            .unwrap();
    send(&mut viewer, join(&hashes_of(a)[0])).await;
    assert!(recv(&mut viewer).await.get("interval").is_some());
    send(&mut viewer, join(&b_hash)).await;
    let refused = recv(&mut viewer).await;
    assert!(
        refused["failure reason"]
            .as_str()
            .unwrap()
            .contains("viewer token"),
        "{refused}"
    );
    let m = metrics(&server).await;
    assert!(counter(&m, "unknown_swarm") >= 1);
    assert_eq!(counter(&m, "other_channel"), 1);
    server.shutdown().await;
}
