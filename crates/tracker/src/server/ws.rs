//! One WebSocket connection: the reader runs the state machine, the writer drains the outbox.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use wire::tracker::{decode_client, encode_server_into, ClientMessage, ServerMessage};

use crate::swarm::{ConnId, Outgoing};

use super::access::Slot;
use super::metrics::{Closed, InKind};
use super::outbox::{Frame, FrameKind, Outbox, Pushed};
use super::Shared;

const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;

/// Runs a connection until either side closes it or the server shuts down.
pub async fn run(socket: WebSocket, shared: Arc<Shared>, slot: Slot) {
    let _slot = slot;
    let conn = shared.next_conn_id();
    let outbox = Arc::new(Outbox::new(shared.config.send_queue));
    shared.core().routes.insert(conn, outbox.clone());
    shared
        .metrics
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared
        .metrics
        .connections_accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);

    let (sink, stream) = socket.split();
    let (close_tx, close_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, outbox.clone(), shared.clone(), close_rx));
    let close = read_loop(stream, conn, &outbox, &shared).await;
    {
        let mut core = shared.core();
        core.routes.remove(&conn);
        core.tracker.connection_closed(conn);
    }
    let _ = close_tx.send(close);
    outbox.close();
    let _ = tokio::time::timeout(shared.config.write_timeout, writer).await;
    shared
        .metrics
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Reads frames until the connection should end; returns the close frame to send, if any.
async fn read_loop(
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    conn: ConnId,
    outbox: &Outbox,
    shared: &Shared,
) -> Option<CloseFrame> {
    let mut out = Vec::new();
    let mut targets = Vec::new();
    let mut encoded = Vec::new();
    loop {
        let next = tokio::select! {
            _ = shared.shutdown.cancelled() => {
                return Some(close_frame(GOING_AWAY, "tracker shutting down"));
            }
            _ = outbox.aborted.cancelled() => return None,
            next = tokio::time::timeout(shared.config.idle_timeout, stream.next()) => next,
        };
        let msg = match next {
            Err(_) => {
                shared.metrics.closed(Closed::Idle);
                return Some(close_frame(POLICY, "idle for too long"));
            }
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                if is_too_big(&e) {
                    shared.metrics.closed(Closed::MessageTooBig);
                    let reason = format!(
                        "message larger than {} bytes",
                        shared.config.max_message_size
                    );
                    return Some(close_frame(TOO_BIG, &reason));
                }
                tracing::debug!(?conn, "WebSocket read failed: {e}");
                return None;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        let received = Instant::now();
        let decoded = match &msg {
            Message::Text(text) => decode_client(text.as_bytes()),
            Message::Binary(bytes) => decode_client(bytes),
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        match decoded {
            Ok(msg) => {
                shared.metrics.message_in(match &msg {
                    ClientMessage::Announce(_) => InKind::Announce,
                    ClientMessage::Answer(_) => InKind::Answer,
                    ClientMessage::Scrape(_) => InKind::Scrape,
                    ClientMessage::Stats(_) => InKind::Stats,
                });
                let mut core = shared.core();
                core.tracker.handle(conn, msg, received, &mut out);
                targets.extend(out.iter().map(|o| {
                    if o.to == conn {
                        None
                    } else {
                        core.routes.get(&o.to).cloned()
                    }
                }));
            }
            Err(e) => {
                shared.metrics.message_in(InKind::Invalid);
                out.push(Outgoing {
                    to: conn,
                    msg: ServerMessage::Error(e.into_server_error()),
                });
                targets.push(None);
            }
        }
        for (o, target) in out.drain(..).zip(targets.drain(..)) {
            let kind = match &o.msg {
                ServerMessage::AnnounceResponse(_) | ServerMessage::Scrape(_) => {
                    FrameKind::Response
                }
                ServerMessage::Offer(_) => FrameKind::Offer,
                ServerMessage::Answer(_) => FrameKind::Answer,
                ServerMessage::Error(_) => FrameKind::Error,
            };
            let outbox = match (&target, o.to == conn) {
                (_, true) => outbox,
                (Some(target), false) => target.as_ref(),
                // The target closed meanwhile.
                (None, false) => {
                    shared.metrics.dropped(kind);
                    continue;
                }
            };
            encoded.clear();
            encode_server_into(&o.msg, &mut encoded);
            let text =
                match String::from_utf8(std::mem::replace(&mut encoded, Vec::with_capacity(256))) {
                    Ok(text) => Utf8Bytes::from(text),
                    Err(_) => continue,
                };
            let relayed = matches!(kind, FrameKind::Offer | FrameKind::Answer);
            let frame = Frame {
                text,
                kind,
                received: relayed.then_some(received),
            };
            match outbox.push(frame) {
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

fn is_too_big(e: &axum::Error) -> bool {
    use std::error::Error;
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(ws) = err.downcast_ref::<tungstenite::Error>() {
            return matches!(ws, tungstenite::Error::Capacity(_));
        }
        source = err.source();
    }
    false
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    }
}

/// Writes queued frames in batches; gives up on a socket that accepts nothing for
/// `write_timeout`.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    outbox: Arc<Outbox>,
    shared: Arc<Shared>,
    close: tokio::sync::oneshot::Receiver<Option<CloseFrame>>,
) {
    let timeout = shared.config.write_timeout;
    let mut batch = Vec::new();
    loop {
        let more = outbox.drain_into(&mut batch);
        if batch.is_empty() {
            if !more {
                break;
            }
            outbox.ready.notified().await;
            continue;
        }
        let write = async {
            for frame in batch.iter_mut() {
                let text = std::mem::take(&mut frame.text);
                sink.feed(Message::Text(text)).await?;
            }
            sink.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                outbox.abort();
                return;
            }
            Err(_) => {
                shared.metrics.closed(Closed::WriteTimeout);
                outbox.abort();
                return;
            }
        }
        let now = Instant::now();
        for frame in batch.drain(..) {
            if let Some(received) = frame.received {
                shared
                    .metrics
                    .relay_latency(now.saturating_duration_since(received));
            }
        }
    }
    if let Ok(Some(frame)) = close.await {
        let _ = tokio::time::timeout(timeout, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(timeout, sink.close()).await;
}
