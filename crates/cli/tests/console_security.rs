//! The console's safe defaults against real sockets: super-peer URLs outside the allowed hosts
//! are refused (403) before any call, a name that resolves to loopback too, and channel
//! manifests (whose ids come from viewers' reports) are read only from the allowed origin
//! hosts; a listener on each refused address sees no connection.

use std::sync::atomic::Ordering;

use serde_json::json;

mod common;
mod console_support;
mod superpeer_support;

use common::{listener, playlist_response};
use console_support::TestConsole;

async fn refused_registration(console: &TestConsole, url: &str) -> String {
    let (status, v) = console
        .call(
            "POST",
            "/api/super-peers",
            Some(json!({"url": url, "label": "x", "bandwidth_mbps": 100})),
        )
        .await;
    assert_eq!(status, 403, "{url}: {v}");
    let error = v["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("--super-peer-host"),
        "says what to configure: {error}"
    );
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_peer_urls_outside_the_allowed_hosts_are_refused() {
    let (hidden, seen) = listener("127.0.0.2", playlist_response());
    // Allowed: 127.0.0.1 only.
    let console = TestConsole::start(TestConsole::config(vec![])).await;
    let e = refused_registration(&console, &format!("http://{hidden}")).await;
    assert!(e.contains("127.0.0.2 is not an allowed host"), "{e}");
    let e = refused_registration(&console, "http://169.254.169.254").await;
    assert!(e.contains("169.254.169.254 is not an allowed host"), "{e}");
    let e = refused_registration(&console, &format!("http://localhost:{}", hidden.port())).await;
    assert!(e.contains("localhost is not an allowed host"), "{e}");
    // An allowed super peer cannot be moved to a refused URL either.
    let v = console
        .post(
            "/api/super-peers",
            json!({"url": "http://127.0.0.1:9", "label": "ok"}),
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    let (status, v) = console
        .call(
            "PUT",
            &format!("/api/super-peers/{id}"),
            Some(json!({"url": format!("http://{hidden}")})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    console.stop().await;

    // Any host with public addresses: loopback and metadata addresses are still refused,
    // also behind a name.
    let mut config = TestConsole::config(vec![]);
    config.super_peer_hosts = vec!["*".into()];
    let console = TestConsole::start(config).await;
    let e = refused_registration(&console, &format!("http://localhost:{}", hidden.port())).await;
    assert!(
        e.contains("localhost resolves to") && e.contains("a loopback address"),
        "{e}"
    );
    let e = refused_registration(&console, &format!("http://{hidden}")).await;
    assert!(e.contains("127.0.0.2 is a loopback address"), "{e}");
    let e = refused_registration(&console, "http://169.254.169.254").await;
    assert!(e.contains("a cloud metadata address"), "{e}");
    assert_eq!(console.get("/api/super-peers").await, json!([]));
    console.stop().await;
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a refused address was reached"
    );
}

/// A console in manual mode reading manifests from `origin_hosts`, with a super peer that is
/// not there (a seed fails, its decision is logged all the same); returns its id.
async fn manual_console(origin_hosts: Vec<String>) -> (TestConsole, i64) {
    let mut config = TestConsole::config(vec![]);
    config.auto_seeding = Some(false);
    config.origin_hosts = origin_hosts;
    let console = TestConsole::start(config).await;
    let v = console
        .post(
            "/api/super-peers",
            json!({"url": "http://127.0.0.1:9", "label": "gone"}),
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    (console, id)
}

/// Seeds `channel` by hand on super peer `id`, which is not there (502); returns the reason
/// the decision log gives, which says how `live` was decided.
async fn seed_by_hand(console: &TestConsole, id: i64, channel: &str) -> String {
    let (status, v) = console
        .call(
            "POST",
            &format!("/api/super-peers/{id}/seed"),
            Some(json!({ "channel": channel })),
        )
        .await;
    assert_eq!(status, 502, "{v}");
    let log = console
        .get(&format!(
            "/api/decisions?channel={}",
            console_support::urlencode(channel)
        ))
        .await;
    log[0]["reason"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_read_only_from_origin_hosts() {
    let (hidden, hidden_seen) = listener("127.0.0.2", playlist_response());
    let (origin, origin_seen) = listener("127.0.0.1", playlist_response());
    let (console, id) = manual_console(vec!["127.0.0.1".into()]).await;
    let reason = seed_by_hand(&console, id, &format!("http://{hidden}/live/index.m3u8")).await;
    assert!(
        reason.contains("manifest unreadable")
            && reason.contains("127.0.0.2 is not an allowed host")
            && reason.contains("--origin-host"),
        "{reason}"
    );
    let reason = seed_by_hand(&console, id, &format!("http://{origin}/vod/index.m3u8")).await;
    assert!(
        reason.contains("VOD: the playlist has EXT-X-ENDLIST"),
        "{reason}"
    );
    assert_eq!(
        hidden_seen.load(Ordering::SeqCst),
        0,
        "a refused address was reached"
    );
    assert!(origin_seen.load(Ordering::SeqCst) >= 1);
    console.stop().await;

    // No origin host at all: manifests are not read.
    let (console, id) = manual_console(vec![]).await;
    let reason = seed_by_hand(&console, id, &format!("http://{origin}/vod/other.m3u8")).await;
    assert!(
        reason.contains("reads manifests only from --origin-host hosts"),
        "{reason}"
    );
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_channels_and_indexes_are_read_only_from_origin_hosts() {
    let (hidden, hidden_seen) = listener("127.0.0.2", playlist_response());
    let (origin, origin_seen) = listener("127.0.0.1", playlist_response());
    // An index on an allowed host that lists a channel on a refused one.
    let index_body = format!("http://{hidden}/live/index.m3u8\n");
    let (index, index_seen) = listener(
        "127.0.0.1",
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{index_body}",
            index_body.len()
        ),
    );
    // Allowed: 127.0.0.1 only.
    let console = TestConsole::start(TestConsole::config(vec![])).await;
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": format!("http://{hidden}/live/index.m3u8?token=s3cret")})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.2 is not an allowed host") && error.contains("--origin-host"),
        "{error}"
    );
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": format!("http://{index}/tv.m3u8"), "kind": "index"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let entry = &v["channels"][0];
    assert!(
        entry["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.2 is not an allowed host")),
        "{v}"
    );
    assert!(index_seen.load(Ordering::SeqCst) >= 1);
    console.stop().await;

    // No origin host and nothing listed at start: nothing may be listed.
    let console = TestConsole::start(console::ConsoleConfig {
        origin_hosts: vec![],
        ..TestConsole::config(vec![])
    })
    .await;
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": format!("http://{origin}/live/index.m3u8")})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("none is set"), "{v}");
    console.stop().await;
    assert_eq!(origin_seen.load(Ordering::SeqCst), 0);

    // Channels listed at start make their hosts the origin hosts.
    let console = TestConsole::start(console::ConsoleConfig {
        origin_hosts: vec![],
        listed: vec![(
            console::listed::Kind::Channel,
            format!("http://{origin}/live/index.m3u8"),
        )],
        ..TestConsole::config(vec![])
    })
    .await;
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": format!("http://{hidden}/live/index.m3u8")})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    let listed = console.get("/api/listed-channels").await;
    assert!(
        listed["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |c| c["channel"] == json!(format!("http://{origin}/live/index.m3u8"))
                    && c["error"].is_null()
            ),
        "{listed}"
    );
    assert!(origin_seen.load(Ordering::SeqCst) >= 1);
    console.stop().await;
    assert_eq!(
        hidden_seen.load(Ordering::SeqCst),
        0,
        "a refused address was reached"
    );
}
