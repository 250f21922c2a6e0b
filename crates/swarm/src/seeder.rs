//! The seeding engine as a state machine: one [`rtc::Endpoint`] (every browser connection over
//! one UDP socket), a [`Session`] per connection's data channel, and the segment stores of the
//! swarms it serves, keyed by info hash. Sans-IO, as the endpoint is: the caller feeds offers,
//! datagrams, timeouts and media changes, and drains datagrams to send, the demand of viewers
//! (for on-demand fetching) and counters. [`crate::node`] runs it on a UDP socket; tests run it
//! against in-memory browser peers.
//!
//! What keeps a connection's bytes right:
//! - a connection is served on the first data channel it opens; other channels are ignored
//!   (P2P Media Loader opens exactly one), and messages on them never reach the session;
//! - a message the session cannot decode closes the connection (counted);
//! - a send the endpoint refuses closes the connection: a segment is never sent with a hole;
//! - a channel stops receiving data above the high-water mark of unacknowledged bytes and
//!   resumes on the endpoint's low-water event or as acknowledgements arrive.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::{ChannelId, ConnectionId, Endpoint, EndpointConfig, Event, Transmit};
use wire::peer::SegmentId;
use wire::tracker::InfoHash;

use crate::session::{Demand, Session, SessionConfig};
use crate::store::SegmentStore;

/// A swarm's key: its tracker info hash.
pub type SwarmKey = InfoHash;

/// The label of the data channel on connections we offer (browsers accept any).
const OFFER_CHANNEL_LABEL: &str = "swarmcast";

/// Demand entries kept for the owner at most; older ones are dropped first (the owner is
/// behind, and newer demand says more about where viewers are).
const MAX_QUEUED_DEMAND: usize = 1024;

/// Default [`SeederConfig::send_budget`]: 32 MiB, about 60 segments of a 2.7 Mbit/s stream in
/// flight at once (on loopback a viewer's transfer needs a few hundred KiB of it at a time).
pub const DEFAULT_SEND_BUDGET: usize = 32 * 1024 * 1024;

/// Settings of a [`Seeder`].
#[derive(Debug, Clone)]
pub struct SeederConfig {
    /// The address of the UDP socket.
    pub local_addr: SocketAddr,
    /// The address put in SDP answers (public, NAT or the bound one).
    pub advertised_addr: SocketAddr,
    /// Its `max_message_size` is advertised to browsers as our limit; the seeder's sessions
    /// send messages of at most that size made of whole SCTP chunks
    /// ([`rtc::whole_chunks_within`]).
    pub session: SessionConfig,
    /// A channel gets no more data while this many bytes are unacknowledged.
    pub high_water: usize,
    /// Sending resumes when the unacknowledged bytes fall to this level.
    pub low_water: usize,
    /// Unacknowledged bytes over all connections at most (plus one message): what bounds the
    /// stack's send buffers, its copies of the data, when many viewers fetch at once.
    /// Connections held back by it are served in turn as acknowledgements free room.
    pub send_budget: usize,
    /// A connection not connected by then is dropped.
    pub connect_timeout: Duration,
    /// Offers beyond this many connections are refused ([`Seeder::set_max_connections`]
    /// changes it at run time).
    pub max_connections: usize,
    /// SCTP data packet budget; `None` keeps the stack's path-safe default.
    pub sctp_mtu: Option<u32>,
}

impl SeederConfig {
    pub fn new(local_addr: SocketAddr) -> Self {
        Self {
            local_addr,
            advertised_addr: local_addr,
            session: SessionConfig::default(),
            high_water: 1024 * 1024,
            low_water: 256 * 1024,
            send_budget: DEFAULT_SEND_BUDGET,
            connect_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            sctp_mtu: None,
        }
    }
}

/// Why an offer got no answer.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("full: {0} connections")]
    Full(usize),
    #[error(transparent)]
    Rtc(#[from] rtc::Error),
}

/// What viewers of one swarm told us they want, for an owner that fetches on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmDemand {
    pub swarm: SwarmKey,
    pub demand: Demand,
}

/// Counters of a [`Seeder`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeederStats {
    pub connections: usize,
    /// Connections whose data channel is open.
    pub open_sessions: usize,
    pub swarms: usize,
    pub segments_held: usize,
    pub bytes_held: usize,
    /// Segment bytes sent (uploads), over all connections ever.
    pub uploaded_bytes: u64,
    /// All bytes handed to the endpoint (commands and segment data).
    pub bytes_sent: u64,
    pub uploads_completed: u64,
    pub uploads_cancelled: u64,
    /// Connections closed because their peer sent what cannot be decoded.
    pub sessions_closed_malformed: u64,
    /// Connections closed because the endpoint refused a send.
    pub sessions_closed_send_error: u64,
    /// Data channels beyond the first of a connection, not served.
    pub extra_channels_ignored: u64,
    pub offers_refused: u64,
    /// Offers of our own made, and answers to them taken.
    pub offers_made: u64,
    pub answers_accepted: u64,
    /// Offers of our own withdrawn unanswered to take a viewer's offer at the limit.
    pub own_offers_dropped: u64,
    /// Demand entries dropped because the owner did not take them in time.
    pub demand_dropped: u64,
    /// Unacknowledged bytes over all connections, as last seen.
    pub in_flight_bytes: usize,
    /// Times a connection waited for room in the send budget.
    pub budget_waits: u64,
}

struct Peer {
    swarm: SwarmKey,
    channel: Option<ChannelId>,
    session: Session,
    /// Its unacknowledged bytes as last seen, counted in [`Seeder::in_flight`].
    in_flight: usize,
    /// Waiting in [`Seeder::starved`] for room in the send budget.
    starved: bool,
    /// When we offered this connection, while it waits for an answer.
    offered_at: Option<Instant>,
}

impl Peer {
    fn new(swarm: SwarmKey, session: &SessionConfig) -> Self {
        Peer {
            swarm,
            channel: None,
            session: Session::new(session.clone()),
            in_flight: 0,
            starved: false,
            offered_at: None,
        }
    }
}

/// The seeding engine's state. See the module documentation.
pub struct Seeder {
    config: SeederConfig,
    endpoint: Endpoint,
    peers: HashMap<ConnectionId, Peer>,
    stores: HashMap<SwarmKey, SegmentStore>,
    demand: VecDeque<SwarmDemand>,
    /// Unacknowledged bytes over all connections: the sum of their last seen counts, refreshed
    /// whenever a connection is touched (each acknowledgement arrives in a datagram of its own
    /// connection, so none goes unseen for long).
    in_flight: usize,
    /// Connections held back by the send budget, served first come first served.
    starved: VecDeque<ConnectionId>,
    stats: SeederStats,
    /// Counters of closed sessions, added to the live ones in [`Seeder::stats`].
    closed_uploaded: u64,
    closed_completed: u64,
    closed_cancelled: u64,
}

impl std::fmt::Debug for Seeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeder")
            .field("endpoint", &self.endpoint)
            .field("peers", &self.peers.len())
            .field("swarms", &self.stores.len())
            .finish()
    }
}

impl Seeder {
    pub fn new(mut config: SeederConfig) -> Result<Self, rtc::Error> {
        let mut ep = EndpointConfig::new(config.local_addr);
        ep.advertised_addr = config.advertised_addr;
        ep.buffered_amount_low = config.low_water;
        ep.connect_timeout = config.connect_timeout;
        ep.max_connections = config.max_connections;
        ep.max_message_size = config.session.max_message_size;
        ep.sctp_mtu = config.sctp_mtu;
        // Advertised as configured, but what sessions send fills whole SCTP chunks.
        config.session.max_message_size =
            rtc::whole_chunks_within(config.session.max_message_size, config.sctp_mtu);
        Ok(Self {
            endpoint: Endpoint::new(ep)?,
            config,
            peers: HashMap::new(),
            stores: HashMap::new(),
            demand: VecDeque::new(),
            in_flight: 0,
            starved: VecDeque::new(),
            stats: SeederStats::default(),
            closed_uploaded: 0,
            closed_completed: 0,
            closed_cancelled: 0,
        })
    }

    /// Answers a browser's (non-trickle) SDP offer to join `swarm` with a complete answer.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        swarm: SwarmKey,
        sdp: &str,
    ) -> Result<String, OfferError> {
        if self.endpoint.connection_count() >= self.config.max_connections
            && !self.drop_oldest_own_offer()
        {
            self.stats.offers_refused += 1;
            return Err(OfferError::Full(self.config.max_connections));
        }
        let (connection, answer) = self.endpoint.accept_offer(now, sdp).inspect_err(|_| {
            self.stats.offers_refused += 1;
        })?;
        self.peers
            .insert(connection, Peer::new(swarm, &self.config.session));
        self.on_events(now);
        Ok(answer)
    }

    /// Makes an offer to join `swarm` for a viewer the tracker will relay it to (a seeder that
    /// offers reaches viewers already watching at once, instead of at their next announce).
    /// The connection waits for [`Seeder::accept_answer`]; unanswered, it is dropped at the
    /// connect timeout. Counts against the connection limit like any other.
    pub fn create_offer(
        &mut self,
        now: Instant,
        swarm: SwarmKey,
    ) -> Result<(ConnectionId, String), OfferError> {
        if self.endpoint.connection_count() >= self.config.max_connections {
            self.stats.offers_refused += 1;
            return Err(OfferError::Full(self.config.max_connections));
        }
        let (connection, offer) = self.endpoint.create_offer(now, OFFER_CHANNEL_LABEL)?;
        let mut peer = Peer::new(swarm, &self.config.session);
        peer.offered_at = Some(now);
        self.peers.insert(connection, peer);
        self.stats.offers_made += 1;
        self.on_events(now);
        Ok((connection, offer))
    }

    /// Takes a viewer's answer to an offer of [`Seeder::create_offer`].
    pub fn accept_answer(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        sdp: &str,
    ) -> Result<(), rtc::Error> {
        let result = self.endpoint.accept_answer(now, connection, sdp);
        if result.is_ok() {
            self.stats.answers_accepted += 1;
            if let Some(peer) = self.peers.get_mut(&connection) {
                peer.offered_at = None;
            }
        }
        self.on_events(now);
        result
    }

    /// Makes room for a viewer's offer by dropping our oldest offer still waiting for an
    /// answer: a viewer that offers wants us now, while an offer of ours may reach no one.
    fn drop_oldest_own_offer(&mut self) -> bool {
        let oldest = self
            .peers
            .iter()
            .filter_map(|(&c, p)| p.offered_at.map(|at| (at, c)))
            .min();
        let Some((_, connection)) = oldest else {
            return false;
        };
        self.stats.own_offers_dropped += 1;
        self.close(connection, "room for a viewer's offer");
        true
    }

    /// Connections that can still be made before the limit.
    pub fn room(&self) -> usize {
        self.config
            .max_connections
            .saturating_sub(self.endpoint.connection_count())
    }

    /// Changes how many connections are accepted; existing ones stay.
    pub fn set_max_connections(&mut self, max: usize) {
        self.config.max_connections = max;
    }

    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let connection = self.endpoint.handle_datagram(now, from, datagram);
        self.on_events(now);
        // Acknowledgements free send buffer: top the channel up without waiting for the
        // low-water event, then let connections waiting for the budget use what was freed.
        if let Some(connection) = connection {
            self.pump(now, connection);
        }
        self.feed_starved(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.on_events(now);
        self.feed_starved(now);
    }

    /// When [`Seeder::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    /// What a swarm's viewers asked for since the last call, oldest first.
    pub fn poll_demand(&mut self) -> Option<SwarmDemand> {
        self.demand.pop_front()
    }

    /// Adds (or replaces) a segment; the swarm's connected peers get a new announcement.
    pub fn insert_segment(&mut self, now: Instant, swarm: SwarmKey, id: SegmentId, data: Bytes) {
        self.stores.entry(swarm).or_default().insert(id, data);
        self.store_changed(now, swarm);
    }

    /// Removes a segment (it left a live window); uploads of it in progress finish, and the
    /// swarm's peers get a new announcement.
    pub fn remove_segment(&mut self, now: Instant, swarm: SwarmKey, id: SegmentId) {
        let removed = self
            .stores
            .get_mut(&swarm)
            .is_some_and(|s| s.remove(id).is_some());
        if removed {
            self.store_changed(now, swarm);
        }
    }

    pub fn stats(&self) -> SeederStats {
        let mut stats = self.stats.clone();
        stats.connections = self.endpoint.connection_count();
        stats.open_sessions = self.peers.values().filter(|p| p.channel.is_some()).count();
        stats.swarms = self.stores.len();
        stats.segments_held = self.stores.values().map(SegmentStore::len).sum();
        stats.bytes_held = self.stores.values().map(SegmentStore::byte_len).sum();
        stats.in_flight_bytes = self.in_flight;
        let live = self.peers.values().map(|p| p.session.stats());
        let (mut up, mut done, mut cancelled) = (
            self.closed_uploaded,
            self.closed_completed,
            self.closed_cancelled,
        );
        for s in live {
            up += s.uploaded_bytes;
            done += s.uploads_completed;
            cancelled += s.uploads_cancelled;
        }
        stats.uploaded_bytes = up;
        stats.uploads_completed = done;
        stats.uploads_cancelled = cancelled;
        stats
    }

    fn store_changed(&mut self, now: Instant, swarm: SwarmKey) {
        let Some(store) = self.stores.get(&swarm) else {
            return;
        };
        let ids: Vec<ConnectionId> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.swarm == swarm)
            .map(|(&id, p)| {
                p.session.on_store_changed(store);
                id
            })
            .collect();
        for connection in ids {
            self.pump(now, connection);
        }
    }

    fn on_events(&mut self, now: Instant) {
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
                        self.stats.extra_channels_ignored += 1;
                        continue;
                    }
                    tracing::debug!(connection, label, "data channel open");
                    peer.channel = Some(channel);
                    let store = self.stores.entry(peer.swarm).or_default();
                    peer.session.on_open(store);
                    self.pump(now, connection);
                }
                Event::Message {
                    connection,
                    channel,
                    data,
                } => self.on_message(now, connection, channel, &data),
                Event::BufferedAmountLow { connection, .. } => self.pump(now, connection),
                Event::ChannelClosed {
                    connection,
                    channel,
                } => {
                    if self
                        .peers
                        .get(&connection)
                        .is_some_and(|p| p.channel == Some(channel))
                    {
                        self.close(connection, "data channel closed");
                    }
                }
                Event::Closed { connection, reason } => {
                    if self.forget(connection) {
                        tracing::debug!(connection, reason, "peer gone");
                    }
                }
            }
        }
    }

    fn on_message(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        channel: ChannelId,
        data: &[u8],
    ) {
        let Some(peer) = self.peers.get_mut(&connection) else {
            return;
        };
        if peer.channel != Some(channel) {
            return;
        }
        let store = self.stores.entry(peer.swarm).or_default();
        if let Err(e) = peer.session.handle_message(data, store) {
            tracing::warn!(connection, "closing peer session: {e}");
            self.stats.sessions_closed_malformed += 1;
            self.close(connection, &e.to_string());
            return;
        }
        let wanted = peer.session.take_demand();
        if !wanted.is_empty() {
            if self.demand.len() >= MAX_QUEUED_DEMAND {
                self.demand.pop_front();
                self.stats.demand_dropped += 1;
            }
            self.demand.push_back(SwarmDemand {
                swarm: peer.swarm,
                demand: wanted,
            });
        }
        self.pump(now, connection);
    }

    /// Sends what the connection's session has while its channel is under the high-water mark
    /// and all connections together are under the send budget.
    fn pump(&mut self, now: Instant, connection: ConnectionId) {
        let Some(peer) = self.peers.get_mut(&connection) else {
            return;
        };
        let Some(channel) = peer.channel else { return };
        loop {
            let buffered = self.endpoint.buffered_amount(connection, channel);
            self.in_flight = self.in_flight - peer.in_flight + buffered;
            peer.in_flight = buffered;
            if !peer.session.wants_to_send() || buffered >= self.config.high_water {
                break;
            }
            if self.in_flight >= self.config.send_budget {
                if !peer.starved {
                    peer.starved = true;
                    self.starved.push_back(connection);
                    self.stats.budget_waits += 1;
                }
                break;
            }
            let Some(message) = peer.session.poll_message() else {
                break;
            };
            match self.endpoint.send(now, connection, channel, &message) {
                Ok(_) => self.stats.bytes_sent += message.len() as u64,
                Err(e) => {
                    // The message is gone from the session: going on would leave a hole.
                    tracing::debug!(connection, "send failed: {e}");
                    self.stats.sessions_closed_send_error += 1;
                    self.close(connection, &e.to_string());
                    return;
                }
            }
        }
    }

    /// Serves connections that waited for the send budget, in turn, while it has room.
    fn feed_starved(&mut self, now: Instant) {
        while self.in_flight < self.config.send_budget {
            let Some(connection) = self.starved.pop_front() else {
                return;
            };
            let Some(peer) = self.peers.get_mut(&connection) else {
                continue;
            };
            peer.starved = false;
            self.pump(now, connection);
        }
    }

    /// Ends a connection now: its session is gone at once, so nothing more is sent on it.
    fn close(&mut self, connection: ConnectionId, reason: &str) {
        self.forget(connection);
        self.endpoint.close(connection, reason);
    }

    /// Drops a connection's session, keeping its counters; whether there was one.
    fn forget(&mut self, connection: ConnectionId) -> bool {
        let Some(peer) = self.peers.remove(&connection) else {
            return false;
        };
        // Its buffers go with it; a stale entry in `starved` is skipped when reached.
        self.in_flight -= peer.in_flight;
        let s = peer.session.stats();
        self.closed_uploaded += s.uploaded_bytes;
        self.closed_completed += s.uploads_completed;
        self.closed_cancelled += s.uploads_cancelled;
        true
    }
}

#[cfg(test)]
mod tests;
