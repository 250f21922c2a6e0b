//! The segments of one swarm (one stream variant) held in memory, by P2P Media Loader
//! segment id.

use std::collections::BTreeMap;

use bytes::Bytes;
use wire::peer::SegmentId;

/// Segments of one swarm. `version` changes with every insert or removal so sessions can
/// tell when to re-announce.
#[derive(Debug, Default, Clone)]
pub struct SegmentStore {
    segments: BTreeMap<SegmentId, Bytes>,
    version: u64,
    bytes: usize,
}

impl SegmentStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, id: SegmentId, data: Bytes) {
        self.bytes += data.len();
        if let Some(old) = self.segments.insert(id, data) {
            self.bytes -= old.len();
        }
        self.version += 1;
    }

    pub fn remove(&mut self, id: SegmentId) -> Option<Bytes> {
        let removed = self.segments.remove(&id)?;
        self.bytes -= removed.len();
        self.version += 1;
        Some(removed)
    }

    pub fn get(&self, id: SegmentId) -> Option<&Bytes> {
        self.segments.get(&id)
    }

    /// Held segment ids, ascending.
    pub fn ids(&self) -> Vec<SegmentId> {
        self.segments.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Total bytes held.
    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}
