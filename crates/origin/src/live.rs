//! Replays a VOD media playlist as an endless live stream (sans-IO).
//!
//! The live timeline is the VOD playlist repeated forever. Global segment `k` plays VOD
//! segment `k % n` of loop `k / n`; a discontinuity opens every loop after the first. The
//! stream behaves as if it had started `window` segments before the origin did, so a player
//! can start at once, and a new segment becomes available each time one ends in real time.

use std::time::Duration;

use m3u8_rs::{MediaPlaylist, MediaSegment};

/// How a VOD playlist is turned into a sliding live window.
#[derive(Clone, Debug)]
pub struct LiveLoop {
    vod: MediaPlaylist,
    /// Start of each VOD segment within one loop, in seconds; one extra entry holds the loop length.
    starts: Vec<f64>,
    window: usize,
}

/// Why a playlist can't be looped.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveLoopError {
    /// The playlist has no segment, or a segment with no positive duration.
    NoSegments,
}

impl std::fmt::Display for LiveLoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the VOD playlist has no segments with a positive duration to loop")
    }
}

impl std::error::Error for LiveLoopError {}

impl LiveLoop {
    /// `window` is the number of segments the live playlist lists (at least 1).
    pub fn new(vod: MediaPlaylist, window: usize) -> Result<Self, LiveLoopError> {
        if vod.segments.is_empty() || vod.segments.iter().any(|s| s.duration <= 0.0) {
            return Err(LiveLoopError::NoSegments);
        }
        let mut starts = Vec::with_capacity(vod.segments.len() + 1);
        let mut t = 0.0;
        for seg in &vod.segments {
            starts.push(t);
            t += f64::from(seg.duration);
        }
        starts.push(t);
        Ok(Self {
            vod,
            starts,
            window: window.max(1),
        })
    }

    fn len(&self) -> u64 {
        self.vod.segments.len() as u64
    }

    fn loop_duration(&self) -> f64 {
        self.starts[self.vod.segments.len()]
    }

    /// End time of global segment `k`, counted from the (virtual) start of the stream.
    fn end_of(&self, k: u64) -> f64 {
        let i = (k % self.len()) as usize;
        (k / self.len()) as f64 * self.loop_duration() + self.starts[i + 1]
    }

    /// Number of segments available `elapsed` after the origin started (always ≥ window).
    fn available(&self, elapsed: Duration) -> u64 {
        // The stream began `window` segments before the origin did.
        let head_start = self.end_of(self.window as u64 - 1);
        let now = head_start + elapsed.as_secs_f64();
        let loops = (now / self.loop_duration()).floor() as u64;
        let mut k = loops * self.len();
        while self.end_of(k) <= now {
            k += 1;
        }
        k
    }

    /// The live media playlist as it stands `elapsed` after the origin started.
    pub fn playlist_at(&self, elapsed: Duration) -> MediaPlaylist {
        let available = self.available(elapsed);
        let first = available - self.window as u64;
        let n = self.len();
        let segments = (first..available)
            .map(|k| {
                let vod = &self.vod.segments[(k % n) as usize];
                let loop_start = k % n == 0 && k > 0;
                MediaSegment {
                    // A unique URL per live segment, as a real encoder produces: caches and
                    // byte counters then see every loop as new media.
                    uri: with_query(&vod.uri, &format!("seq={k}")),
                    discontinuity: loop_start,
                    // Repeat the init segment at the window start and after each discontinuity.
                    map: self.map_for(k, first),
                    program_date_time: None,
                    // The VOD's wall-clock dates (m3u8-rs keeps them as unknown tags when the
                    // packager wrote them after EXTINF) would repeat every loop: players sync
                    // live streams on them.
                    unknown_tags: vod
                        .unknown_tags
                        .iter()
                        .filter(|t| !t.tag.ends_with("PROGRAM-DATE-TIME"))
                        .cloned()
                        .collect(),
                    ..vod.clone()
                }
            })
            .collect();
        MediaPlaylist {
            version: self.vod.version,
            target_duration: self.vod.target_duration,
            media_sequence: first,
            discontinuity_sequence: if first == 0 { 0 } else { (first - 1) / n },
            segments,
            end_list: false,
            playlist_type: None,
            i_frames_only: false,
            start: None,
            independent_segments: self.vod.independent_segments,
            unknown_tags: Vec::new(),
        }
    }

    fn map_for(&self, k: u64, first: u64) -> Option<m3u8_rs::Map> {
        let n = self.len();
        let i = (k % n) as usize;
        if k != first && i != 0 {
            return None;
        }
        // The map in force for VOD segment i is the last one declared at or before it.
        self.vod.segments[..=i]
            .iter()
            .rev()
            .find_map(|s| s.map.clone())
    }
}

fn with_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vod(n: usize, dur: f32) -> MediaPlaylist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n",
            dur.ceil()
        );
        for i in 0..n {
            text.push_str(&format!("#EXTINF:{dur:.3},\nseg_{i:03}.ts\n"));
        }
        text.push_str("#EXT-X-ENDLIST\n");
        m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap()
    }

    fn render(p: &MediaPlaylist) -> String {
        let mut out = Vec::new();
        p.write_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn starts_with_a_full_window_and_no_endlist() {
        let live = LiveLoop::new(vod(5, 2.0), 3).unwrap();
        let p = live.playlist_at(Duration::ZERO);
        assert_eq!(p.media_sequence, 0);
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.segments[0].uri, "seg_000.ts?seq=0");
        let text = render(&p);
        assert!(!text.contains("ENDLIST"), "{text}");
        assert!(!text.contains("PLAYLIST-TYPE"), "{text}");
    }

    #[test]
    fn media_sequence_advances_in_real_time() {
        let live = LiveLoop::new(vod(5, 2.0), 3).unwrap();
        assert_eq!(
            live.playlist_at(Duration::from_millis(1999)).media_sequence,
            0
        );
        assert_eq!(live.playlist_at(Duration::from_secs(2)).media_sequence, 1);
        assert_eq!(live.playlist_at(Duration::from_secs(9)).media_sequence, 4);
    }

    #[test]
    fn loops_with_a_discontinuity_and_counts_the_ones_that_slid_out() {
        let live = LiveLoop::new(vod(5, 2.0), 3).unwrap();
        // Available: 0..=7 after 10 s (3 + 5); window 5,6,7 = VOD 0,1,2 of loop 1.
        let p = live.playlist_at(Duration::from_secs(10));
        assert_eq!(p.media_sequence, 5);
        assert!(p.segments[0].discontinuity);
        assert_eq!(p.segments[0].uri, "seg_000.ts?seq=5");
        assert_eq!(p.discontinuity_sequence, 0);
        assert!(render(&p).contains("#EXT-X-DISCONTINUITY\n"));
        // One segment later the discontinuity has slid out of the window.
        let p = live.playlist_at(Duration::from_secs(12));
        assert_eq!(p.media_sequence, 6);
        assert_eq!(p.discontinuity_sequence, 1);
        assert!(p.segments.iter().all(|s| !s.discontinuity));
        // Many loops later the numbers keep counting.
        let p = live.playlist_at(Duration::from_secs(10 * 100));
        assert_eq!(p.media_sequence, 500);
        assert_eq!(p.discontinuity_sequence, 99);
    }

    #[test]
    fn uneven_durations_are_honoured() {
        let mut v = vod(3, 2.0);
        v.segments[2].duration = 0.5;
        let live = LiveLoop::new(v, 2).unwrap();
        // Loop length 4.5 s; head start = end of segment 1 = 4 s.
        assert_eq!(live.playlist_at(Duration::ZERO).media_sequence, 0);
        assert_eq!(
            live.playlist_at(Duration::from_millis(500)).media_sequence,
            1
        );
        assert_eq!(
            live.playlist_at(Duration::from_millis(2500)).media_sequence,
            2
        );
    }

    #[test]
    fn init_map_is_repeated_at_window_start_and_after_each_loop() {
        let text =
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:2.0,\nseg_000.m4s\n#EXTINF:2.0,\nseg_001.m4s\n#EXT-X-ENDLIST\n";
        let v = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let live = LiveLoop::new(v, 2).unwrap();
        let p = live.playlist_at(Duration::from_secs(2));
        // Window is segments 1 (VOD 1) and 2 (VOD 0 of loop 1).
        assert_eq!(p.segments[0].map.as_ref().unwrap().uri, "init.mp4");
        assert!(p.segments[1].discontinuity);
        assert_eq!(p.segments[1].map.as_ref().unwrap().uri, "init.mp4");
        assert_eq!(render(&p).matches("EXT-X-MAP").count(), 2);
    }

    #[test]
    fn the_vods_dates_are_not_replayed() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n\
            #EXTINF:2,\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000+0000\na.m4s\n\
            #EXTINF:2,\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000+0000\nb.m4s\n#EXT-X-ENDLIST\n";
        let vod = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let live = LiveLoop::new(vod, 2).unwrap();
        let out = render(&live.playlist_at(Duration::from_secs(7)));
        assert!(!out.contains("PROGRAM-DATE-TIME"), "{out}");
        assert!(out.contains("b.m4s?seq="), "{out}");
    }

    #[test]
    fn empty_playlists_are_refused() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST\n";
        let v = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(LiveLoop::new(v, 3).unwrap_err(), LiveLoopError::NoSegments);
    }
}
