//! Tracker nodes clustered on a real `redis-server` (Debian package `redis-server`, started by
//! each test on a free loopback port). Each node runs in a runtime of its own, so a node can
//! be killed outright: its tasks and sockets vanish without a goodbye.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use tracker::{ClusterConfig, TrackerConfig};

mod support;

use support::{announce, peer, recv, send, Ws, HASH};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics of any thread (a node's task included), for the final assertions.
fn watch_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis { port, child: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) on its port, without persistence: a restart loses every key.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the cluster tests: scripts/setup.sh test installs the Debian package redis-server");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not listen on port {}", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A tracker node in a runtime of its own.
struct Node {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Node {
    fn start(redis: &Redis) -> Node {
        let mut cluster = ClusterConfig::new(redis.url());
        cluster.beat = Duration::from_millis(100);
        cluster.node_ttl = Duration::from_millis(1500);
        cluster.max_backoff = Duration::from_millis(300);
        let config = TrackerConfig {
            cluster: Some(cluster),
            ..TrackerConfig::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tracker::serve(listener, config, std::future::pending()).await
        });
        Node {
            addr,
            runtime: Some(runtime),
        }
    }

    /// Gone at once, as with SIGKILL: no goodbye to the cluster.
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    async fn connect(&self) -> Ws {
        tokio_tungstenite::connect_async(format!("ws://{}/announce", self.addr))
            .await
            .unwrap()
            .0
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("http://{}{path}", self.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn cluster(&self) -> Value {
        self.get("/cluster").await
    }

    /// Peers of the test swarm as this node sees them.
    async fn swarm_peers(&self) -> u64 {
        let hex: String = HASH.bytes().map(|b| format!("{b:02x}")).collect();
        let v = self.get(&format!("/channels/{hex}")).await;
        v["peers"].as_u64().unwrap_or(0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` until it holds (the cluster converges within beats, not instantly).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

async fn all_connected(nodes: &[&Node], count: u64) {
    for node in nodes {
        eventually("every node joined the cluster", || async {
            let c = node.cluster().await;
            c["connected"] == true && c["nodes"].as_u64() == Some(count)
        })
        .await;
    }
}

fn answer(from: &str, to: &str, offer_id: &str) -> Value {
    json!({"action": "announce", "info_hash": HASH, "peer_id": from, "to_peer_id": to,
           "offer_id": offer_id, "answer": {"type": "answer", "sdp": "ans"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_form_one_tracker_and_a_killed_nodes_peers_expire() {
    watch_panics();
    let redis = Redis::start();
    let a = Node::start(&redis);
    let b = Node::start(&redis);
    let mut c = Node::start(&redis);
    all_connected(&[&a, &b, &c], 3).await;
    let cluster_id = a.cluster().await["cluster"].clone();
    assert!(cluster_id.is_string());
    assert_eq!(b.cluster().await["cluster"], cluster_id);

    let mut on_a = a.connect().await;
    send(&mut on_a, announce(&peer(0), 0)).await;
    assert_eq!(recv(&mut on_a).await["incomplete"], 1);
    let mut on_c = c.connect().await;
    send(&mut on_c, announce(&peer(2), 0)).await;
    recv(&mut on_c).await;
    eventually("B sees the peers of A and C", || async {
        b.swarm_peers().await == 2
    })
    .await;

    // An announce on B finds the peers of A and C: its two offers go one to each node.
    let mut on_b = b.connect().await;
    send(&mut on_b, announce(&peer(1), 2)).await;
    assert_eq!(recv(&mut on_b).await["incomplete"], 3);
    let offer_a = recv(&mut on_a).await;
    let offer_c = recv(&mut on_c).await;
    for offer in [&offer_a, &offer_c] {
        assert_eq!(offer["action"], "announce");
        assert_eq!(offer["peer_id"], peer(1));
        assert_eq!(offer["offer"]["type"], "offer");
    }
    // Both answer on their own node; the answers come back to B.
    for (ws, me, offer) in [(&mut on_a, 0, &offer_a), (&mut on_c, 2, &offer_c)] {
        let offer_id = offer["offer_id"].as_str().unwrap();
        send(ws, answer(&peer(me), &peer(1), offer_id)).await;
    }
    let mut answered = Vec::new();
    for _ in 0..2 {
        let answer = recv(&mut on_b).await;
        assert_eq!(answer["answer"]["sdp"], "ans");
        answered.push(answer["peer_id"].as_str().unwrap().to_owned());
    }
    answered.sort();
    assert_eq!(answered, vec![peer(0), peer(2)]);
    // An answer for an offer never relayed to that peer is refused, as on one node.
    send(
        &mut on_a,
        answer(&peer(0), &peer(1), "\u{0}\u{ff}offer-9-xxxxxxxxxxx"),
    )
    .await;
    assert_eq!(recv(&mut on_a).await["action"], "announce");

    // Stats reported to A count on every node.
    let report = json!({"action": "stats", "info_hash": HASH, "peer_id": peer(0),
        "channel": "https://cdn.example/live.m3u8", "http_down": 1000, "p2p_down": 3000, "p2p_up": 0, "peers": 1, "rebuffers": 0});
    send(&mut on_a, report).await;
    eventually("C lists the channel A's viewer reported", || async {
        let hex: String = HASH.bytes().map(|b| format!("{b:02x}")).collect();
        let v = c.get(&format!("/channels/{hex}")).await;
        v["channel"] == "https://cdn.example/live.m3u8" && v["p2p_bytes"] == 3000
    })
    .await;
    let channels = a.get("/channels").await;
    assert_eq!(channels["node"]["cluster"], cluster_id);
    assert_eq!(channels["channels"][0]["peers"], 3);
    let metrics = reqwest::get(format!("http://{}/metrics", b.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tracker_cluster_connected 1"), "{metrics}");
    assert!(metrics.contains("tracker_local_peers 1"), "{metrics}");
    assert!(metrics.contains("tracker_peers 3"), "{metrics}");

    // C is killed: its peer leaves A's and B's swarms once C falls silent.
    c.kill();
    drop(on_c);
    eventually("A and B drop the peer of the killed node", || async {
        a.swarm_peers().await == 2 && b.swarm_peers().await == 2
    })
    .await;
    all_connected(&[&a, &b], 2).await;
    // Offers from B now reach A only.
    send(&mut on_b, announce(&peer(1), 2)).await;
    assert_eq!(recv(&mut on_b).await["incomplete"], 2);
    assert_eq!(recv(&mut on_a).await["peer_id"], peer(1));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a node panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_serve_their_own_peers_without_redis_and_recover_when_it_returns() {
    watch_panics();
    let mut redis = Redis::start();
    let a = Node::start(&redis);
    let b = Node::start(&redis);
    all_connected(&[&a, &b], 2).await;
    let cluster_id = a.cluster().await["cluster"].clone();
    let mut on_a = a.connect().await;
    send(&mut on_a, announce(&peer(0), 0)).await;
    recv(&mut on_a).await;

    redis.kill();
    eventually("both nodes notice Redis is gone", || async {
        a.cluster().await["connected"] == false && b.cluster().await["connected"] == false
    })
    .await;
    // Local-only: each node forgot the other's peers (no offer could reach them) and B still
    // serves its own, so B's one offer reaches B's other peer.
    assert_eq!(a.swarm_peers().await, 1);
    assert_eq!(b.swarm_peers().await, 0);
    let mut on_b1 = b.connect().await;
    let mut on_b2 = b.connect().await;
    send(&mut on_b1, announce(&peer(1), 0)).await;
    recv(&mut on_b1).await;
    send(&mut on_b2, announce(&peer(2), 1)).await;
    recv(&mut on_b2).await;
    let offer = recv(&mut on_b1).await;
    assert_eq!(offer["peer_id"], peer(2));

    // Redis comes back empty: the nodes register their peers again by themselves.
    redis.restart();
    all_connected(&[&a, &b], 2).await;
    eventually("A sees B's peers again and B sees A's", || async {
        a.swarm_peers().await == 3 && b.swarm_peers().await == 3
    })
    .await;
    let mut on_b3 = b.connect().await;
    send(&mut on_b3, announce(&peer(3), 3)).await;
    assert_eq!(recv(&mut on_b3).await["incomplete"], 4);
    let offer = recv(&mut on_a).await;
    assert_eq!(offer["peer_id"], peer(3));
    // Redis lost the cluster id with its data: the nodes put back the one they knew.
    assert_eq!(a.cluster().await["cluster"], cluster_id);
    let late = Node::start(&redis);
    all_connected(&[&a, &b, &late], 3).await;
    assert_eq!(late.cluster().await["cluster"], cluster_id);
    let offer_id = offer["offer_id"].as_str().unwrap();
    send(&mut on_a, answer(&peer(0), &peer(3), offer_id)).await;
    // B's own peers got the other two offers; the answer from A is among what reaches B.
    let mut from_a = false;
    for _ in 0..3 {
        let msg = tokio::time::timeout(Duration::from_secs(5), recv(&mut on_b3))
            .await
            .unwrap();
        if msg["answer"].is_object() && msg["peer_id"] == peer(0) {
            from_a = true;
            break;
        }
    }
    assert!(from_a, "A's answer reached B after Redis came back");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a node panicked");
}
