//! The tracker codec against frames as real clients and servers write them.

use wire::tracker::*;

fn id(s: &str) -> Id20 {
    Id20::from_binary_str(s).unwrap()
}

const HASH: &str = "LF5ru/aNcTeuFIVnksyB";
const PEER: &str = "-PM0203-abcdefghijkl";

#[test]
fn decodes_a_bittorrent_tracker_announce_with_offers_and_binary_offer_ids() {
    let frame = format!(
        r#"{{"numwant":5,"uploaded":0,"downloaded":0,"event":"started","action":"announce",
        "info_hash":"{HASH}","peer_id":"{PEER}","offers":[
        {{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":"\u0000\u0001\u007fÿé€ab345678901234"}}]}}"#
    )
    .replace("€", "\u{80}");
    let ClientMessage::Announce(a) = decode_client(frame.as_bytes()).unwrap() else {
        panic!("not an announce")
    };
    assert_eq!(a.info_hash, id(HASH));
    assert_eq!(a.peer_id, id(PEER));
    assert_eq!(a.event, AnnounceEvent::Started);
    assert_eq!(a.numwant, Some(5.0));
    assert_eq!(a.left, None);
    assert_eq!(a.offers.len(), 1);
    let offer_id = a.offers[0].offer_id.as_bytes();
    assert_eq!(&offer_id[..6], &[0x00, 0x01, 0x7f, 0xff, 0xe9, 0x80]);
    assert_eq!(offer_id.len(), 20);
    assert_eq!(
        a.offers[0].offer.json(),
        r#"{"type":"offer","sdp":"v=0\r\n"}"#
    );
    assert_eq!(a.offers[0].offer.sdp().as_deref(), Some("v=0\r\n"));
    assert_eq!(a.offers[0].offer.kind().as_deref(), Some("offer"));
}

#[test]
fn null_fields_are_absent_as_the_aquatic_load_tester_sends_them() {
    let frame = format!(
        r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","event":"completed",
        "left":0,"numwant":null,"offers":null,"answer":null,"to_peer_id":null,"offer_id":null}}"#
    );
    let ClientMessage::Announce(a) = decode_client(frame.as_bytes()).unwrap() else {
        panic!("not an announce")
    };
    assert_eq!(a.event, AnnounceEvent::Completed);
    assert_eq!(a.left, Some(0.0));
    assert!(a.offers.is_empty());
}

#[test]
fn unknown_events_mean_update_and_left_is_any_number() {
    for (event, left, expect_left) in [
        (r#""empty""#, "-1", Some(-1.0)),
        (r#""paused""#, "1.5", Some(1.5)),
        (r#""<regular>""#, r#""12""#, Some(12.0)),
        ("7", "true", None),
        ("null", "null", None),
    ] {
        let frame = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","event":{event},"left":{left}}}"#
        );
        let ClientMessage::Announce(a) = decode_client(frame.as_bytes()).unwrap() else {
            panic!("not an announce")
        };
        assert_eq!(a.event, AnnounceEvent::Update, "{frame}");
        assert_eq!(a.left, expect_left, "{frame}");
    }
}

#[test]
fn decodes_answers_with_any_offer_id_length() {
    let frame = format!(
        r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","to_peer_id":"-PM0203-zzzzzzzzzzzz",
        "answer":{{"type":"answer","sdp":"x"}},"offer_id":"seventeen-chars-x"}}"#
    );
    let ClientMessage::Answer(a) = decode_client(frame.as_bytes()).unwrap() else {
        panic!("not an answer")
    };
    assert_eq!(a.to_peer_id, id("-PM0203-zzzzzzzzzzzz"));
    assert_eq!(a.offer_id.as_bytes(), b"seventeen-chars-x");
    assert_eq!(a.answer.sdp().as_deref(), Some("x"));
}

#[test]
fn decodes_scrapes_single_list_and_full() {
    let one = format!(r#"{{"action":"scrape","info_hash":"{HASH}"}}"#);
    let many = format!(r#"{{"action":"scrape","info_hash":["{HASH}","{PEER}"]}}"#);
    assert_eq!(
        decode_client(one.as_bytes()).unwrap(),
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![id(HASH)]))
    );
    assert_eq!(
        decode_client(many.as_bytes()).unwrap(),
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![id(HASH), id(PEER)]))
    );
    assert_eq!(
        decode_client(br#"{"action":"scrape"}"#).unwrap(),
        ClientMessage::Scrape(ScrapeRequest::All)
    );
}

#[test]
fn decodes_and_validates_stats_reports() {
    let frame = format!(
        r#"{{"action":"stats","info_hash":"{HASH}","peer_id":"{PEER}","channel":"https://cdn.example/live.m3u8",
        "http_down":1000,"p2p_down":2000,"p2p_up":300,"peers":4,"rebuffers":1}}"#
    );
    let ClientMessage::Stats(s) = decode_client(frame.as_bytes()).unwrap() else {
        panic!("not stats")
    };
    assert_eq!(s.channel, "https://cdn.example/live.m3u8");
    assert_eq!(
        (s.http_down, s.p2p_down, s.p2p_up, s.peers, s.rebuffers),
        (1000, 2000, 300, 4, 1)
    );
    let negative = frame.replace("\"p2p_up\":300", "\"p2p_up\":-3");
    let err = decode_client(negative.as_bytes()).unwrap_err();
    assert_eq!(err.action, Action::Stats);
    assert_eq!(err.info_hash, HASH);
    assert!(err.reason.contains("p2p_up"), "{}", err.reason);
    let long = frame.replace("https://cdn.example/live.m3u8", &"x".repeat(600));
    assert!(decode_client(long.as_bytes()).is_err());
}

#[test]
fn decodes_and_validates_the_qoe_object() {
    let frame = |qoe: &str| {
        format!(
            r#"{{"action":"stats","info_hash":"{HASH}","peer_id":"{PEER}","channel":"c","qoe":{qoe}}}"#
        )
    };
    let ok = frame(
        r#"{"group":"p2p","tag":"t1","startup_ms":900,"play_ms":5000,"rebuffer_ms":0,"played_kbit":7500}"#,
    );
    let ClientMessage::Stats(s) = decode_client(ok.as_bytes()).unwrap() else {
        panic!("not stats")
    };
    let q = s.qoe.unwrap();
    assert_eq!((q.group, q.tag.as_str()), (QoeGroup::P2p, "t1"));
    assert_eq!(
        (q.startup_ms, q.play_ms, q.rebuffer_ms, q.played_kbit),
        (Some(900), 5000, 0, 7500)
    );
    // Not started yet: no startup time, counters absent = 0.
    let ClientMessage::Stats(s) =
        decode_client(frame(r#"{"group":"control"}"#).as_bytes()).unwrap()
    else {
        panic!("not stats")
    };
    assert_eq!(s.qoe.unwrap().startup_ms, None);
    for (qoe, says) in [
        (r#"{}"#, "qoe.group"),
        (r#"{"group":"cdn"}"#, "qoe.group"),
        (
            r#"{"group":"p2p","tag":"012345678901234567890"}"#,
            "qoe.tag",
        ),
        (r#"{"group":"p2p","tag":"a\nb"}"#, "qoe.tag"),
        (r#"{"group":"p2p","startup_ms":-1}"#, "qoe.startup_ms"),
        (r#"{"group":"p2p","startup_ms":3600001}"#, "qoe.startup_ms"),
        (r#"{"group":"p2p","play_ms":"x"}"#, "qoe.play_ms"),
    ] {
        let err = decode_client(frame(qoe).as_bytes()).unwrap_err();
        assert_eq!(err.action, Action::Stats, "{qoe}");
        assert!(err.reason.contains(says), "{qoe}: {}", err.reason);
    }
    // Not an object at all: still a stats error, naming the frame's action.
    let err = decode_client(frame("[1]").as_bytes()).unwrap_err();
    assert_eq!(err.action, Action::Stats);
}

#[test]
fn errors_always_carry_action_and_info_hash() {
    let cases: Vec<(String, Action, &str)> = vec![
        ("not json".into(), Action::Announce, ""),
        ("[1,2]".into(), Action::Announce, ""),
        (r#"{"action":"announce"}"#.into(), Action::Announce, ""),
        (
            format!(r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"short"}}"#),
            Action::Announce,
            HASH,
        ),
        (
            format!(r#"{{"action":"announce","info_hash":"{HASH}"}}"#),
            Action::Announce,
            HASH,
        ),
        (
            format!(r#"{{"action":"scrape","info_hash":["{HASH}", 5]}}"#),
            Action::Scrape,
            HASH,
        ),
        (
            format!(r#"{{"action":"dance","info_hash":"{HASH}"}}"#),
            Action::Announce,
            HASH,
        ),
        (
            r#"{"action":"announce","info_hash":"ĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀ","peer_id":"x"}"#.into(),
            Action::Announce,
            "ĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀ",
        ),
        (
            format!(
                r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","answer":{{}}}}"#
            ),
            Action::Announce,
            HASH,
        ),
        (
            format!(
                r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offers":[{{"offer":"sdp","offer_id":"x"}}]}}"#
            ),
            Action::Announce,
            HASH,
        ),
    ];
    for (frame, action, info_hash) in cases {
        let err = decode_client(frame.as_bytes()).unwrap_err();
        assert_eq!(err.action, action, "{frame}: {err}");
        assert_eq!(err.info_hash, info_hash, "{frame}: {err}");
        assert!(!err.reason.is_empty());
        let json = encode_server(&ServerMessage::Error(err.into_server_error()));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["action"], action.as_str());
        assert_eq!(v["info_hash"], info_hash);
        assert!(v["failure reason"].is_string());
    }
}

fn sample_client_messages() -> Vec<ClientMessage> {
    let mut binary = [0u8; 20];
    binary
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = 0xEC + i as u8);
    vec![
        ClientMessage::Announce(AnnounceRequest {
            info_hash: Id20(binary),
            peer_id: id(PEER),
            event: AnnounceEvent::Started,
            left: Some(0.0),
            numwant: Some(2.0),
            offers: vec![
                Offer {
                    offer_id: OfferId::from(Id20(binary)),
                    offer: Signal::new("offer", "v=0\r\na=x\r\n"),
                },
                Offer {
                    offer_id: OfferId::from_bytes(b"\x00\x7f\x80").unwrap(),
                    offer: Signal::new("offer", "\"quoted\""),
                },
            ],
        }),
        ClientMessage::Announce(AnnounceRequest {
            info_hash: id(HASH),
            peer_id: id(PEER),
            event: AnnounceEvent::Stopped,
            left: None,
            numwant: Some(0.0),
            offers: vec![],
        }),
        ClientMessage::Answer(AnswerRequest {
            info_hash: id(HASH),
            peer_id: id(PEER),
            to_peer_id: Id20(binary),
            offer_id: OfferId::from(Id20(binary)),
            answer: Signal::new("answer", "v=0"),
        }),
        ClientMessage::Scrape(ScrapeRequest::All),
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![id(HASH)])),
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(vec![id(HASH), Id20(binary)])),
        ClientMessage::Stats(StatsReport {
            info_hash: id(HASH),
            peer_id: id(PEER),
            channel: "https://x/y.m3u8".into(),
            http_down: 1,
            p2p_down: 2,
            p2p_up: 3,
            peers: 4,
            rebuffers: 5,
            quality: QualityCounters::default(),
            qoe: None,
        }),
        ClientMessage::Stats(StatsReport {
            info_hash: id(HASH),
            peer_id: id(PEER),
            channel: "https://x/y.m3u8".into(),
            http_down: 1,
            p2p_down: 2,
            p2p_up: 3,
            peers: 4,
            rebuffers: 5,
            quality: QualityCounters {
                errors_http: 6,
                errors_peer: 7,
                errors_superpeer: 8,
                bad_segments: 9,
                banned_peers: 10,
            },
            qoe: Some(QoeReport {
                group: QoeGroup::Control,
                tag: "beta-player".into(),
                startup_ms: Some(850),
                play_ms: 60_000,
                rebuffer_ms: 1200,
                played_kbit: 120_000,
            }),
        }),
    ]
}

#[test]
fn client_messages_round_trip() {
    for msg in sample_client_messages() {
        let json = encode_client(&msg);
        assert_eq!(decode_client(json.as_bytes()).unwrap(), msg, "{json}");
    }
}

#[test]
fn server_messages_round_trip_and_match_the_reference_shapes() {
    let offer = ServerMessage::Offer(ForwardedOffer {
        info_hash: id(HASH),
        peer_id: id(PEER),
        offer_id: OfferId::from(id(PEER)),
        offer: Signal::new("offer", "v=0"),
    });
    assert_eq!(
        encode_server(&offer),
        format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offer_id":"{PEER}","offer":{{"type":"offer","sdp":"v=0"}}}}"#
        )
    );
    let response = ServerMessage::AnnounceResponse(AnnounceResponse {
        info_hash: id(HASH),
        complete: 1,
        incomplete: 2,
        interval: 120,
    });
    assert_eq!(
        encode_server(&response),
        format!(
            r#"{{"action":"announce","info_hash":"{HASH}","complete":1,"incomplete":2,"interval":120}}"#
        )
    );
    let scrape = ServerMessage::Scrape(ScrapeResponse {
        files: vec![(
            id(HASH),
            ScrapeFile {
                complete: 1,
                incomplete: 0,
                downloaded: 0,
            },
        )],
        min_request_interval: Some(600),
    });
    assert_eq!(
        encode_server(&scrape),
        format!(
            r#"{{"action":"scrape","files":{{"{HASH}":{{"complete":1,"incomplete":0,"downloaded":0}}}},"flags":{{"min_request_interval":600}}}}"#
        )
    );
    let answer = ServerMessage::Answer(ForwardedAnswer {
        info_hash: id(HASH),
        peer_id: id(PEER),
        offer_id: OfferId::from_bytes(b"abc").unwrap(),
        answer: Signal::new("answer", "v=0"),
    });
    let error = ServerMessage::Error(ServerError {
        action: Action::Scrape,
        info_hash: HASH.into(),
        reason: "nope".into(),
    });
    for msg in [offer, response, scrape, answer, error] {
        let json = encode_server(&msg);
        assert_eq!(decode_server(json.as_bytes()).unwrap(), msg, "{json}");
    }
    assert!(decode_server(br#"{"failure reason":"x"}"#).is_err());
}
