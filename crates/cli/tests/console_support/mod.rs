//! Real servers for the console's API tests: the console, the tracker and the origin in
//! process, and `swarmcast superpeer` masters as processes with real worker processes.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Bounded wait for a condition another process makes true.
pub const WAIT: Duration = Duration::from_secs(60);

async fn http_call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn get_json(url: &str) -> Value {
    let (status, v) = http_call("GET", url, &[], None).await;
    assert_eq!(status, 200, "GET {url}: {v}");
    v
}

pub async fn get_text(url: &str) -> String {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.text().await.unwrap()
}

// ---------------------------------------------------------------------------------------
// Origin: the real origin router over a folder of small HLS streams.

/// A VOD playlist of `segments` two-second segments named `s{i}.ts`.
fn vod_playlist(segments: u32) -> String {
    let mut p = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
    );
    for i in 0..segments {
        p.push_str(&format!("#EXTINF:2.0,\ns{i}.ts\n"));
    }
    p.push_str("#EXT-X-ENDLIST\n");
    p
}

pub struct TestOrigin {
    pub url: String,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestOrigin {
    /// Serves streams `names` (each `/NAME/index.m3u8` VOD, `/live/NAME/index.m3u8` its
    /// looping live version) with segments of MPEG-TS sync bytes.
    pub async fn start(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let folder = dir.path().join(name);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join("index.m3u8"), vod_playlist(8)).unwrap();
            for i in 0..8 {
                std::fs::write(folder.join(format!("s{i}.ts")), vec![0x47u8; 188 * 40]).unwrap();
            }
        }
        let app = origin::router(origin::OriginConfig {
            root: dir.path().to_owned(),
            mounts: Vec::new(),
            embedded: Vec::new(),
            live_window: 4,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestOrigin {
            url,
            _dir: dir,
            task,
        }
    }

    /// The looping live stream of `name`.
    pub fn live(&self, name: &str) -> String {
        format!("{}/live/{name}/index.m3u8", self.url)
    }

    /// Writes a file the origin then serves at `/{name}`.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self._dir.path().join(name), contents).unwrap();
    }

    /// The VOD stream of `name`.
    pub fn vod(&self, name: &str) -> String {
        format!("{}/{name}/index.m3u8", self.url)
    }
}

/// The tracker info-hash of a single-rendition HLS channel, derived the way P2P Media Loader
/// and the super peer's workers derive it, so test viewers join the workers' swarm.
pub async fn info_hash_of(manifest_url: &str) -> String {
    use wire::swarm_id;
    let text = get_text(manifest_url).await;
    let streams = swarm_id::hls::streams(&text);
    assert_eq!(streams.len(), 1, "one rendition in {manifest_url}");
    let base = swarm_id::swarm_base(manifest_url, None);
    let id = swarm_id::stream_swarm_id(
        base,
        streams[0].stream_type,
        &streams[0].identity.short_id(),
    );
    swarm_id::info_hash(&id)
}

// ---------------------------------------------------------------------------------------
// Tracker: the real one, with viewers that announce over WebSocket and report SDK stats.

pub struct TestTracker {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestTracker {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A viewer in one swarm: an open, announced tracker socket.
pub struct Viewer {
    ws: Ws,
    pub info_hash: String,
    pub peer_id: String,
}

impl Viewer {
    /// Closes the socket: the tracker drops the peer.
    pub async fn leave(mut self) {
        let _ = self.ws.close(None).await;
    }
}

impl TestTracker {
    pub async fn start() -> Self {
        Self::start_with(tracker::TrackerConfig::default()).await
    }

    /// A node of the cluster on the Redis at `redis_url`.
    pub async fn start_node(redis_url: &str) -> Self {
        let mut cluster = tracker::ClusterConfig::new(redis_url);
        cluster.beat = Duration::from_millis(100);
        Self::start_with(tracker::TrackerConfig {
            cluster: Some(cluster),
            ..tracker::TrackerConfig::default()
        })
        .await
    }

    pub async fn start_with(config: tracker::TrackerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tracker::serve(listener, config, async {
            let _ = stopped.await;
        }));
        TestTracker {
            url,
            stop: Some(stop),
            task,
        }
    }

    pub fn ws_url(&self) -> String {
        self.url.replace("http://", "ws://")
    }

    /// Shuts the tracker down and waits until it no longer listens.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }

    /// Opens a socket and announces peer number `peer` in swarm `info_hash`. Offers none
    /// and wants none: these viewers only make the swarm count.
    pub async fn viewer(&self, info_hash: &str, peer: u32) -> Viewer {
        use futures_util::{SinkExt, StreamExt};
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/announce", self.ws_url()))
            .await
            .unwrap();
        let peer_id = format!("-SC0001-{peer:012}");
        let announce = json!({"action": "announce", "info_hash": info_hash, "peer_id": peer_id,
            "numwant": 0, "uploaded": 0, "downloaded": 0, "event": "started", "offers": []});
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            announce.to_string(),
        ))
        .await
        .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an announce reply within 10 s");
        assert!(matches!(reply, Some(Ok(_))), "announce reply: {reply:?}");
        Viewer {
            ws,
            info_hash: info_hash.into(),
            peer_id,
        }
    }

    /// `n` viewers of `channel`, peer numbers from `first`; the first one reports SDK stats,
    /// which is how the tracker learns the swarm's channel id.
    pub async fn watch(&self, channel: &str, info_hash: &str, first: u32, n: u32) -> Vec<Viewer> {
        let mut viewers = Vec::new();
        for i in 0..n {
            viewers.push(self.viewer(info_hash, first + i).await);
        }
        self.report(&viewers[0], channel, 0, 0).await;
        viewers
    }

    /// What the SDK reports: cumulative bytes since page load, for channel `channel`.
    pub async fn report(&self, viewer: &Viewer, channel: &str, http: u64, p2p: u64) {
        let body = json!({"action": "stats", "info_hash": viewer.info_hash, "peer_id": viewer.peer_id,
            "channel": channel, "http_down": http, "p2p_down": p2p, "p2p_up": p2p / 2,
            "peers": 1, "rebuffers": 0});
        let (status, v) = http_call("POST", &format!("{}/stats", self.url), &[], Some(&body)).await;
        assert!((200..300).contains(&status), "POST /stats: {status} {v}");
    }

    /// Peers the tracker counts in `channel`'s swarms (0 when it does not list it).
    pub async fn peers(&self, channel: &str) -> u64 {
        let v = get_json(&format!("{}/channels", self.url)).await;
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["channel"] == channel)
            .map(|s| s["peers"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Bounded wait until the tracker counts `want` peers in `channel`'s swarms.
    pub async fn wait_peers(&self, channel: &str, want: u64) {
        let until = Instant::now() + WAIT;
        loop {
            let have = self.peers(channel).await;
            if have == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "the tracker lists {have} peers for {channel}, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Super peer: `swarmcast superpeer` in its own folder, workers as its child processes.

pub struct TestSuperPeer {
    pub url: String,
    pub token: String,
    _master: crate::superpeer_support::Master,
}

impl TestSuperPeer {
    /// Starts a master with access token `token` (empty: none), at most `max_workers`
    /// workers, announcing on `signal1`, with fast worker reports and restarts.
    pub async fn start(token: &str, max_workers: u32, signal1: &str) -> Self {
        let mut env = format!(
            "listenPort=0\nlistenHost=127.0.0.1\nsignal1={signal1}\nmaxWorkers={max_workers}\n\
             statsIntervalMs=200\nrestartBackoffMinMs=200\ncacheDir=cache\ncacheSizeMB=16\n\
             originHosts=127.0.0.1\n"
        );
        if !token.is_empty() {
            env.push_str(&format!("accessToken={token}\n"));
        }
        // Waits (on a blocking thread) for the master's "REST API on" line.
        let master =
            tokio::task::spawn_blocking(move || crate::superpeer_support::Master::start(&env))
                .await
                .expect("the super peer started");
        TestSuperPeer {
            url: format!("http://127.0.0.1:{}", master.port),
            token: token.into(),
            _master: master,
        }
    }

    /// A request to the master's REST API, as an operator would make it.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = if self.token.is_empty() {
            vec![]
        } else {
            vec![("X-ACCESS-TOKEN", self.token.as_str())]
        };
        http_call(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.as_ref(),
        )
        .await
    }

    pub async fn stats(&self) -> Value {
        let (status, v) = self.call("GET", "/stats", None).await;
        assert_eq!(status, 200, "GET /stats: {v}");
        v
    }

    /// Workers that are not on their way out.
    pub async fn workers(&self) -> Vec<Value> {
        self.stats().await["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] != "stopping")
            .cloned()
            .collect()
    }

    /// Bounded wait until the workers satisfy `pred`; returns them.
    pub async fn wait_workers(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + WAIT;
        loop {
            let w = self.workers().await;
            if pred(&w) {
                return w;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}: {w:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Console: in process, on an ephemeral port.

pub const ADMIN: &str = "admin-secret";

pub struct TestConsole {
    pub url: String,
    pub handle: std::sync::Arc<console::Console>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestConsole {
    /// Long loop intervals: tests drive seeding with `POST /api/seeding/run`.
    pub fn config(trackers: Vec<String>) -> console::ConsoleConfig {
        console::ConsoleConfig {
            admin_token: ADMIN.into(),
            // Everything here runs on 127.0.0.1: the super peers and the origin.
            super_peer_hosts: vec!["127.0.0.1".into()],
            origin_hosts: vec!["127.0.0.1".into()],
            trackers,
            seed_interval: Duration::from_secs(3600),
            health_interval: Duration::from_secs(3600),
            traffic_interval: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(10),
            ..console::ConsoleConfig::default()
        }
    }

    pub async fn start(config: console::ConsoleConfig) -> Self {
        let handle = console::Console::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(console::serve_console(
            listener,
            handle.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        TestConsole {
            url,
            handle,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {ADMIN}");
        http_call(
            method,
            &format!("{}{path}", self.url),
            &[("Authorization", auth.as_str())],
            body.as_ref(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.call("POST", path, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    /// Registers `sp` with the given access token; returns the API's view of it.
    pub async fn register(&self, sp: &TestSuperPeer, token: &str, bandwidth: u32) -> Value {
        let (status, v) = self
            .call(
                "POST",
                "/api/super-peers",
                Some(json!({"url": sp.url, "bandwidth_mbps": bandwidth, "access_token": token, "label": "eu-1"})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `redis-server` (Debian package) on a free loopback port, killed on drop.
pub struct TestRedis {
    pub url: String,
    child: std::process::Child,
}

impl TestRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed: scripts/setup.sh test installs the Debian package redis-server");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(25));
        }
        TestRedis {
            url: format!("redis://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
