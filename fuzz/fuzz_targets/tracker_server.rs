//! Tracker frames as a client reads them (`wire::tracker::decode_server`): what the super
//! peer's workers and `swarmcast peer` get from a tracker. A decoded frame must encode to one
//! that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::tracker::{decode_server, encode_server};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_server(data) {
        let text = encode_server(&msg);
        let back = decode_server(text.as_bytes())
            .unwrap_or_else(|e| panic!("{msg:?} encodes to {text}, which does not decode: {e}"));
        assert_eq!(msg, back, "{text}");
        if let wire::tracker::ServerMessage::Offer(offer) = &msg {
            let _ = (offer.offer.sdp(), offer.offer.kind());
        }
    }
});
