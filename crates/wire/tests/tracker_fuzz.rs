//! Property-based fuzzing of the tracker codec: arbitrary input never panics, every rejected
//! frame yields an error frame that clients accept, and valid messages round-trip exactly.

use proptest::prelude::*;
use wire::tracker::*;

fn id20() -> impl Strategy<Value = Id20> {
    prop::array::uniform20(any::<u8>()).prop_map(Id20)
}

fn offer_id() -> impl Strategy<Value = OfferId> {
    prop::collection::vec(any::<u8>(), 1..=MAX_OFFER_ID_LEN)
        .prop_map(|b| OfferId::from_bytes(&b).unwrap())
}

fn signal(kind: &'static str) -> impl Strategy<Value = Signal> {
    ".{0,64}".prop_map(move |sdp| Signal::new(kind, &sdp))
}

fn event() -> impl Strategy<Value = AnnounceEvent> {
    prop_oneof![
        Just(AnnounceEvent::Started),
        Just(AnnounceEvent::Stopped),
        Just(AnnounceEvent::Completed),
        Just(AnnounceEvent::Update),
    ]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    let announce = (
        id20(),
        id20(),
        event(),
        prop::option::of(0u32..1000),
        prop::collection::vec((offer_id(), signal("offer")), 0..4),
    )
        .prop_map(|(info_hash, peer_id, event, left, offers)| {
            let offers: Vec<Offer> = offers
                .into_iter()
                .map(|(offer_id, offer)| Offer { offer_id, offer })
                .collect();
            ClientMessage::Announce(AnnounceRequest {
                info_hash,
                peer_id,
                event,
                left: left.map(f64::from),
                numwant: Some(offers.len() as f64),
                offers,
            })
        });
    let answer = (id20(), id20(), id20(), offer_id(), signal("answer")).prop_map(
        |(info_hash, peer_id, to_peer_id, offer_id, answer)| {
            ClientMessage::Answer(AnswerRequest {
                info_hash,
                peer_id,
                to_peer_id,
                offer_id,
                answer,
            })
        },
    );
    let scrape = prop::collection::vec(id20(), 0..4).prop_map(|list| {
        ClientMessage::Scrape(if list.is_empty() {
            ScrapeRequest::All
        } else {
            ScrapeRequest::InfoHashes(list)
        })
    });
    let stats = (id20(), id20(), "[ -~]{1,80}", any::<[u32; 10]>()).prop_map(
        |(info_hash, peer_id, channel, n)| {
            ClientMessage::Stats(StatsReport {
                info_hash,
                peer_id,
                channel,
                http_down: n[0].into(),
                p2p_down: n[1].into(),
                p2p_up: n[2].into(),
                peers: n[3].into(),
                rebuffers: n[4].into(),
                quality: QualityCounters {
                    errors_http: n[5].into(),
                    errors_peer: n[6].into(),
                    errors_superpeer: n[7].into(),
                    bad_segments: n[8].into(),
                    banned_peers: n[9].into(),
                },
                qoe: (n[0] % 3 != 0).then(|| QoeReport {
                    group: if n[1] % 2 == 0 {
                        QoeGroup::P2p
                    } else {
                        QoeGroup::Control
                    },
                    tag: if n[2] % 2 == 0 {
                        String::new()
                    } else {
                        "tag".into()
                    },
                    startup_ms: (n[3] % 2 == 0).then_some(u64::from(n[3]) % 3_600_000),
                    play_ms: n[4].into(),
                    rebuffer_ms: n[5].into(),
                    played_kbit: n[6].into(),
                }),
            })
        },
    );
    prop_oneof![announce, answer, scrape, stats]
}

/// JSON documents shaped like client frames, with fields of random types.
fn json_like() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| if n.is_finite() {
            n.to_string()
        } else {
            "0".into()
        }),
        ".{0,24}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        id20().prop_map(|i| serde_json::to_string(&i).unwrap()),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z_]{1,10}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    });
    let field_names = prop::sample::select(vec![
        "action",
        "info_hash",
        "peer_id",
        "event",
        "left",
        "numwant",
        "offers",
        "answer",
        "to_peer_id",
        "offer_id",
        "channel",
        "http_down",
        "peers",
        "offer",
        "type",
        "sdp",
    ]);
    let actions = prop::sample::select(vec![
        "\"announce\"",
        "\"scrape\"",
        "\"stats\"",
        "\"other\"",
        "1",
    ]);
    (actions, prop::collection::vec((field_names, value), 0..8)).prop_map(|(action, fields)| {
        let mut parts = vec![format!("\"action\":{action}")];
        parts.extend(fields.iter().map(|(k, v)| format!("\"{k}\":{v}")));
        format!("{{{}}}", parts.join(","))
    })
}

fn check_error_frame(err: DecodeError) {
    let json = encode_server(&ServerMessage::Error(err.into_server_error()));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(matches!(
        v["action"].as_str(),
        Some("announce" | "scrape" | "stats")
    ));
    assert!(v["info_hash"].is_string());
    assert!(v["failure reason"].is_string());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = decode_client(&bytes) {
            check_error_frame(e);
        }
        let _ = decode_server(&bytes);
    }

    #[test]
    fn json_shaped_frames_decode_or_yield_accepted_error_frames(frame in json_like()) {
        match decode_client(frame.as_bytes()) {
            Ok(msg) => {
                let again = encode_client(&msg);
                prop_assert!(decode_client(again.as_bytes()).is_ok(), "{}", again);
            }
            Err(e) => check_error_frame(e),
        }
    }

    #[test]
    fn client_messages_round_trip(msg in client_message()) {
        let json = encode_client(&msg);
        prop_assert_eq!(decode_client(json.as_bytes()).unwrap(), msg);
    }

    #[test]
    fn truncated_frames_never_panic(msg in client_message(), cut in 0usize..400) {
        let json = encode_client(&msg);
        let cut = cut.min(json.len());
        if let Err(e) = decode_client(&json.as_bytes()[..cut]) {
            check_error_frame(e);
        }
    }

    #[test]
    fn relayed_offers_carry_ids_exactly(info_hash in id20(), peer_id in id20(), offer_id in offer_id(), offer in signal("offer")) {
        let msg = ServerMessage::Offer(ForwardedOffer { info_hash, peer_id, offer_id, offer });
        let json = encode_server(&msg);
        prop_assert_eq!(decode_server(json.as_bytes()).unwrap(), msg);
    }
}
