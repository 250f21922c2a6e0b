//! The sans-IO endpoint: a set of peer connections sharing one UDP socket.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustc_hash::FxHashMap;
use webrtc_core::data_channel::RTCDataChannelId;
use webrtc_core::ice::mdns::MulticastDnsMode;
use webrtc_core::peer_connection::certificate::{CertificateParams, RTCCertificate};
use webrtc_core::peer_connection::configuration::setting_engine::{
    SctpMaxMessageSize, SettingEngineBuilder,
};
use webrtc_core::peer_connection::configuration::RTCConfigurationBuilder;
use webrtc_core::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use webrtc_core::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use webrtc_core::peer_connection::sdp::RTCSessionDescription;
use webrtc_core::peer_connection::state::RTCPeerConnectionState;
use webrtc_core::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate,
};
use webrtc_core::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use webrtc_core::sansio::Protocol;
use webrtc_core::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

/// One peer connection of an [`Endpoint`].
pub type ConnectionId = u64;
/// A data channel within one connection.
pub type ChannelId = RTCDataChannelId;

/// Settings of an [`Endpoint`].
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address the UDP socket is bound to.
    pub local_addr: SocketAddr,
    /// The address put in answers as our only (host) candidate: a public or NAT address, or
    /// the bound one. Its port must reach `local_addr`.
    pub advertised_addr: SocketAddr,
    /// [`Event::BufferedAmountLow`] fires when a channel's unsent-plus-unacknowledged bytes
    /// fall to this level.
    pub buffered_amount_low: usize,
    /// A connection that has not connected by then is dropped (unused offers, failed ICE).
    pub connect_timeout: Duration,
    /// Offers beyond this many live connections are refused.
    pub max_connections: usize,
    /// Largest data-channel message, advertised as our `a=max-message-size`. The stack holds
    /// the smaller of this and the browser's value as the limit both ways, and keeps one
    /// zero-filled buffer of that size per connection, so it sets the idle memory of every
    /// connection. Browsers refuse to send larger messages to us, and [`Endpoint::send`]
    /// refuses larger ones with [`Error::MessageTooLarge`].
    pub max_message_size: usize,
    /// Size budget of each outbound SCTP data packet; one packet is one DTLS record in one
    /// datagram of about 40 bytes more. `None` is [`DEFAULT_SCTP_MTU`], 1191, which fits any
    /// path (IPv6 minimum MTU through a TURN relay). Larger packets cost less CPU per byte but are
    /// dropped on paths that cannot carry them.
    pub sctp_mtu: Option<u32>,
}

impl EndpointConfig {
    pub fn new(local_addr: SocketAddr) -> Self {
        Self {
            local_addr,
            advertised_addr: local_addr,
            buffered_amount_low: 256 * 1024,
            connect_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            sctp_mtu: None,
        }
    }
}

/// The default of [`EndpointConfig::max_message_size`]: 16 KiB, where webrtc-rs's own
/// default is 64 KiB. It saves 48 KiB of every idle connection (docs/rtc.md, "Idle memory").
/// What P2P Media Loader sends us (announcements, requests, cancels) is far smaller; segment
/// data we send is cut into messages of this size, which PML joins whatever their size.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024;

/// The stack's SCTP data packet budget when [`EndpointConfig::sctp_mtu`] is `None`: 1191
/// bytes, which fits any path (IPv6 minimum MTU through a TURN relay).
pub const DEFAULT_SCTP_MTU: u32 = 1191;

/// The largest message size, at most `limit`, that the stack cuts into full SCTP DATA
/// chunks for this packet budget: a multiple of the chunk payload (1160 bytes at the
/// default), or `limit` itself when it is below one chunk. A bulk sender that cuts its data
/// at this size sends one full packet per chunk; at 8 KiB instead, every seventh packet
/// carried a 72-byte remainder alone, one packet in eight, which cost the super-peer worker
/// a tenth of its CPU.
pub fn whole_chunks_within(limit: usize, sctp_mtu: Option<u32>) -> usize {
    let mtu = sctp_mtu.unwrap_or(DEFAULT_SCTP_MTU);
    let chunk = webrtc_core::sctp::max_payload_size_for_mtu(mtu) as usize;
    if limit < chunk {
        return limit;
    }
    limit - limit % chunk
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: BytesMut,
}

/// What happened on the endpoint's connections.
#[derive(Debug)]
pub enum Event {
    /// ICE and DTLS completed.
    Connected(ConnectionId),
    /// The remote peer's data channel is open and can carry messages.
    ChannelOpen {
        connection: ConnectionId,
        channel: ChannelId,
        label: String,
    },
    /// A message arrived (text messages arrive as their UTF-8 bytes).
    Message {
        connection: ConnectionId,
        channel: ChannelId,
        data: BytesMut,
    },
    /// The channel's buffered amount fell to the low-water mark: send more.
    BufferedAmountLow {
        connection: ConnectionId,
        channel: ChannelId,
    },
    /// The channel closed; the connection may live on.
    ChannelClosed {
        connection: ConnectionId,
        channel: ChannelId,
    },
    /// The connection is gone and its id will not be used again.
    Closed {
        connection: ConnectionId,
        reason: String,
    },
}

/// Why an endpoint call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("too many connections ({0})")]
    TooManyConnections(usize),
    #[error("unknown connection or channel")]
    UnknownChannel,
    #[error("message of {len} bytes is over the connection's max message size ({max})")]
    MessageTooLarge { len: usize, max: usize },
    #[error("invalid offer: {0}")]
    InvalidOffer(String),
    #[error("invalid answer: {0}")]
    InvalidAnswer(String),
    #[error("webrtc: {0}")]
    Stack(#[from] webrtc_core::shared::error::Error),
}

struct Connection {
    pc: RTCPeerConnection,
    /// Our ICE username fragment, which the browser's STUN checks carry.
    ufrag: String,
    remote: Option<SocketAddr>,
    created: Instant,
    connected: bool,
    /// Set once the connection failed or closed; it is then dropped.
    ended: Option<RTCPeerConnectionState>,
    next_timeout: Option<Instant>,
    /// This connection's entry in [`Endpoint::timers`]: the earlier of the stack's deadline
    /// and, until connected, the connect timeout.
    scheduled: Option<Instant>,
}

/// Many peer connections behind one UDP socket. Drive it with [`Endpoint::handle_datagram`]
/// and [`Endpoint::handle_timeout`]; drain [`Endpoint::poll_transmit`] and
/// [`Endpoint::poll_event`] after every call.
pub struct Endpoint {
    config: EndpointConfig,
    certificate: RTCCertificate,
    /// Boxed: a peer connection is several KiB, and the timer path takes a connection out of
    /// the map and puts it back, which must move a pointer, not the whole state. The maps
    /// hash with FxHash, once or twice per datagram: their keys are our own ids and ufrags,
    /// and addresses that passed a STUN check, so no remote party picks them.
    connections: FxHashMap<ConnectionId, Box<Connection>>,
    by_addr: FxHashMap<SocketAddr, ConnectionId>,
    by_ufrag: FxHashMap<String, ConnectionId>,
    out: Output,
    next_id: ConnectionId,
}

/// What the connections produced for the caller, and when each must run next. Apart from the
/// connection map, so that a connection can be drained while borrowed from it.
struct Output {
    buffered_amount_low: u32,
    connect_timeout: Duration,
    /// Every connection's next deadline, earliest first, so that timers cost O(log n) per
    /// connection touched instead of a scan of all connections on every loop turn.
    timers: BTreeSet<(Instant, ConnectionId)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .field("connections", &self.connections.len())
            .finish()
    }
}

impl Endpoint {
    /// Makes the endpoint and its DTLS certificate, shared by all connections (one key
    /// generation instead of one per browser).
    pub fn new(config: EndpointConfig) -> Result<Self, Error> {
        let provider = webrtc_core::crypto::default_provider()
            .map_err(|e| Error::InvalidOffer(e.to_string()))?;
        let params = CertificateParams::new(vec!["swarmcast".to_owned()])
            .map_err(|e| Error::InvalidOffer(e.to_string()))?;
        let certificate = RTCCertificate::generate(
            provider.crypto(),
            webrtc_core::crypto::SignatureScheme::EcdsaP256Sha256,
            params,
        )?;
        let out = Output {
            buffered_amount_low: u32::try_from(config.buffered_amount_low).unwrap_or(u32::MAX),
            connect_timeout: config.connect_timeout,
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        Ok(Self {
            config,
            certificate,
            connections: FxHashMap::default(),
            by_addr: FxHashMap::default(),
            by_ufrag: FxHashMap::default(),
            out,
            next_id: 1,
        })
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Live connections.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Takes a remote offer (with or without candidates) and returns the connection and our
    /// complete answer SDP, which carries our single host candidate.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        offer_sdp: &str,
    ) -> Result<(ConnectionId, String), Error> {
        let (ufrag, mut pc) = self.new_peer_connection(now)?;
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|e| Error::InvalidOffer(e.to_string()))?;
        pc.set_remote_description(now, offer)
            .map_err(|e| Error::InvalidOffer(e.to_string()))?;
        self.add_host_candidate(&mut pc)?;
        let answer = pc.create_answer(None)?;
        pc.set_local_description(now, answer)?;
        let answer_sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| Error::InvalidOffer("no local description".into()))?;
        Ok((self.register(ufrag, pc, now), answer_sdp))
    }

    /// Makes an offer of our own, with one data channel labelled `label` and our single host
    /// candidate, for a remote peer found through a tracker. The connection waits for
    /// [`Endpoint::accept_answer`]; unanswered, it is dropped at the connect timeout. Once
    /// connected, the channel opens as [`Event::ChannelOpen`], as a browser's would.
    pub fn create_offer(
        &mut self,
        now: Instant,
        label: &str,
    ) -> Result<(ConnectionId, String), Error> {
        let (ufrag, mut pc) = self.new_peer_connection(now)?;
        pc.create_data_channel(label, None)?;
        self.add_host_candidate(&mut pc)?;
        let offer = pc.create_offer(None)?;
        pc.set_local_description(now, offer)?;
        let offer_sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| Error::InvalidOffer("no local description".into()))?;
        Ok((self.register(ufrag, pc, now), offer_sdp))
    }

    /// Takes the remote answer to an offer made by [`Endpoint::create_offer`].
    pub fn accept_answer(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        answer_sdp: &str,
    ) -> Result<(), Error> {
        let conn = self
            .connections
            .get_mut(&connection)
            .ok_or(Error::UnknownChannel)?;
        let answer = RTCSessionDescription::answer(answer_sdp.to_owned())
            .map_err(|e| Error::InvalidAnswer(e.to_string()))?;
        conn.pc
            .set_remote_description(now, answer)
            .map_err(|e| Error::InvalidAnswer(e.to_string()))?;
        self.out.drain(connection, conn);
        self.drop_if_ended(connection);
        Ok(())
    }

    /// A peer connection of ours: ICE-lite with fresh credentials, the endpoint's certificate,
    /// message size and packet size. Refused beyond `max_connections`.
    fn new_peer_connection(&self, now: Instant) -> Result<(String, RTCPeerConnection), Error> {
        if self.connections.len() >= self.config.max_connections {
            return Err(Error::TooManyConnections(self.config.max_connections));
        }
        let ufrag = random_token(16);
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(ufrag.clone(), random_token(32))
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true)
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(
                u32::try_from(self.config.max_message_size).unwrap_or(u32::MAX),
            ))
            .with_sctp_mtu(self.config.sctp_mtu.unwrap_or(DEFAULT_SCTP_MTU));
        let setting_engine = settings.build();
        let configuration = RTCConfigurationBuilder::new()
            .with_certificates(vec![self.certificate.clone()])
            .build();
        let pc = RTCPeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_setting_engine(setting_engine)
            .build(now)?;
        Ok((ufrag, pc))
    }

    /// Our one candidate: the advertised address.
    fn add_host_candidate(&self, pc: &mut RTCPeerConnection) -> Result<(), Error> {
        let advertised = self.config.advertised_addr;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: advertised.ip().to_string(),
                port: advertised.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()?;
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
        Ok(())
    }

    fn register(&mut self, ufrag: String, pc: RTCPeerConnection, now: Instant) -> ConnectionId {
        let id = self.next_id;
        self.next_id += 1;
        self.by_ufrag.insert(ufrag.clone(), id);
        let mut connection = Box::new(Connection {
            pc,
            ufrag,
            remote: None,
            created: now,
            connected: false,
            ended: None,
            next_timeout: None,
            scheduled: None,
        });
        self.out.drain(id, &mut connection);
        self.connections.insert(id, connection);
        id
    }

    /// Feeds one received datagram and returns the connection it belonged to. Datagrams from
    /// unknown addresses that are not STUN checks for one of our connections are dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Option<ConnectionId> {
        // A STUN check names its connection by our ufrag, and that outranks the address: a
        // new connection can arrive from the address of one that is dead but not dropped yet
        // (the browser reused a closed connection's port, or a NAT its mapping).
        let id = match crate::stun::local_ufrag(datagram).and_then(|u| self.by_ufrag.get(u)) {
            Some(&id) => {
                self.bind_address(id, from);
                id
            }
            None => *self.by_addr.get(&from)?,
        };
        let connection = self.connections.get_mut(&id)?;
        let result = connection.pc.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.config.local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(datagram),
        });
        if let Err(e) = result {
            tracing::debug!(connection = id, "dropped a datagram: {e}");
        }
        self.out.drain(id, connection);
        self.drop_if_ended(id);
        Some(id)
    }

    /// Runs every connection whose deadline has passed, and drops connections that never
    /// connected within the connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Take the due entries first: a connection may come back with a deadline that is
        // already due, and runs again on the next call, not in a loop here.
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.out.timers.first() {
            if at > now {
                break;
            }
            self.out.timers.pop_first();
            due.push(id);
        }
        for id in due {
            let Some(mut connection) = self.connections.remove(&id) else {
                continue;
            };
            connection.scheduled = None;
            if !connection.connected
                && now.duration_since(connection.created) >= self.config.connect_timeout
            {
                self.forget(id, connection, "not connected in time".into());
                continue;
            }
            if connection.next_timeout.is_some_and(|t| t <= now) {
                if let Err(e) = connection.pc.handle_timeout(now) {
                    tracing::debug!(connection = id, "timeout handling failed: {e}");
                }
            }
            self.out.drain(id, &mut connection);
            self.reinsert(id, connection);
        }
    }

    /// The earliest instant at which [`Endpoint::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.out.timers.first().map(|&(at, _)| at)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// Sends one binary message and returns the channel's buffered amount afterwards. The
    /// stack never refuses data, so callers stop at their own high-water mark and wait for
    /// [`Event::BufferedAmountLow`].
    pub fn send(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<usize, Error> {
        let Some(conn) = self.connections.get_mut(&connection) else {
            return Err(Error::UnknownChannel);
        };
        let max = conn.pc.sctp().and_then(|t| t.max_message_size());
        let result = match (conn.pc.data_channel(channel), max) {
            (None, _) => Err(Error::UnknownChannel),
            (Some(_), Some(max)) if data.len() > max as usize => Err(Error::MessageTooLarge {
                len: data.len(),
                max: max as usize,
            }),
            (Some(mut dc), _) => dc
                .send(now, BytesMut::from(data))
                .map(|()| dc.outstanding_bytes())
                .map_err(Error::from),
        };
        self.out.drain(connection, conn);
        self.drop_if_ended(connection);
        result
    }

    /// The largest message [`Endpoint::send`] takes on this connection: the smaller of our
    /// [`EndpointConfig::max_message_size`] and the browser's. `None` until the connection's
    /// SCTP association is negotiated, or for an unknown connection.
    pub fn max_message_size(&self, connection: ConnectionId) -> Option<usize> {
        let pc = &self.connections.get(&connection)?.pc;
        let max = pc.sctp()?.max_message_size()?;
        Some(max as usize)
    }

    /// Bytes sent on the channel and not yet acknowledged.
    pub fn buffered_amount(&mut self, connection: ConnectionId, channel: ChannelId) -> usize {
        self.connections
            .get_mut(&connection)
            .and_then(|c| c.pc.data_channel(channel).map(|dc| dc.outstanding_bytes()))
            .unwrap_or(0)
    }

    /// Closes a connection; an [`Event::Closed`] follows.
    pub fn close(&mut self, connection: ConnectionId, reason: &str) {
        if let Some(mut conn) = self.connections.remove(&connection) {
            let _ = conn.pc.close();
            while let Some(t) = conn.pc.poll_write() {
                self.out.transmits.push_back(Transmit {
                    destination: t.transport.peer_addr,
                    contents: t.message,
                });
            }
            self.forget(connection, conn, reason.to_owned());
        }
    }

    /// Routes datagrams from `addr` to connection `id` from now on: the browser's address as
    /// we see it (a peer-reflexive candidate). A connection that had the address is dropped:
    /// its browser no longer owns that port.
    fn bind_address(&mut self, id: ConnectionId, addr: SocketAddr) {
        if self.by_addr.get(&addr) == Some(&id) {
            return;
        }
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        if let Some(old) = connection.remote.replace(addr) {
            if self.by_addr.get(&old) == Some(&id) {
                self.by_addr.remove(&old);
            }
        }
        if let Some(previous) = self.by_addr.insert(addr, id) {
            if let Some(stale) = self.connections.remove(&previous) {
                tracing::debug!(connection = previous, %addr, "address taken by connection {id}");
                self.forget(
                    previous,
                    stale,
                    "its address was taken by a new connection".into(),
                );
            }
        }
    }

    /// Drops the connection if the stack reported it failed or closed.
    fn drop_if_ended(&mut self, id: ConnectionId) {
        if self.connections.get(&id).is_some_and(|c| c.ended.is_some()) {
            if let Some(connection) = self.connections.remove(&id) {
                self.reinsert(id, connection);
            }
        }
    }

    fn reinsert(&mut self, id: ConnectionId, connection: Box<Connection>) {
        match connection.ended {
            Some(state) => self.forget(id, connection, format!("peer connection {state}")),
            None => {
                self.connections.insert(id, connection);
            }
        }
    }

    fn forget(&mut self, id: ConnectionId, connection: Box<Connection>, reason: String) {
        if let Some(at) = connection.scheduled {
            self.out.timers.remove(&(at, id));
        }
        self.by_ufrag.remove(&connection.ufrag);
        // The address may belong to a newer connection by now.
        if let Some(addr) = connection.remote {
            if self.by_addr.get(&addr) == Some(&id) {
                self.by_addr.remove(&addr);
            }
        }
        self.out.events.push_back(Event::Closed {
            connection: id,
            reason,
        });
    }
}

impl Output {
    /// Moves everything the stack produced into our queues and caches its next deadline.
    fn drain(&mut self, id: ConnectionId, connection: &mut Connection) {
        let pc = &mut connection.pc;
        loop {
            let mut progressed = false;
            while let Some(t) = pc.poll_write() {
                progressed = true;
                self.transmits.push_back(Transmit {
                    destination: t.transport.peer_addr,
                    contents: t.message,
                });
            }
            while let Some(event) = pc.poll_event() {
                progressed = true;
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                        RTCPeerConnectionState::Connected,
                    ) => {
                        connection.connected = true;
                        self.events.push_back(Event::Connected(id));
                    }
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                        state @ (RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed),
                    ) => connection.ended = Some(state),
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(channel)) => {
                        if let Some(mut dc) = pc.data_channel(channel) {
                            dc.set_buffered_amount_low_threshold(self.buffered_amount_low);
                            let label = dc.label().to_owned();
                            self.events.push_back(Event::ChannelOpen {
                                connection: id,
                                channel,
                                label,
                            });
                        }
                    }
                    RTCPeerConnectionEvent::OnDataChannel(
                        RTCDataChannelEvent::OnBufferedAmountLow(channel),
                    ) => {
                        self.events.push_back(Event::BufferedAmountLow {
                            connection: id,
                            channel,
                        });
                    }
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnClose(
                        channel,
                    )) => {
                        self.events.push_back(Event::ChannelClosed {
                            connection: id,
                            channel,
                        });
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = pc.poll_read() {
                progressed = true;
                if let RTCMessage::DataChannelMessage(channel, message) = message {
                    self.events.push_back(Event::Message {
                        connection: id,
                        channel,
                        data: message.data,
                    });
                }
            }
            if !progressed {
                break;
            }
        }
        connection.next_timeout = pc.poll_timeout();
        self.schedule(id, connection);
    }

    /// Moves the connection's entry in the timer set to its current deadline.
    fn schedule(&mut self, id: ConnectionId, connection: &mut Connection) {
        let connect_deadline =
            (!connection.connected).then(|| connection.created + self.connect_timeout);
        let deadline = match (connection.next_timeout, connect_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if deadline == connection.scheduled {
            return;
        }
        if let Some(old) = connection.scheduled.take() {
            self.timers.remove(&(old, id));
        }
        if let Some(at) = deadline {
            self.timers.insert((at, id));
            connection.scheduled = Some(at);
        }
    }
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).unwrap_or_else(|_| {
        // Only uniqueness matters for routing; fall back to a clock-derived value.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i * 7) % 120)) as u8;
        }
    });
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}
