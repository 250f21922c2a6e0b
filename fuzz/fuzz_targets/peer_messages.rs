//! Data-channel messages from a P2P Media Loader peer, through `wire::peer::MessageDecoder`
//! (framing, joining of split commands) into the seeder's `swarm::session::Session`. Whatever
//! the session sends back must fit the message size and decode cleanly on the other side.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use swarm::session::{Session, SessionConfig};
use swarm::store::SegmentStore;
use wire::peer::{Incoming, MessageDecoder};

const MAX_MESSAGE: usize = 64;

fuzz_target!(|messages: Vec<&[u8]>| {
    let mut store = SegmentStore::new();
    for id in [0, 1, 5, 300] {
        store.insert(id, Bytes::from(vec![id as u8; 100 + id as usize]));
    }
    let config = SessionConfig {
        max_message_size: MAX_MESSAGE,
        max_command_len: 4096,
    };
    let mut session = Session::new(config);
    // The peer's side: it must understand every message we send.
    let mut peer = MessageDecoder::new(1 << 20);
    session.on_open(&store);
    for (i, message) in messages.iter().enumerate() {
        if session.handle_message(message, &store).is_err() {
            break;
        }
        let _ = session.take_demand();
        // Send a little, as the channel's buffer allows, so uploads overlap new requests.
        for _ in 0..(i % 4) {
            let Some(out) = session.poll_message() else {
                break;
            };
            check_sent(&mut peer, &out);
        }
        if i == 2 {
            store.remove(5);
            session.on_store_changed(&store);
        }
    }
    while let Some(out) = session.poll_message() {
        check_sent(&mut peer, &out);
    }
});

fn check_sent(peer: &mut MessageDecoder, message: &[u8]) {
    assert!(message.len() <= MAX_MESSAGE, "{} bytes", message.len());
    match peer.decode(message) {
        Ok(Incoming::Command(_) | Incoming::Partial | Incoming::Data(_)) => {}
        Err(e) => panic!("the peer cannot decode what we sent: {e} ({message:?})"),
    }
}
