//! HLS playlists as the super peer's worker reads them from an origin: the channel's variants
//! (`superpeer::worker::media::variants`, through `wire::swarm_id::hls`), each media playlist
//! live and VOD (`superpeer::worker::playlist::parse_media`), and how often a live one is
//! reloaded. The first line of an input is the playlist's URL, the rest its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpeer::worker::{media, playlist};

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
    let _ = playlist::is_master(body);
    for live in [true, false] {
        if let Ok(p) = playlist::parse_media(body, url, live) {
            let _ = p.reload_interval();
            for s in &p.segments {
                assert!(s.duration.is_finite() && s.duration >= 0.0, "{s:?}");
            }
        }
    }
});
