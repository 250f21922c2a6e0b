//! The worker's peer engine: one UDP socket and the `rtc` endpoint for every viewer's
//! WebRTC connection, a [`Session`] per data channel, one [`SegmentStore`] per swarm.
//! Single task, no locks: offers, media updates, datagrams and timers all arrive here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::{ChannelId, ConnectionId, Endpoint, EndpointConfig, Event};
use swarm::node::udp::{RecvBatch, UdpIo};
use swarm::{SegmentStore, Session, SessionConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::media::{MediaUpdate, SwarmDemand};
use super::signal::OfferRequest;
use super::Counters;

/// Stop writing to a channel above this many unacknowledged bytes; resume on the
/// endpoint's buffered-amount-low event at half of it. 256 KiB in flight is still 40 Mbit/s
/// per viewer at 50 ms RTT, and a lower mark keeps the SCTP queues (and RSS) of hundreds of
/// viewers small (bench/superpeer/README.md).
const HIGH_WATER: usize = 256 * 1024;
/// `recvmmsg` calls in a row before the loop sends again, so acknowledgements queued in the
/// socket are seen before more data goes out.
const RECV_ROUNDS: usize = 8;

struct Peer {
    swarm: usize,
    channel: Option<ChannelId>,
    session: Session,
    counted_upload: u64,
}

pub struct EngineConfig {
    pub socket: UdpSocket,
    /// Address put in answers (public IP and the socket's port).
    pub advertised: SocketAddr,
    pub swarms: usize,
    /// Live `maxConnections`, updatable by the master.
    pub max_connections: Arc<AtomicU64>,
}

pub async fn run(
    config: EngineConfig,
    mut offers: mpsc::Receiver<OfferRequest>,
    mut media: mpsc::Receiver<MediaUpdate>,
    demand: mpsc::Sender<SwarmDemand>,
    counters: Arc<Counters>,
) -> anyhow::Result<()> {
    let local = config.socket.local_addr()?;
    let mut ep_config = EndpointConfig::new(local);
    ep_config.advertised_addr = config.advertised;
    ep_config.connect_timeout = Duration::from_secs(20);
    ep_config.buffered_amount_low = HIGH_WATER / 2;
    let mut endpoint = Endpoint::new(ep_config)?;
    let mut stores: Vec<SegmentStore> = (0..config.swarms)
        .map(|_| SegmentStore::default())
        .collect();
    let mut peers: HashMap<ConnectionId, Peer> = HashMap::new();
    let mut received = RecvBatch::default();
    let mut udp = UdpIo::new(config.socket)?;
    // One timer moved to each new deadline rather than a new one registered every turn.
    let timer = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(timer);
    loop {
        let now = Instant::now();
        // The stack may report an already-due deadline; never spin faster than 1 ms.
        let deadline = endpoint
            .poll_timeout()
            .map_or(now + Duration::from_secs(1), |t| {
                t.max(now + Duration::from_millis(1))
            });
        if timer.deadline() != deadline.into() {
            timer.as_mut().reset(deadline.into());
        }
        let mut dirty: Vec<ConnectionId> = Vec::new();
        tokio::select! {
            ready = udp.readable() => {
                if ready.is_ok() {
                    for _ in 0..RECV_ROUNDS {
                        if udp.try_recv(&mut received).is_err() {
                            break;
                        }
                        let now = Instant::now();
                        for (from, datagram) in received.datagrams() {
                            endpoint.handle_datagram(now, from, datagram);
                        }
                    }
                }
            }
            Some(offer) = offers.recv() => {
                let full = endpoint.connection_count() as u64 >= config.max_connections.load(Ordering::Relaxed);
                let answer = if full {
                    None
                } else {
                    match endpoint.accept_offer(Instant::now(), &offer.sdp) {
                        Ok((id, sdp)) => {
                            peers.insert(id, Peer {
                                swarm: offer.swarm,
                                channel: None,
                                session: Session::new(SessionConfig::default()),
                                counted_upload: 0,
                            });
                            Some(sdp)
                        }
                        Err(e) => {
                            tracing::debug!("offer refused: {e}");
                            None
                        }
                    }
                };
                let _ = offer.reply.send(answer);
            }
            Some(update) = media.recv() => {
                let swarm = match update {
                    MediaUpdate::Insert { swarm, id, data } => {
                        if let Some(s) = stores.get_mut(swarm) { s.insert(id, data) }
                        swarm
                    }
                    MediaUpdate::Remove { swarm, id } => {
                        if let Some(s) = stores.get_mut(swarm) { s.remove(id); }
                        swarm
                    }
                };
                counters.segments.store(stores.iter().map(|s| s.len() as u64).sum(), Ordering::Relaxed);
                for (&id, peer) in peers.iter_mut() {
                    if peer.swarm == swarm && peer.channel.is_some() {
                        peer.session.on_store_changed(&stores[swarm]);
                        dirty.push(id);
                    }
                }
            }
            () = &mut timer => {
                endpoint.handle_timeout(Instant::now());
            }
        }
        // Drain events and writes until the endpoint has nothing more to say.
        loop {
            let mut progressed = false;
            while let Some(event) = endpoint.poll_event() {
                progressed = true;
                handle_event(
                    event,
                    &mut endpoint,
                    &mut peers,
                    &stores,
                    &demand,
                    &mut dirty,
                );
            }
            if !dirty.is_empty() {
                progressed = true;
                pump(&mut endpoint, &mut peers, &mut dirty, &counters);
            }
            while let Some(t) = endpoint.poll_transmit() {
                udp.queue(t.destination, t.contents);
            }
            // Batched sends; waits for room only when the kernel's send buffer is full.
            udp.flush().await;
            if !progressed {
                break;
            }
        }
        let open = peers.values().filter(|p| p.channel.is_some()).count();
        counters.peers.store(open as u64, Ordering::Relaxed);
    }
}

fn handle_event(
    event: Event,
    endpoint: &mut Endpoint,
    peers: &mut HashMap<ConnectionId, Peer>,
    stores: &[SegmentStore],
    demand: &mpsc::Sender<SwarmDemand>,
    dirty: &mut Vec<ConnectionId>,
) {
    match event {
        Event::ChannelOpen {
            connection,
            channel,
            ..
        } => {
            if let Some(peer) = peers.get_mut(&connection) {
                peer.channel = Some(channel);
                peer.session.on_open(&stores[peer.swarm]);
                dirty.push(connection);
            }
        }
        Event::Message {
            connection, data, ..
        } => {
            let Some(peer) = peers.get_mut(&connection) else {
                return;
            };
            match peer.session.handle_message(&data, &stores[peer.swarm]) {
                Ok(()) => {
                    let wanted = peer.session.take_demand();
                    if !wanted.is_empty() {
                        let _ = demand.try_send(SwarmDemand {
                            swarm: peer.swarm,
                            demand: wanted,
                        });
                    }
                    dirty.push(connection);
                }
                Err(e) => {
                    tracing::debug!(connection, "protocol error: {e}");
                    endpoint.close(connection, "protocol error");
                }
            }
        }
        Event::BufferedAmountLow { connection, .. } => dirty.push(connection),
        Event::ChannelClosed { connection, .. } => {
            endpoint.close(connection, "data channel closed");
        }
        Event::Closed { connection, .. } => {
            peers.remove(&connection);
        }
        Event::Connected(_) => {}
    }
}

fn pump(
    endpoint: &mut Endpoint,
    peers: &mut HashMap<ConnectionId, Peer>,
    dirty: &mut Vec<ConnectionId>,
    counters: &Counters,
) {
    dirty.sort_unstable();
    dirty.dedup();
    let now = Instant::now();
    for id in dirty.drain(..) {
        let Some(peer) = peers.get_mut(&id) else {
            continue;
        };
        let Some(channel) = peer.channel else {
            continue;
        };
        while peer.session.wants_to_send() && endpoint.buffered_amount(id, channel) < HIGH_WATER {
            let Some(message) = peer.session.poll_message() else {
                break;
            };
            if endpoint.send(now, id, channel, &message).is_err() {
                break;
            }
        }
        let up = peer.session.stats().uploaded_bytes;
        counters
            .uploaded_bytes
            .fetch_add(up - peer.counted_upload, Ordering::Relaxed);
        peer.counted_upload = up;
    }
}
