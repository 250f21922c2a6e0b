//! The byte ranges an HLS playlist addresses (`origin::digests::playlist_byte_ranges`), read by
//! `swarmcast hash` and the origin from playlists beside the media. Every range is inclusive and
//! non-empty, and its file name has no path or query in it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (name, (first, last)) in origin::digests::playlist_byte_ranges(data) {
        assert!(first <= last, "{name}: {first}-{last}");
        assert!(!name.contains(['/', '?', '#']), "{name}");
    }
});
