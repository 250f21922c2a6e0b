//! The per-connection send queue and its slow-reader policy.
//!
//! The queue holds at most `capacity` frames. Offers may only fill half of it, so replies,
//! answers and errors always find room; when a reply finds the queue full, a queued offer is
//! dropped for it. If there is no offer left to drop, the reader is stuck: the connection is
//! closed. Nothing is ever buffered beyond `capacity` frames.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What a frame is, for the drop policy and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Announce or scrape response.
    Response,
    Offer,
    Answer,
    Error,
}

#[derive(Debug)]
pub struct Frame {
    pub text: Utf8Bytes,
    pub kind: FrameKind,
    /// When the message that caused this relayed frame was read, for the latency histogram.
    pub received: Option<Instant>,
}

/// The outcome of [`Outbox::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued after dropping an older queued offer.
    QueuedDroppingOffer,
    /// Not queued: an offer that found the offer half full, or a closed connection.
    Dropped,
    /// Not queued, and the connection is now closing: its reader is stuck.
    Stuck,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Frame>,
    closed: bool,
}

#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    capacity: usize,
    /// Wakes the writer when frames arrive or the outbox closes.
    pub ready: Notify,
    /// Cancelled when the connection must end at once (stuck reader, failed write).
    pub aborted: CancellationToken,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(2),
            ready: Notify::new(),
            aborted: CancellationToken::new(),
        }
    }

    pub fn push(&self, frame: Frame) -> Pushed {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return Pushed::Dropped;
        }
        let mut result = Pushed::Queued;
        if frame.kind == FrameKind::Offer {
            if q.frames.len() >= self.capacity / 2 {
                return Pushed::Dropped;
            }
        } else if q.frames.len() >= self.capacity {
            match q.frames.iter().position(|f| f.kind == FrameKind::Offer) {
                Some(i) => {
                    q.frames.remove(i);
                    result = Pushed::QueuedDroppingOffer;
                }
                None => {
                    q.closed = true;
                    q.frames.clear();
                    drop(q);
                    self.aborted.cancel();
                    self.ready.notify_one();
                    return Pushed::Stuck;
                }
            }
        }
        q.frames.push_back(frame);
        drop(q);
        self.ready.notify_one();
        result
    }

    /// Moves every queued frame into `batch`; `false` once the outbox is closed and empty.
    pub fn drain_into(&self, batch: &mut Vec<Frame>) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        batch.extend(q.frames.drain(..));
        !(q.closed && batch.is_empty())
    }

    /// Stops accepting frames; the writer sends what is queued and then stops.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_one();
    }

    /// Closes the outbox and drops what is queued: the connection is beyond saving.
    pub fn abort(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        q.frames.clear();
        drop(q);
        self.aborted.cancel();
        self.ready.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind) -> Frame {
        Frame {
            text: Utf8Bytes::from_static("{}"),
            kind,
            received: None,
        }
    }

    #[test]
    fn offers_fill_half_replies_evict_offers_then_a_stuck_reader_is_closed() {
        let outbox = Outbox::new(4);
        assert_eq!(outbox.push(frame(FrameKind::Offer)), Pushed::Queued);
        assert_eq!(outbox.push(frame(FrameKind::Offer)), Pushed::Queued);
        assert_eq!(outbox.push(frame(FrameKind::Offer)), Pushed::Dropped);
        assert_eq!(outbox.push(frame(FrameKind::Response)), Pushed::Queued);
        assert_eq!(outbox.push(frame(FrameKind::Answer)), Pushed::Queued);
        assert_eq!(
            outbox.push(frame(FrameKind::Error)),
            Pushed::QueuedDroppingOffer
        );
        assert_eq!(
            outbox.push(frame(FrameKind::Response)),
            Pushed::QueuedDroppingOffer
        );
        assert_eq!(outbox.push(frame(FrameKind::Response)), Pushed::Stuck);
        assert!(outbox.is_closed());
        let mut batch = Vec::new();
        assert!(!outbox.drain_into(&mut batch));
    }

    #[test]
    fn draining_makes_room_again() {
        let outbox = Outbox::new(4);
        for _ in 0..4 {
            outbox.push(frame(FrameKind::Response));
        }
        let mut batch = Vec::new();
        assert!(outbox.drain_into(&mut batch));
        assert_eq!(batch.len(), 4);
        assert_eq!(outbox.push(frame(FrameKind::Offer)), Pushed::Queued);
        outbox.close();
        batch.clear();
        assert!(outbox.drain_into(&mut batch), "queued frames still go out");
        batch.clear();
        assert!(!outbox.drain_into(&mut batch));
    }
}
