//! The per-connection send queue, its slow-reader policy, and how other tasks reach the
//! connection's task.
//!
//! The queue holds at most `capacity` frames. Offers may only fill half of it, so replies,
//! answers and errors always find room; when a reply finds the queue full, a queued offer is
//! dropped for it. If there is no offer left to drop, the reader is stuck: the connection is
//! closed. Nothing is ever buffered beyond `capacity` frames.
//!
//! The connection's task is the only consumer. Producers (other connections' tasks, the
//! sweeper, shutdown) wake it through one [`AtomicWaker`]: no per-connection timers or
//! notification objects.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU32;
use std::sync::Mutex;
use std::task::Context;
use std::time::Instant;

use futures_util::task::AtomicWaker;

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
    /// The JSON text of the message.
    pub text: Vec<u8>,
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

/// Why a connection must end, as decided outside its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Send what is queued, then a close frame with this code and reason.
    Close(u16, &'static str),
    /// Stop at once: the peer is stuck or the socket failed; queued frames are dropped.
    Abort,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Frame>,
    ending: Option<Ending>,
}

#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    capacity: usize,
    /// The connection's task, woken when frames arrive or the connection must end.
    waker: AtomicWaker,
    /// Server clock second ([`super::Clock`]) of the last frame read, for the idle sweep.
    pub last_read: AtomicU32,
    /// Server clock second since which a write has been pending, or 0: for the write
    /// timeout sweep.
    pub write_stalled_since: AtomicU32,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(2),
            waker: AtomicWaker::new(),
            last_read: AtomicU32::new(0),
            write_stalled_since: AtomicU32::new(0),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame from another task and wakes this connection's task.
    pub fn push(&self, frame: Frame) -> Pushed {
        self.push_and_wake(frame, true)
    }

    /// Queues a frame from the connection's own task, which drains the outbox next anyway.
    pub fn push_own(&self, frame: Frame) -> Pushed {
        self.push_and_wake(frame, false)
    }

    fn push_and_wake(&self, frame: Frame, wake: bool) -> Pushed {
        let mut q = self.queue();
        if q.ending.is_some() {
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
                    q.ending = Some(Ending::Abort);
                    q.frames = VecDeque::new();
                    drop(q);
                    self.waker.wake();
                    return Pushed::Stuck;
                }
            }
        }
        let was_empty = q.frames.is_empty();
        q.frames.push_back(frame);
        drop(q);
        // A non-empty queue has already woken the task, which has not drained it yet.
        if was_empty && wake {
            self.waker.wake();
        }
        result
    }

    /// Moves every queued frame into `batch`; `false` once the outbox is closed and empty.
    pub fn drain_into(&self, batch: &mut Vec<Frame>) -> bool {
        let mut q = self.queue();
        // Taken, not drained: an idle connection keeps no queue allocation.
        batch.extend(std::mem::take(&mut q.frames));
        !(q.ending.is_some() && batch.is_empty())
    }

    /// Registers the connection's task to be woken, then tells how the connection must end,
    /// if it must.
    pub fn poll_ending(&self, cx: &mut Context<'_>) -> Option<Ending> {
        self.waker.register(cx.waker());
        self.queue().ending
    }

    pub fn has_frames(&self) -> bool {
        !self.queue().frames.is_empty()
    }

    /// Stops accepting frames; the task sends what is queued and then a close frame.
    pub fn close(&self, code: u16, reason: &'static str) {
        let mut q = self.queue();
        if q.ending.is_none() {
            q.ending = Some(Ending::Close(code, reason));
        }
        drop(q);
        self.waker.wake();
    }

    /// Closes the outbox and drops what is queued: the connection is beyond saving.
    pub fn abort(&self) {
        let mut q = self.queue();
        q.ending = Some(Ending::Abort);
        q.frames = VecDeque::new();
        drop(q);
        self.waker.wake();
    }

    pub fn is_closed(&self) -> bool {
        self.queue().ending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind) -> Frame {
        Frame {
            text: b"{}".to_vec(),
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
        outbox.close(1000, "bye");
        batch.clear();
        assert!(outbox.drain_into(&mut batch), "queued frames still go out");
        batch.clear();
        assert!(!outbox.drain_into(&mut batch));
    }
}
