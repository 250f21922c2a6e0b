//! The uploader side of the P2P Media Loader v2 data-channel protocol for one viewer, as a
//! sans-IO state machine, plus the per-swarm segment store it serves from.
//!
//! What a PML peer expects: our full announcement when the channel opens and whenever our
//! store changes; `SegmentData{s}` + raw chunks (≤ max message size) + `Completed` for a
//! request we can serve (from byte `b`), `SegmentAbsent` otherwise; one upload per
//! connection (a new request replaces the current one without `Completed`); `Cancel` stops
//! the upload with that request id.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use wire::peer::{encode, Command, DecodeError, Incoming, MessageDecoder, RequestId, SegmentId};

/// Segments of one swarm held in memory. `version` changes on every insert and removal.
#[derive(Debug, Default)]
pub struct SegmentStore {
    segments: BTreeMap<SegmentId, Bytes>,
    version: u64,
    bytes: usize,
}

impl SegmentStore {
    pub fn insert(&mut self, id: SegmentId, data: Bytes) {
        self.bytes += data.len();
        if let Some(old) = self.segments.insert(id, data) {
            self.bytes -= old.len();
        }
        self.version += 1;
    }

    pub fn remove(&mut self, id: SegmentId) -> Option<Bytes> {
        let old = self.segments.remove(&id)?;
        self.bytes -= old.len();
        self.version += 1;
        Some(old)
    }

    pub fn get(&self, id: SegmentId) -> Option<&Bytes> {
        self.segments.get(&id)
    }

    pub fn ids(&self) -> Vec<SegmentId> {
        self.segments.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

/// What the viewer told us that matters to the media side (VOD fetching on demand).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Segments the viewer holds or is loading (from its announcements).
    pub announced: Vec<SegmentId>,
    /// A segment it asked for that we do not hold.
    pub missing: Option<SegmentId>,
}

#[derive(Debug)]
struct Upload {
    segment: SegmentId,
    request: RequestId,
    data: Bytes,
    offset: usize,
}

/// The protocol state of one viewer's data channel.
#[derive(Debug)]
pub struct Session {
    max_message_size: usize,
    decoder: MessageDecoder,
    commands: VecDeque<Bytes>,
    upload: Option<Upload>,
    announced_version: Option<u64>,
    pub uploaded_bytes: u64,
}

impl Session {
    pub fn new(max_message_size: usize) -> Self {
        Self {
            max_message_size,
            decoder: MessageDecoder::default(),
            commands: VecDeque::new(),
            upload: None,
            announced_version: None,
            uploaded_bytes: 0,
        }
    }

    /// Channel open, or the store changed: (re)announce when needed.
    pub fn announce_if_changed(&mut self, store: &SegmentStore) {
        if self.announced_version == Some(store.version()) {
            return;
        }
        self.announced_version = Some(store.version());
        let command = Command::SegmentsAnnouncement {
            loaded: store.ids(),
            http_loading: Vec::new(),
        };
        // A newer announcement supersedes queued ones.
        self.commands
            .retain(|m| !(m.starts_with(b"cstr") && m.ends_with(b"cend") && m.get(4) == Some(&0)));
        self.queue(&command);
    }

    /// Takes one received message; an error means the viewer broke the protocol.
    pub fn handle_message(
        &mut self,
        message: &[u8],
        store: &SegmentStore,
    ) -> Result<Demand, DecodeError> {
        let mut demand = Demand::default();
        let Incoming::Command(command) = self.decoder.decode(message)? else {
            return Ok(demand);
        };
        match command {
            Command::SegmentsAnnouncement {
                loaded,
                http_loading,
            } => {
                demand.announced = loaded;
                demand.announced.extend(http_loading);
            }
            Command::SegmentRequest {
                segment,
                request,
                byte_from,
            } => {
                self.upload = None;
                match store.get(segment) {
                    Some(data) => {
                        let from = usize::try_from(byte_from)
                            .unwrap_or(usize::MAX)
                            .min(data.len());
                        let data = data.slice(from..);
                        self.queue(&Command::SegmentData {
                            segment,
                            request,
                            size: data.len() as u64,
                        });
                        self.upload = Some(Upload {
                            segment,
                            request,
                            data,
                            offset: 0,
                        });
                    }
                    None => {
                        demand.missing = Some(segment);
                        self.queue(&Command::SegmentAbsent { segment, request });
                    }
                }
            }
            Command::CancelSegmentRequest { request, .. }
                if self.upload.as_ref().is_some_and(|u| u.request == request) =>
            {
                self.upload = None;
            }
            _ => {}
        }
        Ok(demand)
    }

    pub fn wants_to_send(&self) -> bool {
        !self.commands.is_empty() || self.upload.is_some()
    }

    /// The next message: queued commands, then upload chunks, then `Completed`.
    pub fn poll_message(&mut self) -> Option<Bytes> {
        if let Some(m) = self.commands.pop_front() {
            return Some(m);
        }
        let upload = self.upload.as_mut()?;
        if upload.offset < upload.data.len() {
            let end = (upload.offset + self.max_message_size).min(upload.data.len());
            let chunk = upload.data.slice(upload.offset..end);
            upload.offset = end;
            self.uploaded_bytes += chunk.len() as u64;
            return Some(chunk);
        }
        let done = self.upload.take()?;
        self.queue(&Command::SegmentDataSendingCompleted {
            segment: done.segment,
            request: done.request,
        });
        self.commands.pop_front()
    }

    fn queue(&mut self, command: &Command) {
        for m in encode(command, self.max_message_size) {
            self.commands.push_back(Bytes::from(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(session: &mut Session) -> (Vec<Command>, usize) {
        let mut decoder = MessageDecoder::default();
        let (mut commands, mut raw) = (Vec::new(), 0);
        while let Some(m) = session.poll_message() {
            match decoder.decode(&m).unwrap() {
                Incoming::Command(c) => commands.push(c),
                Incoming::Data(d) => raw += d.len(),
                Incoming::Partial => {}
            }
        }
        (commands, raw)
    }

    fn request(segment: i64, request: i64, byte_from: u64) -> Vec<u8> {
        encode(
            &Command::SegmentRequest {
                segment,
                request,
                byte_from,
            },
            65535,
        )
        .remove(0)
    }

    #[test]
    fn announces_then_serves_a_segment_in_chunks() {
        let mut store = SegmentStore::default();
        store.insert(7, Bytes::from(vec![9u8; 150_000]));
        let mut s = Session::new(65535);
        s.announce_if_changed(&store);
        s.handle_message(&request(7, 3, 0), &store).unwrap();
        let (commands, raw) = decode_all(&mut s);
        assert_eq!(
            commands,
            [
                Command::SegmentsAnnouncement {
                    loaded: vec![7],
                    http_loading: vec![]
                },
                Command::SegmentData {
                    segment: 7,
                    request: 3,
                    size: 150_000
                },
                Command::SegmentDataSendingCompleted {
                    segment: 7,
                    request: 3
                },
            ]
        );
        assert_eq!(raw, 150_000);
        assert_eq!(s.uploaded_bytes, 150_000);
        // Same store version: no new announcement.
        s.announce_if_changed(&store);
        assert!(!s.wants_to_send());
    }

    #[test]
    fn resumes_from_byte_offset_and_reports_absent() {
        let mut store = SegmentStore::default();
        store.insert(1, Bytes::from(vec![1u8; 1000]));
        let mut s = Session::new(65535);
        s.handle_message(&request(1, 5, 600), &store).unwrap();
        let d = s.handle_message(&request(2, 6, 0), &store).unwrap();
        assert_eq!(d.missing, Some(2));
        let (commands, raw) = decode_all(&mut s);
        assert_eq!(raw, 0, "the new request replaced the upload");
        assert_eq!(
            commands[0],
            Command::SegmentData {
                segment: 1,
                request: 5,
                size: 400
            }
        );
        assert_eq!(
            commands[1],
            Command::SegmentAbsent {
                segment: 2,
                request: 6
            }
        );
    }

    #[test]
    fn cancel_stops_the_upload() {
        let mut store = SegmentStore::default();
        store.insert(1, Bytes::from(vec![1u8; 200_000]));
        let mut s = Session::new(65535);
        s.handle_message(&request(1, 5, 0), &store).unwrap();
        s.poll_message();
        s.poll_message();
        let cancel = encode(
            &Command::CancelSegmentRequest {
                segment: 1,
                request: 5,
            },
            65535,
        )
        .remove(0);
        s.handle_message(&cancel, &store).unwrap();
        assert!(!s.wants_to_send());
    }

    #[test]
    fn viewer_announcements_become_demand() {
        let store = SegmentStore::default();
        let mut s = Session::new(65535);
        let ann = encode(
            &Command::SegmentsAnnouncement {
                loaded: vec![3, 4],
                http_loading: vec![5],
            },
            65535,
        )
        .remove(0);
        assert_eq!(s.handle_message(&ann, &store).unwrap().announced, [3, 4, 5]);
    }
}
