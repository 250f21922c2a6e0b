//! HTTP on the tracker's port: WebSocket upgrade, health, metrics, channel API, stats ingest.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use wire::tracker::{decode_client, ClientMessage, Id20, InfoHash};

use crate::swarm::SwarmSummary;

use super::access::{check_origin, check_token};
use super::Shared;

/// Largest `POST /stats` body.
const MAX_STATS_BODY: usize = 4096;
/// Most swarms `GET /channels` lists.
const MAX_CHANNELS_LISTED: usize = 1000;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(upgrade))
        .route("/announce", get(upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/channels", get(channels))
        .route("/cluster", get(cluster))
        .route("/channels/{*info_hash}", get(channel))
        .route("/stats", post(post_stats).options(preflight))
        .route("/qoe", get(super::qoe::get_qoe))
        .with_state(shared)
}

fn origin(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(header::ORIGIN).map(|v| v.as_bytes())
}

/// `/` and `/announce` without a WebSocket upgrade (upgrades never get here: the
/// connection's first request head is checked for one before HTTP serving starts).
async fn upgrade() -> Response {
    (
        StatusCode::UPGRADE_REQUIRED,
        [(header::UPGRADE, "websocket")],
        "this is a WebTorrent tracker: connect with a WebSocket (ws:// or wss://)",
    )
        .into_response()
}

/// 503 while the node drains, so that a load balancer's health check takes it out.
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.drain.is_draining() {
        let body = Json(serde_json::json!({ "status": "draining" }));
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let (counts, node) = {
        let core = shared.core();
        (core.tracker.counts(), node_view(&shared, &core))
    };
    let mut text = shared.metrics.render(&counts);
    if let (Some(link), Some(node)) = (&shared.cluster, &node) {
        text.push_str(&link.render(node));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This node's place in its cluster; `None` without one.
fn node_view(shared: &Shared, core: &super::Core) -> Option<super::cluster::NodeView> {
    let link = shared.cluster.as_ref()?;
    let connections = shared
        .metrics
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    Some(link.view(core, connections, shared.metrics.messages_in_total()))
}

/// `GET /cluster`: this node and its cluster (404 without `--redis`).
async fn cluster(State(shared): State<Arc<Shared>>) -> Response {
    let node = node_view(&shared, &shared.core());
    match node {
        Some(node) => Json(node).into_response(),
        None => json_error(
            StatusCode::NOT_FOUND,
            "this tracker is not part of a cluster (start it with --redis URL)",
        ),
    }
}

/// One swarm in the channel API.
#[derive(Serialize)]
struct SwarmJson {
    /// The info_hash as clients send it (a 20-char string).
    info_hash: String,
    info_hash_hex: String,
    peers: u32,
    seeders: u32,
    leechers: u32,
    /// The channel id our SDK reported for this info_hash, if any; the numbers below are the
    /// channel's aggregates (all its info_hashes), 0 when unknown.
    channel: Option<String>,
    viewers: u32,
    http_bytes: u64,
    p2p_bytes: u64,
    upload_bytes: u64,
    rebuffers: u64,
    /// Player errors by where the segment came from, integrity failures, peers banned.
    errors_http: u64,
    errors_peer: u64,
    errors_superpeer: u64,
    bad_segments: u64,
    banned_peers: u64,
}

impl From<SwarmSummary> for SwarmJson {
    fn from(s: SwarmSummary) -> Self {
        let (channel, totals) = match s.channel {
            Some((name, totals)) => (Some(name), totals),
            None => (None, Default::default()),
        };
        SwarmJson {
            info_hash: s.info_hash.to_binary_string(),
            info_hash_hex: s.info_hash.to_hex(),
            peers: s.peers,
            seeders: s.seeders,
            leechers: s.leechers,
            channel,
            viewers: totals.viewers,
            http_bytes: totals.http_bytes,
            p2p_bytes: totals.p2p_bytes,
            upload_bytes: totals.upload_bytes,
            rebuffers: totals.rebuffers,
            errors_http: totals.quality.errors_http,
            errors_peer: totals.quality.errors_peer,
            errors_superpeer: totals.quality.errors_superpeer,
            bad_segments: totals.quality.bad_segments,
            banned_peers: totals.quality.banned_peers,
        }
    }
}

#[derive(Deserialize)]
struct ChannelsQuery {
    limit: Option<usize>,
}

async fn channels(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ChannelsQuery>,
) -> impl IntoResponse {
    let limit = q.limit.unwrap_or(100).min(MAX_CHANNELS_LISTED);
    let (swarms, ranking, node) = {
        let core = shared.core();
        let node = node_view(&shared, &core);
        (
            core.tracker.counts().swarms,
            core.tracker.ranking(limit),
            node,
        )
    };
    let channels: Vec<SwarmJson> = ranking.into_iter().map(SwarmJson::from).collect();
    match node {
        // A cluster node lists the whole cluster's swarms, and says which node answered.
        Some(node) => {
            Json(serde_json::json!({ "swarms": swarms, "channels": channels, "node": node }))
        }
        None => Json(serde_json::json!({ "swarms": swarms, "channels": channels })),
    }
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// The info_hash from the URL: the 20-char string (URL-encoded) or 40 hex digits.
pub(crate) fn parse_info_hash(raw: &str) -> Option<InfoHash> {
    Id20::from_binary_str(raw)
        .ok()
        .or_else(|| Id20::from_hex(raw))
}

async fn channel(State(shared): State<Arc<Shared>>, Path(raw): Path<String>) -> Response {
    let Some(info_hash) = parse_info_hash(&raw) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "expected an info_hash: 20 chars U+0000-U+00FF, URL-encoded, or 40 hex digits",
        );
    };
    let summary = shared.core().tracker.swarm(&info_hash);
    match summary {
        Some(summary) => Json(SwarmJson::from(summary)).into_response(),
        None => json_error(StatusCode::NOT_FOUND, "no such swarm"),
    }
}

fn cors(response: Response) -> Response {
    let mut response = response;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::HeaderValue::from_static("POST, OPTIONS"),
    );
    response
}

async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

/// `POST /stats`: the same JSON as the WebSocket `stats` message, e.g. from `sendBeacon`.
async fn post_stats(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let config = &shared.config;
    let checked = check_token(config, uri.query(), super::handshake::unix_now()).and_then(|a| {
        check_origin(config, origin(&headers))?;
        Ok(a)
    });
    let access = match checked {
        Ok(access) => access,
        Err(refusal) => {
            if let Some(reason) = refusal.reason {
                shared.metrics.rejected(reason);
            }
            return cors(json_error(refusal.status, refusal.message));
        }
    };
    if body.len() > MAX_STATS_BODY {
        return cors(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a stats report has at most {MAX_STATS_BODY} bytes"),
        ));
    }
    shared
        .metrics
        .stats_posts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let report = match decode_client(&body) {
        Ok(ClientMessage::Stats(report)) => report,
        Ok(_) => {
            return cors(json_error(
                StatusCode::BAD_REQUEST,
                "expected \"action\":\"stats\"",
            ))
        }
        Err(e) => return cors(json_error(StatusCode::BAD_REQUEST, e.reason)),
    };
    let result = {
        let mut core = shared.core();
        match core
            .admission
            .check_report(access.channel.as_deref(), &report)
        {
            Ok(()) => {
                if let Some(link) = &shared.cluster {
                    // Re-encoded: one line for the other nodes, whatever the body's layout.
                    let json = wire::tracker::encode_client(&ClientMessage::Stats(report.clone()));
                    core.queue_stats(json);
                    link.wake.notify_one();
                }
                core.tracker.ingest_stats(report, Instant::now())
            }
            Err(refused) => {
                shared.metrics.refused(refused, 1);
                let reason = refused.reason(core.admission.limits());
                return cors(json_error(StatusCode::FORBIDDEN, reason));
            }
        }
    };
    match result {
        Ok(()) => cors(StatusCode::NO_CONTENT.into_response()),
        Err(reason) => cors(json_error(StatusCode::TOO_MANY_REQUESTS, reason)),
    }
}
