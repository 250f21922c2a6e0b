//! The swarm state machine, driven directly: no sockets, explicit time.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tracker::{ConnId, Outgoing, SwarmConfig, Tracker};
use wire::tracker::*;

fn id(n: u8) -> Id20 {
    let mut s = *b"-PM0203-000000000000";
    s[19] = b'a' + n % 26;
    s[18] = b'a' + n / 26;
    Id20(s)
}

fn hash(n: u8) -> InfoHash {
    let mut h = *b"LF5ru/aNcTeuFIVnks00";
    h[19] = b'a' + n;
    Id20(h)
}

fn offer_id(n: u8, k: u8) -> OfferId {
    OfferId::from_bytes(&[n, k, 0xff, 0x80]).unwrap()
}

fn announce(info_hash: InfoHash, peer: u8, offers: u8) -> ClientMessage {
    ClientMessage::Announce(AnnounceRequest {
        info_hash,
        peer_id: id(peer),
        event: AnnounceEvent::Started,
        left: None,
        numwant: Some(f64::from(offers)),
        offers: (0..offers)
            .map(|k| Offer {
                offer_id: offer_id(peer, k),
                offer: Signal::new("offer", &format!("sdp {peer} {k}")),
            })
            .collect(),
    })
}

fn with_left(msg: ClientMessage, left: Option<f64>, event: AnnounceEvent) -> ClientMessage {
    let ClientMessage::Announce(mut a) = msg else {
        unreachable!()
    };
    a.left = left;
    a.event = event;
    ClientMessage::Announce(a)
}

fn answer(info_hash: InfoHash, from: u8, to: u8, offer: OfferId) -> ClientMessage {
    ClientMessage::Answer(AnswerRequest {
        info_hash,
        peer_id: id(from),
        to_peer_id: id(to),
        offer_id: offer,
        answer: Signal::new("answer", &format!("answer {from}")),
    })
}

struct World {
    tracker: Tracker,
    now: Instant,
}

impl World {
    fn new(config: SwarmConfig) -> Self {
        World {
            tracker: Tracker::new(config, 7),
            now: Instant::now(),
        }
    }

    fn send(&mut self, conn: u64, msg: ClientMessage) -> Vec<Outgoing> {
        let mut out = Vec::new();
        self.tracker.handle(ConnId(conn), msg, self.now, &mut out);
        out
    }

    /// Peers 0..n, each alone on connection 100 + n, announced without offers.
    fn swarm_of(&mut self, info_hash: InfoHash, n: u8) {
        for p in 0..n {
            self.send(100 + u64::from(p), announce(info_hash, p, 0));
        }
    }
}

fn offers_in(out: &[Outgoing]) -> Vec<(ConnId, ForwardedOffer)> {
    out.iter()
        .filter_map(|o| match &o.msg {
            ServerMessage::Offer(f) => Some((o.to, f.clone())),
            _ => None,
        })
        .collect()
}

fn response(out: &[Outgoing]) -> &AnnounceResponse {
    match &out[0].msg {
        ServerMessage::AnnounceResponse(r) => r,
        other => panic!("expected an announce response first, got {other:?}"),
    }
}

fn error_reason(o: &Outgoing) -> &str {
    match &o.msg {
        ServerMessage::Error(e) => &e.reason,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn each_offer_goes_to_a_different_peer_never_the_sender() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 8);
    let out = w.send(100, announce(h, 0, 5));
    assert_eq!(out[0].to, ConnId(100));
    assert_eq!(response(&out).incomplete, 8);
    let offers = offers_in(&out);
    assert_eq!(offers.len(), 5);
    let targets: HashSet<ConnId> = offers.iter().map(|(to, _)| *to).collect();
    assert_eq!(targets.len(), 5, "distinct targets");
    assert!(!targets.contains(&ConnId(100)), "never the sender");
    let ids: HashSet<Vec<u8>> = offers
        .iter()
        .map(|(_, f)| f.offer_id.as_bytes().to_vec())
        .collect();
    assert_eq!(ids.len(), 5, "each target gets its own offer");
    for (_, f) in &offers {
        assert_eq!(f.peer_id, id(0));
        assert_eq!(f.info_hash, h);
    }
}

#[test]
fn offers_spread_over_the_whole_swarm() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 20);
    let mut reached = HashSet::new();
    for _ in 0..40 {
        for (to, _) in offers_in(&w.send(100, announce(h, 0, 3))) {
            reached.insert(to);
        }
    }
    assert_eq!(
        reached.len(),
        19,
        "every other peer got offers at some point"
    );
}

#[test]
fn with_fewer_peers_than_offers_the_rest_are_dropped() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 3);
    let out = w.send(100, announce(h, 0, 5));
    assert_eq!(offers_in(&out).len(), 2);
    // A lone peer gets its response and nothing else.
    let out = w.send(200, announce(hash(1), 50, 5));
    assert_eq!(out.len(), 1);
    assert_eq!(response(&out).incomplete, 1);
}

#[test]
fn offers_per_announce_are_capped() {
    let config = SwarmConfig {
        max_offers_per_announce: 2,
        ..SwarmConfig::default()
    };
    let mut w = World::new(config);
    let h = hash(0);
    w.swarm_of(h, 10);
    assert_eq!(offers_in(&w.send(100, announce(h, 0, 8))).len(), 2);
}

#[test]
fn answers_are_relayed_only_for_offers_this_tracker_forwarded() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 2);
    let out = w.send(100, announce(h, 0, 1));
    let (to, offer) = offers_in(&out).pop().unwrap();
    assert_eq!(to, ConnId(101));

    // A made-up offer id: refused, nothing reaches peer 0.
    let out = w.send(101, answer(h, 1, 0, offer_id(9, 9)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, ConnId(101));
    assert!(error_reason(&out[0]).contains("no pending offer"));

    // Someone else claiming to be peer 1: refused.
    let out = w.send(999, answer(h, 1, 0, offer.offer_id));
    assert!(error_reason(&out[0]).contains("not announced on this connection"));

    // The real answer reaches the offering peer's socket, once.
    let out = w.send(101, answer(h, 1, 0, offer.offer_id));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, ConnId(100));
    let ServerMessage::Answer(a) = &out[0].msg else {
        panic!("{out:?}")
    };
    assert_eq!(
        (a.peer_id, a.offer_id, a.info_hash),
        (id(1), offer.offer_id, h)
    );
    assert_eq!(a.answer.sdp().as_deref(), Some("answer 1"));
    let out = w.send(101, answer(h, 1, 0, offer.offer_id));
    assert!(error_reason(&out[0]).contains("no pending offer"));
}

#[test]
fn expired_offers_cannot_be_answered() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 2);
    let (_, offer) = offers_in(&w.send(100, announce(h, 0, 1))).pop().unwrap();
    w.now += Duration::from_secs(51);
    let out = w.send(101, answer(h, 1, 0, offer.offer_id));
    assert_eq!(out.len(), 1);
    assert!(error_reason(&out[0]).contains("expired"));
    // The sweep forgets unanswered offers, so memory does not grow.
    let (_, offer) = offers_in(&w.send(100, announce(h, 0, 1))).pop().unwrap();
    w.now += Duration::from_secs(51);
    w.tracker.expire(w.now);
    let out = w.send(101, answer(h, 1, 0, offer.offer_id));
    assert!(error_reason(&out[0]).contains("no pending offer"));
}

#[test]
fn pending_offers_per_peer_are_bounded() {
    let config = SwarmConfig {
        max_pending_offers_per_peer: 3,
        ..SwarmConfig::default()
    };
    let mut w = World::new(config);
    let h = hash(0);
    w.swarm_of(h, 2);
    let mut relayed = Vec::new();
    for _ in 0..5 {
        relayed.push(offers_in(&w.send(100, announce(h, 0, 1))).pop().unwrap().1);
    }
    // All five announces reuse offer ids (peer 0, k=0); the oldest were forgotten but the
    // id is still pending thrice.
    for _ in 0..3 {
        let out = w.send(101, answer(h, 1, 0, relayed[0].offer_id));
        assert!(matches!(out[0].msg, ServerMessage::Answer(_)));
    }
    let out = w.send(101, answer(h, 1, 0, relayed[0].offer_id));
    assert!(matches!(out[0].msg, ServerMessage::Error(_)));
}

#[test]
fn announce_responses_count_seeders_and_leechers() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.send(
        1,
        with_left(announce(h, 1, 0), Some(0.0), AnnounceEvent::Started),
    );
    w.send(
        2,
        with_left(announce(h, 2, 0), Some(5.0), AnnounceEvent::Started),
    );
    let out = w.send(3, announce(h, 3, 0));
    let r = response(&out);
    assert_eq!((r.complete, r.incomplete, r.interval), (1, 2, 120));
    // `completed` makes a leecher a seeder; an update without `left` keeps it one.
    w.send(
        3,
        with_left(announce(h, 3, 0), None, AnnounceEvent::Completed),
    );
    let out = w.send(3, with_left(announce(h, 3, 0), None, AnnounceEvent::Update));
    assert_eq!((response(&out).complete, response(&out).incomplete), (2, 1));
    // `stopped` leaves the swarm.
    let out = w.send(
        2,
        with_left(announce(h, 2, 0), None, AnnounceEvent::Stopped),
    );
    assert_eq!((response(&out).complete, response(&out).incomplete), (2, 0));
    assert_eq!(w.tracker.counts().peers, 2);
}

#[test]
fn a_reannounce_from_a_new_socket_moves_the_peer() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.send(1, announce(h, 1, 0));
    w.send(2, announce(h, 2, 0));
    // Peer 1 reconnects on socket 10.
    w.send(10, announce(h, 1, 0));
    let offers = offers_in(&w.send(2, announce(h, 2, 1)));
    assert_eq!(offers[0].0, ConnId(10));
    // The old socket closing does not remove the moved peer; a stop from it is ignored.
    w.send(
        1,
        with_left(announce(h, 1, 0), None, AnnounceEvent::Stopped),
    );
    w.tracker.connection_closed(ConnId(1));
    assert_eq!(w.tracker.counts().peers, 2);
    // Answers from the new socket are accepted.
    let out = w.send(10, answer(h, 1, 2, offers[0].1.offer_id));
    assert_eq!(out[0].to, ConnId(2));
    w.tracker.connection_closed(ConnId(10));
    assert_eq!(w.tracker.counts().peers, 1);
}

#[test]
fn closing_a_socket_removes_all_its_peers_in_all_swarms() {
    let mut w = World::new(SwarmConfig::default());
    // One socket, two info_hashes, three peer_ids (P2P Media Loader uses one per stream).
    w.send(1, announce(hash(0), 1, 0));
    w.send(1, announce(hash(1), 2, 0));
    w.send(1, announce(hash(1), 3, 0));
    w.send(2, announce(hash(1), 4, 0));
    assert_eq!(w.tracker.counts().peers, 4);
    assert_eq!(w.tracker.counts().swarms, 2);
    w.tracker.connection_closed(ConnId(1));
    assert_eq!(w.tracker.counts().peers, 1);
    assert_eq!(w.tracker.counts().swarms, 1);
    // Offers from socket 2 now reach nobody.
    assert_eq!(offers_in(&w.send(2, announce(hash(1), 4, 3))).len(), 0);
}

#[test]
fn peers_that_stop_announcing_expire() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.send(1, announce(h, 1, 0));
    w.send(2, announce(h, 2, 0));
    w.now += Duration::from_secs(200);
    w.send(2, announce(h, 2, 0));
    w.now += Duration::from_secs(150);
    w.tracker.expire(w.now);
    assert_eq!(
        w.tracker.counts().peers,
        1,
        "peer 1 expired, peer 2 re-announced"
    );
    w.now += Duration::from_secs(300);
    w.tracker.expire(w.now);
    assert_eq!(w.tracker.counts().peers, 0);
    assert_eq!(w.tracker.counts().swarms, 0);
}

#[test]
fn swarms_per_connection_are_limited_with_a_clear_error() {
    let config = SwarmConfig {
        max_info_hashes_per_connection: 2,
        ..SwarmConfig::default()
    };
    let mut w = World::new(config);
    w.send(1, announce(hash(0), 1, 0));
    w.send(1, announce(hash(1), 1, 0));
    let out = w.send(1, announce(hash(2), 1, 0));
    let ServerMessage::Error(e) = &out[0].msg else {
        panic!("{out:?}")
    };
    assert_eq!(e.action, Action::Announce);
    assert_eq!(e.info_hash, hash(2).to_binary_string());
    assert!(e.reason.contains("2 swarms"));
    // Re-announcing a held swarm still works, and stopping one frees a slot.
    assert!(matches!(
        w.send(1, announce(hash(1), 1, 0))[0].msg,
        ServerMessage::AnnounceResponse(_)
    ));
    w.send(
        1,
        with_left(announce(hash(0), 1, 0), None, AnnounceEvent::Stopped),
    );
    assert!(matches!(
        w.send(1, announce(hash(2), 1, 0))[0].msg,
        ServerMessage::AnnounceResponse(_)
    ));
    assert_eq!(w.tracker.counts().swarms, 2);
}

#[test]
fn scrapes_single_list_unknown_and_full() {
    let mut w = World::new(SwarmConfig::default());
    w.send(
        1,
        with_left(announce(hash(0), 1, 0), Some(0.0), AnnounceEvent::Started),
    );
    w.send(2, announce(hash(0), 2, 0));
    let out = w.send(
        3,
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![hash(0), hash(5)])),
    );
    let ServerMessage::Scrape(s) = &out[0].msg else {
        panic!("{out:?}")
    };
    assert_eq!(s.files.len(), 2);
    assert_eq!((s.files[0].1.complete, s.files[0].1.incomplete), (1, 1));
    assert_eq!((s.files[1].1.complete, s.files[1].1.incomplete), (0, 0));
    let out = w.send(3, ClientMessage::Scrape(ScrapeRequest::All));
    assert!(error_reason(&out[0]).contains("full scrapes are disabled"));

    let mut w = World::new(SwarmConfig {
        full_scrape: true,
        max_scrape_hashes: 2,
        ..SwarmConfig::default()
    });
    for n in 0..3 {
        w.send(1, announce(hash(n), 1, 0));
    }
    let out = w.send(3, ClientMessage::Scrape(ScrapeRequest::All));
    let ServerMessage::Scrape(s) = &out[0].msg else {
        panic!("{out:?}")
    };
    assert_eq!(s.files.len(), 2, "full scrape bounded by max_scrape_hashes");
    let out = w.send(
        3,
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![hash(0); 3])),
    );
    assert!(error_reason(&out[0]).contains("at most 2"));
}

fn stats(h: InfoHash, peer: u8, channel: &str, n: [u64; 4]) -> ClientMessage {
    ClientMessage::Stats(StatsReport {
        info_hash: h,
        peer_id: id(peer),
        channel: channel.into(),
        http_down: n[0],
        p2p_down: n[1],
        p2p_up: n[2],
        peers: 3,
        rebuffers: n[3],
        quality: QualityCounters::default(),
        qoe: None,
    })
}

#[test]
fn stats_become_channel_aggregates_from_cumulative_counters() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 3);
    assert!(w
        .send(100, stats(h, 0, "https://cdn/live.m3u8", [100, 50, 10, 1]))
        .is_empty());
    assert!(w
        .send(101, stats(h, 1, "https://cdn/live.m3u8", [200, 0, 0, 0]))
        .is_empty());
    // Cumulative: only the increase counts.
    w.send(100, stats(h, 0, "https://cdn/live.m3u8", [150, 80, 30, 1]));
    let summary = w.tracker.swarm(&h).unwrap();
    assert_eq!((summary.peers, summary.leechers), (3, 3));
    let (channel, totals) = summary.channel.unwrap();
    assert_eq!(channel, "https://cdn/live.m3u8");
    assert_eq!(totals.viewers, 2);
    assert_eq!(
        (
            totals.http_bytes,
            totals.p2p_bytes,
            totals.upload_bytes,
            totals.rebuffers
        ),
        (350, 80, 30, 1)
    );
    // A counter that goes down was reset: its new value counts.
    w.send(100, stats(h, 0, "https://cdn/live.m3u8", [10, 80, 30, 1]));
    assert_eq!(
        w.tracker.swarm(&h).unwrap().channel.unwrap().1.http_bytes,
        360
    );
    // Viewers that stop reporting no longer count; totals stay.
    w.now += Duration::from_secs(31);
    w.tracker.expire(w.now);
    let totals = w.tracker.swarm(&h).unwrap().channel.unwrap().1;
    assert_eq!((totals.viewers, totals.http_bytes), (0, 360));
}

#[test]
fn playback_errors_and_integrity_failures_add_up_per_channel_and_in_all() {
    let mut w = World::new(SwarmConfig::default());
    let h = hash(0);
    w.swarm_of(h, 2);
    let with_quality = |peer: u8, q: [u64; 5]| {
        let ClientMessage::Stats(mut r) = stats(h, peer, "https://cdn/live.m3u8", [1, 1, 1, 0])
        else {
            unreachable!()
        };
        r.quality = QualityCounters {
            errors_http: q[0],
            errors_peer: q[1],
            errors_superpeer: q[2],
            bad_segments: q[3],
            banned_peers: q[4],
        };
        ClientMessage::Stats(r)
    };
    w.send(100, with_quality(0, [1, 2, 0, 3, 1]));
    w.send(101, with_quality(1, [0, 0, 4, 0, 0]));
    // Cumulative, like the byte counters.
    w.send(100, with_quality(0, [1, 3, 0, 5, 2]));
    let totals = w.tracker.swarm(&h).unwrap().channel.unwrap().1;
    let want = QualityCounters {
        errors_http: 1,
        errors_peer: 3,
        errors_superpeer: 4,
        bad_segments: 5,
        banned_peers: 2,
    };
    assert_eq!(totals.quality, want);
    assert_eq!(w.tracker.counts().quality, want);
}

#[test]
fn stats_are_bounded() {
    let mut config = SwarmConfig::default();
    config.stats.max_reporters = 2;
    config.stats.max_channels = 1;
    let mut w = World::new(config);
    let h = hash(0);
    assert!(w.send(1, stats(h, 1, "a", [1, 1, 1, 1])).is_empty());
    let out = w.send(1, stats(h, 2, "b", [1, 1, 1, 1]));
    let ServerMessage::Error(e) = &out[0].msg else {
        panic!("{out:?}")
    };
    assert_eq!(e.action, Action::Stats);
    assert!(e.reason.contains("1 channels"));
    assert!(w.send(1, stats(h, 2, "a", [1, 1, 1, 1])).is_empty());
    let out = w.send(1, stats(h, 3, "a", [1, 1, 1, 1]));
    assert!(error_reason(&out[0]).contains("2 viewers"));
}

#[test]
fn ranking_orders_swarms_by_peers() {
    let mut w = World::new(SwarmConfig::default());
    w.swarm_of(hash(1), 2);
    for p in 10..15 {
        w.send(u64::from(p), announce(hash(2), p, 0));
    }
    w.send(50, announce(hash(3), 50, 0));
    let ranking = w.tracker.ranking(2);
    assert_eq!(ranking.len(), 2);
    assert_eq!((ranking[0].info_hash, ranking[0].peers), (hash(2), 5));
    assert_eq!((ranking[1].info_hash, ranking[1].peers), (hash(1), 2));
    assert!(w.tracker.swarm(&hash(9)).is_none());
}

#[test]
fn same_seed_same_choices() {
    let run = || {
        let mut w = World::new(SwarmConfig::default());
        w.swarm_of(hash(0), 30);
        (0..10)
            .flat_map(|_| offers_in(&w.send(100, announce(hash(0), 0, 5))))
            .map(|(to, _)| to)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

/// Two nodes of a cluster, each a state machine, wired by hand the way Redis carries their
/// messages: each sees the other as one remote pseudo-connection.
mod cluster {
    use super::*;
    use tracker::{Change, Relay};

    fn node() -> Tracker {
        let mut t = Tracker::new(SwarmConfig::default(), 7);
        t.set_clustered(true);
        t
    }

    fn changes(t: &mut Tracker) -> Vec<Change> {
        let mut c = Vec::new();
        t.take_changes(&mut c);
        c
    }

    fn relays(t: &mut Tracker) -> Vec<Relay> {
        let mut r = Vec::new();
        t.take_relays(&mut r);
        r
    }

    /// Applies `from`'s changes to `to`, where `from` is the pseudo-connection `node`.
    fn sync(from: &mut Tracker, to: &mut Tracker, node: ConnId, now: Instant) {
        for change in changes(from) {
            match change {
                Change::Join {
                    info_hash,
                    peer_id,
                    seeder,
                } => to.join_remote(node, info_hash, peer_id, seeder, now),
                Change::Leave { info_hash, peer_id } => to.leave_remote(node, &info_hash, &peer_id),
            }
        }
    }

    #[test]
    fn offers_and_answers_cross_nodes_and_pending_offers_live_where_the_answer_comes() {
        let now = Instant::now();
        let (mut a, mut b) = (node(), node());
        let (a_on_b, b_on_a) = (ConnId::remote(0), ConnId::remote(0));
        let h = hash(0);
        let mut out = Vec::new();
        a.handle(ConnId(1), announce(h, 0, 0), now, &mut out);
        assert_eq!(
            changes(&mut a),
            vec![Change::Join {
                info_hash: h,
                peer_id: id(0),
                seeder: false
            }]
        );
        a.handle(ConnId(1), announce(h, 0, 0), now, &mut out);
        assert!(changes(&mut a).is_empty(), "a re-announce changes nothing");
        b.join_remote(a_on_b, h, id(0), false, now);

        // Peer 1 on B offers: the only other peer lives on A, so it becomes a relay.
        out.clear();
        b.handle(ConnId(5), announce(h, 1, 1), now, &mut out);
        assert_eq!(out.len(), 1, "only the announce response is local");
        let relayed = relays(&mut b);
        assert_eq!(relayed.len(), 1);
        assert_eq!((relayed[0].node, relayed[0].to_peer), (a_on_b, id(0)));
        sync(&mut b, &mut a, b_on_a, now);

        // A delivers it to its peer and keeps it pending there.
        out.clear();
        let r = relayed.into_iter().next().unwrap();
        assert!(a.deliver_relay(b_on_a, r.to_peer, r.msg, now, &mut out));
        assert_eq!(out[0].to, ConnId(1));
        out.clear();
        a.handle(ConnId(1), answer(h, 0, 1, offer_id(1, 0)), now, &mut out);
        assert!(out.is_empty(), "the answer goes to B: {out:?}");
        let back = relays(&mut a);
        assert_eq!((back[0].node, back[0].to_peer), (b_on_a, id(1)));
        // Answering twice is refused, as on one node.
        a.handle(ConnId(1), answer(h, 0, 1, offer_id(1, 0)), now, &mut out);
        assert!(matches!(out[0].msg, ServerMessage::Error(_)));
        out.clear();
        let r = back.into_iter().next().unwrap();
        assert!(b.deliver_relay(a_on_b, r.to_peer, r.msg, now, &mut out));
        assert_eq!(out[0].to, ConnId(5));
        assert!(matches!(out[0].msg, ServerMessage::Answer(_)));
        // A relay for a peer that is not local here is not delivered.
        let stray = ServerMessage::Answer(ForwardedAnswer {
            info_hash: h,
            peer_id: id(0),
            offer_id: offer_id(1, 0),
            answer: Signal::new("answer", "x"),
        });
        assert!(!b.deliver_relay(a_on_b, id(0), stray, now, &mut out));
    }

    #[test]
    fn remote_peers_count_do_not_expire_locally_and_go_with_their_node() {
        let now = Instant::now();
        let mut t = node();
        let node_a = ConnId::remote(3);
        let h = hash(1);
        t.join_remote(node_a, h, id(0), true, now);
        t.join_remote(node_a, h, id(1), false, now);
        let mut out = Vec::new();
        t.handle(ConnId(1), announce(h, 2, 0), now, &mut out);
        let counts = t.counts();
        assert_eq!(
            (counts.peers, counts.remote_peers, counts.seeders),
            (3, 2, 1)
        );
        t.expire(now + Duration::from_secs(3600));
        assert_eq!(
            t.counts().peers,
            2,
            "the local peer expired, the remote ones stay"
        );
        assert_eq!(
            changes(&mut t).last(),
            Some(&Change::Leave {
                info_hash: h,
                peer_id: id(2)
            })
        );
        t.leave_remote(ConnId::remote(4), &h, &id(1));
        assert_eq!(
            t.counts().peers,
            2,
            "only the node holding a peer removes it"
        );
        assert_eq!(t.node_gone(node_a), 2);
        assert_eq!(t.counts(), tracker::swarm::Counts::default());
    }

    #[test]
    fn a_peer_that_moves_to_another_node_lives_there() {
        let now = Instant::now();
        let mut t = node();
        let h = hash(2);
        let mut out = Vec::new();
        t.handle(ConnId(1), announce(h, 0, 0), now, &mut out);
        changes(&mut t);
        // It reconnected to node 7 (this node lost it, or the balancer moved it).
        t.join_remote(ConnId::remote(7), h, id(0), false, now);
        assert_eq!(t.counts().remote_peers, 1);
        t.connection_closed(ConnId(1));
        assert_eq!(t.counts().peers, 1, "the old socket no longer holds it");
        assert!(
            changes(&mut t).is_empty(),
            "no leave for a peer that lives elsewhere"
        );
        // And back here: a join for the others.
        t.handle(ConnId(2), announce(h, 0, 0), now, &mut out);
        assert_eq!(t.counts().remote_peers, 0);
        assert_eq!(changes(&mut t).len(), 1);
    }

    #[test]
    fn a_tracker_outside_a_cluster_records_nothing() {
        let now = Instant::now();
        let mut t = Tracker::new(SwarmConfig::default(), 7);
        let mut out = Vec::new();
        t.handle(ConnId(1), announce(hash(3), 0, 0), now, &mut out);
        t.handle(ConnId(2), announce(hash(3), 1, 3), now, &mut out);
        t.connection_closed(ConnId(1));
        assert!(changes(&mut t).is_empty() && relays(&mut t).is_empty());
    }
}
