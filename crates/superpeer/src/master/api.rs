//! The REST API of the master (axum): routes, access token, JSON errors, stats views.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::supervisor::{State as MasterState, Supervisor, Worker};
use super::validate::{self, decode_channel};
use super::vet;

pub const TOKEN_HEADER: &str = "x-access-token";

type Shared = Arc<Supervisor>;

/// The routes; `origins` is the client channel URLs are checked with before a seed is taken.
pub fn router(sup: Shared, origins: outbound::GuardedClient) -> Router {
    let limit = sup.config.max_body_bytes;
    Router::new()
        .route("/ping", post(ping))
        .route("/seed", post(seed))
        .route("/stats", get(stats_all))
        .route("/stats/{*key}", get(stats_one))
        .route("/stop_all", post(stop_all))
        .route("/stop/{pid}", post(stop))
        .route("/restart_all", post(restart_all))
        .route("/restart/{pid}", post(restart))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(Arc::new(origins)))
        .layer(middleware::from_fn_with_state(sup.clone(), require_token))
        .with_state(sup)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn require_token(State(sup): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(expected) = &sup.config.access_token {
        let given = req
            .headers()
            .get(TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(given.ct_eq(expected.as_bytes())) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong X-ACCESS-TOKEN");
        }
    }
    next.run(req).await
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Box<Response>> {
    body.map_err(|r| {
        let status = r.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body: too large".to_owned()
        } else {
            format!("body: {}", r.body_text())
        };
        Box::new(error(status, message))
    })
}

async fn ping(State(sup): State<Shared>, b: Result<Bytes, BytesRejection>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match validate::parse_ping(&b) {
        Ok(p) => Json(json!({ "workers": sup.ping(p.bandwidth_mbps, p.workers) })).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.0),
    }
}

async fn seed(
    State(sup): State<Shared>,
    Extension(origins): Extension<Arc<outbound::GuardedClient>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let specs = match validate::parse_seed(&b, &sup.config) {
        Ok(specs) => specs,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.0),
    };
    let vetted = match vet::check_signals(&specs, &sup.config) {
        Ok(()) => vet::check_origins(&specs, &origins).await,
        Err(e) => Err(e),
    };
    if let Err(e) = vetted {
        tracing::warn!("seed refused: {e}");
        return error(StatusCode::FORBIDDEN, e.0);
    }
    Json(json!({ "ok": true, "channels": sup.seed(specs) })).into_response()
}

fn worker_json(st: &MasterState, w: &Worker, now: Instant) -> Value {
    let spec = st.channels.get(&w.channel_id).map(|c| &c.spec);
    let c = &w.counters;
    json!({
        "pid": w.pid,
        "channel": spec.map(|s| s.channel.as_str()),
        "channelId": w.channel_id,
        "label": spec.map(|s| s.label.as_str()),
        "live": spec.map(|s| s.live),
        "keepAlive": spec.map(|s| s.keep_alive),
        "priority": spec.map(|s| s.priority),
        "maxConnections": spec.map(|s| s.max_connections),
        "pieceLength": spec.and_then(|s| s.piece_length),
        "state": if w.is_stopping() { "stopping" } else if w.ready.is_some() { "running" } else { "starting" },
        "peers": c.peers,
        "swarmPeers": c.swarm_peers,
        "swarms": c.swarms,
        "segments": c.segments,
        "uploadedKB": c.uploaded_bytes / 1024,
        "originKB": c.origin_bytes / 1024,
        "cpu": (w.cpu.percent * 10.0).round() / 10.0,
        "memoryMB": (w.cpu.rss_mb * 10.0).round() / 10.0,
        "uptime": now.saturating_duration_since(w.started).as_secs(),
        "restarts": w.restarts,
        "signal": c.signal,
        "manifestError": c.manifest_error,
        "udpPort": w.ready.as_ref().map(|r| r.0),
        "peerId": w.ready.as_ref().map(|r| r.1.as_str()),
    })
}

async fn stats_all(State(sup): State<Shared>) -> Response {
    let now = Instant::now();
    let st = sup.lock();
    let workers: Vec<Value> = st
        .workers
        .values()
        .map(|w| worker_json(&st, w, now))
        .collect();
    let channels: Vec<Value> = st
        .channels
        .values()
        .map(|c| {
            let pids: Vec<u32> = st
                .workers
                .values()
                .filter(|w| w.channel_id == c.spec.channel_id)
                .map(|w| w.pid)
                .collect();
            json!({
                "channel": c.spec.channel, "channelId": c.spec.channel_id,
                "label": c.spec.label, "priority": c.spec.priority,
                "pieceLength": c.spec.piece_length,
                "queued": pids.is_empty(), "pids": pids,
            })
        })
        .collect();
    let totals = json!({
        "workers": st.workers.values().filter(|w| !w.is_stopping()).count(),
        "peers": st.workers.values().map(|w| w.counters.peers).sum::<u64>(),
        "uploadedKB": st.workers.values().map(|w| w.counters.uploaded_bytes / 1024).sum::<u64>(),
    });
    let capacity = json!({
        "workers": sup.slots(&st).count(),
        "bandwidth": st.bandwidth_mbps,
        "forcedWorkers": st.forced_workers,
    });
    Json(
        json!({ "workers": workers, "channels": channels, "totals": totals, "capacity": capacity }),
    )
    .into_response()
}

/// `GET /stats/:pid` or `GET /stats/:channelId`: a number names a worker if one has that
/// pid; anything else (or a number matching no pid) is read as a base64 channel id.
async fn stats_one(State(sup): State<Shared>, Path(key): Path<String>) -> Response {
    let now = Instant::now();
    let st = sup.lock();
    if let Ok(pid) = key.parse::<u32>() {
        if let Some(w) = st.workers.get(&pid) {
            return Json(worker_json(&st, w, now)).into_response();
        }
    }
    let channel_id = match decode_channel(&key) {
        Ok(id) => id,
        Err(_) if key.bytes().all(|b| b.is_ascii_digit()) => {
            return error(StatusCode::NOT_FOUND, format!("no worker with pid {key}"))
        }
        Err(m) => return error(StatusCode::BAD_REQUEST, format!("channelId: {m}")),
    };
    let Some(channel) = st.channels.get(&channel_id) else {
        return error(StatusCode::NOT_FOUND, "no such worker or channel");
    };
    let workers: Vec<Value> = st
        .workers
        .values()
        .filter(|w| w.channel_id == channel_id)
        .map(|w| worker_json(&st, w, now))
        .collect();
    Json(json!({
        "channel": channel.spec.channel, "channelId": channel_id, "label": channel.spec.label,
        "workers": workers,
    }))
    .into_response()
}

fn parse_pid(pid: &str) -> Result<u32, Box<Response>> {
    pid.parse()
        .map_err(|_| Box::new(error(StatusCode::BAD_REQUEST, "pid: expected a process id")))
}

async fn stop(State(sup): State<Shared>, Path(pid): Path<String>) -> Response {
    let pid = match parse_pid(&pid) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if sup.stop(pid) {
        Json(json!({ "ok": true, "stopped": [pid] })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no worker with pid {pid}"))
    }
}

async fn restart(State(sup): State<Shared>, Path(pid): Path<String>) -> Response {
    let pid = match parse_pid(&pid) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if sup.restart(pid) {
        Json(json!({ "ok": true, "restarting": [pid] })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no worker with pid {pid}"))
    }
}

async fn stop_all(State(sup): State<Shared>) -> Response {
    Json(json!({ "ok": true, "stopped": sup.stop_all() })).into_response()
}

async fn restart_all(State(sup): State<Shared>) -> Response {
    Json(json!({ "ok": true, "restarting": sup.restart_all() })).into_response()
}
