//! `swarmcast origin`: the HTTP origin our tests, demo and benchmarks fetch media from.
//!
//! - serves a media folder (and extra mounted folders) with media MIME types, `Range` / 206 and
//!   CORS, through tower-http's `ServeDir`;
//! - replays any VOD HLS playlist and any VOD DASH MPD as a looping live stream under `/live/`
//!   (see [`live`] and [`live_dash`]), with a `segments-sha256.json` beside each live HLS stream
//!   that lists the digests of its window (see [`digests`]);
//! - counts the bytes it served per directory, at `GET /__stats` (see [`stats`]).

pub mod digests;
pub mod live;
pub mod live_dash;
pub mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceExt;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;

use crate::digests::{DigestCache, MANIFEST_NAME};
use crate::live::LiveLoop;
use crate::live_dash::DashLoop;
use crate::stats::ByteCounters;

/// Path prefix under which every VOD HLS playlist is also served as a looping live stream.
pub const LIVE_PREFIX: &str = "/live";

#[derive(Clone, Debug)]
pub struct OriginConfig {
    /// The media folder served at `/`.
    pub root: PathBuf,
    /// Extra folders served under a URL prefix, e.g. `("/player", "web/player")`.
    pub mounts: Vec<(String, PathBuf)>,
    /// Folders built into the binary ([`webassets::site`]) served under a URL prefix, unless
    /// a mount has the same prefix.
    pub embedded: Vec<(String, &'static webassets::Dir<'static>)>,
    /// Segments listed in a live playlist.
    pub live_window: usize,
}

struct AppState {
    config: OriginConfig,
    counters: ByteCounters,
    started: Instant,
    /// The same start as Unix seconds: live MPDs state wall-clock times.
    started_unix: f64,
    loops: Mutex<HashMap<PathBuf, Arc<LiveLoop>>>,
    dash_loops: Mutex<HashMap<PathBuf, Arc<DashLoop>>>,
    digests: Arc<DigestCache>,
}

impl AppState {
    /// The folder a URL path lives in (a mount's, else the root) and the path within it.
    fn locate<'a>(&self, path: &'a str) -> (PathBuf, &'a str) {
        for (prefix, dir) in &self.config.mounts {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                if rest.starts_with('/') {
                    return (dir.clone(), rest);
                }
            }
        }
        (self.config.root.clone(), path)
    }
}

/// The origin's HTTP service.
pub fn router(config: OriginConfig) -> Router {
    let root = ServeDir::new(&config.root).append_index_html_on_directories(true);
    let mounts = config.mounts.clone();
    let embedded: Vec<_> = config
        .embedded
        .iter()
        .filter(|(prefix, _)| !mounts.iter().any(|(p, _)| p == prefix))
        .cloned()
        .collect();
    let state = Arc::new(AppState {
        config,
        counters: ByteCounters::default(),
        started: Instant::now(),
        started_unix: unix_now(),
        loops: Mutex::default(),
        dash_loops: Mutex::default(),
        digests: Arc::default(),
    });
    let mut app = Router::new()
        .route("/__stats", get(get_stats).delete(reset_stats))
        .route("/live/{*path}", get(live).head(live));
    for (prefix, dir) in embedded {
        app = app.nest_service(
            &prefix,
            webassets::service(dir, webassets::NotFound::Status),
        );
    }
    for (prefix, dir) in mounts {
        app = app.nest_service(
            &prefix,
            ServeDir::new(dir).append_index_html_on_directories(true),
        );
    }
    app.fallback_service(root)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_and_type,
        ))
        .layer(middleware::from_fn(reject_escaping_paths))
        .layer(cors())
        .with_state(state)
}

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
        ])
        .max_age(Duration::from_secs(86400))
}

#[derive(serde::Deserialize)]
struct StatsQuery {
    prefix: Option<String>,
}

async fn get_stats(State(s): State<Arc<AppState>>, Query(q): Query<StatsQuery>) -> Response {
    Json(s.counters.report(q.prefix.as_deref())).into_response()
}

async fn reset_stats(State(s): State<Arc<AppState>>) -> StatusCode {
    s.counters.reset();
    StatusCode::NO_CONTENT
}

/// `/live/<path>`: playlists become live windows; everything else is the file at `<path>`.
async fn live(State(s): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path()[LIVE_PREFIX.len()..].to_owned();
    let (dir, rest) = s.locate(&path);
    if path.ends_with(".m3u8") {
        return live_playlist(&s, &dir.join(rest.trim_start_matches('/'))).await;
    }
    if path.ends_with(".mpd") {
        return live_mpd(&s, &dir.join(rest.trim_start_matches('/'))).await;
    }
    if let Some(folder) = rest.strip_suffix(MANIFEST_NAME) {
        return live_digests(&s, &dir.join(folder.trim_start_matches('/'))).await;
    }
    let uri: Uri = match rest.parse() {
        Ok(uri) => uri,
        Err(_) => return (StatusCode::BAD_REQUEST, "malformed path").into_response(),
    };
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    let served = ServeDir::new(dir)
        .oneshot(Request::from_parts(parts, body))
        .await;
    match served {
        Ok(res) => res.map(Body::new),
        Err(never) => match never {},
    }
}

async fn live_playlist(s: &AppState, file: &Path) -> Response {
    let looped = match load_loop(s, file).await {
        Ok(LoadedPlaylist::Live(looped)) => looped,
        Ok(LoadedPlaylist::Master(bytes)) => return playlist_response(bytes),
        Err((status, why)) => return (status, why).into_response(),
    };
    let mut out = Vec::with_capacity(1024);
    let written = looped.playlist_at(s.started.elapsed()).write_to(&mut out);
    match written {
        Ok(()) => playlist_response(out),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `/live/<path>.mpd`: the VOD MPD at `<path>` as a dynamic MPD of the moment.
async fn live_mpd(s: &AppState, file: &Path) -> Response {
    let looped = match load_dash_loop(s, file).await {
        Ok(looped) => looped,
        Err((status, why)) => return (status, why).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(DASH_MIME)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        looped.mpd_at(s.started_unix, dash_now(s)),
    )
        .into_response()
}

/// The live MPDs' clock: the same as the HLS loops', the origin's start plus the monotonic
/// time since.
fn dash_now(s: &AppState) -> f64 {
    s.started_unix + s.started.elapsed().as_secs_f64()
}

async fn load_dash_loop(s: &AppState, file: &Path) -> Result<Arc<DashLoop>, (StatusCode, String)> {
    if let Some(looped) = s
        .dash_loops
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(file)
    {
        return Ok(looped.clone());
    }
    let Ok(text) = tokio::fs::read_to_string(file).await else {
        return Err((StatusCode::NOT_FOUND, "no such MPD".to_owned()));
    };
    let looped = DashLoop::new(&text, s.config.live_window)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let looped = Arc::new(looped);
    let mut loops = s.dash_loops.lock().unwrap_or_else(|e| e.into_inner());
    loops.insert(file.to_owned(), looped.clone());
    Ok(looped)
}

/// The digests of the segments the folder's live streams (HLS playlists and DASH MPDs) list now
/// and listed in the window before, current as segments appear (a packager's manifest would
/// grow the same way).
async fn live_digests(s: &AppState, folder: &Path) -> Response {
    let Ok(mut entries) = tokio::fs::read_dir(folder).await else {
        return (StatusCode::NOT_FOUND, "no such folder").into_response();
    };
    let (mut playlists, mut mpds) = (Vec::new(), Vec::new());
    while let Ok(Some(entry)) = entries.next_entry().await {
        match entry.path().extension().and_then(|e| e.to_str()) {
            Some("m3u8") => playlists.push(entry.path()),
            Some("mpd") => mpds.push(entry.path()),
            _ => {}
        }
    }
    let elapsed = s.started.elapsed();
    let mut names = std::collections::BTreeSet::new();
    for p in playlists {
        let Ok(LoadedPlaylist::Live(looped)) = load_loop(s, &p).await else {
            continue;
        };
        let now = looped.playlist_at(elapsed);
        let window: f64 = now.segments.iter().map(|seg| f64::from(seg.duration)).sum();
        let before = looped.playlist_at(elapsed.saturating_sub(Duration::from_secs_f64(window)));
        for seg in now.segments.iter().chain(&before.segments) {
            names.insert(digests::file_name(&seg.uri));
        }
    }
    for p in mpds {
        let Ok(looped) = load_dash_loop(s, &p).await else {
            continue;
        };
        names.extend(looped.listed_files(s.started_unix, dash_now(s)));
    }
    if names.is_empty() {
        return (StatusCode::NOT_FOUND, "no live stream in this folder").into_response();
    }
    let (cache, folder) = (s.digests.clone(), folder.to_owned());
    let manifest = tokio::task::spawn_blocking(move || {
        let mut m = wire::integrity::DigestManifest::default();
        for name in names {
            if let Ok(d) = cache.whole(&folder.join(&name)) {
                m.files.insert(name, wire::integrity::FileDigests::Whole(d));
            }
        }
        m
    })
    .await;
    match manifest {
        Ok(m) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            m.to_json(),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

enum LoadedPlaylist {
    Live(Arc<LiveLoop>),
    /// A master playlist is served as it is: its relative variant URIs stay under `/live/`.
    Master(Vec<u8>),
}

async fn load_loop(s: &AppState, file: &Path) -> Result<LoadedPlaylist, (StatusCode, String)> {
    if let Some(looped) = s.loops.lock().unwrap_or_else(|e| e.into_inner()).get(file) {
        return Ok(LoadedPlaylist::Live(looped.clone()));
    }
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|_| (StatusCode::NOT_FOUND, "no such playlist".to_owned()))?;
    let unplayable = |why: String| (StatusCode::UNPROCESSABLE_ENTITY, why);
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(_)) => Ok(LoadedPlaylist::Master(bytes)),
        Ok(m3u8_rs::Playlist::MediaPlaylist(media)) => {
            let looped = LiveLoop::new(media, s.config.live_window)
                .map_err(|e| unplayable(e.to_string()))?;
            let looped = Arc::new(looped);
            let mut loops = s.loops.lock().unwrap_or_else(|e| e.into_inner());
            loops.insert(file.to_owned(), looped.clone());
            Ok(LoadedPlaylist::Live(looped))
        }
        Err(_) => Err(unplayable("not an HLS playlist".to_owned())),
    }
}

fn playlist_response(body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HLS_MIME)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

const HLS_MIME: &str = "application/vnd.apple.mpegurl";
const DASH_MIME: &str = "application/dash+xml";

/// The media MIME types browsers and players expect; generic guessing gets `.ts` wrong.
fn media_mime(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "m3u8" => HLS_MIME,
        "mpd" => DASH_MIME,
        "ts" => "video/mp2t",
        "m4s" => "video/iso.segment",
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "webm" => "video/webm",
        "vtt" => "text/vtt",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "map" | "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "css" => "text/css",
        "wasm" => "application/wasm",
        _ => return None,
    })
}

/// Sets media MIME types and counts the body bytes of every successful answer.
async fn count_and_type(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let is_head = req.method() == Method::HEAD;
    let is_preflight = req.method() == Method::OPTIONS;
    let mut res = next.run(req).await;
    if !res.status().is_success() || is_preflight || path == "/__stats" {
        return res;
    }
    if let Some(mime) = media_mime(&path) {
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    let len = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    s.counters.record(&path, if is_head { 0 } else { len });
    res
}

/// Refuses, with 400, any path that names a parent directory, even percent-encoded.
async fn reject_escaping_paths(req: Request, next: Next) -> Response {
    let decoded = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8();
    let escapes = match decoded {
        Ok(path) => path.split(['/', '\\']).any(|part| part == "..") || path.contains('\0'),
        Err(_) => true,
    };
    if escapes {
        return (
            StatusCode::BAD_REQUEST,
            "path must stay inside the media root",
        )
            .into_response();
    }
    next.run(req).await
}
