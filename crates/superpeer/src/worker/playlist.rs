//! HLS media playlists as the worker needs them: each segment's URL, byte range and the
//! id P2P Media Loader (hls.js) gives it — the media sequence number for live streams, the
//! index in the playlist for VOD.

use std::time::Duration;

/// One segment of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// P2P Media Loader's `externalId`.
    pub id: i64,
    /// Absolute URL.
    pub url: String,
    /// `(offset, length)` of an `#EXT-X-BYTERANGE`.
    pub byte_range: Option<(u64, u64)>,
    pub duration: f64,
}

/// A parsed media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    pub target_duration: f64,
    pub ended: bool,
    pub segments: Vec<Segment>,
}

impl MediaPlaylist {
    /// How long a live worker waits before it reloads the playlist: half the target
    /// duration, from 0.5 s to 5 s.
    pub fn reload_interval(&self) -> Duration {
        Duration::from_secs_f64((self.target_duration / 2.0).clamp(0.5, 5.0))
    }
}

/// Resolves `reference` against `base` (absolute URL, absolute path or relative path).
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let Some(scheme_end) = base.find("://") else {
        return reference.to_owned();
    };
    // `http://host` has the path `/`.
    let with_root;
    let base = if base[scheme_end + 3..].contains('/') {
        base
    } else {
        with_root = format!("{base}/");
        &with_root
    };
    let host_end = base[scheme_end + 3..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + 3 + i);
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{}//{rest}", &base[..scheme_end + 1]);
    }
    if reference.starts_with('/') {
        return format!("{}{reference}", &base[..host_end]);
    }
    let dir_end = base[host_end..]
        .rfind('/')
        .map_or(base.len(), |i| host_end + i + 1);
    let mut path: Vec<&str> = base[host_end..dir_end].split('/').collect();
    path.pop(); // the empty piece after the last '/'
    let (reference, query) = match reference.find('?') {
        Some(i) => (&reference[..i], &reference[i..]),
        None => (reference, ""),
    };
    for piece in reference.split('/') {
        match piece {
            "." => {}
            ".." => {
                if path.len() > 1 {
                    path.pop();
                }
            }
            p => path.push(p),
        }
    }
    format!("{}{}{query}", &base[..host_end], path.join("/"))
}

/// Whether the text is a master playlist (lists variants rather than segments).
pub fn is_master(text: &str) -> bool {
    text.contains("#EXT-X-STREAM-INF")
}

/// Parses a media playlist; `live` selects sequence numbers (live) or indices (VOD) as ids.
pub fn parse_media(text: &str, url: &str, live: bool) -> Result<MediaPlaylist, String> {
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err("not an HLS playlist (no #EXTM3U)".into());
    }
    let mut sequence: i64 = 0;
    let mut target_duration = 0.0;
    let mut ended = false;
    let mut duration = None;
    let mut byte_range: Option<(Option<u64>, u64)> = None;
    let mut next_offset: u64 = 0;
    let mut segments = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v
                .trim()
                .parse()
                .ok()
                .filter(|&n: &i64| n >= 0)
                .ok_or("bad EXT-X-MEDIA-SEQUENCE")?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target_duration = seconds(v).ok_or("bad EXT-X-TARGETDURATION")?;
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or_default().trim();
            duration = Some(seconds(d).ok_or("bad EXTINF")?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (len, offset) = v.split_once('@').map_or((v, None), |(l, o)| (l, Some(o)));
            let len: u64 = len.trim().parse().map_err(|_| "bad EXT-X-BYTERANGE")?;
            let offset = offset
                .map(|o| o.trim().parse().map_err(|_| "bad EXT-X-BYTERANGE"))
                .transpose()?;
            byte_range = Some((offset, len));
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            let index = segments.len() as i64;
            let range = match byte_range.take() {
                Some((offset, len)) => {
                    let offset = offset.unwrap_or(next_offset);
                    next_offset = offset.checked_add(len).ok_or("bad EXT-X-BYTERANGE")?;
                    Some((offset, len))
                }
                None => None,
            };
            let id = if live {
                sequence
                    .checked_add(index)
                    .ok_or("bad EXT-X-MEDIA-SEQUENCE")?
            } else {
                index
            };
            segments.push(Segment {
                id,
                url: resolve(url, line),
                byte_range: range,
                duration: duration.take().unwrap_or(target_duration),
            });
        }
    }
    Ok(MediaPlaylist {
        target_duration,
        ended,
        segments,
    })
}

/// A duration in seconds: a finite, non-negative decimal (Rust also reads "inf" and "NaN").
fn seconds(v: &str) -> Option<f64> {
    v.trim()
        .parse()
        .ok()
        .filter(|d: &f64| d.is_finite() && *d >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_urls() {
        let base = "http://o:8080/live/hls-ts/index.m3u8?x=1";
        assert_eq!(
            resolve(base, "seg1.ts"),
            "http://o:8080/live/hls-ts/seg1.ts"
        );
        assert_eq!(
            resolve(base, "../a/b.ts?t=2"),
            "http://o:8080/live/a/b.ts?t=2"
        );
        assert_eq!(resolve(base, "/x.ts"), "http://o:8080/x.ts");
        assert_eq!(resolve(base, "https://cdn/y.ts"), "https://cdn/y.ts");
        assert_eq!(resolve(base, "//cdn/z.ts"), "http://cdn/z.ts");
        assert_eq!(resolve("http://o", "a.ts"), "http://o/a.ts");
    }

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:2.000,\nseg10.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nseg11.ts\n";

    #[test]
    fn live_ids_are_sequence_numbers() {
        let p = parse_media(LIVE, "http://o/live/index.m3u8", true).unwrap();
        assert_eq!(p.target_duration, 2.0);
        assert!(!p.ended);
        let ids: Vec<i64> = p.segments.iter().map(|s| s.id).collect();
        assert_eq!(ids, [40, 41]);
        assert_eq!(p.segments[1].url, "http://o/live/seg11.ts");
    }

    #[test]
    fn vod_ids_are_indices_and_byte_ranges_chain() {
        let text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\nv.mp4\n#EXTINF:4,\n#EXT-X-BYTERANGE:50\nv.mp4\n#EXT-X-ENDLIST\n";
        let p = parse_media(text, "http://o/v/index.m3u8", false).unwrap();
        assert!(p.ended);
        assert_eq!(p.segments[0].id, 0);
        assert_eq!(p.segments[1].byte_range, Some((100, 50)));
        assert_eq!(p.segments[1].duration, 4.0);
    }

    /// Found by fuzzing: "-INF" and "NaN" read as floats, a negative duration reached the
    /// segment list and a NaN target duration panicked the reload timer.
    #[test]
    fn durations_are_finite_and_not_negative() {
        for bad in [
            "#EXTINF:-INF,",
            "#EXTINF:NaN,",
            "#EXTINF:-1,",
            "#EXT-X-TARGETDURATION:inf",
            "#EXT-X-TARGETDURATION:NaN",
        ] {
            let text = format!("#EXTM3U\n{bad}\nseg.ts\n");
            assert!(
                parse_media(&text, "http://o/x.m3u8", true).is_err(),
                "{bad}"
            );
        }
        let p = parse_media("#EXTM3U\n#EXT-X-TARGETDURATION:0\n", "http://o/x", true).unwrap();
        assert_eq!(p.reload_interval(), Duration::from_millis(500));
    }

    /// Sequence numbers and byte offsets near the top of their range are refused, not
    /// wrapped (or, with overflow checks, a panic).
    #[test]
    fn huge_sequence_numbers_and_offsets_are_errors() {
        let seq = format!("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{}\na.ts\nb.ts\n", i64::MAX);
        assert!(parse_media(&seq, "http://o/x", true).is_err());
        assert!(parse_media(&seq, "http://o/x", false).is_ok());
        assert!(parse_media(
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-3\na.ts\n",
            "http://o/x",
            true
        )
        .is_err());
        let range = format!("#EXTM3U\n#EXT-X-BYTERANGE:10@{}\nv.mp4\n", u64::MAX - 5);
        assert!(parse_media(&range, "http://o/x", false).is_err());
    }

    #[test]
    fn rejects_non_playlists() {
        assert!(parse_media("<html>", "http://o/x", true).is_err());
        assert!(is_master(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"
        ));
    }
}
