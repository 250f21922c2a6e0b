//! P2P Media Loader v2 data-channel protocol, byte-compatible with `p2p-media-loader-core`
//! 2.x: command framing, the six commands and their item encodings. Sans-IO: messages in,
//! messages out.
//!
//! Every data-channel message is either a (chunk of a) framed command or raw segment bytes;
//! [`MessageDecoder`] tells them apart the way P2P Media Loader does.

mod command;
mod framing;
mod items;

pub use command::{extension, Command, RequestId, SegmentId};
pub use framing::{frame_body, is_command_chunk, CommandJoiner, MIN_MESSAGE_SIZE};
pub use items::{MAX_GROUPS, MAX_GROUP_LEN};

/// P2P Media Loader's default `webRtcMaxMessageSize`, and the largest message we send.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65535;

/// Why bytes from a peer are not a valid command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("command ends in the middle of an item")]
    Truncated,
    #[error("unknown item type {0}")]
    WrongItemType(u8),
    #[error("integer does not fit in 53 bits")]
    IntOutOfRange,
    #[error("required field '{0}' is missing")]
    MissingField(char),
    #[error("field '{0}' must not be negative")]
    NegativeField(char),
    #[error("message is not a framed command")]
    NotACommand,
    #[error("continuation chunk without a first chunk")]
    NoFirstChunk,
    #[error("new command started before the previous one was complete")]
    IncompleteJoining,
    #[error("command is larger than the configured limit")]
    TooLarge,
}

/// Encodes a command into the messages to send, each at most `max_message_size` bytes.
pub fn encode(command: &Command, max_message_size: usize) -> Vec<Vec<u8>> {
    frame_body(&command.encode_body(), max_message_size)
}

/// One received data-channel message, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A whole command arrived.
    Command(Command),
    /// A chunk of a split command; more must follow.
    Partial,
    /// Raw segment bytes.
    Data(&'a [u8]),
}

/// Classifies and joins incoming messages of one data channel.
#[derive(Debug)]
pub struct MessageDecoder {
    joiner: CommandJoiner,
}

impl MessageDecoder {
    /// `max_command_len` bounds the memory a peer can make us hold for one split command.
    pub fn new(max_command_len: usize) -> Self {
        Self {
            joiner: CommandJoiner::new(max_command_len),
        }
    }

    /// Takes one message. Errors mean the peer sent a malformed command.
    pub fn decode<'a>(&mut self, message: &'a [u8]) -> Result<Incoming<'a>, DecodeError> {
        if !is_command_chunk(message) {
            return Ok(Incoming::Data(message));
        }
        match self.joiner.push(message)? {
            Some(body) => Ok(Incoming::Command(Command::decode_body(&body)?)),
            None => Ok(Incoming::Partial),
        }
    }
}

impl Default for MessageDecoder {
    fn default() -> Self {
        // The largest announcement we accept: 255 groups of 255 ids, twice, plus headers.
        Self::new(2 * MAX_GROUPS * (MAX_GROUP_LEN + 10) + 64)
    }
}

#[cfg(test)]
mod tests;
