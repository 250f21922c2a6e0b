//! Command framing: `cstr…cend` for a command that fits one message, else equal chunks framed
//! `cstr…dend`, `dstr…dend`, …, `dstr…cend`. Any other message is raw segment data.

use super::DecodeError;

const FRAME_LEN: usize = 4;
const COMMAND_START: &[u8; 4] = b"cstr";
const COMMAND_END: &[u8; 4] = b"cend";
const DIV_START: &[u8; 4] = b"dstr";
const DIV_END: &[u8; 4] = b"dend";

/// Smallest max message size that still leaves room for one body byte per chunk.
pub const MIN_MESSAGE_SIZE: usize = 2 * FRAME_LEN + 1;

/// Frames a command body into messages of at most `max_message_size` bytes, splitting it the
/// way P2P Media Loader does (same chunk count and lengths, so the bytes match).
pub fn frame_body(body: &[u8], max_message_size: usize) -> Vec<Vec<u8>> {
    let max = max_message_size.max(MIN_MESSAGE_SIZE);
    let framing = 2 * FRAME_LEN;
    if body.len() + framing <= max {
        return vec![framed(body, COMMAND_START, COMMAND_END)];
    }
    // P2P Media Loader adds at most one chunk here, which is enough for every body up to
    // hundreds of megabytes at its 64 KiB message size; keep adding so small sizes stay
    // within `max` too (the chunk counts agree wherever one extra chunk suffices).
    let mut count = body.len().div_ceil(max);
    while body.len().div_ceil(count) + framing > max {
        count += 1;
    }
    // JS's splitter can end up with fewer real chunks than `count` (empty tail slices); those
    // are still framed and sent, so we do the same.
    let chunk_len = body.len().div_ceil(count);
    (0..count)
        .map(|i| {
            let from = (i * chunk_len).min(body.len());
            let to = ((i + 1) * chunk_len).min(body.len());
            let start = if i == 0 { COMMAND_START } else { DIV_START };
            let end = if i == count - 1 { COMMAND_END } else { DIV_END };
            framed(&body[from..to], start, end)
        })
        .collect()
}

fn framed(body: &[u8], start: &[u8; 4], end: &[u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2 * FRAME_LEN);
    out.extend_from_slice(start);
    out.extend_from_slice(body);
    out.extend_from_slice(end);
    out
}

/// P2P Media Loader's test for "this message is (part of) a command": starts with `cstr` or
/// `dstr` and ends with `cend` or `dend`. Segment data that happens to look like that is
/// misread by P2P Media Loader too; senders of data can't avoid it.
pub fn is_command_chunk(message: &[u8]) -> bool {
    // The start and end tags may overlap in P2P Media Loader (it compares 4-byte windows
    // even for shorter buffers, with undefined never matching), so require 4 bytes each way.
    message.len() >= FRAME_LEN
        && (message.starts_with(COMMAND_START) || message.starts_with(DIV_START))
        && (message.ends_with(COMMAND_END) || message.ends_with(DIV_END))
}

/// Joins the chunks of one command. Feed it every message for which [`is_command_chunk`]
/// holds; it returns the body once the last chunk arrived.
#[derive(Debug, Default)]
pub struct CommandJoiner {
    body: Vec<u8>,
    joining: bool,
    max_body_len: usize,
}

impl CommandJoiner {
    /// A joiner that refuses commands whose joined body grows past `max_body_len` bytes.
    pub fn new(max_body_len: usize) -> Self {
        Self {
            body: Vec::new(),
            joining: false,
            max_body_len,
        }
    }

    /// Adds one framed chunk. On an error the partial command is dropped, and the joiner is
    /// ready for a fresh command, as in P2P Media Loader.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        if !is_command_chunk(chunk) || chunk.len() < 2 * FRAME_LEN {
            self.reset();
            return Err(DecodeError::NotACommand);
        }
        let first = chunk.starts_with(COMMAND_START);
        if !self.joining && !first {
            return Err(DecodeError::NoFirstChunk);
        }
        if self.joining && first {
            self.reset();
            return Err(DecodeError::IncompleteJoining);
        }
        let inner = &chunk[FRAME_LEN..chunk.len() - FRAME_LEN];
        if self.body.len() + inner.len() > self.max_body_len {
            self.reset();
            return Err(DecodeError::TooLarge);
        }
        self.body.extend_from_slice(inner);
        self.joining = true;
        if chunk.ends_with(COMMAND_END) {
            self.joining = false;
            return Ok(Some(std::mem::take(&mut self.body)));
        }
        Ok(None)
    }

    fn reset(&mut self) {
        self.body.clear();
        self.joining = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_take_one_message() {
        assert_eq!(frame_body(&[0], 65535), vec![b"cstr\0cend".to_vec()]);
    }

    #[test]
    fn large_bodies_split_into_equal_chunks_and_join_back() {
        let body: Vec<u8> = (0..100u8).collect();
        let chunks = frame_body(&body, 40);
        assert_eq!(chunks.len(), 4);
        assert!(chunks.iter().all(|c| c.len() <= 40));
        assert!(chunks[0].starts_with(b"cstr") && chunks[0].ends_with(b"dend"));
        assert!(chunks[1].starts_with(b"dstr") && chunks[1].ends_with(b"dend"));
        assert!(chunks[3].starts_with(b"dstr") && chunks[3].ends_with(b"cend"));
        let mut joiner = CommandJoiner::new(1 << 20);
        let mut joined = None;
        for chunk in &chunks {
            joined = joiner.push(chunk).unwrap();
        }
        assert_eq!(joined.unwrap(), body);
    }

    #[test]
    fn many_chunks_of_a_small_max_never_exceed_it() {
        // Here one extra chunk over len/max is not enough: 2000 / 56 needs 36, not 33.
        let body = vec![7u8; 2000];
        let chunks = frame_body(&body, 64);
        assert_eq!(chunks.len(), 36);
        assert!(chunks.iter().all(|c| c.len() <= 64));
        assert_eq!(
            chunks.iter().map(|c| c.len() - 8).sum::<usize>(),
            body.len()
        );
    }

    #[test]
    fn joining_errors_reset_the_joiner() {
        let mut joiner = CommandJoiner::new(1 << 20);
        assert_eq!(joiner.push(b"dstr\x01dend"), Err(DecodeError::NoFirstChunk));
        assert_eq!(joiner.push(b"cstr\x01dend"), Ok(None));
        assert_eq!(
            joiner.push(b"cstr\x02dend"),
            Err(DecodeError::IncompleteJoining)
        );
        assert_eq!(joiner.push(b"cstr\x03cend"), Ok(Some(vec![3])));
        let mut small = CommandJoiner::new(2);
        assert_eq!(
            small.push(b"cstr\x01\x02\x03cend"),
            Err(DecodeError::TooLarge)
        );
    }

    #[test]
    fn raw_data_is_not_a_command() {
        assert!(!is_command_chunk(b"hello world"));
        assert!(!is_command_chunk(b"cstr"));
        assert!(is_command_chunk(b"cstrcend"));
    }
}
