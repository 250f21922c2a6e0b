//! Client of the super peer master's REST API (`X-ACCESS-TOKEN`, `/ping`, `/seed`, `/stats`,
//! `/stop*`, `/restart*`). Worker stats are read leniently (snake_case or camelCase), since
//! they are shown rather than computed on.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::store::SuperPeerRecord;

/// One `POST /seed` list entry, in the super peer's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedRequest {
    pub token: String,
    /// Base64 of the channel id.
    pub channel: String,
    pub tracker_zone: String,
    pub live: bool,
    pub signal1: String,
    pub signal2: String,
    pub priority: u32,
    pub keep_alive: bool,
    pub no_use_disk_cache: bool,
    pub max_connections: u32,
    pub label: String,
}

/// Encodes a channel id for `POST /seed` and `/stats/:channelId`.
pub fn encode_channel(channel: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(channel.as_bytes())
}

/// Decodes a channel as a super peer reports it: base64 (standard or URL-safe) of a
/// printable id, or already the id.
pub fn decode_channel(reported: &str) -> String {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    if reported.contains("://") {
        return reported.to_owned();
    }
    for engine in [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(reported.as_bytes()) {
            if let Ok(s) = String::from_utf8(bytes) {
                if !s.is_empty() && s.chars().all(|c| !c.is_control()) {
                    return s;
                }
            }
        }
    }
    reported.to_owned()
}

/// One worker, as the console shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkerStats {
    pub pid: u32,
    /// The channel id, decoded.
    pub channel: String,
    pub label: String,
    /// `starting`, `running` or `stopping` (empty when the super peer does not say).
    pub state: String,
    pub live: bool,
    pub peers: u32,
    /// Viewers the worker takes (`maxConnections`; 0 when the super peer does not say).
    pub max_connections: u32,
    pub uploaded_kb: u64,
    pub origin_kb: u64,
    pub cpu_percent: f64,
    pub rss_mb: f64,
    pub uptime_secs: u64,
    pub restarts: u32,
    pub signal: String,
    /// Anything else the super peer said, kept for display.
    pub raw: Value,
}

/// What `GET /stats` says: the workers, and how many the super peer can run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsReport {
    pub workers: Vec<WorkerStats>,
    /// `capacity.workers`: worker slots it plans with (its configuration, bandwidth and any
    /// forced count); `None` when it does not say.
    pub capacity_workers: Option<u32>,
}

/// Parses `GET /stats`: workers (bare list or under `workers`) and `capacity.workers`.
pub fn parse_stats_report(body: &Value) -> StatsReport {
    StatsReport {
        workers: parse_stats(body),
        capacity_workers: body
            .pointer("/capacity/workers")
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    }
}

/// Parses the workers of `GET /stats`: a list, bare or under `workers`.
pub fn parse_stats(body: &Value) -> Vec<WorkerStats> {
    let list = match body {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => o
            .get("workers")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default(),
        _ => &[],
    };
    list.iter().filter_map(parse_worker).collect()
}

fn parse_worker(v: &Value) -> Option<WorkerStats> {
    let o = v.as_object()?;
    let get = |keys: &[&str]| keys.iter().find_map(|k| o.get(*k));
    let uint = |keys: &[&str]| get(keys).and_then(Value::as_u64).unwrap_or(0);
    let float = |keys: &[&str]| get(keys).and_then(Value::as_f64).unwrap_or(0.0);
    let text = |keys: &[&str]| {
        get(keys)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let pid = u32::try_from(get(&["pid"])?.as_u64()?).ok()?;
    Some(WorkerStats {
        pid,
        // The master reports both `channel` (base64, as sent) and `channelId` (decoded).
        channel: decode_channel(&text(&["channelId", "channel_id", "channel"])),
        state: text(&["state"]),
        label: text(&["label"]),
        live: get(&["live"]).and_then(Value::as_bool).unwrap_or(false),
        peers: u32::try_from(uint(&[
            "peers",
            "peersConnected",
            "peers_connected",
            "connected",
        ]))
        .unwrap_or(u32::MAX),
        max_connections: u32::try_from(uint(&["maxConnections", "max_connections"]))
            .unwrap_or(u32::MAX),
        uploaded_kb: uint(&["uploadedKB", "uploaded_kb", "uploadedKb", "uploaded"]),
        origin_kb: uint(&[
            "originKB",
            "origin_kb",
            "httpKB",
            "http_kb",
            "downloadedKB",
            "downloaded_kb",
        ]),
        cpu_percent: float(&["cpu", "cpuPercent", "cpu_percent"]),
        rss_mb: float(&["rssMB", "rss_mb", "memoryMB", "memory_mb", "rss", "memory"]),
        uptime_secs: uint(&["uptime", "uptimeSecs", "uptime_secs"]),
        restarts: u32::try_from(uint(&["restarts"])).unwrap_or(u32::MAX),
        signal: text(&["signal", "signalAddress", "signal_address", "tracker"]),
        raw: v.clone(),
    })
}

/// Why a super peer call failed, in words for the operator.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let mut msg = "cannot connect".to_owned();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg = format!("cannot connect: {s}");
            src = s.source();
        }
        msg
    } else {
        e.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct SuperPeerClient {
    http: reqwest::Client,
}

impl SuperPeerClient {
    pub fn new(http: reqwest::Client) -> Self {
        SuperPeerClient { http }
    }

    async fn call(
        &self,
        sp: &SuperPeerRecord,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        retry: Retry,
    ) -> Result<Value, String> {
        let url = format!("{}{}", sp.url.trim_end_matches('/'), path);
        let mut req = self.http.request(method, &url);
        if !sp.access_token.is_empty() {
            req = req.header("X-ACCESS-TOKEN", &sp.access_token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = send(req, retry).await.map_err(|e| describe(&e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| describe(&e))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err("HTTP 401: the access token was refused".into());
        }
        if !status.is_success() {
            let detail: String = text.chars().take(200).collect();
            return Err(format!("HTTP {status}: {}", detail.trim()));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `POST /ping {bandwidth}` -> the number of workers running now.
    pub async fn ping(&self, sp: &SuperPeerRecord) -> Result<u32, String> {
        let body = if sp.bandwidth_mbps > 0 {
            json!({ "bandwidth": sp.bandwidth_mbps })
        } else {
            json!({})
        };
        let v = self
            .call(sp, reqwest::Method::POST, "/ping", Some(body), Retry::Once)
            .await?;
        Ok(v.get("workers")
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    pub async fn seed(&self, sp: &SuperPeerRecord, list: &[SeedRequest]) -> Result<Value, String> {
        self.call(
            sp,
            reqwest::Method::POST,
            "/seed",
            Some(json!({ "list": list })),
            // A repeated seed only updates the channel in place.
            Retry::Once,
        )
        .await
    }

    pub async fn stats(&self, sp: &SuperPeerRecord) -> Result<StatsReport, String> {
        let v = self
            .call(sp, reqwest::Method::GET, "/stats", None, Retry::Once)
            .await?;
        Ok(parse_stats_report(&v))
    }

    /// `POST /stop/:pid`, `/restart/:pid`, `/stop_all` or `/restart_all`.
    pub async fn control(
        &self,
        sp: &SuperPeerRecord,
        op: WorkerOp,
        pid: Option<u32>,
    ) -> Result<(), String> {
        let path = match (op, pid) {
            (WorkerOp::Stop, Some(pid)) => format!("/stop/{pid}"),
            (WorkerOp::Restart, Some(pid)) => format!("/restart/{pid}"),
            (WorkerOp::Stop, None) => "/stop_all".into(),
            (WorkerOp::Restart, None) => "/restart_all".into(),
        };
        // Not repeated: a stop or restart that reached the master must not happen twice.
        self.call(sp, reqwest::Method::POST, &path, None, Retry::Never)
            .await
            .map(|_| ())
    }
}

/// Whether a request may be sent again after a connection-level failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Idempotent requests: sent once more on a fresh connection.
    Once,
    Never,
}

/// Sends `req`; with [`Retry::Once`], sends it again when the connection failed under it
/// (typically a pooled keep-alive connection the server closed as idle just as the request
/// went out: hyper reports "connection closed before message completed").
pub async fn send(
    req: reqwest::RequestBuilder,
    retry: Retry,
) -> Result<reqwest::Response, reqwest::Error> {
    let again = match retry {
        Retry::Once => req.try_clone(),
        Retry::Never => None,
    };
    match req.send().await {
        Err(e) if is_connection_failure(&e) => match again {
            Some(again) => {
                tracing::debug!(error = %e, "connection failed under a request; sending it again");
                again.send().await
            }
            None => Err(e),
        },
        other => other,
    }
}

/// A failure of the connection (not a timeout, not an HTTP status): the request can be sent
/// again on a new connection.
fn is_connection_failure(e: &reqwest::Error) -> bool {
    e.is_request() && !e.is_timeout() && !e.is_builder()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerOp {
    Stop,
    Restart,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_through_base64() {
        let ch = "http://127.0.0.1:8080/live/hls-ts/index.m3u8";
        assert_eq!(decode_channel(&encode_channel(ch)), ch);
        assert_eq!(decode_channel(ch), ch);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("a?b>c");
        assert_eq!(decode_channel(&url_safe), "a?b>c");
    }

    #[test]
    fn seed_entries_use_the_super_peer_field_names() {
        let req = SeedRequest {
            token: "t".into(),
            channel: encode_channel("c"),
            tracker_zone: "eu".into(),
            live: true,
            signal1: "ws://a".into(),
            signal2: "ws://b".into(),
            priority: 1,
            keep_alive: true,
            no_use_disk_cache: false,
            max_connections: 80,
            label: "l".into(),
        };
        let v = serde_json::to_value(req).unwrap();
        for key in [
            "token",
            "channel",
            "trackerZone",
            "live",
            "signal1",
            "signal2",
            "priority",
            "keepAlive",
            "noUseDiskCache",
            "maxConnections",
            "label",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
    }

    #[test]
    fn worker_stats_are_read_in_either_case() {
        let body = json!({"workers": [
            {"pid": 42, "channel": encode_channel("http://o/a.m3u8"), "label": "l", "live": true,
             "peersConnected": 3, "uploadedKB": 1200, "cpu": 12.5, "rssMB": 40.0, "uptime": 9},
            {"pid": 43, "channel": "http://o/b.m3u8", "peers_connected": 1, "uploaded_kb": 5},
            {"no_pid": true}
        ]});
        let w = parse_stats(&body);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].channel, "http://o/a.m3u8");
        assert_eq!(
            (w[0].peers, w[0].uploaded_kb, w[0].uptime_secs),
            (3, 1200, 9)
        );
        assert!((w[0].cpu_percent - 12.5).abs() < f64::EPSILON);
        assert_eq!((w[1].peers, w[1].uploaded_kb), (1, 5));
        assert_eq!(parse_stats(&json!([{"pid": 1}]))[0].pid, 1);
    }
}
