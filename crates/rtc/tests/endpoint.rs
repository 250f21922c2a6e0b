//! The endpoint against in-process webrtc-rs clients: several connections share one "socket"
//! (one local address), each opens its in-band channel and exchanges binary messages; garbage
//! datagrams from anywhere never panic and never disturb the others.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::{Endpoint, EndpointConfig, Event};
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

struct Client {
    pc: RTCPeerConnection,
    addr: SocketAddr,
    channel: Option<usize>,
    received: Vec<Vec<u8>>,
}

fn client(addr: SocketAddr) -> (Client, String) {
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(true)
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_setting_engine(settings)
        .build(Instant::now())
        .unwrap();
    pc.create_data_channel("0123456789abcdef0123456789abcdef01234567", None)
        .unwrap();
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
    .unwrap();
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().unwrap())
        .unwrap();
    let offer = pc.create_offer(None).unwrap();
    pc.set_local_description(Instant::now(), offer.clone())
        .unwrap();
    (
        Client {
            pc,
            addr,
            channel: None,
            received: Vec::new(),
        },
        offer.sdp,
    )
}

fn transport(local: SocketAddr, peer: SocketAddr) -> TransportContext {
    TransportContext {
        local_addr: local,
        peer_addr: peer,
        ecn: None,
        transport_protocol: TransportProtocol::UDP,
    }
}

/// Moves datagrams both ways and runs timers until `done` or the step budget runs out.
fn run(
    endpoint: &mut Endpoint,
    clients: &mut [Client],
    server: SocketAddr,
    mut done: impl FnMut(&[Client], &[Event]) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut now = Instant::now();
    for _ in 0..2000 {
        for c in clients.iter_mut() {
            while let Some(t) = c.pc.poll_write() {
                endpoint.handle_datagram(now, c.addr, &t.message);
            }
            while let Some(e) = c.pc.poll_event() {
                if let RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) = e {
                    c.channel = Some(id);
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = c.pc.poll_read() {
                if let RTCMessage::DataChannelMessage(_, m) = message {
                    c.received.push(m.data.to_vec());
                }
            }
        }
        while let Some(t) = endpoint.poll_transmit() {
            if let Some(c) = clients.iter_mut().find(|c| c.addr == t.destination) {
                let _ = c.pc.handle_read(TaggedBytesMut {
                    now,
                    transport: transport(c.addr, server),
                    message: t.contents,
                });
            }
        }
        while let Some(e) = endpoint.poll_event() {
            events.push(e);
        }
        if done(clients, &events) {
            return events;
        }
        now += Duration::from_millis(5);
        endpoint.handle_timeout(now);
        for c in clients.iter_mut() {
            let _ = c.pc.handle_timeout(now);
        }
    }
    panic!("did not settle; events so far: {events:?}");
}

#[test]
fn several_connections_share_one_address_and_exchange_messages() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut endpoint = Endpoint::new(EndpointConfig::new(server)).unwrap();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for port in [50001, 50002, 50003] {
        let (mut c, offer) = client(SocketAddr::from(([127, 0, 0, 1], port)));
        let (id, answer) = endpoint.accept_offer(Instant::now(), &offer).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("127.0.0.1 40000 typ host"), "{answer}");
        c.pc.set_remote_description(
            Instant::now(),
            RTCSessionDescription::answer(answer).unwrap(),
        )
        .unwrap();
        clients.push(c);
        ids.push(id);
    }
    // Garbage from strangers and from a known client must change nothing.
    endpoint.handle_datagram(
        Instant::now(),
        "127.0.0.1:9".parse().unwrap(),
        b"\x00\x01\x00\x00garbage",
    );
    let events = run(&mut endpoint, &mut clients, server, |cs, _| {
        cs.iter().all(|c| c.channel.is_some())
    });
    let opened: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelOpen {
                connection, label, ..
            } => Some((*connection, label.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 3, "{events:?}");
    assert!(opened.iter().all(|(_, l)| l.len() == 40));
    endpoint.handle_datagram(Instant::now(), clients[0].addr, &[0xff; 300]);

    // Each connection gets its own message.
    for (n, (connection, _)) in opened.iter().enumerate() {
        let channel = events
            .iter()
            .find_map(|e| match e {
                Event::ChannelOpen {
                    connection: c,
                    channel,
                    ..
                } if c == connection => Some(*channel),
                _ => None,
            })
            .unwrap();
        endpoint
            .send(
                Instant::now(),
                *connection,
                channel,
                format!("to {n}").as_bytes(),
            )
            .unwrap();
    }
    run(&mut endpoint, &mut clients, server, |cs, _| {
        cs.iter().all(|c| !c.received.is_empty())
    });
    let mut got: Vec<String> = clients
        .iter()
        .map(|c| String::from_utf8(c.received[0].clone()).unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["to 0", "to 1", "to 2"]);
    assert_eq!(endpoint.connection_count(), 3);

    // Client to server.
    let ch = clients[1].channel.unwrap();
    clients[1]
        .pc
        .data_channel(ch)
        .unwrap()
        .send(Instant::now(), BytesMut::from(&b"hello"[..]))
        .unwrap();
    let events = run(&mut endpoint, &mut clients, server, |_, es| {
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
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut config = EndpointConfig::new(server);
    config.connect_timeout = Duration::from_secs(5);
    let mut endpoint = Endpoint::new(config).unwrap();
    let start = Instant::now();
    let mut ids = Vec::new();
    for port in [50011, 50012] {
        let (_client, offer) = client(SocketAddr::from(([127, 0, 0, 1], port)));
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

/// Opens one connection to `endpoint` and returns the client, the connection and its channel.
fn connect_one(
    endpoint: &mut Endpoint,
    server: SocketAddr,
    port: u16,
) -> (Client, String, rtc::ConnectionId, rtc::ChannelId) {
    let (mut c, offer) = client(SocketAddr::from(([127, 0, 0, 1], port)));
    let (id, answer) = endpoint.accept_offer(Instant::now(), &offer).unwrap();
    c.pc.set_remote_description(
        Instant::now(),
        RTCSessionDescription::answer(answer.clone()).unwrap(),
    )
    .unwrap();
    let mut clients = vec![c];
    let events = run(endpoint, &mut clients, server, |cs, _| {
        cs[0].channel.is_some()
    });
    let channel = events
        .iter()
        .find_map(|e| match e {
            Event::ChannelOpen { channel, .. } => Some(*channel),
            _ => None,
        })
        .expect("the channel opens");
    (clients.pop().unwrap(), answer, id, channel)
}

#[test]
fn the_configured_max_message_size_is_advertised_and_enforced_both_ways() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut config = EndpointConfig::new(server);
    config.max_message_size = 16 * 1024;
    let mut endpoint = Endpoint::new(config).unwrap();
    let (client, answer, id, channel) = connect_one(&mut endpoint, server, 50021);
    assert!(answer.contains("a=max-message-size:16384\r\n"), "{answer}");
    // The client offered webrtc-rs's default (64 KiB); the smaller value wins.
    assert_eq!(endpoint.max_message_size(id), Some(16 * 1024));
    let mut clients = vec![client];

    // A message at the limit goes through whole.
    let full: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    endpoint.send(Instant::now(), id, channel, &full).unwrap();
    run(&mut endpoint, &mut clients, server, |cs, _| {
        !cs[0].received.is_empty()
    });
    assert_eq!(clients[0].received, vec![full.clone()]);

    // One byte more is refused, with the sizes, and the connection lives on.
    let over = vec![0u8; 16 * 1024 + 1];
    match endpoint.send(Instant::now(), id, channel, &over) {
        Err(rtc::Error::MessageTooLarge { len, max }) => {
            assert_eq!((len, max), (16 * 1024 + 1, 16 * 1024));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    endpoint
        .send(Instant::now(), id, channel, b"still open")
        .unwrap();
    run(&mut endpoint, &mut clients, server, |cs, _| {
        cs[0].received.len() == 2
    });
    assert_eq!(clients[0].received[1], b"still open");

    // The browser side learns the limit from our answer: at the limit arrives, over it is
    // refused by its own stack.
    let ch = clients[0].channel.unwrap();
    let mut dc = clients[0].pc.data_channel(ch).unwrap();
    assert!(dc.send(Instant::now(), BytesMut::from(&over[..])).is_err());
    dc.send(Instant::now(), BytesMut::from(&full[..])).unwrap();
    let events = run(&mut endpoint, &mut clients, server, |_, es| {
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
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut endpoint = Endpoint::new(EndpointConfig::new(server)).unwrap();
    let (_client, answer, id, _channel) = connect_one(&mut endpoint, server, 50031);
    let advertised = format!("a=max-message-size:{}\r\n", rtc::DEFAULT_MAX_MESSAGE_SIZE);
    assert!(answer.contains(&advertised), "{answer}");
    assert_eq!(
        endpoint.max_message_size(id),
        Some(rtc::DEFAULT_MAX_MESSAGE_SIZE)
    );
}

#[test]
fn a_new_connection_from_the_address_of_a_dead_one_connects_and_the_dead_one_is_dropped() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut endpoint = Endpoint::new(EndpointConfig::new(server)).unwrap();
    // The first browser goes away without a word; its connection lives on in the endpoint.
    let (gone, _, gone_id, channel) = connect_one(&mut endpoint, server, 50031);
    drop(gone);
    while endpoint.poll_event().is_some() {}

    // A new browser gets the same port. Its STUN checks name the new connection, so they must
    // reach it, not the dead one that owned the address.
    let (mut c, offer) = client(SocketAddr::from(([127, 0, 0, 1], 50031)));
    let (id, answer) = endpoint.accept_offer(Instant::now(), &offer).unwrap();
    c.pc.set_remote_description(
        Instant::now(),
        RTCSessionDescription::answer(answer).unwrap(),
    )
    .unwrap();
    let mut clients = vec![c];
    let events = run(&mut endpoint, &mut clients, server, |cs, _| {
        cs[0].channel.is_some()
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

    let channel_of_new = events
        .iter()
        .find_map(|e| match e {
            Event::ChannelOpen {
                connection,
                channel,
                ..
            } if *connection == id => Some(*channel),
            _ => None,
        })
        .expect("the new connection's channel opens");
    endpoint
        .send(Instant::now(), id, channel_of_new, b"to the new one")
        .unwrap();
    run(&mut endpoint, &mut clients, server, |cs, _| {
        !cs[0].received.is_empty()
    });
    assert_eq!(clients[0].received, vec![b"to the new one".to_vec()]);
    assert!(matches!(
        endpoint.send(Instant::now(), gone_id, channel, b"x"),
        Err(rtc::Error::UnknownChannel)
    ));
}
