//! The console's HTTP API (`/api/...`, JSON, admin token) and the dashboard's static files.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::listed::{Kind, ListedChannel};
use crate::state::{now_unix, validate_url, Console, Health, OpError};
use crate::store::{ListedRecord, NewSuperPeer, StoreError, SuperPeerPatch, SuperPeerRecord};
use crate::superpeer::WorkerOp;
use crate::traffic::OVERALL;

type Shared = Arc<Console>;

/// An API error: a status and a message the dashboard shows as is.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        let status = match &e {
            OpError::NotFound(_) | OpError::NotListed(_) => StatusCode::NOT_FOUND,
            OpError::BadInput(_) => StatusCode::BAD_REQUEST,
            OpError::Store(StoreError::DuplicateUrl(_)) => StatusCode::CONFLICT,
            OpError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OpError::Upstream(_) => StatusCode::BAD_GATEWAY,
            OpError::Forbidden(_) => StatusCode::FORBIDDEN,
        };
        ApiError(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        OpError::from(e).into()
    }
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn router(console: Shared) -> Router {
    let api = Router::new()
        .route("/session", get(session))
        .route("/super-peers", get(list_super_peers).post(add_super_peer))
        .route(
            "/super-peers/{id}",
            get(get_super_peer)
                .put(update_super_peer)
                .delete(delete_super_peer),
        )
        .route("/super-peers/{id}/check", post(check_super_peer))
        .route("/super-peers/{id}/seed", post(seed))
        .route("/super-peers/{id}/stop_all", post(stop_all))
        .route("/super-peers/{id}/restart_all", post(restart_all))
        .route("/super-peers/{id}/workers/{pid}/stop", post(stop_worker))
        .route(
            "/super-peers/{id}/workers/{pid}/restart",
            post(restart_worker),
        )
        .route("/channels", get(channels))
        .route("/listed-channels", get(listed).post(add_listed))
        .route(
            "/listed-channels/{id}",
            axum::routing::delete(delete_listed),
        )
        .route("/seeding", get(seeding).put(set_seeding))
        .route("/seeding/run", post(run_seeding))
        .route("/decisions", get(decisions))
        .route("/traffic", get(traffic))
        .route("/overview", get(overview))
        .route("/qoe", get(qoe))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            require_token,
        ))
        .route("/health", get(health))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API route".into()) });
    let mut app = Router::new().nest("/api", api);
    app = match (console.config.dashboard_dir.clone(), webassets::dashboard()) {
        (Some(dir), _) if dir.join("index.html").is_file() => app.fallback_service(
            tower_http::services::ServeDir::new(&dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        (None, Some(embedded)) => {
            app.fallback_service(webassets::service(embedded, webassets::NotFound::Index))
        }
        _ => app.fallback(|| async { Html(NOT_BUILT) }),
    };
    app.with_state(console)
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Swarmcast console</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Swarmcast console</h1>\
<p>The API runs at <code>/api/</code>, but there is no dashboard: this binary was built before \
the dashboard was. Run <code>npm ci &amp;&amp; npm run build --workspaces --if-present</code>, then \
<code>cargo build</code> again, or pass <code>--dashboard web/dashboard/dist</code>.</p>";

/// Accepts `Authorization: Bearer <token>` or `X-ACCESS-TOKEN: <token>`, compared in
/// constant time.
async fn require_token(
    State(console): State<Shared>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let expected = console.config.admin_token.as_bytes();
    if expected.is_empty() {
        return next.run(req).await;
    }
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-access-token").and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    if constant_time_eq(given.trim().as_bytes(), expected) {
        next.run(req).await
    } else {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token".into(),
        )
        .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Open to all: liveness, and whether the API wants a token (so the page knows to ask).
async fn health(State(c): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({ "ok": true, "auth_required": !c.config.admin_token.is_empty() }))
}

async fn session() -> Json<serde_json::Value> {
    Json(json!({ "ok": true }))
}

/// A super peer as the API shows it: never its access token.
#[derive(Debug, Serialize)]
struct SuperPeerView {
    id: i64,
    url: String,
    bandwidth_mbps: u32,
    label: String,
    access_token_set: bool,
    created_at: i64,
    #[serde(flatten)]
    health: Health,
}

fn view(console: &Console, sp: SuperPeerRecord) -> SuperPeerView {
    SuperPeerView {
        health: console.health_of(sp.id),
        id: sp.id,
        url: sp.url,
        bandwidth_mbps: sp.bandwidth_mbps,
        label: sp.label,
        access_token_set: !sp.access_token.is_empty(),
        created_at: sp.created_at,
    }
}

async fn list_super_peers(State(c): State<Shared>) -> ApiResult<Vec<SuperPeerView>> {
    let all = c.store.list_super_peers()?;
    Ok(Json(all.into_iter().map(|sp| view(&c, sp)).collect()))
}

/// A new super peer as the operator sent it, with its URL normalised and its fields bounded.
fn checked_new(mut new: NewSuperPeer) -> Result<NewSuperPeer, ApiError> {
    new.url = validate_url(&new.url).map_err(bad_request)?;
    check_fields(&new.label, &new.access_token)?;
    Ok(new)
}

/// An update as the operator sent it, checked like a new super peer.
fn checked_patch(mut patch: SuperPeerPatch) -> Result<SuperPeerPatch, ApiError> {
    if let Some(url) = &patch.url {
        patch.url = Some(validate_url(url).map_err(bad_request)?);
    }
    check_fields(
        patch.label.as_deref().unwrap_or_default(),
        patch.access_token.as_deref().unwrap_or_default(),
    )?;
    Ok(patch)
}

fn check_fields(label: &str, token: &str) -> Result<(), ApiError> {
    if label.len() > 200 {
        return Err(bad_request("label is longer than 200 characters"));
    }
    if token.len() > 1024 {
        return Err(bad_request("access token is longer than 1024 characters"));
    }
    Ok(())
}

async fn add_super_peer(
    State(c): State<Shared>,
    Json(new): Json<NewSuperPeer>,
) -> Result<(StatusCode, Json<SuperPeerView>), ApiError> {
    let new = checked_new(new)?;
    c.check_super_peer_url(&new.url).await?;
    let rec = c.store.insert_super_peer(&new, now_unix())?;
    c.check(&rec).await;
    Ok((StatusCode::CREATED, Json(view(&c, rec))))
}

async fn get_super_peer(State(c): State<Shared>, Path(id): Path<i64>) -> ApiResult<SuperPeerView> {
    Ok(Json(view(&c, c.super_peer(id)?)))
}

async fn update_super_peer(
    State(c): State<Shared>,
    Path(id): Path<i64>,
    Json(patch): Json<SuperPeerPatch>,
) -> ApiResult<SuperPeerView> {
    let patch = checked_patch(patch)?;
    if let Some(url) = &patch.url {
        c.check_super_peer_url(url).await?;
    }
    let rec = c
        .store
        .update_super_peer(id, &patch)?
        .ok_or(OpError::NotFound(id))?;
    c.check(&rec).await;
    Ok(Json(view(&c, rec)))
}

async fn delete_super_peer(
    State(c): State<Shared>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if !c.store.delete_super_peer(id)? {
        return Err(OpError::NotFound(id).into());
    }
    c.forget_health(id);
    Ok(StatusCode::NO_CONTENT)
}

/// The channel list: what the operator listed, and the channels read from it.
#[derive(Debug, Serialize)]
struct ListedView {
    sources: Vec<ListedRecord>,
    channels: Vec<ListedChannel>,
}

async fn listed(State(c): State<Shared>) -> ApiResult<ListedView> {
    Ok(Json(ListedView {
        sources: c.store.listed()?,
        channels: c.listed_channels().await,
    }))
}

#[derive(Debug, Deserialize)]
struct NewListed {
    url: String,
    #[serde(default = "channel_kind")]
    kind: Kind,
}

fn channel_kind() -> Kind {
    Kind::Channel
}

/// Lists a URL and reads the list at once, so the answer says what it matched.
async fn add_listed(
    State(c): State<Shared>,
    Json(new): Json<NewListed>,
) -> Result<(StatusCode, Json<ListedView>), ApiError> {
    let url = crate::listed::validate_url(&new.url).map_err(bad_request)?;
    if url.len() > 2048 {
        return Err(bad_request("URL is longer than 2048 characters"));
    }
    c.check_manifest_url(&url).await?;
    c.store.insert_listed(new.kind, &url, now_unix())?;
    c.read_listed().await;
    Ok((
        StatusCode::CREATED,
        Json(ListedView {
            sources: c.store.listed()?,
            channels: c.listed_channels().await,
        }),
    ))
}

async fn delete_listed(
    State(c): State<Shared>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if !c.store.delete_listed(id)? {
        return Err(OpError::NotListed(id).into());
    }
    c.read_listed().await;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_super_peer(
    State(c): State<Shared>,
    Path(id): Path<i64>,
) -> ApiResult<SuperPeerView> {
    let rec = c.super_peer(id)?;
    c.check(&rec).await;
    Ok(Json(view(&c, rec)))
}

#[derive(Debug, Deserialize)]
struct SeedBody {
    channel: String,
    live: Option<bool>,
    label: Option<String>,
}

async fn seed(
    State(c): State<Shared>,
    Path(id): Path<i64>,
    Json(body): Json<SeedBody>,
) -> ApiResult<SuperPeerView> {
    if c.auto_seeding() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "automatic seeding is on: turn it off to seed by hand".into(),
        ));
    }
    c.manual_seed(id, &body.channel, body.live, body.label.as_deref())
        .await?;
    Ok(Json(view(&c, c.super_peer(id)?)))
}

async fn control(c: Shared, id: i64, op: WorkerOp, pid: Option<u32>) -> ApiResult<SuperPeerView> {
    c.control(id, op, pid).await?;
    Ok(Json(view(&c, c.super_peer(id)?)))
}

async fn stop_all(State(c): State<Shared>, Path(id): Path<i64>) -> ApiResult<SuperPeerView> {
    control(c, id, WorkerOp::Stop, None).await
}

async fn restart_all(State(c): State<Shared>, Path(id): Path<i64>) -> ApiResult<SuperPeerView> {
    control(c, id, WorkerOp::Restart, None).await
}

async fn stop_worker(
    State(c): State<Shared>,
    Path((id, pid)): Path<(i64, u32)>,
) -> ApiResult<SuperPeerView> {
    control(c, id, WorkerOp::Stop, Some(pid)).await
}

async fn restart_worker(
    State(c): State<Shared>,
    Path((id, pid)): Path<(i64, u32)>,
) -> ApiResult<SuperPeerView> {
    control(c, id, WorkerOp::Restart, Some(pid)).await
}

/// A channel of the ranking with where it is seeded and the last decision about it.
#[derive(Debug, Serialize)]
struct ChannelView {
    #[serde(flatten)]
    rank: crate::tracker::ChannelRank,
    seeded_on: Vec<serde_json::Value>,
    last_decision: Option<crate::store::Decision>,
}

#[derive(Debug, Serialize)]
struct ChannelsView {
    polled_at: i64,
    errors: Vec<String>,
    channels: Vec<ChannelView>,
}

async fn qoe(State(c): State<Shared>) -> Json<crate::qoe::QoeSnapshot> {
    Json(c.qoe())
}

async fn channels(State(c): State<Shared>) -> ApiResult<ChannelsView> {
    let ranking = c.ranking();
    let peers = c.store.list_super_peers()?;
    let mut by_channel: std::collections::HashMap<String, Vec<serde_json::Value>> =
        std::collections::HashMap::new();
    for sp in &peers {
        for w in c.health_of(sp.id).workers {
            by_channel.entry(w.channel).or_default().push(json!({
                "super_peer_id": sp.id, "label": sp.label, "pid": w.pid, "peers": w.peers,
            }));
        }
    }
    let mut out = Vec::new();
    for rank in ranking.channels {
        let seeded_on = by_channel.remove(&rank.channel).unwrap_or_default();
        let last_decision = c
            .store
            .decisions(Some(&rank.channel), 1)?
            .into_iter()
            .next();
        out.push(ChannelView {
            rank,
            seeded_on,
            last_decision,
        });
    }
    Ok(Json(ChannelsView {
        polled_at: ranking.polled_at,
        errors: ranking.errors,
        channels: out,
    }))
}

fn seeding_view(c: &Console) -> serde_json::Value {
    json!({
        "auto": c.auto_seeding(),
        "interval_secs": c.config.seed_interval.as_secs_f64(),
        "planner": c.config.planner,
        "trackers": c.config.trackers,
    })
}

async fn seeding(State(c): State<Shared>) -> Json<serde_json::Value> {
    Json(seeding_view(&c))
}

#[derive(Debug, Deserialize)]
struct SeedingBody {
    auto: bool,
}

async fn set_seeding(
    State(c): State<Shared>,
    Json(body): Json<SeedingBody>,
) -> ApiResult<serde_json::Value> {
    c.set_auto_seeding(body.auto)?;
    Ok(Json(seeding_view(&c)))
}

async fn run_seeding(State(c): State<Shared>) -> ApiResult<serde_json::Value> {
    match c.seeding_round().await {
        None => Err(ApiError(
            StatusCode::CONFLICT,
            "automatic seeding is off".into(),
        )),
        Some(outcomes) => Ok(Json(json!({ "actions": outcomes }))),
    }
}

#[derive(Debug, Deserialize)]
struct DecisionsQuery {
    channel: Option<String>,
    limit: Option<u32>,
}

async fn decisions(
    State(c): State<Shared>,
    Query(q): Query<DecisionsQuery>,
) -> ApiResult<Vec<crate::store::Decision>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(c.store.decisions(q.channel.as_deref(), limit)?))
}

#[derive(Debug, Deserialize)]
struct TrafficQuery {
    /// Empty or absent: all channels together.
    channel: Option<String>,
    /// Seconds of history (default 1 hour).
    range: Option<u32>,
}

async fn traffic(
    State(c): State<Shared>,
    Query(q): Query<TrafficQuery>,
) -> ApiResult<serde_json::Value> {
    let range = q.range.unwrap_or(3600).max(60);
    // The finest resolution that still covers the range.
    let res = c
        .config
        .resolutions
        .iter()
        .filter(|r| r.keep_secs >= range)
        .min_by_key(|r| r.step_secs)
        .or_else(|| c.config.resolutions.iter().max_by_key(|r| r.keep_secs))
        .copied()
        .ok_or_else(|| bad_request("no traffic history is kept"))?;
    let since = now_unix() - i64::from(range);
    let channel = q.channel.unwrap_or_else(|| OVERALL.to_owned());
    let series = c.store.traffic(&channel, res.step_secs, since)?;
    let channels = c.store.traffic_channels(res.step_secs, since)?;
    Ok(Json(
        json!({ "series": series, "channels": channels, "range": range }),
    ))
}

/// Everything the dashboard's first screen needs in one call.
async fn overview(State(c): State<Shared>) -> ApiResult<serde_json::Value> {
    let peers = c.store.list_super_peers()?;
    let running = peers
        .iter()
        .filter(|sp| c.health_of(sp.id).status == "running")
        .count();
    let workers: usize = peers
        .iter()
        .map(|sp| c.health_of(sp.id).workers.len())
        .sum();
    let ranking = c.ranking();
    let viewers: u64 = ranking
        .channels
        .iter()
        .map(|ch| u64::from(ch.viewers))
        .sum();
    Ok(Json(json!({
        "super_peers": peers.len(),
        "super_peers_running": running,
        "workers": workers,
        "channels": ranking.channels.len(),
        "viewers": viewers,
        "tracker_errors": ranking.errors,
        "tracker_node_errors": ranking.node_errors,
        "tracker_nodes": ranking.nodes,
        "seeding": seeding_view(&c),
    })))
}

/// For the fuzz targets (`fuzz/` at the repository root): the request bodies of the JSON
/// routes, decoded as the `Json` extractor does and checked as the handlers do before any
/// I/O. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Runs `body` through every JSON route's decoding and checks; returns the super peer URL
    /// a `POST /super-peers` with this body would store, if it is accepted.
    pub fn request_bodies(body: &[u8]) -> Option<String> {
        if let Ok(patch) = serde_json::from_slice::<SuperPeerPatch>(body) {
            let _ = checked_patch(patch);
        }
        let _ = serde_json::from_slice::<SeedBody>(body);
        let _ = serde_json::from_slice::<SeedingBody>(body);
        let new = serde_json::from_slice::<NewSuperPeer>(body).ok()?;
        checked_new(new).ok().map(|new| new.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
