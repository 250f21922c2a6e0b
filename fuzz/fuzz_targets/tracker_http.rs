//! The first bytes of a connection to the tracker's port (`tracker::fuzzing::first_request`):
//! a WebSocket upgrade (with token and origin checks) or any other HTTP request; and the
//! info_hash of a `GET /channels/{info_hash}` path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker::fuzzing::{channel_path, first_request, FirstRequest};
use tracker::TrackerConfig;

fuzz_target!(|data: &[u8]| {
    let config = TrackerConfig {
        token: Some("s3cret".into()),
        allowed_origins: vec!["https://player.example".into()],
        ..TrackerConfig::default()
    };
    if let FirstRequest::WebSocket { head_len, .. } = first_request(data, &config) {
        assert!(head_len <= data.len());
    }
    let open = TrackerConfig::default();
    let _ = first_request(data, &open);
    let _ = channel_path(&String::from_utf8_lossy(data));
});
