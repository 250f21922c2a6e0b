//! A seeding node: one UDP socket, one [`rtc::Endpoint`], a [`Session`] per browser, and
//! the segment stores of the swarms it serves. Runs as one tokio task; everything else talks
//! to it through a [`NodeHandle`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::{ChannelId, ConnectionId, Endpoint, EndpointConfig, Event};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use wire::peer::SegmentId;

use crate::session::{Session, SessionConfig};
use crate::store::SegmentStore;

pub mod udp;

use udp::{RecvBatch, UdpIo};

/// `recvmmsg` calls in a row before the loop sends again: acknowledgements queued in the
/// socket are seen before more data goes out, and a flood cannot starve the sending side.
const RECV_ROUNDS: usize = 8;

/// A swarm's key: its tracker info-hash (20 ASCII characters for P2P Media Loader swarms).
pub type SwarmKey = String;

/// Settings of a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the UDP socket binds.
    pub udp_listen: SocketAddr,
    /// The address put in SDP answers; the bound address when `None`. Its port `0` means
    /// "the bound port".
    pub advertised_addr: Option<SocketAddr>,
    pub session: SessionConfig,
    /// A channel gets no more data while this many bytes are unacknowledged.
    pub high_water: usize,
    /// Sending resumes when the unacknowledged bytes fall to this level.
    pub low_water: usize,
    /// Requested kernel buffer sizes of the UDP socket (SO_RCVBUF / SO_SNDBUF).
    pub socket_buffer: usize,
    pub connect_timeout: Duration,
    pub max_connections: usize,
    /// SCTP data packet budget; `None` keeps the stack's path-safe default
    /// ([`rtc::EndpointConfig::sctp_mtu`]).
    pub sctp_mtu: Option<u32>,
    /// While sending, how long the loop lets acknowledgements gather before it reads them
    /// ([`udp::DEFAULT_HOLD`]); zero reads each datagram as it arrives.
    pub hold: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            udp_listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            advertised_addr: None,
            session: SessionConfig::default(),
            high_water: 1024 * 1024,
            low_water: 256 * 1024,
            socket_buffer: 8 * 1024 * 1024,
            connect_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            sctp_mtu: None,
            hold: udp::DEFAULT_HOLD,
        }
    }
}

/// Counters of a node.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodeStats {
    pub connections: usize,
    pub open_sessions: usize,
    pub sessions_closed_malformed: u64,
    pub bytes_sent: u64,
    pub uploads_completed: u64,
    pub segments_held: usize,
    /// Datagrams and system calls on the UDP socket (batching at work).
    pub udp: udp::UdpCounters,
}

enum Request {
    Offer {
        swarm: SwarmKey,
        sdp: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    AddSegment {
        swarm: SwarmKey,
        id: SegmentId,
        data: Bytes,
    },
    Stats {
        reply: oneshot::Sender<NodeStats>,
    },
}

/// Talks to a running [`Node`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    requests: mpsc::Sender<Request>,
    local_addr: SocketAddr,
}

impl NodeHandle {
    /// The UDP address the node is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Answers a browser's (non-trickle) SDP offer for a swarm with a complete answer SDP.
    pub async fn accept_offer(&self, swarm: &str, sdp: String) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Offer {
            swarm: swarm.to_owned(),
            sdp,
            reply,
        })
        .await?;
        answer.await.map_err(|_| "node stopped".to_owned())?
    }

    /// Adds a segment to a swarm's store; connected peers of that swarm get a new
    /// announcement.
    pub async fn add_segment(&self, swarm: &str, id: SegmentId, data: Bytes) -> Result<(), String> {
        self.send(Request::AddSegment {
            swarm: swarm.to_owned(),
            id,
            data,
        })
        .await
    }

    pub async fn stats(&self) -> Result<NodeStats, String> {
        let (reply, stats) = oneshot::channel();
        self.send(Request::Stats { reply }).await?;
        stats.await.map_err(|_| "node stopped".to_owned())
    }

    async fn send(&self, request: Request) -> Result<(), String> {
        self.requests
            .send(request)
            .await
            .map_err(|_| "node stopped".to_owned())
    }
}

struct Peer {
    swarm: SwarmKey,
    channel: Option<ChannelId>,
    session: Session,
}

/// The node's state, owned by its task.
pub struct Node {
    config: NodeConfig,
    endpoint: Endpoint,
    udp: UdpIo,
    stores: HashMap<SwarmKey, SegmentStore>,
    peers: HashMap<ConnectionId, Peer>,
    stats: NodeStats,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("endpoint", &self.endpoint)
            .field("peers", &self.peers.len())
            .finish()
    }
}

/// Binds the socket and starts the node on the current tokio runtime.
pub async fn spawn(config: NodeConfig) -> io::Result<NodeHandle> {
    let socket = bind_udp(config.udp_listen, config.socket_buffer)?;
    let local_addr = socket.local_addr()?;
    let mut advertised = config.advertised_addr.unwrap_or(local_addr);
    if advertised.port() == 0 {
        advertised.set_port(local_addr.port());
    }
    if advertised.ip().is_unspecified() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bound to an unspecified address: set the advertised address browsers can reach",
        ));
    }
    let mut endpoint_config = EndpointConfig::new(local_addr);
    endpoint_config.advertised_addr = advertised;
    endpoint_config.buffered_amount_low = config.low_water;
    endpoint_config.connect_timeout = config.connect_timeout;
    endpoint_config.max_connections = config.max_connections;
    endpoint_config.max_message_size = config.session.max_message_size;
    endpoint_config.sctp_mtu = config.sctp_mtu;
    let endpoint = Endpoint::new(endpoint_config).map_err(io::Error::other)?;
    let mut udp = UdpIo::new(socket)?;
    udp.set_hold(config.hold);
    tracing::debug!(gso_segments = udp.max_gso_segments(), "udp socket ready");
    let (tx, rx) = mpsc::channel(256);
    let node = Node {
        config,
        endpoint,
        udp,
        stores: HashMap::new(),
        peers: HashMap::new(),
        stats: NodeStats::default(),
    };
    tokio::spawn(node.run(rx));
    Ok(NodeHandle {
        requests: tx,
        local_addr: advertised,
    })
}

/// Binds a non-blocking UDP socket with kernel buffers of `buffer` bytes each way (as far as
/// the system allows): the defaults drop bursts of acknowledgements from many peers.
pub fn bind_udp(addr: SocketAddr, buffer: usize) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        None,
    )?;
    // Bursts of SACKs from many peers overflow the default buffer (see docs/rtc.md).
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

impl Node {
    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut received = RecvBatch::default();
        // One timer for the life of the loop, moved to each new deadline: cheaper than
        // registering a new one with the runtime on every turn, which is every datagram.
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(timer);
        loop {
            self.flush().await;
            if let Some(hold) = self.udp.take_hold() {
                tokio::time::sleep(hold).await;
            }
            // The stack may report a deadline that is already due right after a timeout
            // was handled; sleeping at least 1 ms keeps the loop from spinning.
            let now = Instant::now();
            let deadline = self
                .endpoint
                .poll_timeout()
                .map_or(now + Duration::from_secs(3600), |t| {
                    t.max(now + Duration::from_millis(1))
                });
            if timer.deadline() != deadline.into() {
                timer.as_mut().reset(deadline.into());
            }
            tokio::select! {
                ready = self.udp.readable() => {
                    if ready.is_ok() {
                        // Take whatever is already queued before sending again.
                        for _ in 0..RECV_ROUNDS {
                            if self.udp.try_recv(&mut received).is_err() {
                                break;
                            }
                            // A batch arrived at one moment: one clock read for all of it.
                            let now = Instant::now();
                            for (from, datagram) in received.datagrams() {
                                self.on_datagram(now, from, datagram);
                            }
                        }
                    }
                }
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                () = &mut timer => {
                    self.endpoint.handle_timeout(Instant::now());
                    self.on_events();
                }
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let connection = self.endpoint.handle_datagram(now, from, datagram);
        self.on_events();
        // Acknowledgements free send buffer: top the channel up without waiting for the
        // low-water event.
        if let Some(connection) = connection {
            self.pump(connection);
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Offer { swarm, sdp, reply } => {
                let result = self
                    .endpoint
                    .accept_offer(Instant::now(), &sdp)
                    .map_err(|e| e.to_string());
                let result = result.map(|(connection, answer)| {
                    let session = Session::new(self.config.session.clone());
                    self.peers.insert(
                        connection,
                        Peer {
                            swarm,
                            channel: None,
                            session,
                        },
                    );
                    answer
                });
                let _ = reply.send(result);
                self.on_events();
            }
            Request::AddSegment { swarm, id, data } => {
                let store = self.stores.entry(swarm.clone()).or_default();
                store.insert(id, data);
                let ids: Vec<ConnectionId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.swarm == swarm)
                    .map(|(&id, _)| id)
                    .collect();
                for &connection in &ids {
                    if let Some(peer) = self.peers.get_mut(&connection) {
                        peer.session.on_store_changed(store);
                    }
                }
                for connection in ids {
                    self.pump(connection);
                }
            }
            Request::Stats { reply } => {
                let mut stats = self.stats.clone();
                stats.connections = self.endpoint.connection_count();
                stats.open_sessions = self.peers.values().filter(|p| p.channel.is_some()).count();
                stats.segments_held = self.stores.values().map(SegmentStore::len).sum();
                stats.udp = self.udp.counters();
                let _ = reply.send(stats);
            }
        }
    }

    fn on_events(&mut self) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::Connected(connection) => tracing::debug!(connection, "peer connected"),
                Event::ChannelOpen {
                    connection,
                    channel,
                    label,
                } => {
                    let Some(peer) = self.peers.get_mut(&connection) else {
                        continue;
                    };
                    if peer.channel.is_some() {
                        // PML opens exactly one channel; a second one is not ours to serve.
                        tracing::debug!(connection, label, "ignoring an extra data channel");
                        continue;
                    }
                    tracing::debug!(connection, label, "data channel open");
                    peer.channel = Some(channel);
                    let store = self.stores.entry(peer.swarm.clone()).or_default();
                    peer.session.on_open(store);
                    self.pump(connection);
                }
                Event::Message {
                    connection,
                    channel,
                    data,
                } => {
                    let Some(peer) = self.peers.get_mut(&connection) else {
                        continue;
                    };
                    if peer.channel != Some(channel) {
                        continue;
                    }
                    let store = self.stores.entry(peer.swarm.clone()).or_default();
                    if let Err(e) = peer.session.handle_message(&data, store) {
                        tracing::warn!(connection, "closing peer session: {e}");
                        self.stats.sessions_closed_malformed += 1;
                        self.endpoint.close(connection, &e.to_string());
                        continue;
                    }
                    self.pump(connection);
                }
                Event::BufferedAmountLow { connection, .. } => self.pump(connection),
                Event::ChannelClosed {
                    connection,
                    channel,
                } => {
                    if self
                        .peers
                        .get(&connection)
                        .is_some_and(|p| p.channel == Some(channel))
                    {
                        self.endpoint.close(connection, "data channel closed");
                    }
                }
                Event::Closed { connection, reason } => {
                    if let Some(peer) = self.peers.remove(&connection) {
                        self.stats.uploads_completed += peer.session.stats().uploads_completed;
                        tracing::info!(connection, reason, "peer gone");
                    }
                }
            }
        }
    }

    /// Sends what the connection's session has while its channel is under the high-water mark.
    fn pump(&mut self, connection: ConnectionId) {
        let Some(peer) = self.peers.get_mut(&connection) else {
            return;
        };
        let Some(channel) = peer.channel else { return };
        let now = Instant::now();
        while peer.session.wants_to_send() {
            if self.endpoint.buffered_amount(connection, channel) >= self.config.high_water {
                break;
            }
            let Some(message) = peer.session.poll_message() else {
                break;
            };
            match self.endpoint.send(now, connection, channel, &message) {
                Ok(_) => self.stats.bytes_sent += message.len() as u64,
                Err(e) => {
                    tracing::debug!(connection, "send failed: {e}");
                    self.endpoint.close(connection, &e.to_string());
                    break;
                }
            }
        }
    }

    /// Sends what the endpoint produced since the last turn, batched.
    async fn flush(&mut self) {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            self.udp.queue(transmit.destination, transmit.contents);
        }
        self.udp.flush().await;
    }
}
