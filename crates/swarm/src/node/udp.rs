//! Batched UDP I/O shared by the node and the super-peer worker.
//!
//! A WebRTC data channel at full speed is tens of thousands of ~1.2 KB datagrams per second to
//! one browser, and about half as many acknowledgements back. One `sendto` / `recvfrom` per
//! datagram makes the kernel's per-call path a large share of the CPU (docs/rtc.md, "CPU").
//! So:
//!
//! - sends queue in a [`SendQueue`]; a run of consecutive datagrams to the same destination
//!   with the same size (the last may be shorter) leaves in one `sendmsg` with UDP
//!   segmentation offload (GSO) where the kernel has it, one datagram per call otherwise;
//! - receives take up to [`quinn_udp::BATCH_SIZE`] datagrams per `recvmmsg`, with GRO groups
//!   split back into datagrams.
//!
//! - while data flows, the loop waits a moment after each flush so that acknowledgements
//!   gather ([`UdpIo::take_hold`]): one wake-up for many datagrams instead of one each.
//!
//! The system calls are `quinn-udp`'s; the grouping is sans-IO and tested on its own.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use quinn_udp::{RecvMeta, Transmit, UdpSocketState, BATCH_SIZE};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// The largest UDP payload one GSO send may carry (65535 minus the IPv4 and UDP headers).
pub const MAX_GSO_BYTES: usize = 65_507;
/// Room for one received datagram, or one GRO group of them.
const RECV_BUFFER: usize = 65_536;

/// The node's default for [`UdpIo::set_hold`]: one tick of tokio's timer, the shortest wait
/// it has. A browser acknowledges every second SCTP packet, so a fast transfer to a few
/// browsers brings a datagram every 100-200 µs; waking for each cost more CPU than handling it
/// (docs/rtc.md, "Wake-ups"). The wait adds this much, rounded up to the timer's next tick, to
/// each round trip while a transfer runs. With hundreds of connections the datagrams batch on
/// their own, and the super-peer worker does not wait (docs/superpeer.md).
pub const DEFAULT_HOLD: Duration = Duration::from_millis(1);

/// Datagrams sent since the last wait that mark a transfer in progress. Fewer (a STUN
/// response, a lone acknowledgement of an idle connection) do not delay the next read.
const HOLD_AFTER_SENT: u64 = 2;

/// Whether the loop should wait `hold` before its next read, having sent `sent` datagrams
/// since it last waited. Pure, so the policy is tested without sockets.
pub fn hold_for(sent: u64, hold: Duration) -> Option<Duration> {
    (!hold.is_zero() && sent >= HOLD_AFTER_SENT).then_some(hold)
}

/// Datagrams waiting to be sent, in order. Sans-IO: [`SendQueue::peek_batch`] says what the
/// next system call carries and [`SendQueue::consume`] drops it once the kernel took it, so a
/// refused send (`WouldBlock`) loses and reorders nothing.
#[derive(Debug, Default)]
pub struct SendQueue {
    pending: VecDeque<(SocketAddr, BytesMut)>,
    /// The concatenated datagrams of the current batch when it has more than one.
    joined: Vec<u8>,
}

/// What one send carries: `count` queued datagrams to `destination`, back to back in
/// `contents`. `segment_size` is the size of each (the last may be shorter) when `count > 1`.
#[derive(Debug, PartialEq, Eq)]
pub struct Batch<'a> {
    pub destination: SocketAddr,
    pub contents: &'a [u8],
    pub segment_size: Option<usize>,
    pub count: usize,
}

impl SendQueue {
    pub fn push(&mut self, destination: SocketAddr, datagram: BytesMut) {
        self.pending.push_back((destination, datagram));
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next send: the first queued datagram and the ones right behind it that go to the
    /// same destination with the same size, at most `max_segments` of them and
    /// [`MAX_GSO_BYTES`] in all. A shorter datagram may end a run; it cannot sit inside one.
    /// The datagrams stay queued until [`SendQueue::consume`].
    pub fn peek_batch(&mut self, max_segments: usize) -> Option<Batch<'_>> {
        let (destination, first) = self.pending.front()?;
        let (destination, size) = (*destination, first.len());
        let mut count = 1;
        let mut total = size;
        if size > 0 {
            for (to, datagram) in self.pending.iter().skip(1) {
                if count >= max_segments
                    || *to != destination
                    || datagram.len() > size
                    || datagram.is_empty()
                    || total + datagram.len() > MAX_GSO_BYTES
                {
                    break;
                }
                count += 1;
                total += datagram.len();
                if datagram.len() < size {
                    break;
                }
            }
        }
        if count == 1 {
            return Some(Batch {
                destination,
                contents: &self.pending[0].1,
                segment_size: None,
                count,
            });
        }
        self.joined.clear();
        for (_, datagram) in self.pending.iter().take(count) {
            self.joined.extend_from_slice(datagram);
        }
        Some(Batch {
            destination,
            contents: &self.joined,
            segment_size: Some(size),
            count,
        })
    }

    /// Drops the first `count` datagrams: the kernel has taken them.
    pub fn consume(&mut self, count: usize) {
        self.pending.drain(..count.min(self.pending.len()));
    }
}

/// Room for one `recvmmsg`: [`quinn_udp::BATCH_SIZE`] buffers and what each holds. The
/// buffers are allocated zeroed and untouched, so pages a burst never reaches cost no memory.
pub struct RecvBatch {
    buffer: Vec<u8>,
    meta: Vec<RecvMeta>,
    filled: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            buffer: vec![0; RECV_BUFFER * BATCH_SIZE],
            meta: vec![RecvMeta::default(); BATCH_SIZE],
            filled: 0,
        }
    }
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("filled", &self.filled)
            .finish()
    }
}

impl RecvBatch {
    /// The datagrams of the last receive, in arrival order, with GRO groups split.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        self.meta[..self.filled]
            .iter()
            .zip(self.buffer.chunks(RECV_BUFFER))
            .flat_map(|(meta, buffer)| {
                let data = &buffer[..meta.len.min(buffer.len())];
                let stride = if meta.stride == 0 {
                    data.len().max(1)
                } else {
                    meta.stride
                };
                data.chunks(stride)
                    .map(move |datagram| (meta.addr, datagram))
            })
    }
}

/// How well batching works: datagrams per system call, each way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UdpCounters {
    pub datagrams_sent: u64,
    /// `sendmsg` calls that the kernel accepted.
    pub sends: u64,
    pub datagrams_received: u64,
    /// `recvmmsg` calls that returned datagrams.
    pub receives: u64,
}

/// A non-blocking UDP socket with batched sends and receives.
#[derive(Debug)]
pub struct UdpIo {
    socket: UdpSocket,
    state: UdpSocketState,
    queue: SendQueue,
    counters: UdpCounters,
    hold: Duration,
    /// Datagrams sent since the last [`UdpIo::take_hold`].
    sent_since_hold: u64,
}

impl UdpIo {
    /// Takes a bound socket (see [`super::bind_udp`]). `quinn-udp` enables GRO where the
    /// kernel has it and sets the don't-fragment bit: datagrams larger than the path carries
    /// are dropped, not fragmented (see the SCTP MTU setting in docs/rtc.md).
    pub fn new(socket: UdpSocket) -> io::Result<Self> {
        let state = UdpSocketState::new((&socket).into())?;
        Ok(Self {
            socket,
            state,
            queue: SendQueue::default(),
            counters: UdpCounters::default(),
            hold: Duration::ZERO,
            sent_since_hold: 0,
        })
    }

    /// How long the loop waits for acknowledgements to gather while it is sending; zero (the
    /// default) reads every datagram as soon as it arrives.
    pub fn set_hold(&mut self, hold: Duration) {
        self.hold = hold;
    }

    /// Call once per loop turn, before waiting for the socket: the time to wait first if the
    /// turns since the last call sent a transfer's worth of datagrams (see [`hold_for`]).
    pub fn take_hold(&mut self) -> Option<Duration> {
        let hold = hold_for(self.sent_since_hold, self.hold);
        self.sent_since_hold = 0;
        hold
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Queues a datagram; [`UdpIo::flush`] sends it.
    pub fn queue(&mut self, destination: SocketAddr, datagram: BytesMut) {
        self.queue.push(destination, datagram);
    }

    pub fn counters(&self) -> UdpCounters {
        self.counters
    }

    /// Datagrams one send may carry: 1 without GSO.
    pub fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// Datagrams queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Sends everything queued, waiting for room only when the kernel's buffer is full.
    pub async fn flush(&mut self) {
        loop {
            match self.try_flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = self.socket.writable().await {
                        tracing::debug!("udp socket unusable, dropping queued datagrams: {e}");
                        self.queue = SendQueue::default();
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Sends what the kernel takes now. `WouldBlock` leaves the rest queued, in order. Other
    /// send errors drop that batch (logged by `quinn-udp`): the protocols above retransmit.
    pub fn try_flush(&mut self) -> io::Result<()> {
        let Self {
            socket,
            state,
            queue,
            counters,
            sent_since_hold,
            ..
        } = self;
        while let Some(batch) = queue.peek_batch(state.max_gso_segments()) {
            let transmit = Transmit {
                destination: batch.destination,
                ecn: None,
                contents: batch.contents,
                segment_size: batch.segment_size,
                src_ip: None,
            };
            let count = batch.count;
            socket.try_io(Interest::WRITABLE, || {
                state.send((&*socket).into(), &transmit)
            })?;
            queue.consume(count);
            counters.sends += 1;
            counters.datagrams_sent += count as u64;
            *sent_since_hold += count as u64;
        }
        Ok(())
    }

    /// Waits until a datagram can be read. Cancel-safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Reads the datagrams already waiting, up to one `recvmmsg`'s worth, into `batch`.
    /// Returns how many buffers were filled; `WouldBlock` when none was waiting.
    pub fn try_recv(&mut self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.filled = 0;
        let mut chunks = batch.buffer.chunks_mut(RECV_BUFFER);
        let mut slices: [IoSliceMut<'_>; BATCH_SIZE] = std::array::from_fn(|_| {
            chunks
                .next()
                .map_or_else(|| IoSliceMut::new(&mut []), IoSliceMut::new)
        });
        let meta = &mut batch.meta;
        let filled = self.socket.try_io(Interest::READABLE, || {
            self.state.recv((&self.socket).into(), &mut slices, meta)
        })?;
        batch.filled = filled;
        self.counters.receives += 1;
        self.counters.datagrams_received += batch.datagrams().count() as u64;
        Ok(filled)
    }
}

#[cfg(test)]
mod tests;
