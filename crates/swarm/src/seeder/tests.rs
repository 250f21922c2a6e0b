//! The seeding engine against in-memory browser peers (`rtc::testing`): real WebRTC
//! connections, DTLS and SCTP included, on a virtual clock with no sockets.

use super::*;
use rtc::testing::{Network, Server, TestPeer, PML_LABEL};
use wire::peer::{encode, Command, Incoming, MessageDecoder};

impl Server for Seeder {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        Seeder::handle_datagram(self, now, from, datagram);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Seeder::poll_transmit(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Seeder::handle_timeout(self, now);
    }
}

const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 41000);

fn swarm(n: u8) -> SwarmKey {
    InfoHash::peer_id(b"swarm---", [n; 12])
}

fn segment(id: SegmentId, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| ((i * 7) % 251) as u8 ^ id as u8)
            .collect::<Vec<_>>(),
    )
}

/// What a browser peer saw on its channel: commands, and the bytes following each
/// `SegmentData` (bytes before any `SegmentData` land in `stray`).
#[derive(Debug, Default)]
struct Seen {
    commands: Vec<Command>,
    /// (segment, request, announced size, bytes received after that header)
    transfers: Vec<(SegmentId, i64, u64, Vec<u8>)>,
    /// Sizes of the data messages, in order.
    data_messages: Vec<usize>,
    stray: usize,
    decoder: MessageDecoder,
}

impl Seen {
    fn take(&mut self, peer: &mut TestPeer) {
        for m in peer.take_received() {
            match self
                .decoder
                .decode(&m)
                .expect("the seeder sends valid commands")
            {
                Incoming::Command(c) => {
                    if let Command::SegmentData {
                        segment,
                        request,
                        size,
                    } = c
                    {
                        self.transfers.push((segment, request, size, Vec::new()));
                    }
                    self.commands.push(c);
                }
                Incoming::Partial => {}
                Incoming::Data(d) => {
                    self.data_messages.push(d.len());
                    match self.transfers.last_mut() {
                        Some(t) => t.3.extend_from_slice(d),
                        None => self.stray += d.len(),
                    }
                }
            }
        }
    }

    fn completed(&self, request: i64) -> bool {
        self.commands.iter().any(
            |c| matches!(c, Command::SegmentDataSendingCompleted { request: r, .. } if *r == request),
        )
    }

    fn last_announcement(&self) -> Option<Vec<SegmentId>> {
        self.commands.iter().rev().find_map(|c| match c {
            Command::SegmentsAnnouncement { loaded, .. } => Some(loaded.clone()),
            _ => None,
        })
    }

    fn absent(&self, request: i64) -> bool {
        self.commands
            .iter()
            .any(|c| matches!(c, Command::SegmentAbsent { request: r, .. } if *r == request))
    }
}

struct Harness {
    seeder: Seeder,
    net: Network,
    peers: Vec<TestPeer>,
    seen: Vec<Seen>,
}

impl Harness {
    fn new(configure: impl FnOnce(&mut SeederConfig)) -> Self {
        let mut config = SeederConfig::new(SERVER);
        configure(&mut config);
        Self {
            seeder: Seeder::new(config).unwrap(),
            net: Network::new(SERVER),
            peers: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Connects a peer with these data channels to `key`'s swarm; returns its index once its
    /// channels are open.
    fn connect(&mut self, key: SwarmKey, labels: &[&str]) -> usize {
        let port = 50000 + self.peers.len() as u16;
        let (mut peer, offer) =
            TestPeer::with_channels(SocketAddr::from(([127, 0, 0, 1], port)), labels);
        let answer = self.seeder.accept_offer(self.net.now, key, &offer).unwrap();
        peer.accept_answer(&answer);
        self.peers.push(peer);
        self.seen.push(Seen::default());
        let i = self.peers.len() - 1;
        let wanted = labels.len();
        assert!(
            self.net
                .run_until(&mut self.seeder, &mut self.peers, 2000, |_, ps| ps[i]
                    .open_channels()
                    == wanted),
            "channels of peer {i} never opened"
        );
        self.settle();
        i
    }

    fn send(&mut self, peer: usize, command: &Command) {
        self.send_on(peer, 0, command);
    }

    fn send_on(&mut self, peer: usize, channel: usize, command: &Command) {
        for m in encode(command, 65535) {
            self.peers[peer].send_on(self.net.now, channel, &m);
        }
    }

    /// Steps until `done` holds for what peer `i` saw.
    fn until(&mut self, i: usize, what: &str, mut done: impl FnMut(&Seen) -> bool) {
        let Self {
            seeder,
            net,
            peers,
            seen,
        } = self;
        let ok = net.run_until(seeder, peers, 4000, |_, ps| {
            seen[i].take(&mut ps[i]);
            done(&seen[i])
        });
        assert!(ok, "{what}: peer {i} saw {:?}", seen[i].commands);
    }

    /// A few rounds for in-flight messages to land.
    fn settle(&mut self) {
        for _ in 0..40 {
            self.net.step(&mut self.seeder, &mut self.peers);
        }
        for (seen, peer) in self.seen.iter_mut().zip(self.peers.iter_mut()) {
            seen.take(peer);
        }
    }
}

/// A small send window, so that an upload is still running when the test acts.
fn small_window(c: &mut SeederConfig) {
    c.high_water = 32 * 1024;
    c.low_water = 16 * 1024;
}

/// The first transfer has begun to arrive.
fn first_bytes(s: &Seen) -> bool {
    s.transfers.first().is_some_and(|t| !t.3.is_empty())
}

fn request(segment: SegmentId, request: i64, byte_from: u64) -> Command {
    Command::SegmentRequest {
        segment,
        request,
        byte_from,
    }
}

#[test]
fn a_request_gets_exactly_the_segment_announced_on_open() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    let data = segment(5, 50_000);
    h.seeder.insert_segment(h.net.now, key, 5, data.clone());
    let p = h.connect(key, &[PML_LABEL]);
    assert_eq!(h.seen[p].last_announcement(), Some(vec![5]));
    h.send(p, &request(5, 1, 0));
    h.until(p, "completed", |s| s.completed(1));
    let (seg, req, size, bytes) = &h.seen[p].transfers[0];
    assert_eq!((*seg, *req, *size), (5, 1, 50_000));
    assert_eq!(bytes[..], data[..]);
    assert_eq!(h.seen[p].stray, 0);
    assert_eq!(h.seeder.stats().uploaded_bytes, 50_000);
    assert_eq!(h.seeder.stats().uploads_completed, 1);
}

#[test]
fn segment_data_goes_in_messages_of_whole_sctp_chunks() {
    let mut h = Harness::new(|c| c.session.max_message_size = 8192);
    let key = swarm(1);
    h.seeder
        .insert_segment(h.net.now, key, 5, segment(5, 30_000));
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(5, 1, 0));
    h.until(p, "completed", |s| s.completed(1));
    // 8192 would leave a 72-byte chunk, and packet, at the end of every message.
    let whole = rtc::whole_chunks_within(8192, None);
    assert_eq!(whole, 7 * 1160);
    assert_eq!(
        h.seen[p].data_messages,
        vec![whole, whole, whole, 30_000 - 3 * whole]
    );
}

#[test]
fn a_resumed_request_gets_the_rest_and_says_how_much() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    let data = segment(7, 40_000);
    h.seeder.insert_segment(h.net.now, key, 7, data.clone());
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(7, 3, 25_000));
    h.until(p, "completed", |s| s.completed(3));
    let (_, _, size, bytes) = &h.seen[p].transfers[0];
    assert_eq!(*size, 15_000);
    assert_eq!(bytes[..], data[25_000..]);
}

#[test]
fn a_request_past_the_end_gets_nothing_to_append() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    h.seeder.insert_segment(h.net.now, key, 7, segment(7, 1000));
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(7, 3, 5000));
    h.until(p, "completed", |s| s.completed(3));
    let (_, _, size, bytes) = &h.seen[p].transfers[0];
    assert_eq!((*size, bytes.len()), (0, 0));
}

/// Overlapping requests: a new request replaces the upload in progress. Every byte after a
/// `SegmentData` belongs to that transfer and none goes past its size; the replaced one never
/// completes.
#[test]
fn overlapping_requests_never_mix_bytes() {
    let mut h = Harness::new(small_window);
    let key = swarm(1);
    let (a, b) = (segment(1, 400_000), segment(2, 120_000));
    h.seeder.insert_segment(h.net.now, key, 1, a.clone());
    h.seeder.insert_segment(h.net.now, key, 2, b.clone());
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(1, 10, 0));
    h.until(p, "first bytes of 1", first_bytes);
    h.send(p, &request(2, 11, 0));
    h.until(p, "2 completed", |s| s.completed(11));
    h.settle();
    let seen = &h.seen[p];
    assert!(!seen.completed(10), "the replaced upload never completes");
    let (_, _, size_a, got_a) = &seen.transfers[0];
    assert!(got_a.len() < *size_a as usize, "1 was cut short");
    assert_eq!(got_a[..], a[..got_a.len()], "what came of 1 is 1's bytes");
    let (seg_b, _, size_b, got_b) = &seen.transfers[1];
    assert_eq!((*seg_b, *size_b), (2, 120_000));
    assert_eq!(got_b[..], b[..], "after 2's header, exactly 2");
    assert_eq!(h.seeder.stats().uploads_cancelled, 1);
}

#[test]
fn a_cancel_stops_the_upload_and_the_same_segment_requested_again_comes_whole() {
    let mut h = Harness::new(small_window);
    let key = swarm(1);
    let a = segment(1, 300_000);
    h.seeder.insert_segment(h.net.now, key, 1, a.clone());
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(1, 20, 0));
    h.until(p, "first bytes", first_bytes);
    // A cancel for another request id is not ours: nothing changes.
    h.send(
        p,
        &Command::CancelSegmentRequest {
            segment: 1,
            request: 99,
        },
    );
    h.send(
        p,
        &Command::CancelSegmentRequest {
            segment: 1,
            request: 20,
        },
    );
    h.settle();
    let cut = h.seen[p].transfers[0].3.len();
    assert!(cut < a.len(), "the cancel stopped the upload");
    assert!(!h.seen[p].completed(20));
    // The same segment asked for again (a duplicate request, new request id).
    h.send(p, &request(1, 21, 0));
    h.until(p, "completed", |s| s.completed(21));
    let t = &h.seen[p].transfers[1];
    assert_eq!((t.1, t.2), (21, 300_000));
    assert_eq!(t.3[..], a[..]);
}

#[test]
fn a_duplicate_request_while_one_runs_restarts_it_cleanly() {
    let mut h = Harness::new(small_window);
    let key = swarm(1);
    let a = segment(3, 200_000);
    h.seeder.insert_segment(h.net.now, key, 3, a.clone());
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(3, 1, 0));
    h.send(p, &request(3, 1, 0));
    h.until(p, "completed", |s| s.completed(1));
    h.settle();
    let seen = &h.seen[p];
    // Two headers for the same request; only the second transfer completes, whole.
    assert_eq!(seen.transfers.len(), 2);
    assert!(seen.transfers[0].3.len() <= 200_000);
    assert_eq!(seen.transfers[1].3[..], a[..]);
    let completions = seen
        .commands
        .iter()
        .filter(|c| matches!(c, Command::SegmentDataSendingCompleted { .. }))
        .count();
    assert_eq!(completions, 1);
}

#[test]
fn only_the_first_data_channel_is_served() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    h.seeder.insert_segment(h.net.now, key, 1, segment(1, 1000));
    let p = h.connect(key, &[PML_LABEL, "second"]);
    assert_eq!(h.seeder.stats().extra_channels_ignored, 1);
    h.send_on(p, 1, &request(1, 5, 0));
    h.settle();
    assert!(h.peers[p].take_received_elsewhere().is_empty());
    assert!(
        h.seen[p].transfers.is_empty(),
        "nothing answered the second channel"
    );
    h.send_on(p, 0, &request(1, 6, 0));
    h.until(p, "completed on the first", |s| s.completed(6));
}

#[test]
fn a_malformed_command_closes_the_connection_and_is_counted() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    let p = h.connect(key, &[PML_LABEL]);
    let now = h.net.now;
    h.peers[p].send(now, b"cstr\x01\x69\x7fcend");
    h.settle();
    let stats = h.seeder.stats();
    assert_eq!(stats.sessions_closed_malformed, 1);
    assert_eq!(stats.connections, 0);
    assert_eq!(stats.open_sessions, 0);
}

#[test]
fn a_segment_leaving_the_live_window_is_no_longer_offered_but_its_upload_finishes() {
    let mut h = Harness::new(small_window);
    let key = swarm(1);
    let old = segment(1, 200_000);
    h.seeder.insert_segment(h.net.now, key, 1, old.clone());
    h.seeder.insert_segment(h.net.now, key, 2, segment(2, 1000));
    let p = h.connect(key, &[PML_LABEL]);
    h.send(p, &request(1, 1, 0));
    h.until(p, "first bytes", first_bytes);
    let now = h.net.now;
    h.seeder.remove_segment(now, key, 1);
    h.seeder.insert_segment(now, key, 3, segment(3, 1000));
    h.until(p, "completed", |s| s.completed(1));
    h.settle();
    assert_eq!(h.seen[p].transfers[0].3[..], old[..]);
    assert_eq!(h.seen[p].last_announcement(), Some(vec![2, 3]));
    h.send(p, &request(1, 2, 0));
    h.until(p, "absent", |s| s.absent(2));
}

#[test]
fn store_changes_reach_only_the_swarm_they_belong_to() {
    let mut h = Harness::new(|_| {});
    let (a, b) = (swarm(1), swarm(2));
    let pa = h.connect(a, &[PML_LABEL]);
    let pb = h.connect(b, &[PML_LABEL]);
    let announced = |s: &Seen| {
        s.commands
            .iter()
            .filter(|c| matches!(c, Command::SegmentsAnnouncement { .. }))
            .count()
    };
    let before = announced(&h.seen[pa]);
    let now = h.net.now;
    h.seeder.insert_segment(now, b, 9, segment(9, 100));
    h.until(pb, "announced in b", |s| {
        s.last_announcement() == Some(vec![9])
    });
    h.settle();
    assert_eq!(
        announced(&h.seen[pa]),
        before,
        "a's peer is not told of b's segment"
    );
    assert_eq!(h.seeder.stats().swarms, 2);
}

#[test]
fn viewers_demand_reaches_the_owner() {
    let mut h = Harness::new(|_| {});
    let key = swarm(4);
    let p = h.connect(key, &[PML_LABEL]);
    h.send(
        p,
        &Command::SegmentsAnnouncement {
            loaded: vec![3, 4],
            http_loading: vec![5],
        },
    );
    h.send(p, &request(9, 1, 0));
    h.until(p, "absent", |s| s.absent(1));
    let mut demand = Vec::new();
    while let Some(d) = h.seeder.poll_demand() {
        demand.push(d);
    }
    assert!(demand.iter().all(|d| d.swarm == key));
    assert!(demand.iter().any(|d| d.demand.announced == vec![3, 4, 5]));
    assert!(demand.iter().any(|d| d.demand.missing == Some(9)));
}

#[test]
fn the_connection_limit_changes_at_run_time() {
    let mut h = Harness::new(|c| c.max_connections = 5);
    let key = swarm(1);
    h.connect(key, &[PML_LABEL]);
    h.seeder.set_max_connections(1);
    let (_, offer) = TestPeer::new(SocketAddr::from(([127, 0, 0, 1], 59999)));
    assert!(matches!(
        h.seeder.accept_offer(h.net.now, key, &offer),
        Err(OfferError::Full(1))
    ));
    assert_eq!(h.seeder.stats().offers_refused, 1);
    h.seeder.set_max_connections(2);
    assert!(h.seeder.accept_offer(h.net.now, key, &offer).is_ok());
}

#[test]
fn an_invalid_offer_is_refused_with_its_reason() {
    let mut h = Harness::new(|_| {});
    let err = h
        .seeder
        .accept_offer(h.net.now, swarm(1), "v=0\r\nnot an offer")
        .unwrap_err();
    assert!(matches!(err, OfferError::Rtc(_)), "{err}");
    assert_eq!(h.seeder.stats().connections, 0);
}

#[test]
fn a_viewer_that_answers_our_offer_is_served_like_one_that_offered() {
    let mut h = Harness::new(|_| {});
    let key = swarm(1);
    let data = segment(4, 30_000);
    h.seeder.insert_segment(h.net.now, key, 4, data.clone());
    let (connection, offer) = h.seeder.create_offer(h.net.now, key).unwrap();
    let (peer, answer) = TestPeer::answering(SocketAddr::from(([127, 0, 0, 1], 50900)), &offer);
    h.seeder
        .accept_answer(h.net.now, connection, &answer)
        .unwrap();
    h.peers.push(peer);
    h.seen.push(Seen::default());
    let p = h.peers.len() - 1;
    h.until(p, "announced on open", |s| {
        s.last_announcement() == Some(vec![4])
    });
    h.send(p, &request(4, 9, 0));
    h.until(p, "completed", |s| s.completed(9));
    assert_eq!(h.seen[p].transfers[0].3[..], data[..]);
    let stats = h.seeder.stats();
    assert_eq!((stats.offers_made, stats.answers_accepted), (1, 1));
}

#[test]
fn offers_count_against_the_connection_limit() {
    let mut h = Harness::new(|c| c.max_connections = 1);
    h.seeder.create_offer(h.net.now, swarm(1)).unwrap();
    assert!(matches!(
        h.seeder.create_offer(h.net.now, swarm(1)),
        Err(OfferError::Full(1))
    ));
}

#[test]
fn a_viewers_offer_at_the_limit_takes_the_place_of_our_unanswered_offer() {
    let mut h = Harness::new(|c| c.max_connections = 1);
    let key = swarm(1);
    let (ours, _) = h.seeder.create_offer(h.net.now, key).unwrap();
    // Nobody answers it; a viewer offers meanwhile and is served.
    let p = h.connect(key, &[PML_LABEL]);
    assert_eq!(h.seen[p].last_announcement(), Some(vec![]));
    let stats = h.seeder.stats();
    assert_eq!((stats.own_offers_dropped, stats.offers_refused), (1, 0));
    assert!(
        !h.seeder.peers.contains_key(&ours),
        "our offer was withdrawn"
    );
    // A connected viewer is never dropped for another: the next offer is refused.
    let (_, offer) = TestPeer::new(SocketAddr::from(([127, 0, 0, 1], 59998)));
    assert!(matches!(
        h.seeder.accept_offer(h.net.now, key, &offer),
        Err(OfferError::Full(1))
    ));
}

/// Unacknowledged bytes in the stack over all connections, read from the endpoint itself.
fn stack_in_flight(seeder: &mut Seeder) -> usize {
    let channels: Vec<(ConnectionId, ChannelId)> = seeder
        .peers
        .iter()
        .filter_map(|(&c, p)| p.channel.map(|ch| (c, ch)))
        .collect();
    channels
        .into_iter()
        .map(|(c, ch)| seeder.endpoint.buffered_amount(c, ch))
        .sum()
}

#[test]
fn the_send_budget_bounds_what_all_connections_have_in_flight_and_serves_each_in_turn() {
    const BUDGET: usize = 48 * 1024;
    let mut h = Harness::new(|c| c.send_budget = BUDGET);
    let key = swarm(1);
    let data = segment(3, 200_000);
    h.seeder.insert_segment(h.net.now, key, 3, data.clone());
    let peers: Vec<usize> = (0..4).map(|_| h.connect(key, &[PML_LABEL])).collect();
    for (i, &p) in peers.iter().enumerate() {
        h.send(p, &request(3, i as i64 + 1, 0));
    }
    let max_message = h.seeder.config.session.max_message_size;
    let mut peak = 0;
    for _ in 0..20_000 {
        h.net.step(&mut h.seeder, &mut h.peers);
        let in_flight = stack_in_flight(&mut h.seeder);
        peak = peak.max(in_flight);
        assert!(
            in_flight <= BUDGET + max_message,
            "{in_flight} bytes in flight, budget {BUDGET}"
        );
        assert_eq!(
            h.seeder.stats().in_flight_bytes,
            in_flight,
            "the count agrees with the stack"
        );
        for &p in &peers {
            h.seen[p].take(&mut h.peers[p]);
        }
        if peers
            .iter()
            .enumerate()
            .all(|(i, &p)| h.seen[p].completed(i as i64 + 1))
        {
            break;
        }
    }
    for (i, &p) in peers.iter().enumerate() {
        assert!(h.seen[p].completed(i as i64 + 1), "peer {p} was served");
        assert_eq!(
            h.seen[p].transfers[0].3[..],
            data[..],
            "peer {p} got the segment"
        );
    }
    assert!(peak > BUDGET / 2, "the budget was used: peak {peak}");
    assert!(
        h.seeder.stats().budget_waits > 0,
        "connections waited for the budget"
    );
}
