//! Byte-exact vectors produced by P2P Media Loader 2.3.1's own serializer (and, where its
//! encoder is broken, by ours and checked against its decoder); the same file is checked on
//! the JavaScript side by `e2e/tests/wire-vectors.test.mjs`. Vectors whose encoder is "pml"
//! are bytes PML writes past the max message size: we decode them but never write them.

use serde_json::Value;
use wire::peer::{encode, Command, Incoming, MessageDecoder};

fn vectors() -> Vec<Value> {
    let text = include_str!("vectors/pml-commands.json");
    let file: Value = serde_json::from_str(text).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// The command in P2P Media Loader's JSON shape (`{c, i, r, b, s, l, p}`).
fn command_of(v: &Value) -> Command {
    let int = |k: &str| v[k].as_i64().unwrap();
    let unsigned = |k: &str| v[k].as_u64().unwrap_or(0);
    match v["c"].as_u64().unwrap() {
        0 => Command::SegmentsAnnouncement {
            loaded: ids(&v["l"]),
            http_loading: ids(&v["p"]),
        },
        1 => Command::SegmentRequest {
            segment: int("i"),
            request: int("r"),
            byte_from: unsigned("b"),
        },
        2 => Command::SegmentData {
            segment: int("i"),
            request: int("r"),
            size: unsigned("s"),
        },
        3 => Command::SegmentDataSendingCompleted {
            segment: int("i"),
            request: int("r"),
        },
        4 => Command::SegmentAbsent {
            segment: int("i"),
            request: int("r"),
        },
        5 => Command::CancelSegmentRequest {
            segment: int("i"),
            request: int("r"),
        },
        c => panic!("no vector for command {c}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn we_encode_exactly_the_reference_bytes() {
    for v in vectors().into_iter().filter(|v| v["encoder"] != "pml") {
        let expected: Vec<Vec<u8>> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| unhex(m.as_str().unwrap()))
            .collect();
        let max = v["maxMessageSize"].as_u64().unwrap() as usize;
        assert_eq!(
            encode(&command_of(&v["command"]), max),
            expected,
            "vector {}",
            v["name"]
        );
    }
}

#[test]
fn we_decode_the_reference_bytes() {
    for v in vectors() {
        let mut decoder = MessageDecoder::default();
        let mut decoded = None;
        for m in v["messages"].as_array().unwrap() {
            let bytes = unhex(m.as_str().unwrap());
            match decoder.decode(&bytes).unwrap() {
                Incoming::Command(c) => decoded = Some(c),
                Incoming::Partial => {}
                Incoming::Data(_) => panic!("vector {} read as data", v["name"]),
            }
        }
        let expected = v.get("decodesTo").unwrap_or(&v["command"]);
        assert_eq!(decoded, Some(command_of(expected)), "vector {}", v["name"]);
    }
}

#[test]
fn where_pml_overshoots_the_max_message_size_we_stay_within_it() {
    let overshooting: Vec<Value> = vectors()
        .into_iter()
        .filter(|v| v["encoder"] == "pml")
        .collect();
    assert!(!overshooting.is_empty());
    for v in overshooting {
        let max = v["maxMessageSize"].as_u64().unwrap() as usize;
        let command = command_of(&v["command"]);
        let messages = encode(&command, max);
        assert!(
            messages.iter().all(|m| m.len() <= max),
            "vector {}",
            v["name"]
        );
        let mut decoder = MessageDecoder::default();
        let decoded = messages
            .iter()
            .fold(None, |_, m| match decoder.decode(m).unwrap() {
                Incoming::Command(c) => Some(c),
                _ => None,
            });
        assert_eq!(decoded, Some(command), "vector {}", v["name"]);
    }
}
