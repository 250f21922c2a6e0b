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
//! Our SDK's peers greet with `ExtensionHello`; we answer with ours, [`SERVED_EXTENSIONS`]: they
//! may then ask for parts of a segment (`PartRequest`, answered by `PartData` with the whole
//! length), so that a viewer takes a segment from us and other holders at once, and queue one
//! part behind the one being sent, which follows it without a round trip.
//!
//! The caller feeds received messages to [`Session::handle_message`] and, while the channel's
//! buffered amount is under its high-water mark, sends what [`Session::poll_message`] gives.
//! A seeder that fetches on demand (the super peer's VOD worker) also takes the peer's
//! [`Demand`] after each message: what it announced and what it asked for that we lack.

use std::collections::VecDeque;

use bytes::Bytes;
use wire::peer::{
    encode, extension, Command, DecodeError, Incoming, MessageDecoder, RequestId, SegmentId,
};

use crate::store::SegmentStore;

/// The extensions we speak with a peer that greets us with its own: parts, and a part queued
/// behind the one being sent. (Busy answers need an upload cap, relay segments still arriving:
/// a server has neither.)
pub const SERVED_EXTENSIONS: u64 = extension::BYTE_RANGES | extension::QUEUE;

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

/// What a request asks for: bytes `byte_from` on, up to `byte_to` (exclusive) for a part.
#[derive(Debug, Clone, Copy)]
struct Ask {
    segment: SegmentId,
    request: RequestId,
    byte_from: u64,
    byte_to: Option<u64>,
}

/// The answer to a request: its header command, then the bytes (none for `SegmentAbsent`).
#[derive(Debug)]
struct Answer {
    header: Command,
    upload: Option<Upload>,
}

impl Answer {
    fn absent(segment: SegmentId, request: RequestId) -> Self {
        Answer {
            header: Command::SegmentAbsent { segment, request },
            upload: None,
        }
    }
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
    /// A part asked for behind the upload in progress, answered once that one ends.
    queued: Option<(RequestId, Answer)>,
    /// The extensions both sides speak ([`SERVED_EXTENSIONS`] bits), once the peer greeted us.
    extensions: Option<u64>,
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
            queued: None,
            extensions: None,
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
        self.start_queued();
        self.commands.pop_front()
    }

    /// The extensions both sides speak, once the peer greeted us.
    pub fn extensions(&self) -> Option<u64> {
        self.extensions
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
            Command::ExtensionHello { flags } => {
                if self.extensions.is_none() {
                    self.queue(&Command::ExtensionHello {
                        flags: SERVED_EXTENSIONS,
                    });
                }
                self.extensions = Some(flags & SERVED_EXTENSIONS);
            }
            Command::SegmentRequest {
                segment,
                request,
                byte_from,
            } => {
                let ask = Ask {
                    segment,
                    request,
                    byte_from,
                    byte_to: None,
                };
                self.replace_upload(ask, store)
            }
            Command::PartRequest {
                segment,
                request,
                byte_from,
                byte_to,
                queued,
            } => {
                let speaks = |bit| self.extensions.is_some_and(|e| e & bit != 0);
                let ask = Ask {
                    segment,
                    request,
                    byte_from,
                    byte_to: Some(byte_to),
                };
                if !speaks(extension::BYTE_RANGES) {
                    // We never said we send parts: the bytes to the end, as PML would.
                    self.replace_upload(
                        Ask {
                            byte_to: None,
                            ..ask
                        },
                        store,
                    );
                } else if queued && speaks(extension::QUEUE) && self.upload.is_some() {
                    // At most one waits: a later queued request replaces it.
                    let answer = self.answer(ask, store);
                    self.queued = Some((request, answer));
                } else {
                    self.replace_upload(ask, store);
                }
            }
            Command::CancelSegmentRequest { request, .. } => {
                // PML matches the cancel on the request id alone.
                if self.upload.as_ref().is_some_and(|u| u.request == request) {
                    self.upload = None;
                    self.stats.uploads_cancelled += 1;
                    self.start_queued();
                } else if self.queued.as_ref().is_some_and(|(r, _)| *r == request) {
                    self.queued = None;
                }
            }
            // We never request segments, so replies to requests do not concern us.
            Command::SegmentData { .. }
            | Command::PartData { .. }
            | Command::SegmentDataSendingCompleted { .. }
            | Command::SegmentAbsent { .. }
            | Command::Unknown { .. } => {}
        }
    }

    /// A request that is not queued ends the upload in progress (which gets no Completed, as
    /// PML stops it) and drops a queued one.
    fn replace_upload(&mut self, ask: Ask, store: &SegmentStore) {
        if self.upload.take().is_some() {
            self.stats.uploads_cancelled += 1;
        }
        self.queued = None;
        let answer = self.answer(ask, store);
        self.begin(answer);
    }

    fn answer(&mut self, ask: Ask, store: &SegmentStore) -> Answer {
        let Ask {
            segment,
            request,
            byte_from,
            byte_to,
        } = ask;
        let Some(data) = store.get(segment) else {
            self.demand.missing = Some(segment);
            return Answer::absent(segment, request);
        };
        let total = data.len();
        let from = usize::try_from(byte_from).unwrap_or(usize::MAX);
        let (header, range) = match byte_to {
            // A part that starts at or past the end: there is nothing of it here.
            Some(_) if from >= total => return Answer::absent(segment, request),
            Some(to) => {
                // The decoder makes `to` past `from`; `max` keeps the slice valid regardless.
                let to = usize::try_from(to)
                    .unwrap_or(usize::MAX)
                    .min(total)
                    .max(from);
                let header = Command::PartData {
                    segment,
                    request,
                    size: (to - from) as u64,
                    total: total as u64,
                };
                (header, from..to)
            }
            None => {
                let from = from.min(total);
                let header = Command::SegmentData {
                    segment,
                    request,
                    size: (total - from) as u64,
                };
                (header, from..total)
            }
        };
        Answer {
            header,
            upload: Some(Upload {
                segment,
                request,
                data: data.slice(range),
                offset: 0,
            }),
        }
    }

    fn begin(&mut self, answer: Answer) {
        if answer.upload.is_none() {
            self.stats.absent_sent += 1;
        }
        self.queue(&answer.header);
        self.upload = answer.upload;
    }

    fn start_queued(&mut self) {
        if let Some((_, answer)) = self.queued.take() {
            self.begin(answer);
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
