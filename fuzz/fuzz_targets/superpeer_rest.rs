//! Bodies of the super peer's REST API (`superpeer::master::validate`): `POST /seed` against a
//! configuration with tracker zones, `POST /ping`, and channel ids in `/stats/{channel}`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpeer::config::SignalPair;
use superpeer::master::validate::{decode_channel, parse_ping, parse_seed, MAX_SEED_ITEMS};
use superpeer::MasterConfig;

fuzz_target!(|data: &[u8]| {
    let mut config = MasterConfig {
        signal1: Some("ws://127.0.0.1:8000".into()),
        ..MasterConfig::default()
    };
    config.tracker_zones.insert(
        "eu".into(),
        SignalPair {
            signal1: "wss://eu.example/ws".into(),
            signal2: Some("wss://eu2.example/ws".into()),
        },
    );
    if let Ok(specs) = parse_seed(data, &config) {
        assert!(!specs.is_empty() && specs.len() <= MAX_SEED_ITEMS);
        for spec in &specs {
            assert!(spec.url.starts_with("http://") || spec.url.starts_with("https://"));
            assert_eq!(decode_channel(&spec.channel).as_ref(), Ok(&spec.channel_id));
        }
    }
    if let Ok(ping) = parse_ping(data) {
        assert!(ping.bandwidth_mbps.is_none_or(|b| b.is_finite() && b > 0.0));
    }
    let _ = decode_channel(&String::from_utf8_lossy(data));
});
