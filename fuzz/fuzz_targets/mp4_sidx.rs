//! The segment index of an MP4 file (`wire::mp4::sidx_ranges`), read from media files that
//! `swarmcast hash` and the origin hash. Every range found is a non-empty inclusive range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(ranges) = wire::mp4::sidx_ranges(data) {
        assert!(
            ranges.iter().all(|&(first, last)| first <= last),
            "{ranges:?}"
        );
    }
});
