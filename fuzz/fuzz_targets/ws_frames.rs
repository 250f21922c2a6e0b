//! The tracker's WebSocket framing (`tracker::websocket::Decoder`): a client's byte stream,
//! read in pieces of arbitrary sizes. Reading it whole or piece by piece must give the same
//! events, and the decoder never claims more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker::websocket::{Decoded, Decoder};

fuzz_target!(|data: &[u8]| {
    let Some((&[limit, step], stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max_message = 16 << (limit % 12);
    let whole = events(max_message, stream, stream.len().max(1));
    let pieces = events(max_message, stream, usize::from(step % 64) + 1);
    assert_eq!(whole, pieces);
});

/// Every event (or the violation that ends the connection), reading `step` bytes at a time
/// as the server's connection task does: decode what was read, keep what is left.
fn events(max_message: usize, stream: &[u8], step: usize) -> Vec<String> {
    let mut decoder = Decoder::new(max_message);
    let mut out = Vec::new();
    let mut unread: Vec<u8> = Vec::new();
    for piece in stream.chunks(step) {
        unread.extend_from_slice(piece);
        loop {
            let len = unread.len();
            match decoder.decode(&mut unread) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Frame { used, event }) => {
                    assert!(used > 0 && used <= len, "used {used} of {len}");
                    out.push(format!("{event:?}"));
                    unread.drain(..used);
                }
                Err(violation) => {
                    out.push(format!("{violation:?}"));
                    return out;
                }
            }
        }
    }
    out
}
