//! Manifests as the console reads them to tell live from VOD (`manifest::classify`, the
//! shared reader): HLS media and master playlists, DASH MPDs, anything else an origin answers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = manifest::classify(&String::from_utf8_lossy(data));
});
