//! SDP offers a remote peer sends through the tracker (`rtc::Endpoint::accept_offer`): the
//! endpoint parses the offer and answers it, or refuses it with an error.
#![no_main]

use std::cell::RefCell;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rtc::{Endpoint, EndpointConfig};

thread_local! {
    /// One endpoint for the whole run: it holds the DTLS certificate, which takes a key
    /// generation to make. Each input's connection is closed before the next.
    static ENDPOINT: RefCell<Endpoint> = RefCell::new(
        Endpoint::new(EndpointConfig::new("127.0.0.1:9".parse().unwrap())).unwrap(),
    );
}

fuzz_target!(|data: &[u8]| {
    let sdp = String::from_utf8_lossy(data);
    ENDPOINT.with_borrow_mut(|endpoint| {
        let now = Instant::now();
        if let Ok((id, answer)) = endpoint.accept_offer(now, &sdp) {
            assert!(answer.contains("a=ice-ufrag:"), "{answer}");
            endpoint.close(id, "fuzzed");
        }
        while endpoint.poll_transmit().is_some() {}
        while endpoint.poll_event().is_some() {}
        assert_eq!(endpoint.connection_count(), 0);
    });
});
