//! Server side of the WebSocket framing (RFC 6455 section 5), sans-IO.
//!
//! [`Decoder::decode`] takes the bytes read so far and returns at most one event per call
//! plus how many bytes it used; the caller owns every buffer, so a connection that waits
//! for its next frame needs no buffer at all. Client frames must be masked; payloads are
//! unmasked in place. A message is limited in size before its payload is buffered, text
//! must be UTF-8, and every protocol violation maps to the close code the RFC asks for.
//! The encoding functions write unmasked server frames.

use std::borrow::Cow;

/// Close codes used by the server (RFC 6455 section 7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// No status code was present in the client's close frame.
    pub const NO_STATUS: u16 = 1005;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

/// Largest control frame payload, and so the longest close reason plus its code.
const MAX_CONTROL_PAYLOAD: usize = 125;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// No complete frame yet: read more and call again with all unused bytes.
    Incomplete,
    /// A frame of `used` bytes; the caller drops them from its buffer.
    Frame { used: usize, event: Event<'a> },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete text message, UTF-8 checked. Borrowed from the input unless it came in
    /// fragments.
    Text(Cow<'a, str>),
    Binary(Cow<'a, [u8]>),
    /// Answer with a pong carrying the same payload.
    Ping(&'a [u8]),
    Pong,
    /// The client closes, with its status code ([`close_code::NO_STATUS`] if none): answer
    /// with a close frame and end the connection.
    Close(u16),
    /// A fragment of a longer message, kept by the decoder.
    Fragment,
}

/// A protocol violation: send a close frame with `code` and end the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

fn protocol(reason: &'static str) -> Violation {
    violation(close_code::PROTOCOL_ERROR, reason)
}

/// Decoding state of one connection: only a fragmented message in progress, if any.
#[derive(Debug)]
pub struct Decoder {
    max_message: usize,
    /// Opcode and payload so far of a fragmented message (rare: browsers do not fragment).
    fragmented: Option<Box<(u8, Vec<u8>)>>,
}

impl Decoder {
    /// A decoder refusing messages larger than `max_message` bytes (close 1009).
    pub fn new(max_message: usize) -> Self {
        Decoder {
            max_message,
            fragmented: None,
        }
    }

    /// Decodes the frame at the start of `buf`, unmasking its payload in place.
    pub fn decode<'a>(&mut self, buf: &'a mut [u8]) -> Result<Decoded<'a>, Violation> {
        let Some(header) = Header::parse(buf)? else {
            return Ok(Decoded::Incomplete);
        };
        let is_control = header.opcode & 0x8 != 0;
        if is_control {
            if !header.fin {
                return Err(protocol("fragmented control frame"));
            }
            if header.len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(protocol("control frame longer than 125 bytes"));
            }
        } else {
            let so_far = self.fragmented.as_ref().map_or(0, |f| f.1.len() as u64);
            match (header.opcode, &self.fragmented) {
                (OP_CONTINUATION, None) => return Err(protocol("continuation of nothing")),
                (OP_TEXT | OP_BINARY, Some(_)) => {
                    return Err(protocol("new message inside a fragmented one"))
                }
                _ => {}
            }
            if so_far.saturating_add(header.len) > self.max_message as u64 {
                return Err(violation(close_code::TOO_BIG, "message too big"));
            }
        }
        // Fits in usize: bounded by max_message or 125 above.
        let len = header.len as usize;
        let used = header.size + len;
        if buf.len() < used {
            return Ok(Decoded::Incomplete);
        }
        let payload = &mut buf[header.size..used];
        unmask(payload, header.mask);
        let payload: &'a [u8] = payload;
        let event = match header.opcode {
            OP_PING => Event::Ping(payload),
            OP_PONG => Event::Pong,
            OP_CLOSE => Event::Close(close_status(payload)?),
            OP_TEXT | OP_BINARY if header.fin => message(header.opcode, Cow::Borrowed(payload))?,
            OP_TEXT | OP_BINARY => {
                self.fragmented = Some(Box::new((header.opcode, payload.to_vec())));
                Event::Fragment
            }
            OP_CONTINUATION => {
                let Some(fragmented) = self.fragmented.as_mut() else {
                    return Err(protocol("continuation of nothing"));
                };
                fragmented.1.extend_from_slice(payload);
                if header.fin {
                    let (opcode, data) = *self.fragmented.take().unwrap_or_default();
                    message(opcode, Cow::Owned(data))?
                } else {
                    Event::Fragment
                }
            }
            _ => return Err(protocol("reserved opcode")),
        };
        Ok(Decoded::Frame { used, event })
    }
}

fn message(opcode: u8, data: Cow<'_, [u8]>) -> Result<Event<'_>, Violation> {
    if opcode == OP_BINARY {
        return Ok(Event::Binary(data));
    }
    let invalid = || violation(close_code::INVALID_PAYLOAD, "text is not UTF-8");
    Ok(Event::Text(match data {
        Cow::Borrowed(bytes) => Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| invalid())?),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8(bytes).map_err(|_| invalid())?),
    }))
}

/// The status code of a client's close frame, checked as section 7.4 asks.
fn close_status(payload: &[u8]) -> Result<u16, Violation> {
    match payload {
        [] => Ok(close_code::NO_STATUS),
        [_] => Err(protocol("close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(protocol("invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(violation(
                    close_code::INVALID_PAYLOAD,
                    "close reason is not UTF-8",
                ));
            }
            Ok(code)
        }
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
    /// Header bytes, payload follows.
    size: usize,
}

impl Header {
    /// The frame header at the start of `buf`, `None` if it is not all there yet.
    fn parse(buf: &[u8]) -> Result<Option<Header>, Violation> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(protocol("reserved bits set"));
        }
        let opcode = b0 & 0x0F;
        if !matches!(
            opcode,
            OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
        ) {
            return Err(protocol("reserved opcode"));
        }
        if b1 & 0x80 == 0 {
            return Err(protocol("client frame not masked"));
        }
        let (len, len_size) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(None),
            },
            127 => match rest.get(..8) {
                Some(bytes) => {
                    let mut be = [0; 8];
                    be.copy_from_slice(bytes);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(protocol("payload length with its top bit set"));
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), 0),
        };
        let Some(mask) = rest.get(len_size..len_size + 4) else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin: b0 & 0x80 != 0,
            opcode,
            mask: [mask[0], mask[1], mask[2], mask[3]],
            len,
            size: 2 + len_size + 4,
        }))
    }
}

/// Appends an unmasked server frame header.
fn encode_header(opcode: u8, len: usize, out: &mut Vec<u8>) {
    encode_frame_header(0x80 | opcode, 0, len, out);
}

/// Appends a frame header: the first byte (FIN, opcode), then the payload length, in the
/// shortest form, with the mask bit.
fn encode_frame_header(first: u8, mask_bit: u8, len: usize, out: &mut Vec<u8>) {
    out.push(first);
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a client frame, masked with `mask`, or unmasked with `None` (which a server
/// refuses). For clients written in Rust: the tests and the load generator.
pub fn encode_client_frame(
    fin: bool,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let first = (u8::from(fin) << 7) | opcode;
    match mask {
        Some(mask) => {
            encode_frame_header(first, 0x80, payload.len(), out);
            out.extend_from_slice(&mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => {
            encode_frame_header(first, 0, payload.len(), out);
            out.extend_from_slice(payload);
        }
    }
}

/// Appends a text frame.
pub fn encode_text(text: &[u8], out: &mut Vec<u8>) {
    encode_header(OP_TEXT, text.len(), out);
    out.extend_from_slice(text);
}

/// Appends a pong answering a ping with `payload` (at most 125 bytes, as the decoder checks).
pub fn encode_pong(payload: &[u8], out: &mut Vec<u8>) {
    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    encode_header(OP_PONG, payload.len(), out);
    out.extend_from_slice(payload);
}

/// Appends a close frame; the reason is cut, on a character boundary, to fit a control frame.
/// [`close_code::NO_STATUS`] sends an empty close frame, as it must not go on the wire.
pub fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    if code == close_code::NO_STATUS {
        encode_header(OP_CLOSE, 0, out);
        return;
    }
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    encode_header(OP_CLOSE, 2 + reason.len(), out);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame, as a browser would send it.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_client_frame(
            fin,
            opcode,
            payload,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            &mut out,
        );
        out
    }

    fn decode_all(decoder: &mut Decoder, mut bytes: Vec<u8>) -> Result<Vec<String>, Violation> {
        let mut events = Vec::new();
        loop {
            match decoder.decode(&mut bytes)? {
                Decoded::Incomplete => return Ok(events),
                Decoded::Frame { used, event } => {
                    events.push(format!("{event:?}"));
                    bytes.drain(..used);
                }
            }
        }
    }

    #[test]
    fn a_masked_text_frame_is_unmasked_and_borrowed() {
        let mut bytes = client_frame(true, OP_TEXT, b"{\"action\":\"announce\"}");
        let len = bytes.len();
        let mut decoder = Decoder::new(1024);
        let decoded = decoder.decode(&mut bytes).unwrap();
        assert_eq!(
            decoded,
            Decoded::Frame {
                used: len,
                event: Event::Text(Cow::Borrowed("{\"action\":\"announce\"}"))
            }
        );
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete() {
        for payload_len in [0, 5, 125, 126, 300, 70_000] {
            let frame = client_frame(true, OP_BINARY, &vec![7; payload_len]);
            let mut decoder = Decoder::new(100_000);
            for cut in 0..frame.len() {
                let mut prefix = frame[..cut].to_vec();
                assert_eq!(decoder.decode(&mut prefix), Ok(Decoded::Incomplete));
            }
        }
    }

    #[test]
    fn an_unmasked_client_frame_is_a_protocol_error() {
        let mut bytes = vec![0x81, 0x02, b'h', b'i'];
        let err = Decoder::new(1024).decode(&mut bytes).unwrap_err();
        assert_eq!(err.code, close_code::PROTOCOL_ERROR);
    }

    #[test]
    fn reserved_bits_and_opcodes_are_protocol_errors() {
        for first in [0xC1, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F] {
            let mut bytes = client_frame(true, 0, b"x");
            bytes[0] = first;
            let err = Decoder::new(1024).decode(&mut bytes).unwrap_err();
            assert_eq!(
                err.code,
                close_code::PROTOCOL_ERROR,
                "first byte {first:#x}"
            );
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_from_its_header_alone() {
        let frame = client_frame(true, OP_TEXT, &[b'a'; 2000]);
        // Only the header: the payload is never needed to refuse it.
        let mut header = frame[..8].to_vec();
        let err = Decoder::new(1024).decode(&mut header).unwrap_err();
        assert_eq!(err.code, close_code::TOO_BIG);
        let mut exact = client_frame(true, OP_TEXT, &[b'a'; 1024]);
        assert!(Decoder::new(1024).decode(&mut exact).is_ok());
    }

    #[test]
    fn a_64_bit_length_with_the_top_bit_set_is_refused() {
        let mut bytes = vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let err = Decoder::new(usize::MAX).decode(&mut bytes).unwrap_err();
        assert_eq!(err.code, close_code::PROTOCOL_ERROR);
    }

    #[test]
    fn fragments_are_joined_and_interleaved_control_frames_pass() {
        let mut bytes = client_frame(false, OP_TEXT, b"{\"a\":");
        bytes.extend(client_frame(true, OP_PING, b"p"));
        bytes.extend(client_frame(false, OP_CONTINUATION, "\"h\u{e9}".as_bytes()));
        bytes.extend(client_frame(true, OP_CONTINUATION, b"llo\"}"));
        let events = decode_all(&mut Decoder::new(1024), bytes).unwrap();
        assert_eq!(
            events,
            [
                "Fragment",
                "Ping([112])",
                "Fragment",
                "Text(\"{\\\"a\\\":\\\"h\u{e9}llo\\\"}\")"
            ]
        );
    }

    #[test]
    fn the_size_limit_counts_every_fragment() {
        let mut bytes = client_frame(false, OP_BINARY, &[1; 600]);
        bytes.extend(client_frame(true, OP_CONTINUATION, &[1; 600]));
        let err = decode_all(&mut Decoder::new(1000), bytes).unwrap_err();
        assert_eq!(err.code, close_code::TOO_BIG);
    }

    #[test]
    fn fragmentation_errors_are_protocol_errors() {
        let lone_continuation = client_frame(true, OP_CONTINUATION, b"x");
        let mut nested = client_frame(false, OP_TEXT, b"x");
        nested.extend(client_frame(true, OP_TEXT, b"y"));
        let fragmented_ping = client_frame(false, OP_PING, b"x");
        let long_ping = client_frame(true, OP_PING, &[0; 126]);
        for bytes in [lone_continuation, nested, fragmented_ping, long_ping] {
            let err = decode_all(&mut Decoder::new(1024), bytes).unwrap_err();
            assert_eq!(err.code, close_code::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn invalid_utf8_text_is_1007_even_across_fragments() {
        let bytes = client_frame(true, OP_TEXT, &[0xC3, 0x28]);
        let err = decode_all(&mut Decoder::new(1024), bytes).unwrap_err();
        assert_eq!(err.code, close_code::INVALID_PAYLOAD);
        // A character split between fragments is fine.
        let mut split = client_frame(false, OP_TEXT, &[0xC3]);
        split.extend(client_frame(true, OP_CONTINUATION, &[0xA9]));
        let events = decode_all(&mut Decoder::new(1024), split).unwrap();
        assert_eq!(events, ["Fragment", "Text(\"\u{e9}\")"]);
    }

    #[test]
    fn close_frames_carry_a_checked_status() {
        let close = |payload: &[u8]| {
            let bytes = client_frame(true, OP_CLOSE, payload);
            decode_all(&mut Decoder::new(1024), bytes)
        };
        assert_eq!(close(b"").unwrap(), ["Close(1005)"]);
        assert_eq!(close(&[0x03, 0xE8, b'o', b'k']).unwrap(), ["Close(1000)"]);
        assert_eq!(close(&[0x0F, 0xA0]).unwrap(), ["Close(4000)"]);
        for bad in [
            &[0x03][..],
            &[0x03, 0xED],
            &[0x03, 0xEE],
            &[0x13, 0x88],
            &[0, 0],
        ] {
            assert_eq!(close(bad).unwrap_err().code, close_code::PROTOCOL_ERROR);
        }
        assert_eq!(
            close(&[0x03, 0xE8, 0xFF]).unwrap_err().code,
            close_code::INVALID_PAYLOAD
        );
    }

    #[test]
    fn server_frames_are_unmasked_with_minimal_lengths() {
        let mut out = Vec::new();
        encode_text(b"hi", &mut out);
        assert_eq!(out, [0x81, 2, b'h', b'i']);
        out.clear();
        encode_text(&[b'a'; 300], &mut out);
        assert_eq!(out[..4], [0x81, 126, 0x01, 0x2C]);
        assert_eq!(out.len(), 304);
        out.clear();
        encode_text(&vec![b'a'; 70_000], &mut out);
        assert_eq!(out[..10], [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        out.clear();
        encode_pong(b"abc", &mut out);
        assert_eq!(out, [0x8A, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn close_reasons_are_cut_on_a_character_boundary() {
        let mut out = Vec::new();
        encode_close(1009, &"\u{e9}".repeat(100), &mut out);
        assert_eq!(out[0], 0x88);
        let len = usize::from(out[1]);
        assert!(len <= MAX_CONTROL_PAYLOAD);
        assert_eq!(out.len(), 2 + len);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 1009);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
        out.clear();
        encode_close(close_code::NO_STATUS, "ignored", &mut out);
        assert_eq!(out, [0x88, 0]);
    }
}
