//! Tracker frames from clients (`wire::tracker::decode_client`): each frame a client sends over
//! its WebSocket, and the body of `POST /stats`. Decoded frames go through the swarm state
//! machine as the server does, from a few connections; a decoded frame must encode to one that
//! decodes to the same message.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tracker::{ConnId, SwarmConfig, Tracker};
use wire::tracker::{decode_client, encode_client, ClientMessage};

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let config = SwarmConfig {
        max_offers_per_announce: 3,
        max_info_hashes_per_connection: 4,
        max_pending_offers_per_peer: 3,
        max_scrape_hashes: 4,
        full_scrape: true,
        ..SwarmConfig::default()
    };
    let mut tracker = Tracker::new(config, 7);
    let mut out = Vec::new();
    // NUL never appears raw in JSON text, so it separates the frames of one input.
    for (i, frame) in data.split(|&b| b == 0).enumerate() {
        let now = start + Duration::from_secs(i as u64 * 20);
        let conn = ConnId(i as u64 % 3);
        match decode_client(frame) {
            Ok(msg) => {
                check_round_trip(&msg);
                tracker.handle(conn, msg, now, &mut out);
            }
            Err(e) => {
                let _ = e.into_server_error();
            }
        }
        if i % 4 == 3 {
            tracker.connection_closed(ConnId(i as u64 % 3));
        }
        tracker.expire(now);
        out.clear();
    }
    let _ = tracker.counts();
    let _ = tracker.ranking(10);
});

fn check_round_trip(msg: &ClientMessage) {
    let text = encode_client(msg);
    let back = decode_client(text.as_bytes())
        .unwrap_or_else(|e| panic!("{msg:?} encodes to {text}, which does not decode: {e}"));
    match (msg, &back) {
        // `numwant` is written as the number of offers when absent, and JSON numbers may
        // come back a rounding apart: the rest must be equal.
        (ClientMessage::Announce(a), ClientMessage::Announce(b)) => {
            assert_eq!(
                (&a.info_hash, &a.peer_id, a.event, &a.offers),
                (&b.info_hash, &b.peer_id, b.event, &b.offers),
                "{text}"
            );
            assert_eq!(a.left.is_some(), b.left.is_some(), "{text}");
        }
        _ => assert_eq!(msg, &back, "{text}"),
    }
}
