//! The endpoint against in-process webrtc-rs peers (`rtc::testing`): several connections share
//! one "socket" (one local address), each opens its in-band channel and exchanges binary
//! messages; garbage datagrams from anywhere never panic and never disturb the others.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtc::testing::{Network, TestPeer};
use rtc::{Endpoint, EndpointConfig, Event};

const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn at(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Steps the network until `done` holds for the peers and the endpoint's events so far;
/// returns those events.
fn run(
    net: &mut Network,
    endpoint: &mut Endpoint,
    peers: &mut [TestPeer],
    mut done: impl FnMut(&mut [TestPeer], &[Event]) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..2000 {
        while let Some(e) = endpoint.poll_event() {
            events.push(e);
        }
        if done(peers, &events) {
            return events;
        }
        net.step(endpoint, peers);
    }
    panic!("did not settle; events so far: {events:?}");
}

fn opened(events: &[Event]) -> Vec<(rtc::ConnectionId, rtc::ChannelId, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelOpen {
                connection,
                channel,
                label,
            } => Some((*connection, *channel, label.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn several_connections_share_one_address_and_exchange_messages() {
    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let mut net = Network::new(SERVER);
    let mut peers = Vec::new();
    let mut ids = Vec::new();
    for port in [50001, 50002, 50003] {
        let (mut peer, offer) = TestPeer::new(at(port));
        let (id, answer) = endpoint.accept_offer(net.now, &offer).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("127.0.0.1 40000 typ host"), "{answer}");
        peer.accept_answer(&answer);
        peers.push(peer);
        ids.push(id);
    }
    // Garbage from strangers and from a known peer must change nothing.
    endpoint.handle_datagram(net.now, at(9), b"\x00\x01\x00\x00garbage");
    let events = run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        ps.iter().all(|p| p.open_channels() == 1)
    });
    let opened = opened(&events);
    assert_eq!(opened.len(), 3, "{events:?}");
    assert!(opened.iter().all(|(_, _, l)| l.len() == 40));
    endpoint.handle_datagram(net.now, peers[0].addr(), &[0xff; 300]);

    // Each connection gets its own message.
    for (n, (connection, channel, _)) in opened.iter().enumerate() {
        endpoint
            .send(net.now, *connection, *channel, format!("to {n}").as_bytes())
            .unwrap();
    }
    let mut got = Vec::new();
    run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        for p in ps.iter_mut() {
            got.extend(p.take_received());
        }
        got.len() == 3
    });
    let mut got: Vec<String> = got
        .into_iter()
        .map(|m| String::from_utf8(m).unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["to 0", "to 1", "to 2"]);
    assert_eq!(endpoint.connection_count(), 3);

    // Peer to server.
    peers[1].send(net.now, b"hello");
    let events = run(&mut net, &mut endpoint, &mut peers, |_, es| {
        es.iter().any(|e| matches!(e, Event::Message { .. }))
    });
    let from = events.iter().find_map(|e| match e {
        Event::Message {
            connection, data, ..
        } => Some((*connection, data.to_vec())),
        _ => None,
    });
    assert_eq!(
        from,
        Some((ids[1], b"hello".to_vec())),
        "the message arrives on the second connection"
    );
}

#[test]
fn an_offer_never_connected_expires_at_the_connect_timeout_and_leaves_no_timer() {
    let mut config = EndpointConfig::new(SERVER);
    config.connect_timeout = Duration::from_secs(5);
    let mut endpoint = Endpoint::new(config).unwrap();
    let start = Instant::now();
    let mut ids = Vec::new();
    for port in [50011, 50012] {
        let (_peer, offer) = TestPeer::new(at(port));
        ids.push(endpoint.accept_offer(start, &offer).unwrap().0);
    }
    let first = endpoint.poll_timeout().expect("a deadline per connection");
    assert!(first <= start + Duration::from_secs(5));

    endpoint.handle_timeout(start + Duration::from_secs(4));
    assert_eq!(endpoint.connection_count(), 2, "not expired yet");
    assert!(
        std::iter::from_fn(|| endpoint.poll_event()).all(|e| !matches!(e, Event::Closed { .. }))
    );

    endpoint.handle_timeout(start + Duration::from_secs(5));
    assert_eq!(endpoint.connection_count(), 0);
    let mut closed: Vec<_> = std::iter::from_fn(|| endpoint.poll_event())
        .filter_map(|e| match e {
            Event::Closed { connection, reason } => Some((connection, reason)),
            _ => None,
        })
        .collect();
    closed.sort();
    assert_eq!(
        closed,
        ids.iter()
            .map(|&id| (id, "not connected in time".to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(endpoint.poll_timeout(), None, "no timer left behind");
}

/// Opens one connection to `endpoint`: the peer, our answer, the connection and its channel.
fn connect_one(
    net: &mut Network,
    endpoint: &mut Endpoint,
    port: u16,
) -> (TestPeer, String, rtc::ConnectionId, rtc::ChannelId) {
    let (mut peer, offer) = TestPeer::new(at(port));
    let (id, answer) = endpoint.accept_offer(net.now, &offer).unwrap();
    peer.accept_answer(&answer);
    let mut peers = vec![peer];
    let events = run(net, endpoint, &mut peers, |ps, _| {
        ps[0].open_channels() == 1
    });
    let (_, channel, _) = opened(&events).pop().expect("the channel opens");
    (peers.pop().unwrap(), answer, id, channel)
}

#[test]
fn the_configured_max_message_size_is_advertised_and_enforced_both_ways() {
    let mut config = EndpointConfig::new(SERVER);
    config.max_message_size = 16 * 1024;
    let mut endpoint = Endpoint::new(config).unwrap();
    let mut net = Network::new(SERVER);
    let (peer, answer, id, channel) = connect_one(&mut net, &mut endpoint, 50021);
    assert!(answer.contains("a=max-message-size:16384\r\n"), "{answer}");
    // The peer offered webrtc-rs's default (64 KiB); the smaller value wins.
    assert_eq!(endpoint.max_message_size(id), Some(16 * 1024));
    let mut peers = vec![peer];

    // A message at the limit goes through whole.
    let full: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    endpoint.send(net.now, id, channel, &full).unwrap();
    let mut got = Vec::new();
    run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        got.extend(ps[0].take_received());
        !got.is_empty()
    });
    assert_eq!(got, vec![full.clone()]);

    // One byte more is refused, with the sizes, and the connection lives on.
    let over = vec![0u8; 16 * 1024 + 1];
    match endpoint.send(net.now, id, channel, &over) {
        Err(rtc::Error::MessageTooLarge { len, max }) => {
            assert_eq!((len, max), (16 * 1024 + 1, 16 * 1024));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    endpoint.send(net.now, id, channel, b"still open").unwrap();
    run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        got.extend(ps[0].take_received());
        got.len() == 2
    });
    assert_eq!(got[1], b"still open");

    // The browser side learns the limit from our answer: at the limit arrives, over it is
    // refused by its own stack.
    assert!(peers[0].try_send_on(net.now, 0, &over).is_err());
    peers[0].send(net.now, &full);
    let events = run(&mut net, &mut endpoint, &mut peers, |_, es| {
        es.iter().any(|e| matches!(e, Event::Message { .. }))
    });
    let got = events.iter().find_map(|e| match e {
        Event::Message { data, .. } => Some(data.to_vec()),
        _ => None,
    });
    assert_eq!(got, Some(full));
}

#[test]
fn by_default_the_answer_advertises_the_default_max_message_size() {
    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let mut net = Network::new(SERVER);
    let (_peer, answer, id, _channel) = connect_one(&mut net, &mut endpoint, 50031);
    let advertised = format!("a=max-message-size:{}\r\n", rtc::DEFAULT_MAX_MESSAGE_SIZE);
    assert!(answer.contains(&advertised), "{answer}");
    assert_eq!(
        endpoint.max_message_size(id),
        Some(rtc::DEFAULT_MAX_MESSAGE_SIZE)
    );
}

#[test]
fn a_new_connection_from_the_address_of_a_dead_one_connects_and_the_dead_one_is_dropped() {
    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let mut net = Network::new(SERVER);
    // The first browser goes away without a word; its connection lives on in the endpoint.
    let (gone, _, gone_id, channel) = connect_one(&mut net, &mut endpoint, 50031);
    drop(gone);
    while endpoint.poll_event().is_some() {}

    // A new browser gets the same port. Its STUN checks name the new connection, so they must
    // reach it, not the dead one that owned the address.
    let (mut peer, offer) = TestPeer::new(at(50031));
    let (id, answer) = endpoint.accept_offer(net.now, &offer).unwrap();
    peer.accept_answer(&answer);
    let mut peers = vec![peer];
    let events = run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        ps[0].open_channels() == 1
    });
    let closed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Closed { connection, reason } => Some((*connection, reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        vec![(gone_id, "its address was taken by a new connection")]
    );
    assert_eq!(endpoint.connection_count(), 1);

    let (_, channel_of_new, _) = opened(&events)
        .into_iter()
        .find(|(c, _, _)| *c == id)
        .expect("the new connection's channel opens");
    endpoint
        .send(net.now, id, channel_of_new, b"to the new one")
        .unwrap();
    let mut got = Vec::new();
    run(&mut net, &mut endpoint, &mut peers, |ps, _| {
        got.extend(ps[0].take_received());
        !got.is_empty()
    });
    assert_eq!(got, vec![b"to the new one".to_vec()]);
    assert!(matches!(
        endpoint.send(net.now, gone_id, channel, b"x"),
        Err(rtc::Error::UnknownChannel)
    ));
}

#[test]
fn an_offer_of_ours_is_answered_and_its_channel_opens_and_carries_messages() {
    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let mut net = Network::new(SERVER);
    let (id, offer) = endpoint.create_offer(net.now, "swarmcast").unwrap();
    assert!(offer.contains("a=ice-lite"), "{offer}");
    assert!(offer.contains("127.0.0.1 40000 typ host"), "{offer}");
    assert!(offer.contains("m=application"), "{offer}");
    let (peer, answer) = TestPeer::answering(at(50041), &offer);
    endpoint.accept_answer(net.now, id, &answer).unwrap();
    let mut peers = vec![peer];
    let events = run(&mut net, &mut endpoint, &mut peers, |ps, es| {
        ps[0].open_channels() == 1 && !opened(es).is_empty()
    });
    let (connection, channel, label) = opened(&events).pop().unwrap();
    assert_eq!((connection, label.as_str()), (id, "swarmcast"));
    endpoint.send(net.now, id, channel, b"from us").unwrap();
    peers[0].send(net.now, b"from them");
    let mut got = Vec::new();
    let events = run(&mut net, &mut endpoint, &mut peers, |ps, es| {
        got.extend(ps[0].take_received());
        !got.is_empty() && es.iter().any(|e| matches!(e, Event::Message { .. }))
    });
    assert_eq!(got, vec![b"from us".to_vec()]);
    assert!(events.iter().any(
        |e| matches!(e, Event::Message { connection, data, .. } if *connection == id && &data[..] == b"from them")
    ));
}

#[test]
fn answers_to_unknown_connections_and_garbage_answers_are_refused() {
    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let now = Instant::now();
    assert!(matches!(
        endpoint.accept_answer(now, 99, "v=0"),
        Err(rtc::Error::UnknownChannel)
    ));
    let (id, _) = endpoint.create_offer(now, "x").unwrap();
    assert!(matches!(
        endpoint.accept_answer(now, id, "not sdp"),
        Err(rtc::Error::InvalidAnswer(_))
    ));
}

#[test]
fn an_unanswered_offer_is_dropped_at_the_connect_timeout() {
    let mut config = EndpointConfig::new(SERVER);
    config.connect_timeout = Duration::from_secs(5);
    let mut endpoint = Endpoint::new(config).unwrap();
    let start = Instant::now();
    endpoint.create_offer(start, "x").unwrap();
    assert_eq!(endpoint.connection_count(), 1);
    endpoint.handle_timeout(start + Duration::from_secs(5));
    assert_eq!(endpoint.connection_count(), 0);
}

/// Counts the endpoint's datagrams on their way to the peers.
struct Counting<'a> {
    endpoint: &'a mut Endpoint,
    sent: usize,
}

impl rtc::testing::Server for Counting<'_> {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.endpoint.handle_datagram(now, from, datagram);
    }
    fn poll_transmit(&mut self) -> Option<rtc::Transmit> {
        let t = self.endpoint.poll_transmit()?;
        self.sent += 1;
        Some(t)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
    }
}

#[test]
fn a_message_of_whole_chunks_takes_one_datagram_per_chunk_and_a_byte_more_takes_another() {
    assert_eq!(rtc::whole_chunks_within(8192, None), 7 * 1160);
    assert_eq!(rtc::whole_chunks_within(16 * 1024, None), 14 * 1160);
    assert_eq!(
        rtc::whole_chunks_within(1000, None),
        1000,
        "below one chunk"
    );
    // A 1400-byte packet carries 1400 - 12 - 16 = 1372 bytes of data.
    assert_eq!(rtc::whole_chunks_within(8192, Some(1400)), 5 * 1372);

    let mut endpoint = Endpoint::new(EndpointConfig::new(SERVER)).unwrap();
    let mut net = Network::new(SERVER);
    let (peer, _, id, channel) = connect_one(&mut net, &mut endpoint, 50031);
    let mut peers = vec![peer];
    let mut datagrams_for = |len: usize| {
        let message = vec![7u8; len];
        endpoint.send(net.now, id, channel, &message).unwrap();
        let mut counting = Counting {
            endpoint: &mut endpoint,
            sent: 0,
        };
        let mut got = Vec::new();
        let arrived = net.run_until(&mut counting, &mut peers, 200, |_, ps| {
            got.extend(ps[0].take_received());
            !got.is_empty()
        });
        assert!(arrived && got == vec![message], "the message arrives whole");
        counting.sent
    };
    let whole = rtc::whole_chunks_within(8192, None);
    assert_eq!(datagrams_for(whole), 7);
    assert_eq!(datagrams_for(whole + 1), 8);
}
