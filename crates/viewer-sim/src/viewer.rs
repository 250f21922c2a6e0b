//! One simulated viewer: a WebRTC peer connection on its own UDP socket (as a browser has),
//! joined through the tracker, that requests new live segments from the super peer by P2P
//! Media Loader command and checks that each arrives complete before its deadline.
//!
//! Like a browser in a swarm it holds every segment, not only those it takes from the super
//! peer: the others it gets "elsewhere" (other viewers or HTTP, not simulated: a transfer
//! between two simulated viewers would cost this process as much as one from the worker)
//! within the deadline. Each time it holds a new segment it announces what it holds to the
//! super peer, as P2P Media Loader announces to every peer it is connected to.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use tokio::net::UdpSocket;
use tokio::sync::{watch, Semaphore};
use webrtc_core::data_channel::RTCDataChannelId;
use webrtc_core::ice::mdns::MulticastDnsMode;
use webrtc_core::peer_connection::certificate::RTCCertificate;
use webrtc_core::peer_connection::configuration::setting_engine::SettingEngineBuilder;
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
use wire::peer::{Command, Incoming, MessageDecoder, DEFAULT_MAX_MESSAGE_SIZE};
use wire::tracker::InfoHash;

/// What every viewer shares: settings and the counters the driver reads.
#[derive(Debug)]
pub struct Shared {
    pub tracker: String,
    pub info_hash: InfoHash,
    /// Fraction of the live segments each viewer fetches from the super peer.
    pub share: f64,
    /// A request starts at a random moment up to this long after the segment is announced
    /// (viewers are not in lockstep).
    pub jitter: Duration,
    /// A segment must be complete this long after its request.
    pub deadline: Duration,
    /// Requested kernel receive buffer of each viewer's socket.
    pub socket_buffer: usize,
    pub certificate: RTCCertificate,
    /// Viewers in the tracker's swarm at once (they leave it once answered).
    pub join_permits: Semaphore,
    pub counters: Counters,
}

/// Totals since the start; the driver takes differences over a measuring window.
#[derive(Debug, Default)]
pub struct Counters {
    /// Viewers whose data channel is open now.
    pub connected: AtomicU64,
    pub join_failures: AtomicU64,
    /// Connections that failed or closed after opening.
    pub dropped: AtomicU64,
    pub requested: AtomicU64,
    pub on_time: AtomicU64,
    /// Past the deadline, or cut short by the next request.
    pub late: AtomicU64,
    pub absent: AtomicU64,
    /// Segment payload bytes received.
    pub bytes: AtomicU64,
    /// Request-to-complete times of on-time and late segments, milliseconds.
    pub delivery_ms: Mutex<Vec<u32>>,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

struct Download {
    segment: i64,
    request: i64,
    started: Instant,
    deadline: Instant,
    size: Option<u64>,
    received: u64,
    /// Already counted as late.
    late: bool,
}

/// Live segment requests of one viewer.
struct Requests {
    /// Highest segment id seen in an announcement.
    newest: Option<i64>,
    /// Segments to request, with the moment to do it.
    scheduled: VecDeque<(i64, Instant)>,
    current: Option<Download>,
    /// Segments got elsewhere, with the moment they are held.
    elsewhere: VecDeque<(i64, Instant)>,
    /// The newest segments held, oldest first ([`HELD`] at most, as a live player keeps).
    held: VecDeque<i64>,
    /// `held` changed since the last announcement.
    announce: bool,
}

/// Segments a viewer holds and announces: a live window's worth.
const HELD: usize = 20;

impl Requests {
    fn hold(&mut self, segment: i64) {
        if !self.held.contains(&segment) {
            if self.held.len() == HELD {
                self.held.pop_front();
            }
            self.held.push_back(segment);
            self.announce = true;
        }
    }
}

/// Runs one viewer until `stop` turns true or its connection fails.
pub async fn run(shared: Arc<Shared>, index: u64, mut stop: watch::Receiver<bool>) {
    match connect_and_run(&shared, index, &mut stop).await {
        Ok(()) => {}
        Err(Failure::Join(_)) => Counters::add(&shared.counters.join_failures, 1),
        Err(Failure::Dropped) => Counters::add(&shared.counters.dropped, 1),
    }
}

enum Failure {
    Join(#[allow(dead_code)] anyhow::Error),
    Dropped,
}

fn socket(buffer: usize) -> anyhow::Result<UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    let _ = socket.set_recv_buffer_size(buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    Ok(UdpSocket::from_std(socket.into())?)
}

fn peer_connection(
    shared: &Shared,
    local: SocketAddr,
) -> anyhow::Result<(RTCPeerConnection, String)> {
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(true)
        .build();
    let configuration = RTCConfigurationBuilder::new()
        .with_certificates(vec![shared.certificate.clone()])
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_setting_engine(settings)
        .build(Instant::now())?;
    // P2P Media Loader (through simple-peer) opens one channel with a random label.
    let label: String = (0..40).map(|_| fastrand::alphanumeric()).collect();
    pc.create_data_channel(&label, None)?;
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    let offer = pc.create_offer(None)?;
    let sdp = offer.sdp.clone();
    pc.set_local_description(Instant::now(), offer)?;
    Ok((pc, sdp))
}

async fn connect_and_run(
    shared: &Shared,
    index: u64,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Failure> {
    let socket = socket(shared.socket_buffer).map_err(Failure::Join)?;
    let local = socket.local_addr().map_err(|e| Failure::Join(e.into()))?;
    let (mut pc, offer) = peer_connection(shared, local).map_err(Failure::Join)?;
    let permit = shared.join_permits.acquire().await;
    let answer = crate::signal::exchange(
        &shared.tracker,
        shared.info_hash,
        crate::signal::random_peer_id(),
        &offer,
        Duration::from_secs(2),
        15,
    )
    .await
    .map_err(Failure::Join)?;
    drop(permit);
    RTCSessionDescription::answer(answer)
        .and_then(|a| pc.set_remote_description(Instant::now(), a))
        .context("bad answer")
        .map_err(Failure::Join)?;

    let counters = &shared.counters;
    let mut channel: Option<RTCDataChannelId> = None;
    let mut decoder = MessageDecoder::default();
    let mut requests = Requests {
        newest: None,
        scheduled: VecDeque::new(),
        current: None,
        elsewhere: VecDeque::new(),
        held: VecDeque::new(),
        announce: false,
    };
    let mut buf = vec![0u8; 65536];
    let opened_by = Instant::now() + Duration::from_secs(20);
    let result = loop {
        let now = Instant::now();
        if channel.is_none() && now > opened_by {
            break Err(Failure::Join(anyhow::anyhow!("data channel did not open")));
        }
        // Work until the connection has nothing more to say.
        let mut ended = false;
        loop {
            let mut progressed = false;
            while let Some(event) = pc.poll_event() {
                progressed = true;
                match event {
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) => {
                        channel = Some(id);
                        Counters::add(&counters.connected, 1);
                    }
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed,
                    ) => ended = true,
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = pc.poll_read() {
                progressed = true;
                if let RTCMessage::DataChannelMessage(_, m) = message {
                    if on_message(shared, index, &mut decoder, &mut requests, &m.data).is_err() {
                        ended = true;
                    }
                }
            }
            if let Some(id) = channel {
                progressed |=
                    send_due_requests(&mut pc, id, counters, shared.deadline, &mut requests);
                progressed |= announce_held(&mut pc, id, &mut requests);
            }
            while let Some(t) = pc.poll_write() {
                progressed = true;
                let _ = socket.send_to(&t.message, t.transport.peer_addr).await;
            }
            if !progressed {
                break;
            }
        }
        if ended {
            break Err(Failure::Dropped);
        }
        check_deadline(counters, &mut requests);
        let now = Instant::now();
        let mut wake = pc
            .poll_timeout()
            .unwrap_or(now + Duration::from_secs(1))
            .max(now + Duration::from_millis(1));
        if let Some(&(_, at)) = requests.scheduled.front() {
            wake = wake.min(at);
        }
        if let Some(&(_, at)) = requests.elsewhere.front() {
            wake = wake.min(at);
        }
        if let Some(d) = requests.current.as_ref().filter(|d| !d.late) {
            wake = wake.min(d.deadline);
        }
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    let _ = pc.handle_read(TaggedBytesMut {
                        now: Instant::now(),
                        transport: TransportContext {
                            local_addr: local,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(&buf[..n]),
                    });
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let _ = pc.handle_timeout(Instant::now());
            }
            _ = stop.changed() => break Ok(()),
        }
    };
    if channel.is_some() {
        counters.connected.fetch_sub(1, Ordering::Relaxed);
    }
    let _ = pc.close();
    while let Some(t) = pc.poll_write() {
        let _ = socket.send_to(&t.message, t.transport.peer_addr).await;
    }
    result
}

/// Whether viewer `index` fetches `segment` from the super peer: a fixed pseudo-random
/// `share` of the segments, different for each viewer.
fn wants(index: u64, segment: i64, share: f64) -> bool {
    let mut x = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (segment as u64);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    (x % 10_000) as f64 / 10_000.0 < share
}

fn on_message(
    shared: &Shared,
    index: u64,
    decoder: &mut MessageDecoder,
    requests: &mut Requests,
    data: &[u8],
) -> Result<(), wire::peer::DecodeError> {
    let counters = &shared.counters;
    match decoder.decode(data)? {
        Incoming::Partial => {}
        Incoming::Data(bytes) => {
            Counters::add(&counters.bytes, bytes.len() as u64);
            if let Some(d) = requests.current.as_mut() {
                d.received += bytes.len() as u64;
            }
        }
        Incoming::Command(Command::SegmentsAnnouncement { loaded, .. }) => {
            let newest = loaded.iter().copied().max();
            match requests.newest {
                // The first announcement: play from the next segment on.
                None => requests.newest = newest,
                Some(seen) => {
                    let mut fresh: Vec<i64> = loaded.into_iter().filter(|&s| s > seen).collect();
                    fresh.sort_unstable();
                    let now = Instant::now();
                    for segment in fresh {
                        requests.newest = Some(segment);
                        let delay = shared.jitter.mul_f64(fastrand::f64());
                        if wants(index, segment, shared.share) {
                            requests.scheduled.push_back((segment, now + delay));
                        } else {
                            // Got from another viewer or HTTP within the deadline.
                            let got = now + delay + shared.deadline.mul_f64(fastrand::f64());
                            requests.elsewhere.push_back((segment, got));
                        }
                    }
                }
            }
        }
        Incoming::Command(Command::SegmentData { request, size, .. }) => {
            if let Some(d) = requests.current.as_mut().filter(|d| d.request == request) {
                d.size = Some(size);
            }
        }
        Incoming::Command(Command::SegmentDataSendingCompleted { request, .. }) => {
            if let Some(d) = requests.current.take_if(|d| d.request == request) {
                let now = Instant::now();
                let complete = d.size == Some(d.received);
                if complete {
                    requests.hold(d.segment);
                }
                if complete && now <= d.deadline && !d.late {
                    Counters::add(&counters.on_time, 1);
                } else if !d.late {
                    Counters::add(&counters.late, 1);
                }
                if complete {
                    let ms = now.duration_since(d.started).as_millis();
                    if let Ok(mut v) = counters.delivery_ms.lock() {
                        v.push(u32::try_from(ms).unwrap_or(u32::MAX));
                    }
                }
            }
        }
        Incoming::Command(Command::SegmentAbsent { request, .. }) => {
            if let Some(d) = requests.current.take_if(|d| d.request == request) {
                if !d.late {
                    Counters::add(&counters.absent, 1);
                }
            }
        }
        Incoming::Command(_) => {}
    }
    Ok(())
}

/// Sends the requests whose moment has come; a request still running is cut short (P2P
/// Media Loader's super peer serves one request per connection) and counts as late.
fn send_due_requests(
    pc: &mut RTCPeerConnection,
    channel: RTCDataChannelId,
    counters: &Counters,
    deadline: Duration,
    requests: &mut Requests,
) -> bool {
    let now = Instant::now();
    let mut sent = false;
    while let Some(&(segment, at)) = requests.scheduled.front() {
        if at > now {
            break;
        }
        requests.scheduled.pop_front();
        if let Some(old) = requests.current.take() {
            if !old.late {
                Counters::add(&counters.late, 1);
            }
        }
        let request = fastrand::i64(1..1 << 31);
        let command = Command::SegmentRequest {
            segment,
            request,
            byte_from: 0,
        };
        let Some(mut dc) = pc.data_channel(channel) else {
            return sent;
        };
        for message in wire::peer::encode(&command, DEFAULT_MAX_MESSAGE_SIZE) {
            let _ = dc.send(now, BytesMut::from(&message[..]));
        }
        Counters::add(&counters.requested, 1);
        requests.current = Some(Download {
            segment,
            request,
            started: now,
            deadline: now + deadline,
            size: None,
            received: 0,
            late: false,
        });
        sent = true;
    }
    sent
}

/// Takes in the segments got elsewhere by now and, when what the viewer holds changed,
/// announces it to the super peer.
fn announce_held(
    pc: &mut RTCPeerConnection,
    channel: RTCDataChannelId,
    requests: &mut Requests,
) -> bool {
    let now = Instant::now();
    while let Some(&(segment, at)) = requests.elsewhere.front() {
        if at > now {
            break;
        }
        requests.elsewhere.pop_front();
        requests.hold(segment);
    }
    if !requests.announce {
        return false;
    }
    requests.announce = false;
    let command = Command::SegmentsAnnouncement {
        loaded: requests.held.iter().copied().collect(),
        http_loading: Vec::new(),
    };
    let Some(mut dc) = pc.data_channel(channel) else {
        return false;
    };
    for message in wire::peer::encode(&command, DEFAULT_MAX_MESSAGE_SIZE) {
        let _ = dc.send(now, BytesMut::from(&message[..]));
    }
    true
}

fn check_deadline(counters: &Counters, requests: &mut Requests) {
    if let Some(d) = requests.current.as_mut() {
        if !d.late && Instant::now() > d.deadline {
            d.late = true;
            Counters::add(&counters.late, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wants;

    #[test]
    fn each_viewer_wants_its_share_of_segments_and_not_the_same_ones() {
        let picks =
            |viewer: u64| -> Vec<bool> { (0..10_000).map(|s| wants(viewer, s, 0.4)).collect() };
        let a = picks(1);
        let b = picks(2);
        let share = a.iter().filter(|&&w| w).count() as f64 / a.len() as f64;
        assert!((0.37..0.43).contains(&share), "share {share}");
        let both = a.iter().zip(&b).filter(|(x, y)| **x && **y).count() as f64 / a.len() as f64;
        assert!(
            (0.13..0.19).contains(&both),
            "independent choices overlap ~16%, got {both}"
        );
        assert!((0..100).all(|s| !wants(7, s, 0.0) && wants(7, s, 1.0)));
    }
}
