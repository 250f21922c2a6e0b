//! The streams of an HLS playlist as hls.js hands them to P2P Media Loader: one `main`
//! stream per `#EXT-X-STREAM-INF` variant, one `secondary` stream per audio rendition with a
//! URI, or a single `main` stream for a media playlist loaded directly.
//!
//! The identity rules live here once ([`master_streams`], [`media_playlist_stream`]); a
//! playlist parser only fills [`Variant`]s and [`AudioRendition`]s. [`streams`] is the light
//! parser of this crate (for the tracker, the console's channel list and the peers);
//! `manifest::hls` fills the same inputs from `m3u8-rs` for the super peer's worker.

use super::{StreamIdentity, StreamType};

/// One stream of a playlist with the identity P2P Media Loader derives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsStream {
    /// The playlist URI as written (relative to the master playlist); empty for a media
    /// playlist loaded directly.
    pub uri: String,
    pub stream_type: StreamType,
    pub identity: StreamIdentity,
}

/// The attributes of one `#EXT-X-STREAM-INF` variant that hls.js passes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth: Option<u64>,
    pub average_bandwidth: Option<u64>,
    /// The CODECS list as written (video and audio).
    pub codecs: Option<String>,
    /// Width and height.
    pub resolution: Option<(u64, u64)>,
    /// FRAME-RATE as written or as a number's text: [`StreamIdentity`] normalizes it.
    pub frame_rate: Option<String>,
    pub video_range: Option<String>,
    /// The AUDIO group id.
    pub audio_group: Option<String>,
}

/// The attributes of one `#EXT-X-MEDIA:TYPE=AUDIO` rendition with a URI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioRendition {
    pub uri: String,
    pub group_id: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub channels: Option<String>,
}

/// One swarm viewers of a channel join, with its tracker info-hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSwarm {
    pub stream: HlsStream,
    pub swarm_id: String,
    pub info_hash: String,
}

/// The swarms of every stream of a playlist, for a swarm base ([`super::swarm_base`]).
pub fn swarms(base: &str, playlist: &str) -> Vec<StreamSwarm> {
    streams(playlist)
        .into_iter()
        .map(|stream| {
            let swarm_id =
                super::stream_swarm_id(base, stream.stream_type, &stream.identity.short_id());
            StreamSwarm {
                info_hash: super::info_hash(&swarm_id),
                swarm_id,
                stream,
            }
        })
        .collect()
}

/// Reads a master or media playlist's text, leniently: what is not understood is skipped.
pub fn streams(playlist: &str) -> Vec<HlsStream> {
    let mut variants = Vec::new();
    let mut audio = Vec::new();
    let mut pending_variant: Option<Vec<(String, String)>> = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending_variant = Some(attributes(attrs));
        } else if let Some(attrs) = line.strip_prefix("#EXT-X-MEDIA:") {
            let attrs = attributes(attrs);
            let text = |key| get(&attrs, key).map(str::to_string);
            if let (Some("AUDIO"), Some(uri)) = (get(&attrs, "TYPE"), text("URI")) {
                audio.push(AudioRendition {
                    uri,
                    group_id: text("GROUP-ID").unwrap_or_default(),
                    name: text("NAME"),
                    language: text("LANGUAGE"),
                    channels: text("CHANNELS"),
                });
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(attrs) = pending_variant.take() {
                let text = |key| get(&attrs, key).map(str::to_string);
                let number = |key| get(&attrs, key).and_then(|b| b.parse::<u64>().ok());
                variants.push(Variant {
                    uri: line.to_string(),
                    bandwidth: number("BANDWIDTH"),
                    average_bandwidth: number("AVERAGE-BANDWIDTH"),
                    codecs: text("CODECS"),
                    resolution: get(&attrs, "RESOLUTION")
                        .and_then(|r| r.split_once(['x', 'X']))
                        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))),
                    frame_rate: text("FRAME-RATE"),
                    video_range: text("VIDEO-RANGE"),
                    audio_group: text("AUDIO"),
                });
            }
        }
    }
    if variants.is_empty() && audio.is_empty() {
        return if playlist.contains("#EXTINF") {
            vec![media_playlist_stream()]
        } else {
            Vec::new()
        };
    }
    master_streams(&variants, &audio)
}

/// The single stream of a media playlist loaded directly: hls.js makes one level with bitrate
/// 0 and no attributes.
pub fn media_playlist_stream() -> HlsStream {
    HlsStream {
        uri: String::new(),
        stream_type: StreamType::Main,
        identity: StreamIdentity {
            bitrate: Some(0),
            ..StreamIdentity::default()
        },
    }
}

/// The streams of a master playlist: its variants in order, then its audio renditions, whose
/// codec is the audio codec of the first variant of their group.
pub fn master_streams(variants: &[Variant], audio: &[AudioRendition]) -> Vec<HlsStream> {
    let mut streams: Vec<HlsStream> = variants.iter().map(variant_stream).collect();
    for rendition in audio {
        let codecs = variants
            .iter()
            .filter(|v| v.audio_group.as_deref() == Some(rendition.group_id.as_str()))
            .map(|v| codecs_of_kind(v.codecs.as_deref().unwrap_or_default(), false))
            .find(|c| !c.is_empty());
        streams.push(HlsStream {
            uri: rendition.uri.clone(),
            stream_type: StreamType::Secondary,
            identity: StreamIdentity {
                bitrate: Some(0),
                codecs,
                language: rendition.language.clone(),
                channels: rendition.channels.clone(),
                name: rendition.name.clone(),
                ..StreamIdentity::default()
            },
        });
    }
    streams
}

fn variant_stream(v: &Variant) -> HlsStream {
    // hls.js: bitrate = BANDWIDTH || AVERAGE-BANDWIDTH; without it, no other metadata is used.
    let bitrate = [v.bandwidth, v.average_bandwidth]
        .into_iter()
        .flatten()
        .find(|&b| b != 0)
        .unwrap_or(0);
    let mut identity = StreamIdentity {
        bitrate: Some(bitrate),
        ..StreamIdentity::default()
    };
    if bitrate != 0 {
        let video = codecs_of_kind(v.codecs.as_deref().unwrap_or_default(), true);
        identity.codecs = (!video.is_empty()).then_some(video);
        identity.width = v.resolution.map(|(w, _)| w);
        identity.height = v.resolution.map(|(_, h)| h);
        identity.frame_rate = v.frame_rate.clone();
        identity.video_range = v.video_range.clone();
    }
    HlsStream {
        uri: v.uri.clone(),
        stream_type: StreamType::Main,
        identity,
    }
}

/// The video (or audio) codecs of a CODECS list, comma-joined, as hls.js's `setCodecs` does.
fn codecs_of_kind(codecs: &str, video: bool) -> String {
    codecs
        .split([' ', ','])
        .filter(|c| !c.is_empty())
        .filter(|c| is_video_codec(c) == video && (video || is_audio_codec(c)))
        .map(|c| c.split('/').next().unwrap_or(c))
        .collect::<Vec<_>>()
        .join(",")
}

fn is_video_codec(codec: &str) -> bool {
    const VIDEO: &[&str] = &[
        "avc1", "avc2", "avc3", "avc4", "avcp", "av01", "drac", "dva1", "dvav", "dvh1", "dvhe",
        "encv", "hev1", "hvc1", "mjp2", "mp4v", "mvc1", "mvc2", "mvc3", "mvc4", "resv", "rv60",
        "s263", "svc1", "svc2", "vc-1", "vp08", "vp09",
    ];
    VIDEO
        .iter()
        .any(|p| codec.get(..4).is_some_and(|c| c.eq_ignore_ascii_case(p)))
}

fn is_audio_codec(codec: &str) -> bool {
    const AUDIO: &[&str] = &[
        "mp4a", "ac-3", "ec-3", "ac-4", "opus", "flac", "alac", "mp3", "dts", "enca",
    ];
    let codec = codec.to_lowercase();
    AUDIO.iter().any(|p| codec.starts_with(p))
}

/// Parses `KEY=VALUE,KEY="quoted, value"` attribute lists.
fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().to_string();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, a)) => (v, a),
                None => (quoted, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, a)) => (v, a),
                None => (after, ""),
            }
        };
        out.push((key, value.trim().to_string()));
        rest = after.trim_start_matches(',');
    }
    out
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_playlist_variants_and_audio() {
        let master = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",CHANNELS=\"2\",URI=\"a/en.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"aud\"\n\
            720p/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401e,mp4a.40.2\",RESOLUTION=854x480\n\
            480p/index.m3u8\n";
        let s = streams(master);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].uri, "720p/index.m3u8");
        assert_eq!(
            s[0].identity.canonical(),
            "2000000-avc1.64001f-1280-720----30-"
        );
        assert_eq!(s[1].identity.canonical(), "800000-avc1.4d401e-854-480-----");
        assert_eq!(s[2].stream_type, StreamType::Secondary);
        assert_eq!(s[2].identity.canonical(), "0-mp4a.40.2---en-2-english--");
    }

    #[test]
    fn media_playlist_is_one_main_stream_without_metadata() {
        let s = streams("#EXTM3U\n#EXTINF:2.0,\nseg0.ts\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].identity.canonical(), "0--------");
    }

    #[test]
    fn swarms_carry_the_ids_of_each_stream() {
        let base = "https://example.com/live/index.m3u8";
        let s = swarms(base, "#EXTM3U\n#EXTINF:2.0,\nseg0.ts\n");
        assert_eq!(s.len(), 1);
        let id =
            super::super::stream_swarm_id(base, StreamType::Main, &s[0].stream.identity.short_id());
        assert_eq!(s[0].swarm_id, id);
        assert_eq!(s[0].info_hash, super::super::info_hash(&id));
        assert_eq!(super::super::info_hash_hex(&s[0].info_hash).len(), 40);
    }
}
