//! JSON the console reads: request bodies of its API (`console::api::fuzzing`), and what
//! trackers (`GET /channels`, `GET /qoe`) and super peers (`GET /stats`) answer its polls
//! with (`console::tracker`, `console::qoe`, `console::superpeer`), ranked as the seeding
//! planner ranks them and merged as the QoE view merges them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(url) = console::api::fuzzing::request_bodies(data) {
        // A URL the API accepted is accepted again as it was stored.
        assert_eq!(console::state::validate_url(&url), Ok(url.clone()));
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = console::superpeer::parse_stats_report(&body);
    if let Ok(swarms) = console::tracker::parse_channels(&body) {
        let ranking = console::tracker::rank_channels(&swarms);
        let _ = console::tracker::merge_rankings(&[ranking.clone(), ranking]);
    }
    if let Ok(qoe) = console::qoe::parse_qoe(&body) {
        let _ = console::qoe::merge(&[qoe.clone(), qoe]);
    }
});
