//! One data-channel session with a P2P Media Loader peer, as a state machine.
//!
//! What a PML peer expects from us:
//! - our full announcement as soon as the channel opens, and again whenever our store
//!   changes;
//! - for a `SegmentRequest`: `SegmentData{s}` (bytes from the resume offset `b` on), the
//!   bytes in messages of at most the max message size, then `SegmentDataSendingCompleted`;
//!   `SegmentAbsent` if we do not hold the segment;
//! - one upload per connection: a new request ends the current upload without `Completed`,
//!   and `CancelSegmentRequest` with the upload's request id ends it too.
//!
//! The caller feeds received messages to [`Session::handle_message`] and, while the channel's
//! buffered amount is under its high-water mark, sends what [`Session::poll_message`] gives.
//! A seeder that fetches on demand (the super peer's VOD worker) also takes the peer's
//! [`Demand`] after each message: what it announced and what it asked for that we lack.

use std::collections::VecDeque;

use bytes::Bytes;
use wire::peer::{encode, Command, DecodeError, Incoming, MessageDecoder, RequestId, SegmentId};

use crate::store::SegmentStore;

/// Limits of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Largest message we send: at most the connection's negotiated max message size, so
    /// the endpoint's ([`rtc::DEFAULT_MAX_MESSAGE_SIZE`], 16 KiB) by default. P2P Media Loader
    /// joins segment data and command chunks of any size.
    pub max_message_size: usize,
    /// Largest joined command we accept from the peer.
    pub max_command_len: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_message_size: rtc::DEFAULT_MAX_MESSAGE_SIZE,
            max_command_len: 256 * 1024,
        }
    }
}

/// Why a session must end: the peer broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("malformed command: {0}")]
    Malformed(#[from] DecodeError),
}

/// Counters of one session.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionStats {
    pub uploaded_bytes: u64,
    pub uploads_completed: u64,
    pub uploads_cancelled: u64,
    pub absent_sent: u64,
    /// Raw bytes the peer sent although we requested nothing (ignored).
    pub unsolicited_bytes: u64,
}

/// What the peer told us about the segments it wants, since the last
/// [`Session::take_demand`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Segments it holds or is loading over HTTP, from its latest announcement (empty when it
    /// announced nothing new).
    pub announced: Vec<SegmentId>,
    /// The last segment it requested that we did not hold (answered `SegmentAbsent`).
    pub missing: Option<SegmentId>,
}

impl Demand {
    pub fn is_empty(&self) -> bool {
        self.announced.is_empty() && self.missing.is_none()
    }
}

#[derive(Debug)]
struct Upload {
    segment: SegmentId,
    request: RequestId,
    data: Bytes,
    offset: usize,
}

/// The protocol state of one peer connection's data channel.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    decoder: MessageDecoder,
    open: bool,
    /// Framed command messages waiting to be sent; they go before upload data.
    commands: VecDeque<Bytes>,
    upload: Option<Upload>,
    announced_version: Option<u64>,
    remote_loaded: Vec<SegmentId>,
    demand: Demand,
    stats: SessionStats,
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        let decoder = MessageDecoder::new(config.max_command_len);
        Self {
            config,
            decoder,
            open: false,
            commands: VecDeque::new(),
            upload: None,
            announced_version: None,
            remote_loaded: Vec::new(),
            demand: Demand::default(),
            stats: SessionStats::default(),
        }
    }

    /// The channel opened: announce what we hold.
    pub fn on_open(&mut self, store: &SegmentStore) {
        self.open = true;
        self.announce(store);
    }

    /// Re-announces if the store changed since the last announcement.
    pub fn on_store_changed(&mut self, store: &SegmentStore) {
        if self.open && self.announced_version != Some(store.version()) {
            self.announce(store);
        }
    }

    /// Takes one received message. An error means the peer must be disconnected.
    pub fn handle_message(
        &mut self,
        message: &[u8],
        store: &SegmentStore,
    ) -> Result<(), SessionError> {
        match self.decoder.decode(message)? {
            Incoming::Partial => {}
            Incoming::Data(bytes) => self.stats.unsolicited_bytes += bytes.len() as u64,
            Incoming::Command(command) => self.handle_command(command, store),
        }
        Ok(())
    }

    /// The next message to send, if any: queued commands first, then upload data, then the
    /// upload's `Completed`.
    pub fn poll_message(&mut self) -> Option<Bytes> {
        if let Some(command) = self.commands.pop_front() {
            return Some(command);
        }
        let upload = self.upload.as_mut()?;
        if upload.offset < upload.data.len() {
            let end = (upload.offset + self.config.max_message_size).min(upload.data.len());
            let chunk = upload.data.slice(upload.offset..end);
            upload.offset = end;
            self.stats.uploaded_bytes += chunk.len() as u64;
            return Some(chunk);
        }
        let done = self.upload.take()?;
        self.stats.uploads_completed += 1;
        let completed = Command::SegmentDataSendingCompleted {
            segment: done.segment,
            request: done.request,
        };
        self.queue(&completed);
        self.commands.pop_front()
    }

    /// Whether [`Session::poll_message`] has something.
    pub fn wants_to_send(&self) -> bool {
        !self.commands.is_empty() || self.upload.is_some()
    }

    /// The upload in progress: segment and request id.
    pub fn uploading(&self) -> Option<(SegmentId, RequestId)> {
        self.upload.as_ref().map(|u| (u.segment, u.request))
    }

    /// What the peer last announced it holds.
    pub fn remote_loaded(&self) -> &[SegmentId] {
        &self.remote_loaded
    }

    /// What the peer announced or asked for that we lacked since the last call; empty when
    /// nothing changed.
    pub fn take_demand(&mut self) -> Demand {
        std::mem::take(&mut self.demand)
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    fn handle_command(&mut self, command: Command, store: &SegmentStore) {
        match command {
            Command::SegmentsAnnouncement {
                loaded,
                http_loading,
            } => {
                self.demand.announced = loaded.iter().chain(&http_loading).copied().collect();
                self.remote_loaded = loaded;
            }
            Command::SegmentRequest {
                segment,
                request,
                byte_from,
            } => {
                // One upload per connection: a new request replaces the current one, which
                // gets no Completed (PML stops it the same way).
                if self.upload.take().is_some() {
                    self.stats.uploads_cancelled += 1;
                }
                match store.get(segment) {
                    Some(data) => {
                        let from = usize::try_from(byte_from)
                            .unwrap_or(usize::MAX)
                            .min(data.len());
                        let data = data.slice(from..);
                        let header = Command::SegmentData {
                            segment,
                            request,
                            size: data.len() as u64,
                        };
                        self.queue(&header);
                        self.upload = Some(Upload {
                            segment,
                            request,
                            data,
                            offset: 0,
                        });
                    }
                    None => {
                        self.demand.missing = Some(segment);
                        self.stats.absent_sent += 1;
                        self.queue(&Command::SegmentAbsent { segment, request });
                    }
                }
            }
            Command::CancelSegmentRequest { request, .. } => {
                // PML matches the cancel on the request id alone.
                if self.upload.as_ref().is_some_and(|u| u.request == request) {
                    self.upload = None;
                    self.stats.uploads_cancelled += 1;
                }
            }
            // We never request segments, so replies to requests do not concern us.
            Command::SegmentData { .. }
            | Command::SegmentDataSendingCompleted { .. }
            | Command::SegmentAbsent { .. }
            | Command::Unknown { .. } => {}
        }
    }

    fn announce(&mut self, store: &SegmentStore) {
        self.announced_version = Some(store.version());
        // A newer announcement makes older queued ones pointless.
        self.commands.retain(|m| !is_announcement(m));
        self.queue(&Command::SegmentsAnnouncement {
            loaded: store.ids(),
            http_loading: Vec::new(),
        });
    }

    fn queue(&mut self, command: &Command) {
        for message in encode(command, self.config.max_message_size) {
            self.commands.push_back(Bytes::from(message));
        }
    }
}

fn is_announcement(message: &[u8]) -> bool {
    // Only whole single-message announcements are dropped; split ones are left alone so a
    // half-sent split command is never cut.
    message.starts_with(b"cstr") && message.ends_with(b"cend") && message.get(4) == Some(&0)
}

#[cfg(test)]
mod tests;
