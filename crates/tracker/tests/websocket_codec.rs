//! Properties of the WebSocket frame decoder over generated input.

use proptest::prelude::*;
use tracker::websocket::{encode_client_frame, Decoded, Decoder, Event};

/// Masks `payload` into a client frame.
fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client_frame(fin, opcode, payload, Some(mask), &mut out);
    out
}

/// Feeds `stream` to a decoder in reads of the given sizes, the way the connection task
/// does (decode what is there, keep the rest), and collects the text messages.
fn decode_in_reads(stream: &[u8], reads: &[usize], max: usize) -> Result<Vec<String>, u16> {
    let mut decoder = Decoder::new(max);
    let mut pending = Vec::new();
    let mut messages = Vec::new();
    let mut offset = 0;
    let mut reads = reads.iter().cycle();
    while offset < stream.len() {
        let n = (*reads.next().unwrap()).min(stream.len() - offset);
        pending.extend_from_slice(&stream[offset..offset + n]);
        offset += n;
        loop {
            match decoder.decode(&mut pending).map_err(|v| v.code)? {
                Decoded::Incomplete => break,
                Decoded::Frame { used, event } => {
                    if let Event::Text(text) = event {
                        messages.push(text.into_owned());
                    }
                    pending.drain(..used);
                }
            }
        }
    }
    assert!(pending.is_empty(), "every byte belongs to a frame");
    Ok(messages)
}

proptest! {
    #[test]
    fn messages_survive_any_fragmentation_and_any_read_sizes(
        messages in prop::collection::vec(".{0,300}", 1..6),
        cuts in prop::collection::vec(1usize..200, 1..4),
        reads in prop::collection::vec(1usize..64, 1..8),
        mask in any::<[u8; 4]>(),
    ) {
        let mut stream = Vec::new();
        for message in &messages {
            let bytes = message.as_bytes();
            // Fragment boundaries anywhere, even inside a character.
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in &cuts {
                let end = (start + cut).min(bytes.len());
                pieces.push(&bytes[start..end]);
                start = end;
            }
            pieces.push(&bytes[start..]);
            let last = pieces.len() - 1;
            for (i, piece) in pieces.iter().enumerate() {
                let opcode = if i == 0 { 0x1 } else { 0x0 };
                stream.extend(client_frame(i == last, opcode, piece, mask));
                if i == 0 {
                    stream.extend(client_frame(true, 0x9, b"ping", mask));
                }
            }
        }
        let decoded = decode_in_reads(&stream, &reads, 64 * 1024);
        prop_assert_eq!(decoded, Ok(messages));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_yield_more_than_the_limit(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        max in 0usize..256,
    ) {
        let mut decoder = Decoder::new(max);
        let mut buf = bytes;
        while let Ok(Decoded::Frame { used, event }) = decoder.decode(&mut buf) {
            match event {
                Event::Text(text) => prop_assert!(text.len() <= max),
                Event::Binary(data) => prop_assert!(data.len() <= max),
                _ => {}
            }
            prop_assert!(used > 0 && used <= buf.len());
            buf.drain(..used);
        }
    }
}
