//! The STUN parsing that routes every datagram the server's UDP socket receives to its peer
//! connection (`rtc::fuzzing::local_ufrag`). The ufrag found is a piece of the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(ufrag) = rtc::fuzzing::local_ufrag(data) {
        assert!(!ufrag.contains(':') && ufrag.len() < data.len());
    }
});
