//! HLS playlists as the super peer's worker reads them from an origin: the channel's streams
//! (`superpeer::worker::media::variants`, through the `manifest` crate and `wire::swarm_id`),
//! and each media playlist, live and VOD (`manifest::hls::media`). The first line of an input
//! is the playlist's URL, the rest its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpeer::worker::media;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (url, body) = text
        .split_once('\n')
        .unwrap_or(("http://o/live/index.m3u8", &text));
    if let Ok(variants) = media::variants(url, body, "http://o/live/index.m3u8") {
        for v in &variants {
            assert!(v.swarm_id.starts_with("v2-"), "{}", v.swarm_id);
        }
    }
    let _ = manifest::classify(body);
    for live in [true, false] {
        if let Ok(p) = manifest::hls::media(body, url, live) {
            assert!(p.target_duration.is_finite(), "{p:?}");
            for s in &p.segments {
                assert!(s.duration.is_finite() && s.duration >= 0.0, "{s:?}");
            }
        }
    }
});
