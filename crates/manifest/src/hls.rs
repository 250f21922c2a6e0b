//! HLS playlists, parsed by `m3u8-rs`: the streams of a master playlist as hls.js hands them
//! to P2P Media Loader (one `main` stream per variant, one `secondary` per audio rendition with
//! a URI, a single `main` stream for a media playlist loaded directly), and the segments of a
//! media playlist with P2P Media Loader's ids (media sequence number when live, position in
//! the playlist when VOD). The streams' identities are `wire::swarm_id::hls`'s rules, fed with
//! what `m3u8-rs` read.

use m3u8_rs::{AlternativeMediaType, MasterPlaylist, Playlist};
pub use wire::swarm_id::hls::HlsStream;
use wire::swarm_id::hls::{self as ids, AudioRendition, Variant};

use crate::{url, Classified, ManifestError, Segment};

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
        Playlist::MediaPlaylist(media) if !media.segments.is_empty() => {
            vec![ids::media_playlist_stream()]
        }
        Playlist::MediaPlaylist(_) => Vec::new(),
    })
}

/// The attributes `wire`'s identity rules take, as `m3u8-rs` read them.
fn master_streams(master: &MasterPlaylist) -> Vec<HlsStream> {
    let variants: Vec<Variant> = master
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| Variant {
            uri: v.uri.clone(),
            bandwidth: Some(v.bandwidth),
            average_bandwidth: v.average_bandwidth,
            codecs: v.codecs.clone(),
            resolution: v.resolution.map(|r| (r.width, r.height)),
            // The number's text; the identity normalizes it as JS's `Number` does.
            frame_rate: v.frame_rate.map(|f| f.to_string()),
            video_range: v
                .other_attributes
                .as_ref()
                .and_then(|a| a.get("VIDEO-RANGE"))
                .map(|r| r.to_string()),
            audio_group: v.audio.clone(),
        })
        .collect();
    let audio: Vec<AudioRendition> = master
        .alternatives
        .iter()
        .filter(|m| m.media_type == AlternativeMediaType::Audio)
        .filter_map(|m| {
            Some(AudioRendition {
                uri: m.uri.clone()?,
                group_id: m.group_id.clone(),
                name: Some(m.name.clone()),
                language: m.language.clone(),
                channels: m.channels.clone(),
            })
        })
        .collect();
    ids::master_streams(&variants, &audio)
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
    use wire::swarm_id::StreamType;

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

    #[test]
    fn m3u8_rs_fills_the_same_identities_as_wires_light_parser() {
        // One set of identity rules, two parsers: they must hand it the same attributes.
        let playlists = [
            "#EXTM3U\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"Deutsch\",LANGUAGE=\"de\",CHANNELS=\"6/JOC\",URI=\"de.m3u8\"\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"b\",NAME=\"None\"\n\
             #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"en\",URI=\"s.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=0,AVERAGE-BANDWIDTH=500000,CODECS=\"avc1.66.30, ec-3\",RESOLUTION=640x360,FRAME-RATE=29.970,VIDEO-RANGE=PQ,AUDIO=\"a\"\n\
             360p.m3u8\n\
             #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI=\"iframes.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=0,CODECS=\"avc1.64001f\",RESOLUTION=1280x720\n\
             720p.m3u8\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n",
        ];
        // FRAME-RATE differs in text only ("29.97" from m3u8-rs's number, "29.970" as written).
        let ids = |s: Vec<HlsStream>| -> Vec<_> {
            s.into_iter()
                .map(|s| (s.uri, s.stream_type, s.identity.canonical()))
                .collect()
        };
        for text in playlists {
            let ours = ids(streams(text).unwrap());
            assert_eq!(ours, ids(wire::swarm_id::hls::streams(text)), "{text}");
            assert!(!ours.is_empty());
        }
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
