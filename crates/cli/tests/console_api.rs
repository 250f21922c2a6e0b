//! The console's API against real servers: the console, the tracker (viewers announce over
//! WebSocket and report SDK stats) and the origin in process, and `swarmcast superpeer`
//! masters whose workers are real processes that fetch from the origin and announce on the
//! tracker. What the console asks for is checked where it lands: in the super peer's
//! `/stats`.

mod common;
mod console_support;
mod superpeer_support;

use console_support::{
    get_json, urlencode, TestConsole, TestOrigin, TestRedis, TestSuperPeer, TestTracker,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_checks_health_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sp = TestSuperPeer::start("sp-token", 4, "ws://127.0.0.1:9").await;
    let mut config = TestConsole::config(vec![]);
    config.database = Some(dir.path().join("console.db"));
    let console = TestConsole::start(config.clone()).await;

    // The admin token is required.
    let anonymous = reqwest::get(format!("{}/api/super-peers", console.url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let health = console_support::get_json(&format!("{}/api/health", console.url)).await;
    assert_eq!(health["auth_required"], true);

    let added = console.register(&sp, "sp-token", 500).await;
    assert_eq!(added["status"], "running", "{added}");
    assert_eq!(added["access_token_set"], true);
    assert!(
        added.get("access_token").is_none(),
        "the token is never shown"
    );
    // The ping carried the bandwidth: the super peer plans with it (500 / 200 Mbps per
    // worker = 2 workers, under its maxWorkers of 4), and the console shows that capacity.
    let stats = sp.stats().await;
    assert_eq!(stats["capacity"]["bandwidth"], 500.0, "{stats}");
    assert_eq!(stats["capacity"]["workers"], 2);
    assert_eq!(added["workers_limit"], 2, "{added}");
    assert_eq!(added["workers_running"], 0);

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
    assert_eq!(sp.stats().await["capacity"]["bandwidth"], 800.0);
    assert_eq!(edited["workers_limit"], 4);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

    let sp = TestSuperPeer::start("right", 2, "ws://127.0.0.1:9").await;
    let v = console.register(&sp, "wrong", 400).await;
    assert_eq!(v["status"], "stopped");
    assert!(v["error"].as_str().unwrap().contains("401"), "{v}");
    assert_eq!(
        sp.stats().await["capacity"]["bandwidth"],
        Value::Null,
        "a refused ping changes nothing"
    );

    // Fixed with the right token, it runs.
    let id = v["id"].as_i64().unwrap();
    let (status, v) = console
        .call(
            "PUT",
            &format!("/api/super-peers/{id}"),
            Some(json!({"access_token": "right"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(sp.stats().await["capacity"]["bandwidth"], 400.0);

    // A super peer that goes away is shown stopped at the next check.
    drop(sp);
    let v = console
        .post(&format!("/api/super-peers/{id}/check"), json!({}))
        .await;
    assert_eq!(v["status"], "stopped", "{v}");
    assert!(v["error"].as_str().unwrap().contains("connect"), "{v}");
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_seeding_picks_the_hottest_channel_and_stops_it_once_cooled() {
    let origin = TestOrigin::start(&["hot", "warm"]).await;
    let tracker = TestTracker::start().await;
    // HOT is live, WARM is VOD: the console tells them apart from their playlists.
    let (hot, warm) = (origin.live("hot"), origin.vod("warm"));
    let (hot_hash, warm_hash) = (
        console_support::info_hash_of(&hot).await,
        console_support::info_hash_of(&warm).await,
    );
    let hot_viewers = tracker.watch(&hot, &hot_hash, 0, 4).await;
    let mut warm_viewers = tracker.watch(&warm, &warm_hash, 10, 2).await;
    // Room for one worker only.
    let sp = TestSuperPeer::start("", 1, &tracker.ws_url()).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    let id = console.register(&sp, "", 1000).await["id"]
        .as_i64()
        .unwrap();

    let round = console.post("/api/seeding/run", json!({})).await;
    let actions = round["actions"].as_array().unwrap();
    assert_eq!(actions[0]["action"], "seed", "{round}");
    assert_eq!(actions[0]["channel"], hot);
    assert!(actions[0]["ok"].as_bool().unwrap(), "{round}");
    assert_eq!(actions[1]["action"], "unplaced", "one slot only: {round}");
    assert_eq!(actions[1]["channel"], warm);

    // The super peer runs a live worker for HOT, on our tracker, in the viewers' swarm.
    let workers = sp
        .wait_workers("a worker on the tracker", |w| {
            w.len() == 1 && w[0]["signal"].is_string()
        })
        .await;
    let worker = &workers[0];
    assert_eq!(worker["channelId"], hot);
    assert_eq!(worker["live"], true, "{worker}");
    assert_eq!(worker["keepAlive"], true);
    assert_eq!(worker["maxConnections"], 80);
    assert_eq!(worker["label"], "auto");
    assert_eq!(worker["signal"], tracker.ws_url());
    tracker.wait_peers(&hot, 5).await;

    // The channel view says where and why.
    let channels = console.get("/api/channels").await;
    let listed = &channels["channels"][0];
    assert_eq!(listed["channel"], hot, "{channels}");
    assert_eq!(listed["seeded_on"][0]["super_peer_id"], id);
    let why = listed["last_decision"]["reason"].as_str().unwrap();
    assert!(why.contains("rank 1 of 2 with 4 viewers"), "{why}");
    assert!(why.contains("eu-1"), "{why}");
    assert!(
        why.contains("live: the playlist has no EXT-X-ENDLIST"),
        "{why}"
    );

    // Nothing changed (the worker's own announce is not a viewer): nothing is done.
    let round = console.post("/api/seeding/run", json!({})).await;
    assert!(
        round["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["action"] == "unplaced"),
        "{round}"
    );
    let pid = worker["pid"].as_u64().unwrap();
    assert_eq!(sp.workers().await[0]["pid"], pid, "the same worker");
    // The dashboard counts viewers without the worker's own announce.
    let channels = console.get("/api/channels").await;
    assert_eq!(channels["channels"][0]["peers"], 5, "{channels}");
    assert_eq!(channels["channels"][0]["viewers"], 4, "{channels}");

    // HOT's viewers leave: it is stopped, and WARM, hotter now, takes the slot, as VOD.
    for v in hot_viewers {
        v.leave().await;
    }
    warm_viewers.push(tracker.viewer(&warm_hash, 12).await);
    tracker.wait_peers(&hot, 1).await; // the worker alone
    tracker.wait_peers(&warm, 3).await;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"][0]["action"], "stop", "{round}");
    assert_eq!(round["actions"][0]["pid"], pid);
    assert_eq!(round["actions"][1]["action"], "seed", "{round}");
    assert_eq!(round["actions"][1]["channel"], warm);
    let workers = sp
        .wait_workers("HOT's worker gone and WARM's running", |w| {
            w.len() == 1 && w[0]["channelId"] == json!(warm)
        })
        .await;
    assert_eq!(workers[0]["live"], false, "{:?}", workers[0]);
    assert_ne!(workers[0]["pid"], pid);

    let log = console
        .get(&format!("/api/decisions?channel={}", urlencode(&hot)))
        .await;
    assert_eq!(log[0]["action"], "stop");
    assert!(
        log[0]["reason"].as_str().unwrap().starts_with("cooled"),
        "{log}"
    );
    assert_eq!(log[1]["action"], "seed");
    let log = console
        .get(&format!("/api/decisions?channel={}", urlencode(&warm)))
        .await;
    assert!(
        log[0]["reason"]
            .as_str()
            .unwrap()
            .contains("VOD: the playlist"),
        "{log}"
    );
    drop(warm_viewers);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_mode_is_honoured_and_worker_commands_are_forwarded() {
    let origin = TestOrigin::start(&["hot", "warm"]).await;
    let tracker = TestTracker::start().await;
    let (hot, warm) = (origin.live("hot"), origin.live("warm"));
    let hot_hash = console_support::info_hash_of(&hot).await;
    let _viewers = tracker.watch(&hot, &hot_hash, 0, 3).await;
    let sp = TestSuperPeer::start("tok", 3, &tracker.ws_url()).await;
    // Seeding rounds would run every 200 ms, were seeding automatic.
    let mut config = TestConsole::config(vec![tracker.url.clone()]);
    config.seed_interval = std::time::Duration::from_millis(200);
    config.auto_seeding = Some(false);
    let console = TestConsole::start(config).await;
    let id = console.register(&sp, "tok", 1000).await["id"]
        .as_i64()
        .unwrap();

    let (status, _) = console.call("POST", "/api/seeding/run", None).await;
    assert_eq!(status, 409, "no round on demand in manual mode");

    // WARM, which nobody watches, seeded by hand: the planner would stop it at once.
    let v = console
        .post(
            &format!("/api/super-peers/{id}/seed"),
            json!({"channel": warm, "label": "by hand"}),
        )
        .await;
    assert_eq!(v["workers"][0]["channel"], warm, "{v}");
    let workers = sp
        .wait_workers("the hand-seeded worker", |w| w.len() == 1)
        .await;
    assert_eq!(workers[0]["label"], "by hand");
    assert_eq!(workers[0]["live"], true, "derived from the live playlist");
    let pid = workers[0]["pid"].as_u64().unwrap();

    // Restart one worker: a new process, counted in the super peer's /stats.
    console
        .post(
            &format!("/api/super-peers/{id}/workers/{pid}/restart"),
            json!({}),
        )
        .await;
    let restarted = |w: &[Value], gone: &[Value], restarts: u64| {
        !w.is_empty()
            && w.iter().all(|w| !gone.contains(&w["pid"]))
            && w.iter().any(|w| w["restarts"].as_u64() >= Some(restarts))
    };
    let before = [json!(pid)];
    let workers = sp
        .wait_workers("the restarted worker", |w| restarted(w, &before, 1))
        .await;
    let before: Vec<Value> = workers.iter().map(|w| w["pid"].clone()).collect();
    console
        .post(&format!("/api/super-peers/{id}/restart_all"), json!({}))
        .await;
    let workers = sp
        .wait_workers("every worker restarted", |w| restarted(w, &before, 2))
        .await;
    let pids = |w: &[Value]| -> Vec<Value> {
        let mut p: Vec<Value> = w.iter().map(|w| w["pid"].clone()).collect();
        p.sort_by_key(|p| p.as_u64());
        p
    };
    let running = pids(&workers);

    // Several rounds' worth of time later, nothing was planned: the cold channel stays.
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        pids(&sp.workers().await),
        running,
        "manual mode: left alone"
    );
    let log = console.get("/api/decisions").await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|d| d["by"] == "operator"),
        "{log}"
    );
    // The console shows the workers as the super peer reports them.
    let view = console
        .post(&format!("/api/super-peers/{id}/check"), json!({}))
        .await;
    let shown = view["workers"].as_array().unwrap();
    assert_eq!(pids(shown), running, "{view}");
    assert!(shown.iter().any(|w| w["restarts"] == 2), "{view}");

    // Stop (kill) one worker by hand, then all.
    let pid = running[0].as_u64().unwrap();
    console
        .post(
            &format!("/api/super-peers/{id}/workers/{pid}/stop"),
            json!({}),
        )
        .await;
    sp.wait_workers("the worker stopped", |w| {
        w.iter().all(|w| w["pid"] != json!(pid))
    })
    .await;
    console
        .post(&format!("/api/super-peers/{id}/stop_all"), json!({}))
        .await;
    sp.wait_workers("no worker", <[Value]>::is_empty).await;
    // A stop of an unknown worker reports the super peer's refusal.
    let (status, err) = console
        .call(
            "POST",
            &format!("/api/super-peers/{id}/workers/{pid}/stop"),
            None,
        )
        .await;
    assert_eq!(status, 502, "{err}");
    assert!(err["error"].as_str().unwrap().contains("404"), "{err}");

    // Automatic again: the next rounds seed the watched HOT channel on their own.
    let (status, _) = console
        .call("PUT", "/api/seeding", Some(json!({"auto": true})))
        .await;
    assert_eq!(status, 200);
    let workers = sp
        .wait_workers("HOT seeded automatically", |w| {
            w.len() == 1 && w[0]["channelId"] == json!(hot)
        })
        .await;
    assert_eq!(workers[0]["label"], "auto");
    let log = console
        .get(&format!("/api/decisions?channel={}", urlencode(&hot)))
        .await;
    assert_eq!(log[0]["by"], "auto", "{log}");
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_history_accumulates_per_channel_and_overall() {
    const HOT: &str = "http://127.0.0.1:1/live/hot/index.m3u8";
    const WARM: &str = "http://127.0.0.1:1/live/warm/index.m3u8";
    let tracker = TestTracker::start().await;
    let hot = [
        tracker.viewer("HOTxxxxxxxxxxxxxxxxx", 0).await,
        tracker.viewer("HOTxxxxxxxxxxxxxxxxx", 1).await,
    ];
    let warm = tracker.viewer("WARMxxxxxxxxxxxxxxxx", 2).await;
    tracker.report(&hot[0], HOT, 1_000, 4_000).await;
    tracker.report(&warm, WARM, 500, 0).await;
    let mut config = TestConsole::config(vec![tracker.url.clone()]);
    config.auto_seeding = Some(false);
    let console = TestConsole::start(config).await;
    let poll = || async {
        let snapshot = console.handle.poll_trackers().await;
        assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    };
    // First poll: baseline only.
    poll().await;
    tracker.report(&hot[0], HOT, 3_000, 10_000).await;
    tracker.report(&warm, WARM, 600, 0).await;
    poll().await;
    let history = console
        .get(&format!(
            "/api/traffic?channel={}&range=3600",
            urlencode(HOT)
        ))
        .await;
    let series = &history["series"];
    assert_eq!(series["step_secs"], 10);
    let sum = |s: &Value, k: &str| -> u64 {
        s[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum(series, "http_bytes"), 2_000);
    assert_eq!(sum(series, "p2p_bytes"), 6_000);
    let peak = series["viewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .max();
    assert_eq!(peak, Some(2), "two viewers announced, one reported");
    assert_eq!(history["channels"], json!([HOT, WARM]));

    let all = console.get("/api/traffic").await;
    assert_eq!(sum(&all["series"], "http_bytes"), 2_100);
    let day = console.get("/api/traffic?range=86400").await;
    assert_eq!(day["series"]["step_secs"], 60);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_of_one_tracker_cluster_count_once_and_each_shows_its_own_load() {
    const CHANNEL: &str = "http://127.0.0.1:1/live/clustered/index.m3u8";
    let hash = "CLUSTERxxxxxxxxxxxxx";
    let redis = TestRedis::start();
    let a = TestTracker::start_node(&redis.url).await;
    let b = TestTracker::start_node(&redis.url).await;
    let clustered = |t: &TestTracker| {
        let url = format!("{}/cluster", t.url);
        async move { get_json(&url).await["nodes"] == 2 }
    };
    let until = Instant::now() + Duration::from_secs(20);
    while !(clustered(&a).await && clustered(&b).await) {
        assert!(
            Instant::now() < until,
            "the two nodes never formed a cluster"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_a = [a.viewer(hash, 0).await, a.viewer(hash, 1).await];
    let _on_b = b.viewer(hash, 2).await;
    a.report(&on_a[0], CHANNEL, 100, 300).await;
    let until = Instant::now() + Duration::from_secs(20);
    while a.peers(CHANNEL).await != 3 || b.peers(CHANNEL).await != 3 {
        assert!(Instant::now() < until, "the nodes never listed the 3 peers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut config = TestConsole::config(vec![a.url.clone(), b.url.clone()]);
    config.auto_seeding = Some(false);
    let console = TestConsole::start(config).await;
    let snapshot = console.handle.poll_trackers().await;
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    let channel = snapshot
        .channels
        .iter()
        .find(|c| c.channel == CHANNEL)
        .expect("the channel is ranked");
    assert_eq!(
        (channel.peers, channel.viewers),
        (3, 3),
        "both nodes list all 3 peers; counted once"
    );
    let overview = console.get("/api/overview").await;
    assert_eq!(overview["viewers"], 3);
    let nodes = overview["tracker_nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["cluster"], nodes[1]["cluster"]);
    assert!(nodes[0]["cluster"].is_string());
    let own: Vec<u64> = nodes.iter().map(|n| n["peers"].as_u64().unwrap()).collect();
    assert_eq!(own, [2, 1], "each node's own peers");
    // Node A goes: B still answers for the cluster, so the ranking is whole.
    a.stop().await;
    let snapshot = console.handle.poll_trackers().await;
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    assert_eq!(snapshot.node_errors.len(), 1);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_outage_stops_nothing() {
    let origin = TestOrigin::start(&["hot"]).await;
    let tracker = TestTracker::start().await;
    let hot = origin.live("hot");
    let _viewers = tracker
        .watch(&hot, &console_support::info_hash_of(&hot).await, 0, 2)
        .await;
    let sp = TestSuperPeer::start("", 2, &tracker.ws_url()).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    console.register(&sp, "", 1000).await;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"][0]["action"], "seed", "{round}");
    let pid = sp.wait_workers("a worker", |w| w.len() == 1).await[0]["pid"].clone();

    tracker.stop().await;
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"], json!([]), "{round}");
    let channels = console.get("/api/channels").await;
    assert!(
        !channels["errors"].as_array().unwrap().is_empty(),
        "{channels}"
    );
    let workers = sp.workers().await;
    assert_eq!(workers.len(), 1, "the worker keeps seeding");
    assert_eq!(workers[0]["pid"], pid);
    assert_eq!(
        console.get("/api/super-peers").await[0]["workers"][0]["pid"],
        pid
    );
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_super_peer_without_room_gets_nothing() {
    let origin = TestOrigin::start(&["hot"]).await;
    let tracker = TestTracker::start().await;
    let hot = origin.live("hot");
    let _viewers = tracker
        .watch(&hot, &console_support::info_hash_of(&hot).await, 0, 2)
        .await;
    let sp = TestSuperPeer::start("", 2, &tracker.ws_url()).await;
    // Its operator forced it to run no worker.
    let (status, v) = sp.call("POST", "/ping", Some(json!({"workers": 0}))).await;
    assert_eq!(status, 200, "{v}");
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    let added = console.register(&sp, "", 1000).await;
    assert_eq!(added["workers_limit"], 0, "{added}");
    let round = console.post("/api/seeding/run", json!({})).await;
    assert_eq!(round["actions"][0]["action"], "unplaced", "{round}");
    assert!(
        round["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("has room"),
        "{round}"
    );
    let stats = sp.stats().await;
    assert_eq!(stats["channels"], json!([]), "nothing seeded: {stats}");
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_listed_by_url_are_seeded_though_their_viewers_report_nothing() {
    let origin = TestOrigin::start(&["plain", "other"]).await;
    let tracker = TestTracker::start().await;
    let (plain, other) = (origin.live("plain"), origin.vod("other"));
    let plain_hash = console_support::info_hash_of(&plain).await;
    let other_hash = console_support::info_hash_of(&other).await;
    // Viewers as unmodified P2P Media Loader clients are: they announce and report nothing.
    let mut viewers = Vec::new();
    for peer in 0..3 {
        viewers.push(tracker.viewer(&plain_hash, peer).await);
    }
    viewers.push(tracker.viewer(&other_hash, 10).await);
    let sp = TestSuperPeer::start("", 2, &tracker.ws_url()).await;
    let console = TestConsole::start(TestConsole::config(vec![tracker.url.clone()])).await;
    console.register(&sp, "", 1000).await;

    // Known by info-hash only, no channel can be seeded.
    let round = console.post("/api/seeding/run", json!({})).await;
    let actions = round["actions"].as_array().unwrap();
    assert!(
        actions.iter().all(|a| a["action"] != "seed"),
        "nothing seedable yet: {round}"
    );

    // PLAIN listed by URL, OTHER through an M3U index of relative URLs.
    let (status, listed) = console
        .call("POST", "/api/listed-channels", Some(json!({"url": plain})))
        .await;
    assert_eq!(status, 201, "{listed}");
    let hex: String = plain_hash.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(listed["channels"][0]["channel"], plain, "{listed}");
    assert_eq!(
        listed["channels"][0]["info_hashes"],
        json!([hex]),
        "{listed}"
    );
    origin.write(
        "channels.m3u",
        "#EXTM3U\n#EXTINF:-1,Other\nother/index.m3u8\n",
    );
    let index = format!("{}/channels.m3u", origin.url);
    let (status, listed) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": index, "kind": "index"})),
        )
        .await;
    assert_eq!(status, 201, "{listed}");
    assert_eq!(listed["sources"].as_array().unwrap().len(), 2, "{listed}");
    assert!(
        listed["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel"] == json!(other) && c["error"].is_null()),
        "{listed}"
    );

    // Bad input: a clear error, nothing listed.
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": "ftp://x/a"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = console
        .call(
            "POST",
            "/api/listed-channels",
            Some(json!({"url": "http://o/a", "kind": "x"})),
        )
        .await;
    assert!(status == 400 || status == 422, "{status} {v}");
    let (status, _) = console
        .call("DELETE", "/api/listed-channels/999", None)
        .await;
    assert_eq!(status, 404);

    // Both channels are ranked with their viewers and seeded.
    let round = console.post("/api/seeding/run", json!({})).await;
    let seeded: Vec<&Value> = round["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "seed")
        .collect();
    assert_eq!(seeded.len(), 2, "{round}");
    assert_eq!(seeded[0]["channel"], plain, "the hotter first: {round}");
    assert_eq!(seeded[1]["channel"], other, "{round}");
    sp.wait_workers("workers for both listed channels", |w| {
        w.len() == 2 && w.iter().all(|w| w["signal"].is_string())
    })
    .await;
    // The tracker knows PLAIN by info-hash only: the console's view names it, with the
    // worker's announce among the peers and not among the viewers.
    let row_of = |channels: &Value| {
        channels["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == json!(plain))
            .cloned()
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let row = loop {
        console.post("/api/seeding/run", json!({})).await;
        let row = row_of(&console.get("/api/channels").await);
        if row["peers"] == 4 || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(row["peers"], 4, "three viewers and the worker: {row}");
    assert_eq!(row["viewers"], 3, "the worker is not a viewer: {row}");

    // Unlisting PLAIN leaves it known by info-hash only again; OTHER stays.
    let listed = console.get("/api/listed-channels").await;
    let id = listed["sources"][0]["id"].as_i64().unwrap();
    let (status, _) = console
        .call("DELETE", &format!("/api/listed-channels/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let listed = console.get("/api/listed-channels").await;
    assert_eq!(listed["sources"].as_array().unwrap().len(), 1, "{listed}");
    drop(viewers);
    console.stop().await;
}
