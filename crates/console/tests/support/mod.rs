//! Test servers for the console's API tests.
//!
//! `RecordingSuperPeer` is a recording fake of the super peer master's REST API: it keeps
//! workers in memory, checks `X-ACCESS-TOKEN`, and records every call, so tests can assert
//! what the console asked for. `ScriptedTracker` serves a `GET /channels` body the test sets.
//! Both stand in until the real super peer and tracker binaries are usable from these tests.

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

pub struct ScriptedTracker {
    pub url: String,
    pub body: Arc<Mutex<Value>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedTracker {
    pub async fn start() -> Self {
        let body = Arc::new(Mutex::new(json!({ "channels": [] })));
        let app =
            Router::new()
                .route(
                    "/channels",
                    get(|State(b): State<Arc<Mutex<Value>>>| async move {
                        Json(b.lock().unwrap().clone())
                    }),
                )
                .with_state(body.clone());
        let (addr, task) = spawn(app).await;
        ScriptedTracker {
            url: format!("http://{addr}"),
            body,
            task,
        }
    }

    /// Sets the swarms: `(channel, info_hash, peers, http_bytes, p2p_bytes)`.
    pub fn set(&self, swarms: &[(&str, &str, u32, u64, u64)]) {
        let list: Vec<Value> = swarms
            .iter()
            .map(|(ch, ih, peers, http, p2p)| {
                json!({"info_hash": ih, "peers": peers, "seeders": 0, "leechers": peers,
                       "channel": ch, "http_bytes": http, "p2p_bytes": p2p,
                       "upload_bytes": p2p, "rebuffers": 0})
            })
            .collect();
        *self.body.lock().unwrap() = json!({ "channels": list });
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
