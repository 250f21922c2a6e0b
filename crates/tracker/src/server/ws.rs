//! One WebSocket connection, served by one task that reads, runs the state machine and
//! writes.
//!
//! The task polls the socket and its [`Outbox`] by hand instead of running a reader and a
//! writer side by side: an idle connection is one small future waiting on its socket. Idle
//! and write timeouts and shutdown come from the sweeper through the outbox, so no
//! per-connection timer exists.
//!
//! An idle connection holds no buffer either. Reads go into a per-thread scratch buffer and
//! are decoded there by the sans-IO [`websocket`](crate::websocket) codec; only the bytes
//! of an incomplete frame are copied into a buffer of the connection, freed once the frame
//! is complete. Writes are batched the same way: everything queued is encoded into a
//! per-thread buffer and written with one call; only what the socket does not take stays
//! with the connection until it is written.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use wire::tracker::{decode_client, encode_server_into, ClientMessage, ServerMessage};

use crate::admission::{self, Verdict};
use crate::swarm::{ConnId, Outgoing};
use crate::websocket::{self, close_code, Decoded, Decoder, Event};

use super::access::{Access, Slot};
use super::metrics::{Closed, InKind};
use super::outbox::{Ending, Frame, FrameKind, Outbox, Pushed};
use super::Shared;

pub const GOING_AWAY: u16 = close_code::GOING_AWAY;
pub const POLICY: u16 = close_code::POLICY;
/// Messages handled per wake-up before the task yields to others.
const READ_BUDGET: usize = 32;
/// Size of the per-thread read buffer: one read takes up to this much.
const READ_CHUNK: usize = 16 * 1024;

/// How the connection ends.
pub enum End {
    /// Send this close frame after what is already encoded.
    Close(u16, String),
    /// The socket failed or the client went away: nothing more to send.
    Gone,
}

/// A WebSocket connection after its upgrade: everything it holds for its whole life.
pub struct Connection<S> {
    stream: S,
    shared: Arc<Shared>,
    outbox: Arc<Outbox>,
    conn: ConnId,
    decoder: Decoder,
    /// Bytes not yet read or written; `None` while the connection is idle.
    pending: Option<Box<Pending>>,
    /// Everything is written but the stream (TLS) may still hold some: flush it.
    must_flush: bool,
    _slot: Slot,
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Registers a connection from `ip` whose upgrade was just accepted, with what its token
    /// allows. `rest` holds bytes the client sent right after its upgrade request.
    pub fn open(
        stream: S,
        rest: Vec<u8>,
        shared: Arc<Shared>,
        slot: Slot,
        ip: IpAddr,
        access: Access,
    ) -> Self {
        let conn = shared.next_conn_id();
        let outbox = Arc::new(Outbox::new(shared.config.send_queue));
        outbox
            .last_read
            .store(shared.clock_secs(Instant::now()), Relaxed);
        {
            let mut core = shared.core();
            core.routes.insert(conn, outbox.clone());
            core.admission.open(conn, ip, access.channel);
        }
        if shared.shutdown.is_cancelled() {
            outbox.close(GOING_AWAY, "tracker shutting down");
        }
        shared.metrics.connections.fetch_add(1, Relaxed);
        shared.metrics.connections_accepted.fetch_add(1, Relaxed);
        Connection {
            stream,
            decoder: Decoder::new(shared.config.max_message_size),
            shared,
            outbox,
            conn,
            pending: (!rest.is_empty()).then(|| {
                Box::new(Pending {
                    unread: rest,
                    ..Pending::default()
                })
            }),
            must_flush: false,
            _slot: slot,
        }
    }

    /// Removes the connection from the tracker. If it ends with a close frame, returns the
    /// future that writes it (bounded by the write timeout) and closes the stream.
    pub fn finish(self, end: End) -> Option<impl Future<Output = ()>> {
        {
            let mut core = self.shared.core();
            core.routes.remove(&self.conn);
            core.tracker.connection_closed(self.conn);
            core.admission.close(self.conn);
            if core.collect_cluster() {
                if let Some(cluster) = &self.shared.cluster {
                    cluster.wake.notify_one();
                }
            }
        }
        let Connection {
            mut stream,
            shared,
            pending,
            ..
        } = self;
        let End::Close(code, reason) = end else {
            shared.metrics.connections.fetch_sub(1, Relaxed);
            return None;
        };
        let mut bytes = pending.map(|p| p.unwritten).unwrap_or_default();
        websocket::encode_close(code, &reason, &mut bytes);
        Some(async move {
            let close = async {
                stream.write_all(&bytes).await?;
                stream.shutdown().await
            };
            let _ = tokio::time::timeout(shared.config.write_timeout, close).await;
            shared.metrics.connections.fetch_sub(1, Relaxed);
        })
    }
}

/// What a busy connection keeps between wake-ups; boxed so that an idle one keeps one
/// pointer instead.
#[derive(Default)]
struct Pending {
    /// Bytes of an incomplete frame, or of frames left over the read budget.
    unread: Vec<u8>,
    /// Encoded frames the socket did not take yet.
    unwritten: Vec<u8>,
    /// When the relayed frames in `unwritten` were read, for the latency histogram.
    relayed: Vec<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.unread.is_empty() && self.unwritten.is_empty() && self.relayed.is_empty()
    }
}

/// Working buffers, one set per thread instead of one per connection: an idle connection
/// should not keep room for the messages it once handled.
#[derive(Default)]
struct Scratch {
    batch: Vec<Frame>,
    out: Vec<Outgoing>,
    targets: Vec<Option<Arc<Outbox>>>,
    bytes: Vec<u8>,
    relayed: Vec<Instant>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        // Not reentrant in practice; a fresh set keeps it correct if it ever were.
        Err(_) => f(&mut Scratch::default()),
    })
}

fn with_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut vec![0; READ_CHUNK]),
    })
}

/// What reading found.
enum Read {
    /// Messages and pings handled, until nothing was left to read (the waker is
    /// registered) or the budget was used up.
    Handled(usize),
    End(End),
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Serves the connection until it must end.
    pub fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        loop {
            // Registers the waker before looking at the queue, so no push is missed.
            let ending = self.outbox.poll_ending(cx);
            if ending == Some(Ending::Abort) {
                return Poll::Ready(End::Gone);
            }
            let written = match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => {
                    self.written();
                    true
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(conn = ?self.conn, "WebSocket write failed: {e}");
                    return Poll::Ready(End::Gone);
                }
                Poll::Pending => {
                    let now = self.shared.clock_secs(Instant::now());
                    let _ = self
                        .outbox
                        .write_stalled_since
                        .compare_exchange(0, now, Relaxed, Relaxed);
                    false
                }
            };
            if written {
                if self.write_batch(cx) {
                    continue;
                }
                if let Some(Ending::Close(code, reason)) = ending {
                    return Poll::Ready(End::Close(code, reason.to_owned()));
                }
            }
            if ending.is_some() {
                // Closing: read nothing more, wait for the queue to drain.
                return Poll::Pending;
            }
            match self.read(cx) {
                Read::End(end) => return Poll::Ready(end),
                Read::Handled(0) => return Poll::Pending,
                Read::Handled(READ_BUDGET) => {
                    // More may be waiting: let other connections run first.
                    cx.waker().wake_by_ref();
                    if written {
                        self.write_batch(cx);
                    }
                    return Poll::Pending;
                }
                Read::Handled(_) => {}
            }
        }
    }

    /// Writes what is left of earlier batches, then flushes.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(pending) = &mut self.pending {
            while !pending.unwritten.is_empty() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &pending.unwritten))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                pending.unwritten.drain(..n);
            }
        }
        if self.must_flush {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.must_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Everything is on the socket: free the buffers, record the relay latencies.
    fn written(&mut self) {
        self.outbox.write_stalled_since.store(0, Relaxed);
        let Some(pending) = &mut self.pending else {
            return;
        };
        pending.unwritten = Vec::new();
        let relayed = std::mem::take(&mut pending.relayed);
        if pending.is_empty() {
            self.pending = None;
        }
        self.record_relayed(&relayed);
    }

    fn record_relayed(&self, relayed: &[Instant]) {
        let now = Instant::now();
        for received in relayed {
            self.shared
                .metrics
                .relay_latency(now.saturating_duration_since(*received));
        }
    }

    /// Encodes the queued frames and writes them with one call; what the socket does not
    /// take stays in `unwritten`. `true` if there were frames.
    fn write_batch(&mut self, cx: &mut Context<'_>) -> bool {
        with_scratch(|scratch| {
            self.outbox.drain_into(&mut scratch.batch);
            if scratch.batch.is_empty() {
                return false;
            }
            scratch.bytes.clear();
            for frame in scratch.batch.drain(..) {
                if let Some(received) = frame.received {
                    scratch.relayed.push(received);
                }
                websocket::encode_text(&frame.text, &mut scratch.bytes);
            }
            let mut sent = 0;
            while sent < scratch.bytes.len() {
                match Pin::new(&mut self.stream).poll_write(cx, &scratch.bytes[sent..]) {
                    Poll::Ready(Ok(n)) if n > 0 => sent += n,
                    Poll::Ready(_) => {
                        // The socket failed; the next poll of the writer sees it again.
                        self.outbox.abort();
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            self.must_flush = true;
            if sent == scratch.bytes.len() {
                self.record_relayed(&scratch.relayed);
                scratch.relayed.clear();
            } else {
                let pending = self.pending.get_or_insert_default();
                pending.unwritten.extend_from_slice(&scratch.bytes[sent..]);
                pending.relayed.append(&mut scratch.relayed);
            }
            true
        })
    }

    /// Reads and handles up to [`READ_BUDGET`] messages.
    fn read(&mut self, cx: &mut Context<'_>) -> Read {
        let mut handled = 0;
        // Left over from the last wake-up: may hold complete frames.
        let unread = self.take_unread();
        if !unread.is_empty() {
            let mut unread = unread;
            match self.decode(&mut unread, &mut handled) {
                Ok(used) => self.keep_unread(unread, used),
                Err(end) => return Read::End(end),
            }
            if handled == READ_BUDGET {
                return Read::Handled(handled);
            }
        }
        loop {
            let read = with_read_buf(|buf| {
                let mut read_buf = ReadBuf::new(buf);
                match Pin::new(&mut self.stream).poll_read(cx, &mut read_buf) {
                    Poll::Pending => Ok(None),
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Ready(Ok(())) => {
                        let n = read_buf.filled().len();
                        if n == 0 {
                            return Ok(Some(Err(End::Gone)));
                        }
                        Ok(Some(self.take_read(&mut buf[..n], &mut handled)))
                    }
                }
            });
            match read {
                Ok(None) => return Read::Handled(handled),
                Ok(Some(Ok(()))) if handled < READ_BUDGET => {}
                Ok(Some(Ok(()))) => return Read::Handled(handled),
                Ok(Some(Err(end))) => return Read::End(end),
                Err(e) => {
                    tracing::debug!(conn = ?self.conn, "WebSocket read failed: {e}");
                    return Read::End(End::Gone);
                }
            }
        }
    }

    /// Handles freshly read bytes: in place if nothing was pending, else after what was.
    fn take_read(&mut self, fresh: &mut [u8], handled: &mut usize) -> Result<(), End> {
        let mut unread = self.take_unread();
        if unread.is_empty() {
            let used = self.decode(fresh, handled)?;
            if used < fresh.len() {
                self.keep_unread(fresh[used..].to_vec(), 0);
            }
        } else {
            unread.extend_from_slice(fresh);
            let used = self.decode(&mut unread, handled)?;
            self.keep_unread(unread, used);
        }
        Ok(())
    }

    /// Keeps the bytes after `used`; drops the buffer, freeing it, when there are none.
    fn keep_unread(&mut self, mut unread: Vec<u8>, used: usize) {
        if used < unread.len() {
            unread.drain(..used);
            self.pending.get_or_insert_default().unread = unread;
        } else if self.pending.as_ref().is_some_and(|p| p.is_empty()) {
            self.pending = None;
        }
    }

    fn take_unread(&mut self) -> Vec<u8> {
        self.pending
            .as_mut()
            .map(|p| std::mem::take(&mut p.unread))
            .unwrap_or_default()
    }

    /// Decodes and handles the frames at the start of `bytes`; returns how many bytes
    /// they took.
    fn decode(&mut self, bytes: &mut [u8], handled: &mut usize) -> Result<usize, End> {
        let mut used = 0;
        while *handled < READ_BUDGET {
            let decoded = self.decoder.decode(&mut bytes[used..]);
            let (n, event) = match decoded {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Frame { used, event }) => (used, event),
                Err(violation) => {
                    let closed = if violation.code == close_code::TOO_BIG {
                        Closed::MessageTooBig
                    } else {
                        Closed::ProtocolError
                    };
                    self.shared.metrics.closed(closed);
                    tracing::debug!(conn = ?self.conn, "WebSocket error: {}", violation.reason);
                    let reason = if violation.code == close_code::TOO_BIG {
                        format!(
                            "message larger than {} bytes",
                            self.shared.config.max_message_size
                        )
                    } else {
                        violation.reason.to_owned()
                    };
                    return Err(End::Close(violation.code, reason));
                }
            };
            match event {
                Event::Text(text) => {
                    *handled += 1;
                    self.handle(text.as_bytes());
                }
                Event::Binary(bytes) => {
                    *handled += 1;
                    self.handle(&bytes);
                }
                Event::Ping(payload) => {
                    // Counted: the pong must be written before the task sleeps.
                    *handled += 1;
                    let pending = self.pending.get_or_insert_default();
                    websocket::encode_pong(payload, &mut pending.unwritten);
                }
                Event::Pong | Event::Fragment => {}
                // Answered with the client's own status, as the RFC asks.
                Event::Close(code) => return Err(End::Close(code, String::new())),
            }
            used += n;
        }
        Ok(used)
    }

    /// Runs one client message through the state machine and queues what comes out.
    fn handle(&mut self, bytes: &[u8]) {
        with_scratch(|scratch| self.handle_with(bytes, scratch));
    }

    fn handle_with(&mut self, bytes: &[u8], scratch: &mut Scratch) {
        let (conn, shared) = (self.conn, &*self.shared);
        let received = Instant::now();
        let mut queued_for_cluster = false;
        self.outbox
            .last_read
            .store(shared.clock_secs(received), Relaxed);
        match decode_client(bytes) {
            Ok(mut msg) => {
                shared.metrics.message_in(match &msg {
                    ClientMessage::Announce(_) => InKind::Announce,
                    ClientMessage::Answer(_) => InKind::Answer,
                    ClientMessage::Scrape(_) => InKind::Scrape,
                    ClientMessage::Stats(_) => InKind::Stats,
                });
                let mut core = shared.core();
                let offers = match &msg {
                    ClientMessage::Announce(a) => a
                        .offers
                        .len()
                        .min(shared.config.swarm.max_offers_per_announce)
                        as u64,
                    _ => 0,
                };
                let verdict = core.admission.admit(conn, &mut msg, received);
                let refused = match verdict {
                    Verdict::Take => None,
                    Verdict::TakeWithoutOffers(why) => {
                        shared.metrics.refused(why, offers);
                        Some(admission::error_frame(
                            &msg,
                            why.reason(core.admission.limits()),
                        ))
                    }
                    Verdict::Refuse(why) => {
                        shared.metrics.refused(why, 1);
                        let frame =
                            admission::error_frame(&msg, why.reason(core.admission.limits()));
                        scratch.out.push(Outgoing {
                            to: conn,
                            msg: frame,
                        });
                        None
                    }
                };
                if !matches!(verdict, Verdict::Refuse(_)) {
                    if core.cluster.is_some() && matches!(msg, ClientMessage::Stats(_)) {
                        // Every node ingests every report: the cluster's view from any node.
                        let json = wire::tracker::encode_client(&msg);
                        core.queue_stats(json);
                    }
                    core.tracker.handle(conn, msg, received, &mut scratch.out);
                    queued_for_cluster = core.collect_cluster();
                }
                if let Some(frame) = refused {
                    scratch.out.push(Outgoing {
                        to: conn,
                        msg: frame,
                    });
                }
                let core = &*core;
                scratch.targets.extend(scratch.out.iter().map(|o| {
                    if o.to == conn {
                        None
                    } else {
                        core.routes.get(&o.to).cloned()
                    }
                }));
            }
            Err(e) => {
                shared.metrics.message_in(InKind::Invalid);
                match shared.core().admission.admit_undecodable(conn, received) {
                    // A flood of junk gets no answers.
                    Verdict::Refuse(why) => shared.metrics.refused(why, 1),
                    _ => {
                        scratch.out.push(Outgoing {
                            to: conn,
                            msg: ServerMessage::Error(e.into_server_error()),
                        });
                        scratch.targets.push(None);
                    }
                }
            }
        }
        for (o, target) in scratch.out.drain(..).zip(scratch.targets.drain(..)) {
            let frame = frame_of(&o.msg, received);
            let own = o.to == conn;
            if !own && target.is_none() {
                // The target closed meanwhile.
                shared.metrics.dropped(frame.kind);
                continue;
            }
            let kind = frame.kind;
            let pushed = match &target {
                Some(target) => target.push(frame),
                None => self.outbox.push_own(frame),
            };
            count_pushed(shared, kind, pushed);
        }
        if let Some(cluster) = &shared.cluster {
            if queued_for_cluster {
                cluster.wake.notify_one();
            }
        }
    }
}

/// Encodes a message for a connection; offers and answers keep when they were read, for
/// the relay latency histogram.
pub(super) fn frame_of(msg: &ServerMessage, received: Instant) -> Frame {
    let kind = match msg {
        ServerMessage::AnnounceResponse(_) | ServerMessage::Scrape(_) => FrameKind::Response,
        ServerMessage::Offer(_) => FrameKind::Offer,
        ServerMessage::Answer(_) => FrameKind::Answer,
        ServerMessage::Error(_) => FrameKind::Error,
    };
    let mut text = Vec::with_capacity(256);
    encode_server_into(msg, &mut text);
    let relayed = matches!(kind, FrameKind::Offer | FrameKind::Answer);
    Frame {
        text,
        kind,
        received: relayed.then_some(received),
    }
}

/// Counts what became of a frame pushed to an outbox.
pub(super) fn count_pushed(shared: &Shared, kind: FrameKind, pushed: Pushed) {
    match pushed {
        Pushed::Queued => shared.metrics.message_out(kind),
        Pushed::QueuedDroppingOffer => {
            shared.metrics.message_out(kind);
            shared.metrics.dropped(FrameKind::Offer);
        }
        Pushed::Dropped => shared.metrics.dropped(kind),
        Pushed::Stuck => {
            shared.metrics.dropped(kind);
            shared.metrics.closed(Closed::SlowReader);
        }
    }
}
