use super::*;
use wire::peer::{Incoming, MessageDecoder};

/// The remote side as P2P Media Loader sees our messages: commands or raw data.
#[derive(Debug, PartialEq)]
enum Seen {
    Command(Command),
    Data(usize),
}

fn store_with(segments: &[(SegmentId, usize)]) -> SegmentStore {
    let mut store = SegmentStore::new();
    for &(id, len) in segments {
        store.insert(
            id,
            Bytes::from(
                (0..len)
                    .map(|i| (i % 251) as u8 + id as u8)
                    .collect::<Vec<_>>(),
            ),
        );
    }
    store
}

fn config(max_message_size: usize) -> SessionConfig {
    SessionConfig {
        max_message_size,
        ..SessionConfig::default()
    }
}

/// Drains everything the session wants to send, at most `limit` messages.
fn drain(session: &mut Session, limit: usize) -> (Vec<Seen>, Vec<u8>) {
    let mut decoder = MessageDecoder::default();
    let mut seen = Vec::new();
    let mut data = Vec::new();
    for _ in 0..limit {
        let Some(m) = session.poll_message() else {
            break;
        };
        match decoder.decode(&m).unwrap() {
            Incoming::Command(c) => seen.push(Seen::Command(c)),
            Incoming::Partial => {}
            Incoming::Data(d) => {
                seen.push(Seen::Data(d.len()));
                data.extend_from_slice(d);
            }
        }
    }
    (seen, data)
}

fn send(session: &mut Session, store: &SegmentStore, command: Command) {
    for m in encode(&command, 65535) {
        session.handle_message(&m, store).unwrap();
    }
}

#[test]
fn announces_on_open_and_on_store_change() {
    let mut store = store_with(&[(0, 10), (1, 10)]);
    let mut s = Session::new(SessionConfig::default());
    s.on_store_changed(&store);
    assert!(!s.wants_to_send(), "nothing before the channel opens");
    s.on_open(&store);
    let announce = |ids: Vec<i64>| {
        Seen::Command(Command::SegmentsAnnouncement {
            loaded: ids,
            http_loading: vec![],
        })
    };
    assert_eq!(drain(&mut s, 10).0, [announce(vec![0, 1])]);
    s.on_store_changed(&store);
    assert!(!s.wants_to_send(), "no change, no announcement");
    store.insert(7, Bytes::from_static(b"x"));
    s.on_store_changed(&store);
    store.insert(8, Bytes::from_static(b"y"));
    s.on_store_changed(&store);
    assert_eq!(
        drain(&mut s, 10).0,
        [announce(vec![0, 1, 7, 8])],
        "only the newest one is sent"
    );
}

#[test]
fn serves_a_request_in_chunks_then_completes() {
    let store = store_with(&[(3, 2500)]);
    let mut s = Session::new(config(1000));
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 3,
            request: 77,
            byte_from: 0,
        },
    );
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen,
        [
            Seen::Command(Command::SegmentData {
                segment: 3,
                request: 77,
                size: 2500
            }),
            Seen::Data(1000),
            Seen::Data(1000),
            Seen::Data(500),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 3,
                request: 77
            }),
        ]
    );
    assert_eq!(data, store.get(3).unwrap().as_ref());
    assert_eq!(s.stats().uploads_completed, 1);
    assert!(!s.wants_to_send());
}

#[test]
fn honours_the_resume_offset() {
    let store = store_with(&[(3, 2500)]);
    let mut s = Session::new(config(65535));
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 3,
            request: 1,
            byte_from: 2000,
        },
    );
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen[0],
        Seen::Command(Command::SegmentData {
            segment: 3,
            request: 1,
            size: 500
        })
    );
    assert_eq!(data, store.get(3).unwrap()[2000..]);
    // An offset past the end gives an empty transfer, as PML's slice does.
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 3,
            request: 2,
            byte_from: 9999,
        },
    );
    let (seen, _) = drain(&mut s, 100);
    assert_eq!(
        seen,
        [
            Seen::Command(Command::SegmentData {
                segment: 3,
                request: 2,
                size: 0
            }),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 3,
                request: 2
            }),
        ]
    );
}

#[test]
fn answers_absent_for_unknown_segments() {
    let store = store_with(&[(3, 10)]);
    let mut s = Session::new(SessionConfig::default());
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 4,
            request: 9,
            byte_from: 0,
        },
    );
    assert_eq!(
        drain(&mut s, 10).0,
        [Seen::Command(Command::SegmentAbsent {
            segment: 4,
            request: 9
        })]
    );
}

#[test]
fn a_new_request_replaces_the_upload_without_completed() {
    let store = store_with(&[(1, 3000), (2, 1500)]);
    let mut s = Session::new(config(1000));
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 1,
            request: 10,
            byte_from: 0,
        },
    );
    let (seen, _) = drain(&mut s, 2);
    assert_eq!(seen.len(), 2, "header and first chunk of segment 1");
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 2,
            request: 11,
            byte_from: 0,
        },
    );
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen.first(),
        Some(&Seen::Command(Command::SegmentData {
            segment: 2,
            request: 11,
            size: 1500
        }))
    );
    assert_eq!(
        seen.last(),
        Some(&Seen::Command(Command::SegmentDataSendingCompleted {
            segment: 2,
            request: 11
        }))
    );
    assert!(
        !seen.contains(&Seen::Command(Command::SegmentDataSendingCompleted {
            segment: 1,
            request: 10
        }))
    );
    assert_eq!(data, store.get(2).unwrap().as_ref());
}

#[test]
fn cancel_stops_the_matching_upload_only() {
    let store = store_with(&[(1, 5000)]);
    let mut s = Session::new(config(1000));
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 1,
            request: 10,
            byte_from: 0,
        },
    );
    drain(&mut s, 2);
    send(
        &mut s,
        &store,
        Command::CancelSegmentRequest {
            segment: 1,
            request: 99,
        },
    );
    assert!(
        s.uploading().is_some(),
        "another request id does not cancel"
    );
    send(
        &mut s,
        &store,
        Command::CancelSegmentRequest {
            segment: 1,
            request: 10,
        },
    );
    assert!(s.uploading().is_none());
    assert_eq!(drain(&mut s, 100).0, []);
    assert_eq!(s.stats().uploads_cancelled, 1);
}

#[test]
fn malformed_commands_are_errors_and_data_is_ignored() {
    let store = store_with(&[]);
    let mut s = Session::new(SessionConfig::default());
    assert!(s.handle_message(b"cstr\x01i\x0f\x00cend", &store).is_err());
    assert!(s.handle_message(b"dstr\x01dend", &store).is_err());
    s.handle_message(b"some raw bytes", &store).unwrap();
    assert_eq!(s.stats().unsolicited_bytes, 14);
}

#[test]
fn records_the_remote_announcement() {
    let store = store_with(&[]);
    let mut s = Session::new(SessionConfig::default());
    send(
        &mut s,
        &store,
        Command::SegmentsAnnouncement {
            loaded: vec![4, 5],
            http_loading: vec![6],
        },
    );
    assert_eq!(s.remote_loaded(), [4, 5]);
}

#[test]
fn announcements_become_demand_once() {
    let store = store_with(&[]);
    let mut s = Session::new(SessionConfig::default());
    assert!(s.take_demand().is_empty());
    send(
        &mut s,
        &store,
        Command::SegmentsAnnouncement {
            loaded: vec![3, 4],
            http_loading: vec![5],
        },
    );
    assert_eq!(
        s.take_demand(),
        Demand {
            announced: vec![3, 4, 5],
            missing: None
        }
    );
    assert!(s.take_demand().is_empty(), "taken demand is gone");
}

#[test]
fn a_request_for_a_segment_we_lack_is_demand_one_we_hold_is_not() {
    let store = store_with(&[(1, 1000)]);
    let mut s = Session::new(SessionConfig::default());
    s.on_open(&store);
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 1,
            request: 5,
            byte_from: 0,
        },
    );
    assert!(s.take_demand().is_empty());
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 2,
            request: 6,
            byte_from: 0,
        },
    );
    assert_eq!(s.take_demand().missing, Some(2));
    let (seen, _) = drain(&mut s, 100);
    assert!(seen.contains(&Seen::Command(Command::SegmentAbsent {
        segment: 2,
        request: 6
    })));
}
