//! Property tests: the decoder never panics on any input, and every command we encode decodes
//! back to itself through the framing at any message size.

use super::*;
use proptest::prelude::*;

const MAX_JS_INT: i64 = 1 << 53;

fn id() -> impl Strategy<Value = i64> {
    prop_oneof![0..1000i64, 0..MAX_JS_INT]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (
            proptest::collection::vec(id(), 0..600),
            proptest::collection::vec(id(), 0..20)
        )
            .prop_map(|(loaded, http_loading)| Command::SegmentsAnnouncement {
                loaded,
                http_loading
            }),
        (id(), id(), 0..MAX_JS_INT as u64).prop_map(|(segment, request, byte_from)| {
            Command::SegmentRequest {
                segment,
                request,
                byte_from,
            }
        }),
        (id(), id(), 0..MAX_JS_INT as u64).prop_map(|(segment, request, size)| {
            Command::SegmentData {
                segment,
                request,
                size,
            }
        }),
        (
            id(),
            id(),
            0..MAX_JS_INT as u64,
            1..1_000_000u64,
            any::<bool>()
        )
            .prop_map(|(segment, request, byte_from, length, queued)| {
                Command::PartRequest {
                    segment,
                    request,
                    byte_from,
                    byte_to: byte_from + length,
                    queued,
                }
            }),
        (id(), id(), 0..MAX_JS_INT as u64, 0..MAX_JS_INT as u64).prop_map(
            |(segment, request, size, total)| Command::PartData {
                segment,
                request,
                size,
                total,
            }
        ),
        (0..16u64).prop_map(|flags| Command::ExtensionHello { flags }),
        (id(), id()).prop_map(|(segment, request)| Command::SegmentDataSendingCompleted {
            segment,
            request
        }),
        (id(), id()).prop_map(|(segment, request)| Command::SegmentAbsent { segment, request }),
        (id(), id())
            .prop_map(|(segment, request)| Command::CancelSegmentRequest { segment, request }),
    ]
}

/// Messages that look like commands often enough to reach deep into the decoder.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        Just(b"cstr".to_vec()),
        Just(b"dstr".to_vec()),
        Just(Vec::new())
    ];
    let end = prop_oneof![
        Just(b"cend".to_vec()),
        Just(b"dend".to_vec()),
        Just(Vec::new())
    ];
    let body = proptest::collection::vec(
        prop_oneof![
            any::<u8>(),
            Just(0x01),
            Just(0x10),
            Just(0x0f),
            Just(b'l'),
            Just(b'i')
        ],
        0..80,
    );
    (start, body, end).prop_map(|(mut s, b, e)| {
        s.extend(b);
        s.extend(e);
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics(messages in proptest::collection::vec(message(), 1..8)) {
        let mut decoder = MessageDecoder::default();
        for m in &messages {
            let _ = decoder.decode(m);
        }
    }

    #[test]
    fn body_decoder_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Command::decode_body(&body);
    }

    #[test]
    fn encoded_commands_decode_to_themselves(command in command(), max in 64usize..70000) {
        let messages = encode(&command, max);
        let mut decoder = MessageDecoder::new(1 << 22);
        let mut decoded = None;
        for m in &messages {
            prop_assert!(m.len() <= max);
            if let Incoming::Command(c) = decoder.decode(m).unwrap() {
                decoded = Some(c);
            }
        }
        match (command, decoded) {
            // Ids come back grouped by their high bits, so compare them as sorted lists; ids
            // past 255 groups are left out by design (never more than 255 * 255 fit).
            (
                Command::SegmentsAnnouncement { loaded, http_loading },
                Some(Command::SegmentsAnnouncement { loaded: l2, http_loading: p2 }),
            ) => {
                for (mut sent, mut got) in [(loaded, l2), (http_loading, p2)] {
                    sent.sort_unstable();
                    got.sort_unstable();
                    if sent.len() <= MAX_GROUPS {
                        prop_assert_eq!(sent, got);
                    } else {
                        prop_assert!(got.iter().all(|n| sent.binary_search(n).is_ok()));
                    }
                }
            }
            (command, decoded) => prop_assert_eq!(decoded, Some(command)),
        }
    }
}
