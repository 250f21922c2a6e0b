//! API tests against a real console served on 127.0.0.1, with the real tracker (in process,
//! viewers announcing over WebSocket) and a recording fake of the super peer's REST API
//! (see `support`).

mod support;

use serde_json::{json, Value};
use support::{b64, RealTracker, RecordingSuperPeer, TestConsole, Viewer};

const HOT: &str = "http://127.0.0.1:1/live/hot/index.m3u8";
const WARM: &str = "http://127.0.0.1:1/live/warm/index.m3u8";
const HOT_HASH: &str = "HOTxxxxxxxxxxxxxxxxx";
const WARM_HASH: &str = "WARMxxxxxxxxxxxxxxxx";

/// `n` viewers of `channel` in swarm `hash`, peer ids from `first`; the first one reports.
async fn watch(
    tracker: &RealTracker,
    channel: &str,
    hash: &str,
    first: u32,
    n: u32,
) -> Vec<Viewer> {
    let mut viewers = Vec::new();
    for i in 0..n {
        viewers.push(tracker.viewer(hash, first + i).await);
    }
    tracker.report(&viewers[0], channel, 0, 0).await;
    viewers
}

async fn register(console: &TestConsole, sp: &RecordingSuperPeer, token: &str) -> Value {
    let (status, v) = console
        .call(
            "POST",
            "/api/super-peers",
            Some(json!({"url": sp.url, "bandwidth_mbps": 500, "access_token": token, "label": "eu-1"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v
}

#[tokio::test]
async fn registry_checks_health_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sp = RecordingSuperPeer::start("sp-token", 4).await;
    let mut config = TestConsole::config(vec![]);
    config.database = Some(dir.path().join("console.db"));
    let console = TestConsole::start(config.clone()).await;

    // The admin token is required.
    let anonymous = reqwest::get(format!("{}/api/super-peers", console.url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let health: Value = reqwest::get(format!("{}/api/health", console.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["auth_required"], true);

    let added = register(&console, &sp, "sp-token").await;
    assert_eq!(added["status"], "running", "{added}");
    assert_eq!(added["workers_limit"], 4);
    assert_eq!(added["access_token_set"], true);
    assert!(
        added.get("access_token").is_none(),
        "the token is never shown"
    );
    assert_eq!(sp.calls(), ["POST /ping"]);
    assert_eq!(sp.state.lock().unwrap().last_bandwidth, Some(500));

    let id = added["id"].as_i64().unwrap();
    let (status, dup) = console
        .call("POST", "/api/super-peers", Some(json!({"url": sp.url})))
        .await;
    assert_eq!(status, 409, "{dup}");
    let (status, bad) = console
        .call("POST", "/api/super-peers", Some(json!({"url": "ftp://x"})))
        .await;
    assert_eq!(status, 400, "{bad}");

    let (status, edited) = console
        .call(
            "PUT",
            &format!("/api/super-peers/{id}"),
            Some(json!({"label": "eu-west", "bandwidth_mbps": 800})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["label"], "eu-west");
    assert_eq!(sp.state.lock().unwrap().last_bandwidth, Some(800));
    console.stop().await;

    // A restarted console on the same database still has it.
    let console = TestConsole::start(config).await;
    let list = console.get("/api/super-peers").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["label"], "eu-west");
    assert_eq!(list[0]["bandwidth_mbps"], 800);
    let checked = console
        .post(&format!("/api/super-peers/{id}/check"), json!({}))
        .await;
    assert_eq!(checked["status"], "running");

    let (status, _) = console
        .call("DELETE", &format!("/api/super-peers/{id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(console.get("/api/super-peers").await, json!([]));
    console.stop().await;
}

#[tokio::test]
async fn unreachable_or_refusing_super_peers_are_stopped() {
    let console = TestConsole::start(TestConsole::config(vec![])).await;
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let v = console
        .post("/api/super-peers", json!({"url": url, "label": "gone"}))
        .await;
    assert_eq!(v["status"], "stopped");
    assert!(v["error"].as_str().unwrap().contains("connect"), "{v}");

    let sp = RecordingSuperPeer::start("right", 2).await;
    let v = register(&console, &sp, "wrong").await;
    assert_eq!(v["status"], "stopped");
    assert!(v["error"].as_str().unwrap().contains("401"), "{v}");
    assert!(sp.calls().is_empty(), "a refused call changes nothing");
    console.stop().await;
}

#[tokio::test]
async fn auto_seeding_picks_the_hottest_channel_and_stops_it_once_cooled() {
    let tracker = RealTracker::start().await;
    let hot_viewers = watch(&tracker, HOT, HOT_HASH, 0, 4).await;
    let mut warm_viewers = watch(&tracker, WARM, WARM_HASH, 10, 2).await;
    let sp = RecordingSuperPeer::start("", 1).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    let id = register(&console, &sp, "").await["id"].as_i64().unwrap();

    let round = console.post("/api/seeding/run", json!({})).await;
    let actions = round["actions"].as_array().unwrap();
    assert_eq!(actions[0]["action"], "seed", "{round}");
    assert_eq!(actions[0]["channel"], HOT);
    assert_eq!(actions[1]["action"], "unplaced", "one slot only: {round}");
    assert_eq!(actions[1]["channel"], WARM);

    let seeds = sp.seeds();
    assert_eq!(seeds.len(), 1);
    let entry = &seeds[0]["list"][0];
    assert_eq!(entry["channel"], b64(HOT));
    let ws = tracker.url.replace("http://", "ws://");
    assert_eq!(entry["signal1"], ws);
    assert_eq!(entry["maxConnections"], 80);
    assert_eq!(entry["keepAlive"], true);

    // The channel view says where and why.
    let channels = console.get("/api/channels").await;
    let hot = &channels["channels"][0];
    assert_eq!(hot["channel"], HOT);
    assert_eq!(hot["seeded_on"][0]["super_peer_id"], id);
    let why = hot["last_decision"]["reason"].as_str().unwrap();
    assert!(why.contains("rank 1 of 2 with 4 viewers"), "{why}");
    assert!(why.contains("eu-1"), "{why}");

    // Nothing changes: nothing is done.
    let round = console.post("/api/seeding/run", json!({})).await;
    assert!(
        round["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["action"] == "unplaced"),
        "{round}"
    );
    assert_eq!(sp.seeds().len(), 1);

    // HOT's viewers leave: it is stopped and WARM takes the slot.
    for v in hot_viewers {
        v.leave().await;
    }
    warm_viewers.push(tracker.viewer(WARM_HASH, 12).await);
    tracker.wait_peers(HOT, 0).await;
    tracker.wait_peers(WARM, 3).await;
    let pid = sp.workers()[0].pid;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"][0]["action"], "stop", "{round}");
    assert_eq!(round["actions"][0]["pid"], pid);
    assert_eq!(round["actions"][1]["action"], "seed");
    assert_eq!(round["actions"][1]["channel"], WARM);
    assert!(sp.calls().contains(&format!("POST /stop/{pid}")));
    drop(warm_viewers);
    let workers = sp.workers();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].channel_b64, b64(WARM));

    let log = console
        .get(&format!("/api/decisions?channel={}", urlencode(HOT)))
        .await;
    assert_eq!(log[0]["action"], "stop");
    assert!(
        log[0]["reason"].as_str().unwrap().starts_with("cooled"),
        "{log}"
    );
    assert_eq!(log[1]["action"], "seed");
    console.stop().await;
}

#[tokio::test]
async fn manual_mode_is_honoured_and_worker_commands_are_forwarded() {
    let tracker = RealTracker::start().await;
    let _viewers = watch(&tracker, HOT, HOT_HASH, 0, 3).await;
    let sp = RecordingSuperPeer::start("tok", 3).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    let id = register(&console, &sp, "tok").await["id"].as_i64().unwrap();

    // Seeding by hand is refused while automatic seeding is on.
    let (status, _) = console
        .call(
            "POST",
            &format!("/api/super-peers/{id}/seed"),
            Some(json!({"channel": WARM})),
        )
        .await;
    assert_eq!(status, 409);

    let mode = console
        .call("PUT", "/api/seeding", Some(json!({"auto": false})))
        .await;
    assert_eq!(mode.1["auto"], false);
    let (status, _) = console.call("POST", "/api/seeding/run", None).await;
    assert_eq!(status, 409);
    assert!(sp.seeds().is_empty(), "no automatic seeding in manual mode");

    let v = console
        .post(
            &format!("/api/super-peers/{id}/seed"),
            json!({"channel": WARM, "label": "by hand"}),
        )
        .await;
    assert_eq!(v["workers"][0]["channel"], WARM, "{v}");
    assert_eq!(sp.seeds()[0]["list"][0]["label"], "by hand");
    let pid = sp.workers()[0].pid;

    console
        .post(
            &format!("/api/super-peers/{id}/workers/{pid}/restart"),
            json!({}),
        )
        .await;
    assert_eq!(sp.workers()[0].restarts, 1);
    console
        .post(&format!("/api/super-peers/{id}/restart_all"), json!({}))
        .await;
    assert_eq!(sp.workers()[0].restarts, 2);
    console
        .post(
            &format!("/api/super-peers/{id}/workers/{pid}/stop"),
            json!({}),
        )
        .await;
    assert!(sp.workers().is_empty());
    let calls = sp.calls();
    for expected in [
        format!("POST /restart/{pid}"),
        "POST /restart_all".to_owned(),
        format!("POST /stop/{pid}"),
    ] {
        assert!(calls.contains(&expected), "{expected} not in {calls:?}");
    }
    // A stop of an unknown worker reports the super peer's refusal.
    let (status, err) = console
        .call(
            "POST",
            &format!("/api/super-peers/{id}/workers/1/stop"),
            None,
        )
        .await;
    assert_eq!(status, 502, "{err}");

    // The cold hand-seeded channel would be stopped by the planner, but stays: manual mode.
    assert!(!calls.iter().any(|c| c.starts_with("POST /stop_all")));
    let log = console.get("/api/decisions").await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|d| d["by"] == "operator"),
        "{log}"
    );
    console.stop().await;
}

#[tokio::test]
async fn traffic_history_accumulates_per_channel_and_overall() {
    let tracker = RealTracker::start().await;
    let hot = [
        tracker.viewer(HOT_HASH, 0).await,
        tracker.viewer(HOT_HASH, 1).await,
    ];
    let warm = tracker.viewer(WARM_HASH, 2).await;
    tracker.report(&hot[0], HOT, 1_000, 4_000).await;
    tracker.report(&warm, WARM, 500, 0).await;
    let mut config = TestConsole::config(vec![tracker.url.clone()]);
    config.auto_seeding = Some(false);
    let console = Console::new_for_test(config).await;
    // First poll: baseline only.
    console.poll().await;
    tracker.report(&hot[0], HOT, 3_000, 10_000).await;
    tracker.report(&warm, WARM, 600, 0).await;
    console.poll().await;
    let hot = console
        .api
        .get(&format!(
            "/api/traffic?channel={}&range=3600",
            urlencode(HOT)
        ))
        .await;
    let series = &hot["series"];
    assert_eq!(series["step_secs"], 10);
    let sum = |k: &str| -> u64 {
        series[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("http_bytes"), 2_000);
    assert_eq!(sum("p2p_bytes"), 6_000);
    let peak = series["viewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .max();
    assert_eq!(peak, Some(2), "two viewers announced, one reported");
    assert_eq!(hot["channels"], json!([HOT, WARM]));

    let all = console.api.get("/api/traffic").await;
    let total: u64 = all["series"]["http_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 2_100);
    let day = console.api.get("/api/traffic?range=86400").await;
    assert_eq!(day["series"]["step_secs"], 60);
    console.api.stop().await;
}

/// A console plus a way to trigger a tracker poll without waiting for its timer.
struct Console {
    api: TestConsole,
    handle: std::sync::Arc<console::Console>,
}

impl Console {
    async fn new_for_test(config: console::ConsoleConfig) -> Self {
        let handle = console::Console::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let c = handle.clone();
        tokio::spawn(
            async move { console::serve_console(listener, c, std::future::pending()).await },
        );
        let api = TestConsole::attach(url, "admin-secret");
        Console { api, handle }
    }

    async fn poll(&self) {
        let snapshot = self.handle.poll_trackers().await;
        assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_tracker_outage_stops_nothing() {
    let tracker = RealTracker::start().await;
    let _viewers = watch(&tracker, HOT, HOT_HASH, 0, 2).await;
    let sp = RecordingSuperPeer::start("", 2).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    register(&console, &sp, "").await;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"][0]["action"], "seed", "{round}");

    tracker.stop().await;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"], json!([]), "{round}");
    assert_eq!(sp.workers().len(), 1, "the worker keeps seeding");
    let channels = console.get("/api/channels").await;
    assert!(
        !channels["errors"].as_array().unwrap().is_empty(),
        "{channels}"
    );
    console.stop().await;
}
