//! HLS playlists, parsed by `m3u8-rs`: the streams of a master playlist as hls.js hands them
//! to P2P Media Loader (one `main` stream per variant, one `secondary` per audio rendition with
//! a URI, a single `main` stream for a media playlist loaded directly), and the segments of a
//! media playlist with P2P Media Loader's ids (media sequence number when live, position in
//! the playlist when VOD).

use m3u8_rs::{AlternativeMediaType, MasterPlaylist, Playlist, QuotedOrUnquoted};
use wire::swarm_id::{StreamIdentity, StreamType};

use crate::{url, Classified, ManifestError, Segment};

/// One stream of a playlist with the identity P2P Media Loader derives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsStream {
    /// The playlist URI as written (relative to the master playlist); empty for a media
    /// playlist loaded directly.
    pub uri: String,
    pub stream_type: StreamType,
    pub identity: StreamIdentity,
}

/// A media playlist's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    pub target_duration: f64,
    pub ended: bool,
    pub segments: Vec<Segment>,
}

fn parse(text: &str) -> Result<Playlist, ManifestError> {
    let text = text.trim_start_matches('\u{feff}');
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err(ManifestError::Hls("no #EXTM3U".into()));
    }
    m3u8_rs::parse_playlist_res(text.as_bytes())
        .map_err(|e| ManifestError::Hls(format!("{:.120}", format!("{e:?}"))))
}

/// The streams of a master or media playlist.
pub fn streams(text: &str) -> Result<Vec<HlsStream>, ManifestError> {
    Ok(match parse(text)? {
        Playlist::MasterPlaylist(master) => {
            // m3u8-rs drops a variant it cannot read (a BANDWIDTH that is not a number, no
            // URI) without a word: count them, so a broken ladder is an error, not a smaller one.
            let written = text
                .lines()
                .filter(|l| l.trim_start().starts_with("#EXT-X-STREAM-INF"))
                .count();
            let read = master
                .variants
                .iter()
                .filter(|v| !v.is_i_frame && !v.uri.is_empty())
                .count();
            if read < written {
                return Err(ManifestError::Hls(format!(
                    "{} of {written} #EXT-X-STREAM-INF entries are unreadable (attributes or URI)",
                    written - read
                )));
            }
            master_streams(&master)
        }
        // hls.js makes a single level with bitrate 0 and no attributes for a media playlist.
        Playlist::MediaPlaylist(media) if !media.segments.is_empty() => vec![HlsStream {
            uri: String::new(),
            stream_type: StreamType::Main,
            identity: StreamIdentity {
                bitrate: Some(0),
                ..StreamIdentity::default()
            },
        }],
        Playlist::MediaPlaylist(_) => Vec::new(),
    })
}

fn master_streams(master: &MasterPlaylist) -> Vec<HlsStream> {
    let mut streams = Vec::new();
    let mut audio_codecs_by_group: Vec<(String, String)> = Vec::new();
    for v in master.variants.iter().filter(|v| !v.is_i_frame) {
        let codecs = v.codecs.as_deref().unwrap_or_default();
        if let Some(group) = &v.audio {
            let audio = codecs_of_kind(codecs, false);
            if !audio.is_empty() {
                audio_codecs_by_group.push((group.clone(), audio));
            }
        }
        // hls.js: bitrate = BANDWIDTH || AVERAGE-BANDWIDTH; without it, no other metadata is used.
        let bitrate = [Some(v.bandwidth), v.average_bandwidth]
            .into_iter()
            .flatten()
            .find(|&b| b != 0)
            .unwrap_or(0);
        let mut identity = StreamIdentity {
            bitrate: Some(bitrate),
            ..StreamIdentity::default()
        };
        if bitrate != 0 {
            let video = codecs_of_kind(codecs, true);
            identity.codecs = (!video.is_empty()).then_some(video);
            if let Some(r) = &v.resolution {
                identity.width = Some(r.width);
                identity.height = Some(r.height);
            }
            identity.frame_rate = v.frame_rate.map(js_number);
            identity.video_range = other_attribute(&v.other_attributes, "VIDEO-RANGE");
        }
        streams.push(HlsStream {
            uri: v.uri.clone(),
            stream_type: StreamType::Main,
            identity,
        });
    }
    for m in &master.alternatives {
        let (AlternativeMediaType::Audio, Some(uri)) = (&m.media_type, &m.uri) else {
            continue;
        };
        let codec = audio_codecs_by_group
            .iter()
            .find(|(g, _)| *g == m.group_id)
            .map(|(_, c)| c.clone());
        streams.push(HlsStream {
            uri: uri.clone(),
            stream_type: StreamType::Secondary,
            identity: StreamIdentity {
                bitrate: Some(0),
                codecs: codec,
                language: m.language.clone(),
                channels: m.channels.clone(),
                name: Some(m.name.clone()),
                ..StreamIdentity::default()
            },
        });
    }
    streams
}

fn other_attribute(
    attrs: &Option<std::collections::HashMap<String, QuotedOrUnquoted>>,
    key: &str,
) -> Option<String> {
    attrs.as_ref()?.get(key).map(|v| v.to_string())
}

/// JS `Number(x).toString()` of a frame rate (30.0 -> "30", 29.97 -> "29.97").
fn js_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
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

/// Parses a media playlist fetched from `url`; `live` selects sequence numbers (live) or
/// positions (VOD) as ids.
pub fn media(text: &str, url: &str, live: bool) -> Result<MediaPlaylist, ManifestError> {
    let media = match parse(text)? {
        Playlist::MediaPlaylist(m) => m,
        Playlist::MasterPlaylist(_) => {
            return Err(ManifestError::Hls(
                "a master playlist where a media playlist was expected".into(),
            ))
        }
    };
    // Numbers from the origin are checked, not trusted: an infinite or negative duration, or a
    // sequence number or byte offset past what ids and offsets hold, is an error.
    let bad = |what: &str| ManifestError::Hls(what.to_owned());
    let first_id = if live {
        i64::try_from(media.media_sequence).map_err(|_| bad("media sequence out of range"))?
    } else {
        0
    };
    let mut next_offset: u64 = 0;
    let mut start = 0.0;
    let mut segments = Vec::with_capacity(media.segments.len());
    for (index, s) in media.segments.iter().enumerate() {
        let duration = f64::from(s.duration);
        if !duration.is_finite() || duration < 0.0 {
            return Err(bad(
                "a segment duration is not a finite, non-negative number",
            ));
        }
        let byte_range = match s.byte_range.as_ref() {
            Some(r) => {
                let offset = r.offset.unwrap_or(next_offset);
                next_offset = offset
                    .checked_add(r.length)
                    .ok_or_else(|| bad("a byte range ends past 2^64"))?;
                Some((offset, r.length))
            }
            None => None,
        };
        let id = i64::try_from(index)
            .ok()
            .and_then(|i| first_id.checked_add(i))
            .ok_or_else(|| bad("segment ids out of range"))?;
        segments.push(Segment {
            id,
            url: url::resolve(url, &s.uri),
            byte_range,
            start,
            duration,
        });
        start += duration;
    }
    Ok(MediaPlaylist {
        target_duration: media.target_duration as f64,
        ended: media.end_list,
        segments,
    })
}

/// Live or VOD: a media playlist is live unless it has `#EXT-X-ENDLIST` or
/// `#EXT-X-PLAYLIST-TYPE:VOD`; a master playlist is as live as its first variant.
pub fn classify(text: &str) -> Result<Classified, ManifestError> {
    match parse(text)? {
        Playlist::MasterPlaylist(m) => m
            .variants
            .iter()
            .find(|v| !v.is_i_frame)
            .map(|v| Classified::Master {
                variant: v.uri.clone(),
            })
            .ok_or_else(|| ManifestError::Hls("a master playlist without variants".into())),
        Playlist::MediaPlaylist(m) if m.end_list => Ok(Classified::Stream {
            live: false,
            why: "the playlist has EXT-X-ENDLIST",
        }),
        Playlist::MediaPlaylist(m) if m.playlist_type == Some(m3u8_rs::MediaPlaylistType::Vod) => {
            Ok(Classified::Stream {
                live: false,
                why: "the playlist type is VOD",
            })
        }
        Playlist::MediaPlaylist(_) => Ok(Classified::Stream {
            live: true,
            why: "the playlist has no EXT-X-ENDLIST",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_variants_are_errors_not_a_smaller_ladder() {
        let bad = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=x\na.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n";
        let e = streams(bad).unwrap_err().to_string();
        assert!(e.contains("1 of 2"), "{e}");
        assert!(streams("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n").is_err());
    }

    #[test]
    fn master_playlist_variants_and_audio() {
        let master = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",CHANNELS=\"2\",URI=\"a/en.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"aud\"\n\
            720p/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401e,mp4a.40.2\",RESOLUTION=854x480,VIDEO-RANGE=SDR\n\
            480p/index.m3u8\n";
        let s = streams(master).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].uri, "720p/index.m3u8");
        assert_eq!(
            s[0].identity.canonical(),
            "2000000-avc1.64001f-1280-720----30-"
        );
        assert_eq!(
            s[1].identity.canonical(),
            "800000-avc1.4d401e-854-480-----SDR"
        );
        assert_eq!(s[2].stream_type, StreamType::Secondary);
        assert_eq!(s[2].identity.canonical(), "0-mp4a.40.2---en-2-english--");
    }

    #[test]
    fn media_playlist_is_one_main_stream_without_metadata() {
        let s = streams("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].identity.canonical(), "0--------");
    }

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:2.000,\nseg10.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nseg11.ts\n";

    #[test]
    fn live_ids_are_sequence_numbers() {
        let p = media(LIVE, "http://o/live/index.m3u8", true).unwrap();
        assert_eq!(p.target_duration, 2.0);
        assert!(!p.ended);
        let ids: Vec<i64> = p.segments.iter().map(|s| s.id).collect();
        assert_eq!(ids, [40, 41]);
        assert_eq!(p.segments[1].url, "http://o/live/seg11.ts");
        assert_eq!(p.segments[1].start, 2.0);
    }

    #[test]
    fn vod_ids_are_indices_and_byte_ranges_chain() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\nv.mp4\n#EXTINF:4,\n#EXT-X-BYTERANGE:50\nv.mp4\n#EXT-X-ENDLIST\n";
        let p = media(text, "http://o/v/index.m3u8", false).unwrap();
        assert!(p.ended);
        assert_eq!(p.segments[0].id, 0);
        assert_eq!(p.segments[1].byte_range, Some((100, 50)));
        assert_eq!(p.segments[1].duration, 4.0);
    }

    #[test]
    fn durations_must_be_finite_and_numbers_in_range() {
        // Whatever m3u8-rs makes of odd durations, segments come out finite and not negative.
        for d in ["-INF", "-1", "NaN", "1e999"] {
            let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:{d},\na.ts\n");
            if let Ok(p) = media(&text, "http://o/p.m3u8", true) {
                assert!(
                    p.segments
                        .iter()
                        .all(|s| s.duration.is_finite() && s.duration >= 0.0),
                    "{d}"
                );
            }
        }
        let huge = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:2,\na.ts\n";
        assert!(media(huge, "http://o/p.m3u8", true).is_err());
        assert!(
            media(huge, "http://o/p.m3u8", false).is_ok(),
            "VOD ids are positions"
        );
        let ranges = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:18446744073709551615@10\na.ts\n";
        assert!(media(ranges, "http://o/p.m3u8", false).is_err());
    }

    #[test]
    fn rejects_what_is_not_a_media_playlist() {
        assert!(media("<html>", "http://o/x", true).is_err());
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n";
        assert!(media(master, "http://o/x", true).is_err());
        assert_eq!(
            classify(master),
            Ok(Classified::Master {
                variant: "a.m3u8".into()
            })
        );
    }

    #[test]
    fn live_and_vod_playlists() {
        assert!(matches!(
            classify(LIVE),
            Ok(Classified::Stream { live: true, .. })
        ));
        let typed = "#EXTM3U\r\n#EXT-X-PLAYLIST-TYPE:VOD\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2,\r\ns0.ts\r\n";
        assert!(matches!(
            classify(typed),
            Ok(Classified::Stream { live: false, .. })
        ));
        let event =
            "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns0.ts\n";
        assert!(matches!(
            classify(event),
            Ok(Classified::Stream { live: true, .. })
        ));
    }
}
