//! Request validation for the REST API: JSON bodies in, typed requests or a message naming
//! the bad field out. Pure: no state, no I/O; a whole request is accepted or rejected.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::config::{check_ws_url, MasterConfig};

/// Default `maxConnections` of a seed item (the commercial product's default).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 80;
/// Largest `maxConnections` accepted; one worker is not meant to hold more.
pub const MAX_MAX_CONNECTIONS: u32 = 100_000;
/// Most items accepted in one `POST /seed`.
pub const MAX_SEED_ITEMS: usize = 1000;
const MAX_TEXT: usize = 1024;
/// Smallest `pieceLength` (bytes) a progressive-file seed may ask for: smaller pieces spend
/// more on per-piece messages than they carry.
pub const MIN_PIECE_LENGTH: u64 = 16 * 1024;
/// Largest `pieceLength` (bytes): a worker holds up to 40 pieces per swarm in memory, so 4 MiB
/// pieces already take 160 MiB.
pub const MAX_PIECE_LENGTH: u64 = 4 * 1024 * 1024;

/// One validated seed item: everything a worker needs to seed the channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSpec {
    /// The channel id exactly as the client sent it (base64).
    pub channel: String,
    /// The decoded channel id; the key under which the master keeps the channel. A progressive
    /// file seeded in pieces of another length than the default is another swarm, so another
    /// channel: `#pieces-<n>` follows its id.
    pub channel_id: String,
    /// Swarm base of P2P Media Loader (`swarmId`, or the manifest URL without query).
    pub swarm_base: String,
    /// Manifest URL the worker fetches (explicit `url`, else the decoded channel id).
    pub url: String,
    pub token: String,
    pub tracker_zone: Option<String>,
    pub live: bool,
    pub signal1: String,
    pub signal2: Option<String>,
    pub priority: i64,
    pub keep_alive: bool,
    pub no_use_disk_cache: bool,
    pub max_connections: u32,
    pub label: String,
    /// Bytes per piece of a progressive file when not the default (`None`: 512 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub piece_length: Option<u64>,
}

/// `POST /ping` body.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PingRequest {
    pub bandwidth_mbps: Option<f64>,
    pub workers: Option<u32>,
}

/// A rejected request: HTTP 400 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

fn bad(field: &str, message: impl std::fmt::Display) -> BadRequest {
    BadRequest(format!("{field}: {message}"))
}

/// Parses a body that must be a JSON object (an empty body counts as `{}`).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BadRequest("body: expected a JSON object".into())),
        Err(e) => Err(BadRequest(format!("body: invalid JSON: {e}"))),
    }
}

pub fn parse_ping(body: &[u8]) -> Result<PingRequest, BadRequest> {
    let obj = parse_object(body)?;
    let bandwidth_mbps = match obj.get("bandwidth") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(b) if b.is_finite() && b > 0.0 => Some(b),
            _ => return Err(bad("bandwidth", "expected a positive number of Mbit/s")),
        },
    };
    let workers = match obj.get("workers") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n <= 10_000 => Some(n as u32),
            _ => return Err(bad("workers", "expected an integer 0..=10000")),
        },
    };
    Ok(PingRequest {
        bandwidth_mbps,
        workers,
    })
}

fn lenient_engine(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Decodes a base64 channel id, standard or URL-safe alphabet, padded or not.
pub fn decode_channel(channel: &str) -> Result<String, String> {
    let channel = channel.trim();
    if channel.is_empty() {
        return Err("is empty".into());
    }
    let bytes = lenient_engine(&alphabet::STANDARD)
        .decode(channel)
        .or_else(|_| lenient_engine(&alphabet::URL_SAFE).decode(channel))
        .map_err(|e| format!("is not base64 ({e})"))?;
    let id = String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text".to_owned())?;
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err("decodes to an empty id or one with control characters".into());
    }
    Ok(id)
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'))
        && !s.chars().any(char::is_whitespace)
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

struct Item<'a> {
    obj: &'a Map<String, Value>,
    path: String,
}

impl Item<'_> {
    fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }
    fn get(&self, name: &str) -> Option<&Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }
    fn string(&self, name: &str) -> Result<Option<String>, BadRequest> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(bad(&self.field(name), "is too long")),
            Some(_) => Err(bad(&self.field(name), "expected a string")),
        }
    }
    fn bool(&self, name: &str) -> Result<bool, BadRequest> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            // Some clients send flags as 0/1.
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
            Some(_) => Err(bad(&self.field(name), "expected true or false")),
        }
    }
}

/// Validates a `POST /seed` body against the configuration (tracker defaults and zones).
pub fn parse_seed(body: &[u8], config: &MasterConfig) -> Result<Vec<SeedSpec>, BadRequest> {
    let obj = parse_object(body)?;
    let list = match obj.get("list") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("list", "expected an array of seed items")),
        None => return Err(bad("list", "is missing")),
    };
    if list.is_empty() {
        return Err(bad("list", "is empty"));
    }
    if list.len() > MAX_SEED_ITEMS {
        return Err(bad("list", format!("has more than {MAX_SEED_ITEMS} items")));
    }
    let mut specs: Vec<SeedSpec> = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let path = format!("list[{i}]");
        let Value::Object(obj) = value else {
            return Err(bad(&path, "expected an object"));
        };
        let spec = parse_item(&Item { obj, path }, config)?;
        if specs.iter().any(|s| s.channel_id == spec.channel_id) {
            return Err(bad(
                &format!("list[{i}].channel"),
                "appears twice in the list",
            ));
        }
        specs.push(spec);
    }
    Ok(specs)
}

fn parse_item(item: &Item<'_>, config: &MasterConfig) -> Result<SeedSpec, BadRequest> {
    let channel = item
        .string("channel")?
        .ok_or_else(|| bad(&item.field("channel"), "is missing"))?;
    let channel_id = decode_channel(&channel).map_err(|m| bad(&item.field("channel"), m))?;
    let url = match item.string("url")? {
        Some(url) if is_http_url(&url) => url,
        Some(_) => return Err(bad(&item.field("url"), "expected an http(s) URL")),
        None if is_http_url(&channel_id) => channel_id.clone(),
        None => {
            return Err(bad(
                &item.field("channel"),
                "does not decode to an http(s) manifest URL; give the stream in `url`",
            ))
        }
    };
    let swarm_base = if is_http_url(&channel_id) {
        without_query(&channel_id).to_owned()
    } else {
        channel_id.clone()
    };

    let tracker_zone = item.string("trackerZone")?.filter(|z| !z.is_empty());
    let zone = match &tracker_zone {
        Some(z) if !config.tracker_zones.is_empty() => Some(
            config
                .tracker_zones
                .get(z)
                .ok_or_else(|| bad(&item.field("trackerZone"), format!("unknown zone `{z}`")))?,
        ),
        _ => None,
    };
    let mut signals = [None, None];
    for (slot, name) in signals.iter_mut().zip(["signal1", "signal2"]) {
        if let Some(url) = item.string(name)?.filter(|u| !u.is_empty()) {
            check_ws_url(&url).map_err(|m| bad(&item.field(name), m))?;
            *slot = Some(url);
        }
    }
    let [signal1, signal2] = signals;
    let signal1 = signal1
        .or_else(|| zone.map(|z| z.signal1.clone()))
        .or_else(|| config.signal1.clone())
        .ok_or_else(|| {
            bad(
                &item.field("signal1"),
                "no tracker URL: give signal1, a configured trackerZone, or set signal1 in .env",
            )
        })?;
    let signal2 = signal2
        .or_else(|| zone.and_then(|z| z.signal2.clone()))
        .or_else(|| config.signal2.clone())
        .filter(|s2| *s2 != signal1);

    let priority = match item.get("priority") {
        None => 0,
        Some(v) => v
            .as_i64()
            .filter(|p| (-1_000_000..=1_000_000).contains(p))
            .ok_or_else(|| bad(&item.field("priority"), "expected an integer"))?,
    };
    let max_connections = match item.get("maxConnections") {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_MAX_CONNECTIONS)).contains(n))
            .ok_or_else(|| {
                bad(
                    &item.field("maxConnections"),
                    format!("expected an integer 1..={MAX_MAX_CONNECTIONS}"),
                )
            })? as u32,
    };
    let piece_length = piece_length(item, &url)?;
    let channel_id = match piece_length {
        Some(n) => format!("{channel_id}#pieces-{n}"),
        None => channel_id,
    };
    Ok(SeedSpec {
        channel,
        channel_id,
        swarm_base,
        url,
        token: item.string("token")?.unwrap_or_default(),
        tracker_zone,
        live: item.bool("live")?,
        signal1,
        signal2,
        priority,
        keep_alive: item.bool("keepAlive")?,
        no_use_disk_cache: item.bool("noUseDiskCache")?,
        max_connections,
        label: item.string("label")?.unwrap_or_default(),
        piece_length,
    })
}

/// `pieceLength`: only for a progressive file, within the limits; the default counts as none
/// (the same swarm as a seed without it).
fn piece_length(item: &Item<'_>, url: &str) -> Result<Option<u64>, BadRequest> {
    let Some(v) = item.get("pieceLength") else {
        return Ok(None);
    };
    let field = item.field("pieceLength");
    if !crate::worker::media::is_progressive(url) {
        return Err(bad(
            &field,
            "only a progressive file (.mp4, .mp3, .webm, ...) is seeded by pieces; leave it out for a playlist or MPD",
        ));
    }
    let n = v
        .as_u64()
        .filter(|n| (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(n))
        .ok_or_else(|| {
            bad(
                &field,
                format!(
                    "expected an integer number of bytes {MIN_PIECE_LENGTH}..={MAX_PIECE_LENGTH} (16 KiB to 4 MiB), the page's pieceLength"
                ),
            )
        })?;
    Ok((n != crate::worker::media::PIECE_LENGTH).then_some(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn config() -> MasterConfig {
        let mut c = MasterConfig {
            signal1: Some("ws://127.0.0.1:8000".into()),
            ..MasterConfig::default()
        };
        c.tracker_zones.insert(
            "us".into(),
            crate::config::SignalPair {
                signal1: "wss://us.example/ws".into(),
                signal2: Some("wss://us2.example/ws".into()),
            },
        );
        c
    }

    fn seed(items: Value) -> Result<Vec<SeedSpec>, BadRequest> {
        parse_seed(
            serde_json::to_vec(&serde_json::json!({ "list": items }))
                .unwrap()
                .as_slice(),
            &config(),
        )
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn minimal_item_gets_defaults() {
        let url = "http://127.0.0.1:8080/live/hls-ts/index.m3u8?token=1";
        let s = seed(serde_json::json!([{ "channel": b64(url) }])).unwrap();
        assert_eq!(s[0].url, url);
        assert_eq!(
            s[0].swarm_base,
            "http://127.0.0.1:8080/live/hls-ts/index.m3u8"
        );
        assert_eq!(s[0].max_connections, 80);
        assert_eq!(s[0].signal1, "ws://127.0.0.1:8000");
        assert_eq!(s[0].signal2, None);
        assert!(!s[0].live && !s[0].keep_alive);
    }

    #[test]
    fn full_item_and_zone_resolution() {
        let s = seed(serde_json::json!([{
            "token": "t", "channel": URL_SAFE_NO_PAD.encode("my-channel"),
            "url": "https://cdn.example/a.m3u8", "trackerZone": "us", "live": true,
            "priority": 5, "keepAlive": 1, "noUseDiskCache": true, "maxConnections": 300,
            "label": "news"
        }]))
        .unwrap();
        let s = &s[0];
        assert_eq!(s.channel_id, "my-channel");
        assert_eq!(s.swarm_base, "my-channel");
        assert_eq!(s.signal1, "wss://us.example/ws");
        assert_eq!(s.signal2.as_deref(), Some("wss://us2.example/ws"));
        assert!(s.live && s.keep_alive && s.no_use_disk_cache);
        assert_eq!((s.priority, s.max_connections), (5, 300));
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok = b64("http://o/x.m3u8");
        let cases = [
            (serde_json::json!([{ "channel": "***" }]), "list[0].channel"),
            (
                serde_json::json!([{ "channel": b64("not a url") }]),
                "list[0].channel",
            ),
            (serde_json::json!([{}]), "list[0].channel"),
            (
                serde_json::json!([{ "channel": ok, "url": "ftp://x" }]),
                "list[0].url",
            ),
            (
                serde_json::json!([{ "channel": ok, "live": "yes" }]),
                "list[0].live",
            ),
            (
                serde_json::json!([{ "channel": ok, "maxConnections": 0 }]),
                "list[0].maxConnections",
            ),
            (
                serde_json::json!([{ "channel": ok, "maxConnections": 1.5 }]),
                "list[0].maxConnections",
            ),
            (
                serde_json::json!([{ "channel": ok, "priority": "high" }]),
                "list[0].priority",
            ),
            (
                serde_json::json!([{ "channel": ok, "signal1": "http://t" }]),
                "list[0].signal1",
            ),
            (
                serde_json::json!([{ "channel": ok, "signal2": "ws://" }]),
                "list[0].signal2",
            ),
            (
                serde_json::json!([{ "channel": ok, "trackerZone": "mars" }]),
                "list[0].trackerZone",
            ),
            (
                serde_json::json!([{ "channel": ok, "label": 7 }]),
                "list[0].label",
            ),
            (
                serde_json::json!([{ "channel": ok }, { "channel": ok }]),
                "list[1].channel",
            ),
            (serde_json::json!([{ "channel": ok }, 3]), "list[1]"),
            (serde_json::json!([]), "list"),
        ];
        for (items, field) in cases {
            let e = seed(items.clone()).unwrap_err();
            assert!(e.0.starts_with(&format!("{field}:")), "{items} -> {e}");
        }
    }

    #[test]
    fn piece_length_makes_another_channel_of_a_file() {
        let mp4 = b64("http://o/m/a.mp4?t=1");
        let s = seed(serde_json::json!([
            { "channel": mp4 },
            { "channel": mp4, "pieceLength": 262_144 },
            { "channel": mp4, "pieceLength": MAX_PIECE_LENGTH },
        ]))
        .unwrap();
        assert_eq!(s[0].piece_length, None);
        assert_eq!(s[1].piece_length, Some(262_144));
        assert_eq!(s[1].channel_id, "http://o/m/a.mp4?t=1#pieces-262144");
        assert_eq!(s[1].swarm_base, "http://o/m/a.mp4");
        assert_eq!(s[1].url, "http://o/m/a.mp4?t=1");
        assert_eq!(s[2].piece_length, Some(MAX_PIECE_LENGTH));
        // The default length is the default swarm: the same channel as no pieceLength.
        let d = seed(serde_json::json!([{ "channel": mp4, "pieceLength": 524_288 }])).unwrap();
        assert_eq!(d[0], s[0]);
        let twice = seed(serde_json::json!([
            { "channel": mp4, "pieceLength": 65_536 },
            { "channel": mp4, "pieceLength": 65_536 },
        ]));
        assert!(twice.unwrap_err().0.starts_with("list[1].channel:"));
    }

    #[test]
    fn piece_length_is_refused_out_of_range_or_for_a_playlist() {
        let mp4 = b64("http://o/a.mp4");
        for bad_length in [
            serde_json::json!(0),
            serde_json::json!(MIN_PIECE_LENGTH - 1),
            serde_json::json!(MAX_PIECE_LENGTH + 1),
            serde_json::json!(-262_144),
            serde_json::json!(262_144.5),
            serde_json::json!("262144"),
        ] {
            let e = seed(serde_json::json!([{ "channel": mp4, "pieceLength": bad_length }]))
                .unwrap_err();
            assert!(e.0.starts_with("list[0].pieceLength:"), "{e}");
            assert!(e.0.contains("16384..=4194304"), "{e}");
        }
        let e = seed(serde_json::json!([{
            "channel": b64("http://o/x.m3u8"), "pieceLength": 262_144
        }]))
        .unwrap_err();
        assert!(
            e.0.starts_with("list[0].pieceLength: only a progressive file"),
            "{e}"
        );
        // An explicit url decides what is fetched, so what may be cut in pieces.
        let e = seed(serde_json::json!([{
            "channel": b64("my-film"), "url": "http://o/index.m3u8", "pieceLength": 262_144
        }]))
        .unwrap_err();
        assert!(e.0.starts_with("list[0].pieceLength:"), "{e}");
        let s = seed(serde_json::json!([{
            "channel": b64("my-film"), "url": "http://o/film.webm", "pieceLength": 1_048_576
        }]))
        .unwrap();
        assert_eq!(s[0].channel_id, "my-film#pieces-1048576");
        assert_eq!(s[0].swarm_base, "my-film");
    }

    #[test]
    fn body_must_be_a_json_object() {
        let c = config();
        assert!(parse_seed(b"{", &c).unwrap_err().0.starts_with("body:"));
        assert!(parse_seed(b"[]", &c).unwrap_err().0.starts_with("body:"));
        assert!(parse_seed(b"{}", &c).unwrap_err().0.starts_with("list:"));
        assert!(parse_seed(br#"{"list":{}}"#, &c)
            .unwrap_err()
            .0
            .starts_with("list:"));
    }

    #[test]
    fn missing_tracker_is_reported_on_signal1() {
        let body = serde_json::json!({ "list": [{ "channel": b64("http://o/x.m3u8") }] });
        let e = parse_seed(body.to_string().as_bytes(), &MasterConfig::default()).unwrap_err();
        assert!(e.0.starts_with("list[0].signal1:"), "{e}");
    }

    #[test]
    fn ping_fields() {
        assert_eq!(parse_ping(b"").unwrap(), PingRequest::default());
        let p = parse_ping(br#"{"bandwidth": 950.5, "workers": 3}"#).unwrap();
        assert_eq!((p.bandwidth_mbps, p.workers), (Some(950.5), Some(3)));
        assert!(parse_ping(br#"{"bandwidth": -1}"#)
            .unwrap_err()
            .0
            .starts_with("bandwidth:"));
        assert!(parse_ping(br#"{"workers": "2"}"#)
            .unwrap_err()
            .0
            .starts_with("workers:"));
        assert!(parse_ping(b"nope").unwrap_err().0.starts_with("body:"));
    }

    #[test]
    fn channel_decoding_accepts_both_alphabets_and_padding() {
        let id = "http://o/a?b=~~~";
        assert_eq!(decode_channel(&STANDARD.encode(id)).unwrap(), id);
        assert_eq!(decode_channel(&URL_SAFE_NO_PAD.encode(id)).unwrap(), id);
        assert!(decode_channel("").is_err());
        assert!(decode_channel(&STANDARD.encode([0xff, 0xfe])).is_err());
    }
}
