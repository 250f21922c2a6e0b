//! Test servers for the console's API tests.
//!
//! `RecordingSuperPeer` is a recording fake of the super peer master's REST API: it keeps
//! workers in memory, checks `X-ACCESS-TOKEN`, and records every call, so tests can assert
//! what the console asked for; it stands in until the real super peer is usable from these
//! tests. `RealTracker` is the real tracker, in process, with viewers over WebSocket.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub async fn spawn(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

#[derive(Debug, Clone)]
pub struct FakeWorker {
    pub pid: u32,
    pub channel_b64: String,
    pub label: String,
    pub restarts: u32,
    pub peers: u32,
}

#[derive(Debug, Default)]
pub struct SuperPeerState {
    pub token: String,
    pub workers_limit: u32,
    pub workers: Vec<FakeWorker>,
    /// `(method path, body)` of every authorised call, in order.
    pub calls: Vec<(String, Value)>,
    pub last_bandwidth: Option<u64>,
    next_pid: u32,
}

pub struct RecordingSuperPeer {
    pub url: String,
    pub state: Arc<Mutex<SuperPeerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingSuperPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<SuperPeerState>>;

fn authorised(s: &Shared, headers: &HeaderMap) -> bool {
    let want = s.lock().unwrap().token.clone();
    want.is_empty()
        || headers
            .get("x-access-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == want)
}

fn record(s: &Shared, what: String, body: Value) {
    s.lock().unwrap().calls.push((what, body));
}

impl RecordingSuperPeer {
    pub async fn start(token: &str, workers_limit: u32) -> Self {
        let state: Shared = Arc::new(Mutex::new(SuperPeerState {
            token: token.into(),
            workers_limit,
            next_pid: 1000,
            ..SuperPeerState::default()
        }));
        async fn ping(
            State(s): State<Shared>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> impl IntoResponse {
            if !authorised(&s, &headers) {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": "bad token"})),
                );
            }
            record(&s, "POST /ping".into(), body.clone());
            let mut st = s.lock().unwrap();
            st.last_bandwidth = body.get("bandwidth").and_then(Value::as_u64);
            (StatusCode::OK, Json(json!({ "workers": st.workers_limit })))
        }
        async fn seed(
            State(s): State<Shared>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> impl IntoResponse {
            if !authorised(&s, &headers) {
                return StatusCode::UNAUTHORIZED;
            }
            record(&s, "POST /seed".into(), body.clone());
            let mut st = s.lock().unwrap();
            for entry in body["list"].as_array().cloned().unwrap_or_default() {
                st.next_pid += 1;
                let pid = st.next_pid;
                st.workers.push(FakeWorker {
                    pid,
                    channel_b64: entry["channel"].as_str().unwrap_or_default().into(),
                    label: entry["label"].as_str().unwrap_or_default().into(),
                    restarts: 0,
                    peers: 2,
                });
            }
            StatusCode::OK
        }
        async fn stats(State(s): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
            if !authorised(&s, &headers) {
                return (StatusCode::UNAUTHORIZED, Json(json!({})));
            }
            let st = s.lock().unwrap();
            let workers: Vec<Value> = st
                .workers
                .iter()
                .map(|w| {
                    json!({"pid": w.pid, "channel": w.channel_b64, "label": w.label, "live": true,
                           "peers": w.peers, "uploadedKB": 1234, "cpu": 3.5, "rssMB": 42.0,
                           "uptime": 60, "restarts": w.restarts})
                })
                .collect();
            (StatusCode::OK, Json(json!({ "workers": workers })))
        }
        async fn op(
            State(s): State<Shared>,
            headers: HeaderMap,
            Path((op, pid)): Path<(String, u32)>,
        ) -> StatusCode {
            if !authorised(&s, &headers) {
                return StatusCode::UNAUTHORIZED;
            }
            record(&s, format!("POST /{op}/{pid}"), Value::Null);
            let mut st = s.lock().unwrap();
            let Some(i) = st.workers.iter().position(|w| w.pid == pid) else {
                return StatusCode::NOT_FOUND;
            };
            if op == "stop" {
                st.workers.remove(i);
            } else {
                st.workers[i].restarts += 1;
            }
            StatusCode::OK
        }
        async fn all(
            State(s): State<Shared>,
            headers: HeaderMap,
            Path(op): Path<String>,
        ) -> StatusCode {
            if !authorised(&s, &headers) {
                return StatusCode::UNAUTHORIZED;
            }
            record(&s, format!("POST /{op}"), Value::Null);
            let mut st = s.lock().unwrap();
            match op.as_str() {
                "stop_all" => st.workers.clear(),
                "restart_all" => st.workers.iter_mut().for_each(|w| w.restarts += 1),
                _ => return StatusCode::NOT_FOUND,
            }
            StatusCode::OK
        }
        let app = Router::new()
            .route("/ping", post(ping))
            .route("/seed", post(seed))
            .route("/stats", get(stats))
            .route("/{op}/{pid}", post(op))
            .route("/{op}", post(all))
            .with_state(state.clone());
        let (addr, task) = spawn(app).await;
        RecordingSuperPeer {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Bodies of the `POST /seed` calls.
    pub fn seeds(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(c, _)| c == "POST /seed")
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn workers(&self) -> Vec<FakeWorker> {
        self.state.lock().unwrap().workers.clone()
    }
}

/// The real tracker (`tracker::serve`) on an ephemeral port, with viewers that announce over
/// WebSocket and report SDK stats over `POST /stats`.
pub struct RealTracker {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for RealTracker {
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

impl RealTracker {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tracker::serve(
            listener,
            tracker::TrackerConfig::default(),
            async {
                let _ = stopped.await;
            },
        ));
        RealTracker {
            url,
            stop: Some(stop),
            task,
        }
    }

    /// Shuts the tracker down and waits until it no longer listens.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let task = &mut self.task;
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    }

    /// Opens a socket and announces `peer` (0..) in swarm `info_hash` (20 chars).
    pub async fn viewer(&self, info_hash: &str, peer: u32) -> Viewer {
        use futures_util::{SinkExt, StreamExt};
        let ws_url = self.url.replace("http://", "ws://");
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}/announce"))
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
        // The tracker answers every announce; once it has, the peer is in the swarm.
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an announce reply within 5 s");
        assert!(matches!(reply, Some(Ok(_))), "announce reply: {reply:?}");
        Viewer {
            ws,
            info_hash: info_hash.into(),
            peer_id,
        }
    }

    /// What the SDK reports: cumulative bytes since page load, for channel `channel`.
    pub async fn report(&self, viewer: &Viewer, channel: &str, http: u64, p2p: u64) {
        let body = json!({"action": "stats", "info_hash": viewer.info_hash, "peer_id": viewer.peer_id,
            "channel": channel, "http_down": http, "p2p_down": p2p, "p2p_up": p2p / 2,
            "peers": 1, "rebuffers": 0});
        let resp = reqwest::Client::new()
            .post(format!("{}/stats", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "POST /stats: {}", resp.status());
    }

    /// Peers the tracker lists for `channel` (bounded wait for a change to show).
    pub async fn wait_peers(&self, channel: &str, want: u64) {
        for _ in 0..100 {
            let v: Value = reqwest::get(format!("{}/channels", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let peers: u64 = v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["channel"] == channel)
                .map(|s| s["peers"].as_u64().unwrap_or(0))
                .sum();
            if peers == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the tracker never listed {want} peers for {channel}");
    }
}

impl Viewer {
    /// Closes the socket: the tracker drops the peer.
    pub async fn leave(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A console served in-process on an ephemeral port.
pub struct TestConsole {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestConsole {
    /// Long loop intervals: tests drive seeding with `POST /api/seeding/run`.
    pub fn config(trackers: Vec<String>) -> console::ConsoleConfig {
        console::ConsoleConfig {
            admin_token: "admin-secret".into(),
            trackers,
            seed_interval: Duration::from_secs(3600),
            health_interval: Duration::from_secs(3600),
            traffic_interval: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(3),
            ..console::ConsoleConfig::default()
        }
    }

    pub async fn start(config: console::ConsoleConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let token = config.admin_token.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(console::serve(listener, config, async move {
            let _ = rx.await;
        }));
        TestConsole {
            url,
            token,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A client of a console served elsewhere in the test.
    pub fn attach(url: String, token: &str) -> Self {
        TestConsole {
            url,
            token: token.into(),
            http: reqwest::Client::new(),
            stop: None,
            task: None,
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
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
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
}

pub fn b64(s: &str) -> String {
    console::superpeer::encode_channel(s)
}
