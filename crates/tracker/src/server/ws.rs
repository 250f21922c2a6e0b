//! One WebSocket connection, served by one task that reads, runs the state machine and
//! writes.
//!
//! The task polls the socket and its [`Outbox`] by hand instead of running a reader and a
//! writer side by side: an idle connection is one small future waiting on its socket. Idle
//! and write timeouts and shutdown come from the sweeper through the outbox, so no
//! per-connection timer exists. Frames are written in batches: everything queued goes into
//! tungstenite's write buffer and out with one flush.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};
use wire::tracker::{decode_client, encode_server_into, ClientMessage, ServerMessage};

use crate::swarm::{ConnId, Outgoing};

use super::access::Slot;
use super::metrics::{Closed, InKind};
use super::outbox::{Ending, Frame, FrameKind, Outbox, Pushed};
use super::Shared;

pub const GOING_AWAY: u16 = 1001;
pub const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
/// Messages handled per wake-up before the task yields to others.
const READ_BUDGET: usize = 32;

/// How the connection ends.
enum End {
    /// Send this close frame (queued frames are already out).
    Close(u16, String),
    /// The client closed or the socket failed: nothing more to send.
    Gone,
}

/// Runs a connection until either side closes it or the server shuts down.
pub async fn run<S>(mut ws: Box<WebSocketStream<S>>, shared: Arc<Shared>, slot: Slot)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _slot = slot;
    let conn = shared.next_conn_id();
    let outbox = Arc::new(Outbox::new(shared.config.send_queue));
    outbox
        .last_read
        .store(shared.clock_secs(Instant::now()), Relaxed);
    shared.core().routes.insert(conn, outbox.clone());
    if shared.shutdown.is_cancelled() {
        outbox.close(GOING_AWAY, "tracker shutting down");
    }
    shared.metrics.connections.fetch_add(1, Relaxed);
    shared.metrics.connections_accepted.fetch_add(1, Relaxed);

    let mut connection = Connection {
        conn,
        outbox: &outbox,
        shared: &shared,
        flushing: false,
        flushing_relayed: Vec::new(),
    };
    let end = poll_fn(|cx| connection.poll(cx, &mut ws)).await;
    drop(connection);
    {
        let mut core = shared.core();
        core.routes.remove(&conn);
        core.tracker.connection_closed(conn);
    }
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from(reason),
        };
        // Boxed: a timer in the task's own state would cost every idle connection.
        let close = tokio::time::timeout(shared.config.write_timeout, ws.close(Some(frame)));
        let _ = Box::pin(close).await;
    }
    shared.metrics.connections.fetch_sub(1, Relaxed);
}

struct Connection<'a> {
    conn: ConnId,
    outbox: &'a Outbox,
    shared: &'a Shared,
    /// A batch is in tungstenite's write buffer and not yet flushed.
    flushing: bool,
    /// When the relayed frames of the batch being flushed were read, for the histogram.
    flushing_relayed: Vec<Instant>,
}

/// Working buffers, one set per thread instead of one per connection: an idle connection
/// should not keep room for the messages it once handled.
#[derive(Default)]
struct Scratch {
    batch: Vec<Frame>,
    out: Vec<Outgoing>,
    targets: Vec<Option<Arc<Outbox>>>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        // Not reentrant in practice; a fresh set keeps it correct if it ever were.
        Err(_) => f(&mut Scratch::default()),
    })
}

impl Connection<'_> {
    fn poll<S>(&mut self, cx: &mut Context<'_>, ws: &mut WebSocketStream<S>) -> Poll<End>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            // Registers the waker before looking at the queue, so no push is missed.
            let ending = self.outbox.poll_ending(cx);
            if ending == Some(Ending::Abort) {
                return Poll::Ready(End::Gone);
            }
            if self.flushing {
                match Pin::new(&mut *ws).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.flushed(),
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
                    }
                }
            }
            if !self.flushing {
                if self.start_batch(ws) {
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
            let mut handled = 0;
            while handled < READ_BUDGET {
                match Pin::new(&mut *ws).poll_next(cx) {
                    Poll::Pending => break,
                    Poll::Ready(None) => return Poll::Ready(End::Gone),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(self.read_failed(e)),
                    Poll::Ready(Some(Ok(msg))) => {
                        handled += 1;
                        let bytes = match &msg {
                            Message::Text(text) => text.as_bytes(),
                            Message::Binary(bytes) => &bytes[..],
                            Message::Close(_) => return Poll::Ready(End::Gone),
                            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                        };
                        self.handle(bytes);
                    }
                }
            }
            if handled == 0 {
                return Poll::Pending;
            }
            if handled == READ_BUDGET {
                // More may be waiting: let other connections run first.
                cx.waker().wake_by_ref();
                if !self.flushing {
                    self.start_batch(ws);
                }
                return Poll::Pending;
            }
        }
    }

    /// Moves the queued frames into tungstenite's write buffer; `true` if there were any.
    fn start_batch<S>(&mut self, ws: &mut WebSocketStream<S>) -> bool
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        with_scratch(|scratch| {
            self.outbox.drain_into(&mut scratch.batch);
            if scratch.batch.is_empty() {
                return false;
            }
            for frame in scratch.batch.drain(..) {
                if let Some(received) = frame.received {
                    self.flushing_relayed.push(received);
                }
                // Never blocks: the write buffer is larger than a batch; only a flush writes.
                if Pin::new(&mut *ws)
                    .start_send(Message::Text(frame.text))
                    .is_err()
                {
                    self.outbox.abort();
                    break;
                }
            }
            self.flushing = true;
            true
        })
    }

    fn flushed(&mut self) {
        self.flushing = false;
        self.outbox.write_stalled_since.store(0, Relaxed);
        if self.flushing_relayed.is_empty() {
            return;
        }
        let now = Instant::now();
        for received in self.flushing_relayed.drain(..) {
            self.shared
                .metrics
                .relay_latency(now.saturating_duration_since(received));
        }
    }

    fn read_failed(&self, e: tungstenite::Error) -> End {
        if matches!(e, tungstenite::Error::Capacity(_)) {
            self.shared.metrics.closed(Closed::MessageTooBig);
            let reason = format!(
                "message larger than {} bytes",
                self.shared.config.max_message_size
            );
            return End::Close(TOO_BIG, reason);
        }
        tracing::debug!(conn = ?self.conn, "WebSocket read failed: {e}");
        End::Gone
    }

    /// Runs one client message through the state machine and queues what comes out.
    fn handle(&mut self, bytes: &[u8]) {
        with_scratch(|scratch| self.handle_with(bytes, scratch));
    }

    fn handle_with(&mut self, bytes: &[u8], scratch: &mut Scratch) {
        let (conn, shared) = (self.conn, self.shared);
        let received = Instant::now();
        self.outbox
            .last_read
            .store(shared.clock_secs(received), Relaxed);
        match decode_client(bytes) {
            Ok(msg) => {
                shared.metrics.message_in(match &msg {
                    ClientMessage::Announce(_) => InKind::Announce,
                    ClientMessage::Answer(_) => InKind::Answer,
                    ClientMessage::Scrape(_) => InKind::Scrape,
                    ClientMessage::Stats(_) => InKind::Stats,
                });
                let mut core = shared.core();
                core.tracker.handle(conn, msg, received, &mut scratch.out);
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
                scratch.out.push(Outgoing {
                    to: conn,
                    msg: ServerMessage::Error(e.into_server_error()),
                });
                scratch.targets.push(None);
            }
        }
        for (o, target) in scratch.out.drain(..).zip(scratch.targets.drain(..)) {
            let kind = match &o.msg {
                ServerMessage::AnnounceResponse(_) | ServerMessage::Scrape(_) => {
                    FrameKind::Response
                }
                ServerMessage::Offer(_) => FrameKind::Offer,
                ServerMessage::Answer(_) => FrameKind::Answer,
                ServerMessage::Error(_) => FrameKind::Error,
            };
            let own = o.to == conn;
            if !own && target.is_none() {
                // The target closed meanwhile.
                shared.metrics.dropped(kind);
                continue;
            }
            let mut encoded = Vec::with_capacity(256);
            encode_server_into(&o.msg, &mut encoded);
            let Ok(text) = Utf8Bytes::try_from(encoded) else {
                continue;
            };
            let relayed = matches!(kind, FrameKind::Offer | FrameKind::Answer);
            let frame = Frame {
                text,
                kind,
                received: relayed.then_some(received),
            };
            let pushed = match &target {
                Some(target) => target.push(frame),
                None => self.outbox.push_own(frame),
            };
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
    }
}
