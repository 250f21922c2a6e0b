//! In-process WebRTC peers for tests of anything built on [`Endpoint`] (feature `testing`).
//!
//! A [`TestPeer`] is a webrtc-rs peer connection in the browser's role: it makes a non-trickle
//! offer, opens its data channels once connected, sends and records binary messages. A
//! [`Network`] moves datagrams between test peers and a [`Server`] without loss, on a virtual
//! clock, so a test decides every step and runs the same way every time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use webrtc_core::data_channel::RTCDataChannelId;
use webrtc_core::ice::mdns::MulticastDnsMode;
use webrtc_core::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use webrtc_core::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use webrtc_core::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use webrtc_core::peer_connection::sdp::RTCSessionDescription;
use webrtc_core::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate,
};
use webrtc_core::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use webrtc_core::sansio::Protocol;
use webrtc_core::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::{Endpoint, Transmit};

/// The label P2P Media Loader gives its one data channel: 40 characters.
pub const PML_LABEL: &str = "0123456789abcdef0123456789abcdef01234567";

/// A browser-like peer connection at `addr`.
pub struct TestPeer {
    pc: RTCPeerConnection,
    addr: SocketAddr,
    /// Open channels, in the order they opened.
    channels: Vec<RTCDataChannelId>,
    /// Binary messages received, with the channel each came on.
    received: Vec<(RTCDataChannelId, Vec<u8>)>,
    closed: bool,
}

impl std::fmt::Debug for TestPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPeer")
            .field("addr", &self.addr)
            .field("channels", &self.channels)
            .finish()
    }
}

impl TestPeer {
    /// A peer with one data channel labelled as P2P Media Loader labels it, and its offer SDP.
    pub fn new(addr: SocketAddr) -> (Self, String) {
        Self::with_channels(addr, &[PML_LABEL])
    }

    /// A peer that answers a remote offer (the remote opens the data channel), and its answer.
    pub fn answering(addr: SocketAddr, offer_sdp: &str) -> (Self, String) {
        let mut pc = Self::peer_connection();
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned()).expect("offer SDP");
        pc.set_remote_description(Instant::now(), offer)
            .expect("remote description");
        Self::add_candidate(&mut pc, addr);
        let answer = pc.create_answer(None).expect("answer");
        pc.set_local_description(Instant::now(), answer.clone())
            .expect("local description");
        let peer = Self {
            pc,
            addr,
            channels: Vec::new(),
            received: Vec::new(),
            closed: false,
        };
        (peer, answer.sdp)
    }

    fn peer_connection() -> RTCPeerConnection {
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true)
            .build();
        RTCPeerConnectionBuilder::new()
            .with_setting_engine(settings)
            .build(Instant::now())
            .expect("peer connection")
    }

    fn add_candidate(pc: &mut RTCPeerConnection, addr: SocketAddr) {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .expect("host candidate");
        pc.add_local_candidate(
            RTCIceCandidate::from(&candidate)
                .to_json()
                .expect("candidate"),
        )
        .expect("local candidate");
    }

    /// A peer that opens a data channel per label, and its offer SDP.
    pub fn with_channels(addr: SocketAddr, labels: &[&str]) -> (Self, String) {
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_setting_engine(settings)
            .build(Instant::now())
            .expect("peer connection");
        for label in labels {
            pc.create_data_channel(label, None).expect("data channel");
        }
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .expect("host candidate");
        pc.add_local_candidate(
            RTCIceCandidate::from(&candidate)
                .to_json()
                .expect("candidate"),
        )
        .expect("local candidate");
        let offer = pc.create_offer(None).expect("offer");
        pc.set_local_description(Instant::now(), offer.clone())
            .expect("local description");
        let peer = Self {
            pc,
            addr,
            channels: Vec::new(),
            received: Vec::new(),
            closed: false,
        };
        (peer, offer.sdp)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes the server's answer SDP.
    pub fn accept_answer(&mut self, sdp: &str) {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).expect("answer SDP");
        self.pc
            .set_remote_description(Instant::now(), answer)
            .expect("remote description");
    }

    /// Channels open so far.
    pub fn open_channels(&self) -> usize {
        self.channels.len()
    }

    /// Sends a binary message on the `index`th channel that opened; the stack's refusal
    /// (a message over the negotiated size, say) as text.
    pub fn try_send_on(&mut self, now: Instant, index: usize, data: &[u8]) -> Result<(), String> {
        let id = *self.channels.get(index).ok_or("no such open channel")?;
        let mut channel = self.pc.data_channel(id).ok_or("channel gone")?;
        channel
            .send(now, BytesMut::from(data))
            .map_err(|e| e.to_string())
    }

    /// Sends a binary message on the `index`th channel that opened.
    pub fn send_on(&mut self, now: Instant, index: usize, data: &[u8]) {
        self.try_send_on(now, index, data)
            .expect("data channel send");
    }

    /// Sends a binary message on the first channel.
    pub fn send(&mut self, now: Instant, data: &[u8]) {
        self.send_on(now, 0, data);
    }

    /// Messages received on the first channel since the last call.
    pub fn take_received(&mut self) -> Vec<Vec<u8>> {
        let first = self.channels.first().copied();
        let (mine, rest) = std::mem::take(&mut self.received)
            .into_iter()
            .partition(|(c, _)| Some(*c) == first);
        self.received = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// Messages received on any channel other than the first, since the last call.
    pub fn take_received_elsewhere(&mut self) -> Vec<Vec<u8>> {
        let first = self.channels.first().copied();
        let (other, mine) = std::mem::take(&mut self.received)
            .into_iter()
            .partition(|(c, _)| Some(*c) != first);
        self.received = mine;
        other.into_iter().map(|(_, m)| m).collect()
    }

    /// Whether the connection failed or was closed by either side.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn poll(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) => {
                    self.channels.push(id);
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    use webrtc_core::peer_connection::state::RTCPeerConnectionState as S;
                    if matches!(state, S::Failed | S::Closed | S::Disconnected) {
                        self.closed = true;
                    }
                }
                _ => {}
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            if let RTCMessage::DataChannelMessage(id, m) = message {
                self.received.push((id, m.data.to_vec()));
            }
        }
    }
}

/// The server side of a [`Network`]: an [`Endpoint`] or anything that owns one.
pub trait Server {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn handle_timeout(&mut self, now: Instant);
}

impl Server for Endpoint {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        Endpoint::handle_datagram(self, now, from, datagram);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Endpoint::poll_transmit(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now);
    }
}

/// A lossless in-memory network between test peers and one server, on a virtual clock.
#[derive(Debug)]
pub struct Network {
    pub now: Instant,
    server: SocketAddr,
    /// Virtual time per [`Network::step`].
    pub tick: Duration,
}

impl Network {
    pub fn new(server: SocketAddr) -> Self {
        Self {
            now: Instant::now(),
            server,
            tick: Duration::from_millis(5),
        }
    }

    /// One round: every datagram the peers have goes to the server and every one the server
    /// has to its peer, then the clock moves one tick and both sides' timers run.
    pub fn step<S: Server + ?Sized>(&mut self, server: &mut S, peers: &mut [TestPeer]) {
        let now = self.now;
        for peer in peers.iter_mut() {
            while let Some(t) = peer.pc.poll_write() {
                server.handle_datagram(now, peer.addr, &t.message);
            }
            peer.poll();
        }
        while let Some(t) = server.poll_transmit() {
            if let Some(peer) = peers.iter_mut().find(|p| p.addr == t.destination) {
                let _ = peer.pc.handle_read(TaggedBytesMut {
                    now,
                    transport: TransportContext {
                        local_addr: peer.addr,
                        peer_addr: self.server,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: t.contents,
                });
                peer.poll();
            }
        }
        self.now += self.tick;
        server.handle_timeout(self.now);
        for peer in peers.iter_mut() {
            let _ = peer.pc.handle_timeout(self.now);
            peer.poll();
        }
    }

    /// Steps until `done` holds, at most `max_steps` times; returns whether it held.
    pub fn run_until<S: Server + ?Sized>(
        &mut self,
        server: &mut S,
        peers: &mut [TestPeer],
        max_steps: usize,
        mut done: impl FnMut(&mut S, &mut [TestPeer]) -> bool,
    ) -> bool {
        for _ in 0..max_steps {
            if done(server, peers) {
                return true;
            }
            self.step(server, peers);
        }
        done(server, peers)
    }
}
