//! Swarm ids and tracker info-hashes, derived by P2P Media Loader 2.3's rules, so our peers
//! meet unmodified P2P Media Loader clients in the same swarms.
//!
//! - A stream's short id is `base64(sha1("{bitrate}-{codecs}-{w}-{h}-{lang}-{channels}-{name}-{fps}-{range}"))`
//!   over normalized variant attributes ([`StreamIdentity::short_id`]).
//! - Its swarm id is `"v2-" + base + "-" + main|secondary + "-" + short id`, where `base` is
//!   the manifest's final URL without its query, or a configured custom channel id that
//!   replaces it (P2P Media Loader's `swarmId` option) ([`stream_swarm_id`]).
//! - The info-hash is `base64(sha1(swarm id)[..15])`: 20 ASCII characters ([`info_hash`]).
//!
//! P2P Media Loader up to 2.2 (and its Shaka integration, whose newest release is 2.2.2) names
//! a stream by its position instead (`"v2-" + base + "-" + type + "-" + index`) and hashes with
//! MD5: [`info_hash_md5`].
//!
//! [`hls`] reads the variants of an HLS playlist the way hls.js reports them to P2P Media
//! Loader.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use md5::Md5;
use sha1::{Digest, Sha1};

/// The protocol generation carried in every swarm id.
pub const PROTOCOL_VERSION: &str = "v2";

/// Which kind of stream a swarm carries: video variants are `main`, separate audio tracks
/// `secondary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    Main,
    Secondary,
}

impl StreamType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Main => "main",
            StreamType::Secondary => "secondary",
        }
    }
}

/// The attributes P2P Media Loader hashes into a stream's short id (its
/// `generateStreamShortId` input). `None` and empty values are written as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamIdentity {
    pub bitrate: Option<u64>,
    pub codecs: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub language: Option<String>,
    pub channels: Option<String>,
    pub name: Option<String>,
    pub frame_rate: Option<String>,
    pub video_range: Option<String>,
}

impl StreamIdentity {
    /// The normalized string that is hashed.
    pub fn canonical(&self) -> String {
        let codecs = self
            .codecs
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(normalize_codecs)
            .unwrap_or_default();
        let language = match self.language.as_deref() {
            Some(l) if !l.is_empty() && l != "und" => {
                l.chars().take(2).collect::<String>().to_lowercase()
            }
            _ => String::new(),
        };
        let channels = match self.channels.as_deref() {
            Some(c) if !c.is_empty() => c.split('/').next().unwrap_or_default().to_string(),
            _ => String::new(),
        };
        let name = self
            .name
            .as_deref()
            .map(|n| n.to_lowercase().trim().to_string())
            .unwrap_or_default();
        let frame_rate = self
            .frame_rate
            .as_deref()
            .and_then(normalize_number)
            .unwrap_or_default();
        let video_range = self
            .video_range
            .as_deref()
            .map(|r| r.to_uppercase().trim().to_string())
            .unwrap_or_default();
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{}-{codecs}-{}-{}-{language}-{channels}-{name}-{frame_rate}-{video_range}",
            self.bitrate.unwrap_or(0),
            opt(self.width),
            opt(self.height),
        )
    }

    /// `base64(sha1(canonical))`, 28 characters.
    pub fn short_id(&self) -> String {
        BASE64.encode(Sha1::digest(self.canonical().as_bytes()))
    }
}

/// Codecs lowercased, trimmed, decimal `avc1.P.L` turned into hex `avc1.PP00LL`, sorted.
fn normalize_codecs(codecs: &str) -> String {
    let mut list: Vec<String> = codecs
        .split(',')
        .map(|c| {
            let c = c.trim().to_lowercase();
            let parts: Vec<&str> = c.split('.').collect();
            if let [kind @ ("avc1" | "avc"), profile, level] = parts[..] {
                if let (Some(p), Some(l)) = (canonical_decimal(profile), canonical_decimal(level)) {
                    return format!("{kind}.{p:02x}00{l:02x}");
                }
            }
            c
        })
        .collect();
    // JS sorts strings by UTF-16 units; for ASCII codec strings that is byte order.
    list.sort();
    list.join(",")
}

/// `Some(n)` when `s` is exactly the decimal form of `n` (JS: `parts[1] === parseInt(..).toString()`).
fn canonical_decimal(s: &str) -> Option<i64> {
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// JS `Number(x).toString()` for frame rates ("30.000" -> "30"); `None` when not a number.
fn normalize_number(s: &str) -> Option<String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        // Number("  ") is 0, but P2P Media Loader checks truthiness of the raw string first.
        return Some("0".to_string());
    }
    let n: f64 = trimmed.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    Some(if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    })
}

/// The swarm base: a configured custom channel id if there is one, else the manifest's final
/// URL without its query string.
pub fn swarm_base<'a>(manifest_url: &'a str, custom_swarm_id: Option<&'a str>) -> &'a str {
    custom_swarm_id.unwrap_or_else(|| manifest_url.split('?').next().unwrap_or(manifest_url))
}

/// `v2-{base}-{type}-{short id}`.
pub fn stream_swarm_id(base: &str, stream_type: StreamType, short_id: &str) -> String {
    format!(
        "{PROTOCOL_VERSION}-{base}-{}-{short_id}",
        stream_type.as_str()
    )
}

/// The tracker info-hash of a stream swarm id: base64 of the first 15 bytes of its SHA-1,
/// exactly 20 ASCII characters (sent to the tracker as those 20 bytes).
pub fn info_hash(stream_swarm_id: &str) -> String {
    let digest = Sha1::digest(stream_swarm_id.as_bytes());
    BASE64.encode(&digest[..15])
}

/// The tracker info-hash as 40 hex digits (of its 20 bytes), the form trackers list.
pub fn info_hash_hex(info_hash: &str) -> String {
    info_hash.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The info-hash of P2P Media Loader up to 2.2 (its Shaka integration 2.2.2 included): base64
/// of bytes 1..16 of the MD5 of the swarm id, 20 ASCII characters.
pub fn info_hash_md5(stream_swarm_id: &str) -> String {
    let digest = Md5::digest(stream_swarm_id.as_bytes());
    BASE64.encode(&digest[1..])
}

/// Bytes per piece of a progressive file unless the page sets another `pieceLength`: the
/// browser media engine's default.
pub const DEFAULT_PIECE_LENGTH: u64 = 512 * 1024;

/// The short id of a progressive file's swarm cut in pieces of `piece_length` bytes, as
/// `@swarmcast/media`'s `fileShortId` derives it: a main stream without properties (as P2P
/// Media Loader names a media playlist loaded directly) for the default length, named
/// `pieces-<n>` for any other, since other pieces make another swarm.
pub fn file_short_id(piece_length: u64) -> String {
    let identity = StreamIdentity {
        bitrate: Some(0),
        name: (piece_length != DEFAULT_PIECE_LENGTH).then(|| format!("pieces-{piece_length}")),
        ..StreamIdentity::default()
    };
    identity.short_id()
}

pub mod hls;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_short_ids_match_the_media_engines() {
        // @swarmcast/media's fileShortId(n), run in node.
        assert_eq!(file_short_id(524_288), "UYnLxGhQilEV4D0HbCx+kRv0ZF0=");
        assert_eq!(file_short_id(262_144), "RIB73Egh7RpdzH9xgYEHtpXx+xw=");
        assert_eq!(file_short_id(1_048_576), "lvIEKxdrzx4L3ebCQbhDxU7cejM=");
        assert_eq!(file_short_id(65_536), "8BQm/iU5MqEbqn3KbYIuXtJc6T4=");
    }

    #[test]
    fn reference_example_from_the_study() {
        let id = "v2-https://example.com/live/master.m3u8-main-EDSJuhWcg4AyVz2Iky/BJ8hVmjA=";
        assert_eq!(info_hash(id), "LF5ru/aNcTeuFIVnksyB");
    }

    #[test]
    fn md5_info_hash_of_p2p_media_loader_2_2() {
        // Computed with nano-md5, which P2P Media Loader 2.2.2 uses: btoa(md5.fromUtf8(id).slice(1)).
        let id = "v2-http://127.0.0.1:8080/dash/manifest.mpd-main-0";
        assert_eq!(info_hash_md5(id), "y99c/X3XMrJT7vHdl0Pt");
    }

    #[test]
    fn avc_decimal_codecs_become_hex_and_sorted() {
        assert_eq!(
            normalize_codecs("mp4a.40.2, AVC1.66.30"),
            "avc1.42001e,mp4a.40.2"
        );
        assert_eq!(normalize_codecs("avc1.066.30"), "avc1.066.30");
    }

    #[test]
    fn custom_channel_id_replaces_the_manifest_url() {
        assert_eq!(
            swarm_base("https://a/b.m3u8?token=1", None),
            "https://a/b.m3u8"
        );
        assert_eq!(swarm_base("https://a/b.m3u8?token=1", Some("news")), "news");
    }

    #[test]
    fn frame_rates_lose_trailing_zeros() {
        assert_eq!(normalize_number("30.000").as_deref(), Some("30"));
        assert_eq!(normalize_number("29.970").as_deref(), Some("29.97"));
        assert_eq!(normalize_number("abc"), None);
    }
}
