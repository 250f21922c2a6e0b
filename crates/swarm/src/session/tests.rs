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

mod transfers_stay_bound_to_their_request {
    //! Any sequence of requests (duplicate, overlapping, resumed, past the end), cancels and
    //! store changes, with the output drained a few messages at a time: what the remote sees
    //! after each `SegmentData` is a prefix of exactly that segment from its offset, never more
    //! than the size announced, and `Completed` follows only a whole transfer.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Request {
            segment: SegmentId,
            request: i64,
            byte_from: u64,
        },
        Cancel {
            request: i64,
        },
        Drain(usize),
        Insert(SegmentId),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..4, 0i64..3, 0u64..5000).prop_map(|(segment, request, byte_from)| Op::Request {
                segment,
                request,
                byte_from
            }),
            (0i64..3).prop_map(|request| Op::Cancel { request }),
            (1usize..6).prop_map(Op::Drain),
            (0i64..4).prop_map(Op::Insert),
        ]
    }

    /// The remote's view: the transfer the last header opened, and the bytes since.
    #[derive(Default)]
    struct Remote {
        decoder: MessageDecoder,
        current: Option<(SegmentId, i64, u64, Vec<u8>)>,
    }

    impl Remote {
        fn take(&mut self, m: &[u8], store: &SegmentStore) {
            match self.decoder.decode(m).unwrap() {
                Incoming::Command(Command::SegmentData {
                    segment,
                    request,
                    size,
                }) => self.current = Some((segment, request, size, Vec::new())),
                Incoming::Command(Command::SegmentDataSendingCompleted { segment, request }) => {
                    let (s, r, size, got) = self.current.take().expect("Completed after a header");
                    assert_eq!((s, r), (segment, request), "Completed names its transfer");
                    assert_eq!(got.len() as u64, size, "Completed only after every byte");
                }
                Incoming::Command(_) | Incoming::Partial => {}
                Incoming::Data(d) => {
                    let (segment, _, size, got) =
                        self.current.as_mut().expect("bytes follow a header");
                    got.extend_from_slice(d);
                    assert!(got.len() as u64 <= *size, "never past the announced size");
                    let data = store.get(*segment).expect("sent segments are held");
                    let from = data.len() - *size as usize;
                    assert_eq!(
                        got[..],
                        data[from..from + got.len()],
                        "the segment's own bytes"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_sequence(ops in proptest::collection::vec(op(), 1..60)) {
            let mut store = store_with(&[(0, 3000), (1, 2500), (2, 100)]);
            let mut s = Session::new(config(700));
            s.on_open(&store);
            let mut remote = Remote::default();
            for op in ops {
                match op {
                    Op::Request { segment, request, byte_from } => send(
                        &mut s,
                        &store,
                        Command::SegmentRequest { segment, request, byte_from },
                    ),
                    Op::Cancel { request } => send(
                        &mut s,
                        &store,
                        Command::CancelSegmentRequest { segment: 0, request },
                    ),
                    Op::Drain(n) => {
                        for _ in 0..n {
                            let Some(m) = s.poll_message() else { break };
                            remote.take(&m, &store);
                        }
                    }
                    Op::Insert(id) => {
                        // Same bytes for the same id: a store holds one version of a segment.
                        if store.get(id).is_none() {
                            store.insert(id, store_with(&[(id, 1800)]).get(id).unwrap().clone());
                        }
                        s.on_store_changed(&store);
                    }
                }
            }
            while let Some(m) = s.poll_message() {
                remote.take(&m, &store);
            }
            prop_assert!(s.uploading().is_none(), "everything drained");
        }
    }
}

fn part(
    segment: SegmentId,
    request: RequestId,
    byte_from: u64,
    byte_to: u64,
    queued: bool,
) -> Command {
    Command::PartRequest {
        segment,
        request,
        byte_from,
        byte_to,
        queued,
    }
}

/// A session whose peer greeted it with every extension of ours, its answer drained.
fn greeted(store: &SegmentStore, max_message_size: usize) -> Session {
    let mut s = Session::new(config(max_message_size));
    send(&mut s, store, Command::ExtensionHello { flags: 15 });
    assert_eq!(
        drain(&mut s, 10).0,
        [Seen::Command(Command::ExtensionHello {
            flags: SERVED_EXTENSIONS
        })]
    );
    s
}

#[test]
fn answers_a_greeting_once_with_the_extensions_it_serves() {
    let store = store_with(&[]);
    let mut s = greeted(&store, 65535);
    assert_eq!(s.extensions(), Some(SERVED_EXTENSIONS));
    send(&mut s, &store, Command::ExtensionHello { flags: 1 });
    assert!(!s.wants_to_send(), "a second greeting is not answered");
    assert_eq!(s.extensions(), Some(1));
}

#[test]
fn serves_a_part_with_the_segments_length() {
    let store = store_with(&[(3, 2500)]);
    let mut s = greeted(&store, 1000);
    send(&mut s, &store, part(3, 9, 700, 1900, false));
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen,
        [
            Seen::Command(Command::PartData {
                segment: 3,
                request: 9,
                size: 1200,
                total: 2500
            }),
            Seen::Data(1000),
            Seen::Data(200),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 3,
                request: 9
            }),
        ]
    );
    assert_eq!(data, store.get(3).unwrap()[700..1900]);
    // An end past the length: the bytes to the end; a start at the length: absent.
    send(&mut s, &store, part(3, 10, 2000, 9999, false));
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen[0],
        Seen::Command(Command::PartData {
            segment: 3,
            request: 10,
            size: 500,
            total: 2500
        })
    );
    assert_eq!(data, store.get(3).unwrap()[2000..]);
    send(&mut s, &store, part(3, 11, 2500, 3000, false));
    assert_eq!(
        drain(&mut s, 10).0,
        [Seen::Command(Command::SegmentAbsent {
            segment: 3,
            request: 11
        })]
    );
}

#[test]
fn a_part_asked_of_a_session_never_greeted_gets_the_bytes_to_the_end() {
    let store = store_with(&[(3, 2500)]);
    let mut s = Session::new(config(65535));
    send(&mut s, &store, part(3, 9, 700, 1900, true));
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen[0],
        Seen::Command(Command::SegmentData {
            segment: 3,
            request: 9,
            size: 1800
        })
    );
    assert_eq!(data, store.get(3).unwrap()[700..]);
}

#[test]
fn a_queued_part_follows_the_one_being_sent() {
    let store = store_with(&[(3, 2500), (4, 100)]);
    let mut s = greeted(&store, 1000);
    send(&mut s, &store, part(3, 1, 0, 2000, false));
    assert!(s.poll_message().is_some(), "the first part's header");
    // Asked while the first part is coming: answered after it, not instead of it.
    send(&mut s, &store, part(3, 2, 2000, 2500, true));
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen,
        [
            Seen::Data(1000),
            Seen::Data(1000),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 3,
                request: 1
            }),
            Seen::Command(Command::PartData {
                segment: 3,
                request: 2,
                size: 500,
                total: 2500
            }),
            Seen::Data(500),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 3,
                request: 2
            }),
        ]
    );
    assert_eq!(data, store.get(3).unwrap()[..].to_vec()[..]);
    assert_eq!(s.stats().uploads_cancelled, 0);
}

#[test]
fn a_queued_part_is_replaced_cancelled_or_started_by_a_cancel() {
    let store = store_with(&[(3, 2500), (4, 100)]);
    let mut s = greeted(&store, 1000);
    // A later queued request replaces the waiting one; a cancel of it drops it unanswered.
    send(&mut s, &store, part(3, 1, 0, 2000, false));
    send(&mut s, &store, part(3, 2, 2000, 2200, true));
    send(&mut s, &store, part(3, 3, 2000, 2500, true));
    send(
        &mut s,
        &store,
        Command::CancelSegmentRequest {
            segment: 3,
            request: 3,
        },
    );
    let (seen, _) = drain(&mut s, 100);
    assert_eq!(seen.len(), 4, "the first part alone: {seen:?}");
    // Cancelling the part being sent starts the queued one at once.
    send(&mut s, &store, part(3, 4, 0, 2000, false));
    send(&mut s, &store, part(4, 5, 0, 50, true));
    send(
        &mut s,
        &store,
        Command::CancelSegmentRequest {
            segment: 3,
            request: 4,
        },
    );
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(
        seen,
        [
            Seen::Command(Command::PartData {
                segment: 3,
                request: 4,
                size: 2000,
                total: 2500
            }),
            Seen::Command(Command::PartData {
                segment: 4,
                request: 5,
                size: 50,
                total: 100
            }),
            Seen::Data(50),
            Seen::Command(Command::SegmentDataSendingCompleted {
                segment: 4,
                request: 5
            }),
        ]
    );
    assert_eq!(data, store.get(4).unwrap()[..50]);
    // A plain request replaces both the upload and the queued part.
    send(&mut s, &store, part(3, 6, 0, 2000, false));
    send(&mut s, &store, part(3, 7, 2000, 2500, true));
    send(
        &mut s,
        &store,
        Command::SegmentRequest {
            segment: 4,
            request: 8,
            byte_from: 0,
        },
    );
    let (seen, _) = drain(&mut s, 100);
    let headers: Vec<_> = seen
        .iter()
        .filter_map(|x| match x {
            Seen::Command(
                Command::PartData { request, .. } | Command::SegmentData { request, .. },
            ) => Some(*request),
            _ => None,
        })
        .collect();
    assert_eq!(headers, [6, 8]);
}

#[test]
fn a_queued_request_when_nothing_is_sent_is_answered_at_once() {
    let store = store_with(&[(3, 2500)]);
    let mut s = greeted(&store, 65535);
    send(&mut s, &store, part(3, 1, 100, 200, true));
    let (seen, data) = drain(&mut s, 100);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(data, store.get(3).unwrap()[100..200]);
}
