//! A seeding node: a [`Seeder`] on one UDP socket, run as one tokio task. Everything else
//! talks to it through a [`NodeHandle`]; the demand of viewers comes out of a channel.
//! This is the only packet loop that serves browsers: `swarmcast peer` and the super-peer
//! worker both run it.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::ConnectionId;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use wire::peer::SegmentId;

use crate::seeder::{OfferError, Seeder, SeederConfig, SeederStats, SwarmDemand, SwarmKey};
use crate::session::SessionConfig;

pub mod udp;

use udp::{RecvBatch, UdpIo};

/// `recvmmsg` calls in a row before the loop sends again: acknowledgements queued in the
/// socket are seen before more data goes out, and a flood cannot starve the sending side.
const RECV_ROUNDS: usize = 8;

/// Demand entries waiting for the owner; beyond that the node drops them (the seeder keeps
/// its own bounded queue too).
const DEMAND_CHANNEL: usize = 256;

/// Settings of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the UDP socket binds ([`spawn`]; [`spawn_on`] takes a bound socket).
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

/// Counters of a node: its seeder's and its socket's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodeStats {
    pub seeder: SeederStats,
    /// Datagrams and system calls on the UDP socket (batching at work).
    pub udp: udp::UdpCounters,
}

/// Why a request to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the node has stopped")]
    Stopped,
    #[error("offer refused: {0}")]
    Offer(#[from] OfferError),
    #[error("answer refused: {0}")]
    Answer(#[from] rtc::Error),
}

enum Request {
    Offer {
        swarm: SwarmKey,
        sdp: String,
        reply: oneshot::Sender<Result<String, OfferError>>,
    },
    AddSegment {
        swarm: SwarmKey,
        id: SegmentId,
        data: Bytes,
    },
    RemoveSegment {
        swarm: SwarmKey,
        id: SegmentId,
    },
    CreateOffers {
        swarm: SwarmKey,
        count: usize,
        reply: oneshot::Sender<Vec<(ConnectionId, String)>>,
    },
    AcceptAnswer {
        connection: ConnectionId,
        sdp: String,
        reply: oneshot::Sender<Result<(), rtc::Error>>,
    },
    MaxConnections(usize),
    Stats {
        reply: oneshot::Sender<NodeStats>,
    },
}

/// Talks to a running node. Cheap to clone; the node stops when every handle is gone.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    requests: mpsc::Sender<Request>,
    local_addr: SocketAddr,
}

impl NodeHandle {
    /// Whether the node's task has ended.
    pub fn is_stopped(&self) -> bool {
        self.requests.is_closed()
    }

    /// The address browsers reach the node at (the advertised one).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Answers a browser's (non-trickle) SDP offer to join `swarm` with a complete answer SDP.
    pub async fn accept_offer(&self, swarm: SwarmKey, sdp: String) -> Result<String, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Offer { swarm, sdp, reply }).await?;
        Ok(answer.await.map_err(|_| NodeError::Stopped)??)
    }

    /// Makes up to `count` offers to join `swarm`, for the tracker to relay to viewers (fewer
    /// when the connection limit is near). Each waits for [`NodeHandle::accept_answer`].
    pub async fn create_offers(
        &self,
        swarm: SwarmKey,
        count: usize,
    ) -> Result<Vec<(ConnectionId, String)>, NodeError> {
        let (reply, offers) = oneshot::channel();
        self.send(Request::CreateOffers {
            swarm,
            count,
            reply,
        })
        .await?;
        offers.await.map_err(|_| NodeError::Stopped)
    }

    /// Takes a viewer's answer to one of our offers.
    pub async fn accept_answer(
        &self,
        connection: ConnectionId,
        sdp: String,
    ) -> Result<(), NodeError> {
        let (reply, done) = oneshot::channel();
        self.send(Request::AcceptAnswer {
            connection,
            sdp,
            reply,
        })
        .await?;
        Ok(done.await.map_err(|_| NodeError::Stopped)??)
    }

    /// Adds a segment to a swarm's store; connected peers of that swarm get a new
    /// announcement.
    pub async fn add_segment(
        &self,
        swarm: SwarmKey,
        id: SegmentId,
        data: Bytes,
    ) -> Result<(), NodeError> {
        self.send(Request::AddSegment { swarm, id, data }).await
    }

    /// Removes a segment (it left the live window); uploads of it in progress finish.
    pub async fn remove_segment(&self, swarm: SwarmKey, id: SegmentId) -> Result<(), NodeError> {
        self.send(Request::RemoveSegment { swarm, id }).await
    }

    /// Changes how many connections the node accepts from now on.
    pub async fn set_max_connections(&self, max: usize) -> Result<(), NodeError> {
        self.send(Request::MaxConnections(max)).await
    }

    pub async fn stats(&self) -> Result<NodeStats, NodeError> {
        let (reply, stats) = oneshot::channel();
        self.send(Request::Stats { reply }).await?;
        stats.await.map_err(|_| NodeError::Stopped)
    }

    async fn send(&self, request: Request) -> Result<(), NodeError> {
        self.requests
            .send(request)
            .await
            .map_err(|_| NodeError::Stopped)
    }
}

/// The node's state, owned by its task.
struct Node {
    seeder: Seeder,
    udp: UdpIo,
    demand: mpsc::Sender<SwarmDemand>,
}

/// Binds the socket and starts the node on the current tokio runtime. Returns its handle and
/// the viewers' demand (for owners that fetch on demand; dropping it is fine).
pub async fn spawn(config: NodeConfig) -> io::Result<(NodeHandle, mpsc::Receiver<SwarmDemand>)> {
    let socket = bind_udp(config.udp_listen, config.socket_buffer)?;
    spawn_on(socket, config)
}

/// Starts the node on a socket the caller bound (with [`bind_udp`]); `config.udp_listen`
/// is not used.
pub fn spawn_on(
    socket: UdpSocket,
    config: NodeConfig,
) -> io::Result<(NodeHandle, mpsc::Receiver<SwarmDemand>)> {
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
    let seeder = Seeder::new(SeederConfig {
        local_addr,
        advertised_addr: advertised,
        session: config.session.clone(),
        high_water: config.high_water,
        low_water: config.low_water,
        connect_timeout: config.connect_timeout,
        max_connections: config.max_connections,
        sctp_mtu: config.sctp_mtu,
    })
    .map_err(io::Error::other)?;
    let mut udp = UdpIo::new(socket)?;
    udp.set_hold(config.hold);
    tracing::debug!(gso_segments = udp.max_gso_segments(), "udp socket ready");
    let (tx, rx) = mpsc::channel(256);
    let (demand_tx, demand_rx) = mpsc::channel(DEMAND_CHANNEL);
    let node = Node {
        seeder,
        udp,
        demand: demand_tx,
    };
    tokio::spawn(node.run(rx));
    Ok((
        NodeHandle {
            requests: tx,
            local_addr: advertised,
        },
        demand_rx,
    ))
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
                .seeder
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
                                self.seeder.handle_datagram(now, from, datagram);
                            }
                        }
                    }
                }
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                () = &mut timer => self.seeder.handle_timeout(Instant::now()),
            }
            while let Some(demand) = self.seeder.poll_demand() {
                // An owner that does not read demand (or lags) loses it; serving goes on.
                let _ = self.demand.try_send(demand);
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        let now = Instant::now();
        match request {
            Request::Offer { swarm, sdp, reply } => {
                let _ = reply.send(self.seeder.accept_offer(now, swarm, &sdp));
            }
            Request::AddSegment { swarm, id, data } => {
                self.seeder.insert_segment(now, swarm, id, data);
            }
            Request::RemoveSegment { swarm, id } => self.seeder.remove_segment(now, swarm, id),
            Request::CreateOffers {
                swarm,
                count,
                reply,
            } => {
                // Offers wait for answers that may never come: they may take at most half the
                // room left, so that viewers' own offers still find some.
                let count = count.min(self.seeder.room() / 2);
                let offers = (0..count)
                    .map_while(|_| self.seeder.create_offer(now, swarm).ok())
                    .collect();
                let _ = reply.send(offers);
            }
            Request::AcceptAnswer {
                connection,
                sdp,
                reply,
            } => {
                let _ = reply.send(self.seeder.accept_answer(now, connection, &sdp));
            }
            Request::MaxConnections(max) => self.seeder.set_max_connections(max),
            Request::Stats { reply } => {
                let _ = reply.send(NodeStats {
                    seeder: self.seeder.stats(),
                    udp: self.udp.counters(),
                });
            }
        }
    }

    /// Sends what the seeder produced since the last turn, batched.
    async fn flush(&mut self) {
        while let Some(transmit) = self.seeder.poll_transmit() {
            self.udp.queue(transmit.destination, transmit.contents);
        }
        self.udp.flush().await;
    }
}
