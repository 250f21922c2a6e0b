use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;

use super::{hold_for, RecvBatch, SendQueue, UdpIo, DEFAULT_HOLD, MAX_GSO_BYTES};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A datagram whose bytes say which one it is.
fn datagram(tag: u16, len: usize) -> BytesMut {
    let mut d = BytesMut::with_capacity(len);
    for i in 0..len {
        d.extend_from_slice(&[(tag as usize + i) as u8 ^ (tag >> 8) as u8]);
    }
    d
}

/// Splits a batch back into its datagrams, the way the kernel segments a GSO send.
fn split(contents: &[u8], segment_size: Option<usize>) -> Vec<Vec<u8>> {
    match segment_size {
        Some(size) => contents.chunks(size).map(<[u8]>::to_vec).collect(),
        None => vec![contents.to_vec()],
    }
}

#[test]
fn equal_sizes_to_one_destination_leave_in_one_batch() {
    let mut q = SendQueue::default();
    for tag in 0..5 {
        q.push(addr(1), datagram(tag, 1200));
    }
    let batch = q.peek_batch(64).unwrap();
    assert_eq!(batch.count, 5);
    assert_eq!(batch.segment_size, Some(1200));
    assert_eq!(batch.contents.len(), 6000);
    assert_eq!(&batch.contents[1200..2400], &datagram(1, 1200)[..]);
    q.consume(5);
    assert!(q.peek_batch(64).is_none());
}

#[test]
fn a_shorter_datagram_ends_a_run_and_a_longer_one_starts_the_next() {
    let mut q = SendQueue::default();
    q.push(addr(1), datagram(0, 1200));
    q.push(addr(1), datagram(1, 1200));
    q.push(addr(1), datagram(2, 300));
    q.push(addr(1), datagram(3, 1200));
    q.push(addr(1), datagram(4, 1300));
    let batch = q.peek_batch(64).unwrap();
    assert_eq!((batch.count, batch.segment_size), (3, Some(1200)));
    assert_eq!(batch.contents.len(), 2700);
    q.consume(3);
    let batch = q.peek_batch(64).unwrap();
    assert_eq!((batch.count, batch.segment_size), (1, None));
    assert_eq!(batch.contents, &datagram(3, 1200)[..]);
    q.consume(1);
    assert_eq!(q.peek_batch(64).unwrap().contents, &datagram(4, 1300)[..]);
}

#[test]
fn another_destination_ends_a_run() {
    let mut q = SendQueue::default();
    q.push(addr(1), datagram(0, 100));
    q.push(addr(2), datagram(1, 100));
    q.push(addr(1), datagram(2, 100));
    for (port, tag) in [(1, 0), (2, 1), (1, 2)] {
        let batch = q.peek_batch(64).unwrap();
        assert_eq!(batch.destination, addr(port));
        assert_eq!((batch.count, batch.contents), (1, &datagram(tag, 100)[..]));
        q.consume(1);
    }
}

#[test]
fn runs_respect_the_segment_and_byte_limits() {
    let mut q = SendQueue::default();
    for tag in 0..10 {
        q.push(addr(1), datagram(tag, 1000));
    }
    assert_eq!(q.peek_batch(4).unwrap().count, 4);
    assert_eq!(q.peek_batch(1).unwrap().count, 1);
    assert_eq!(q.peek_batch(1).unwrap().segment_size, None);

    let mut q = SendQueue::default();
    for tag in 0..100 {
        q.push(addr(1), datagram(tag, 1500));
    }
    let batch = q.peek_batch(64).unwrap();
    assert_eq!(batch.count, MAX_GSO_BYTES / 1500);
    assert!(batch.contents.len() <= MAX_GSO_BYTES);
}

#[test]
fn empty_and_oversized_datagrams_go_alone() {
    let mut q = SendQueue::default();
    q.push(addr(1), BytesMut::new());
    q.push(addr(1), BytesMut::new());
    q.push(addr(1), datagram(1, MAX_GSO_BYTES));
    q.push(addr(1), datagram(2, MAX_GSO_BYTES));
    for _ in 0..4 {
        assert_eq!(q.peek_batch(64).unwrap().count, 1);
        q.consume(1);
    }
    assert!(q.is_empty());
}

/// A kernel that refuses some sends (`WouldBlock`): what it accepts, split back into
/// datagrams, is exactly what was queued, in order, with nothing lost or repeated.
#[test]
fn refused_sends_lose_and_reorder_nothing() {
    let mut q = SendQueue::default();
    let mut expected = Vec::new();
    let sizes = [1200, 1200, 1200, 640, 1200, 80, 80, 1200, 1200, 1200];
    for tag in 0..500u16 {
        let to = addr(1 + (tag / 7) % 3);
        let d = datagram(tag, sizes[usize::from(tag) % sizes.len()]);
        expected.push((to, d.to_vec()));
        q.push(to, d);
    }
    let mut sent = Vec::new();
    let mut calls = 0u32;
    while let Some(batch) = q.peek_batch(5) {
        calls += 1;
        if calls.is_multiple_of(3) {
            continue; // WouldBlock: nothing consumed, the same batch comes again
        }
        for d in split(batch.contents, batch.segment_size) {
            sent.push((batch.destination, d));
        }
        let count = batch.count;
        q.consume(count);
    }
    assert_eq!(sent, expected);
    assert!(calls < 500, "datagrams were batched ({calls} sends)");
}

/// Real sockets on loopback: every datagram arrives once, per destination in order, whether
/// the kernel does GSO or not.
#[tokio::test]
async fn datagrams_cross_loopback_in_order() {
    let bind = || super::super::bind_udp(addr(0), 4 * 1024 * 1024).unwrap();
    let mut sender = UdpIo::new(bind()).unwrap();
    let mut receivers = [UdpIo::new(bind()).unwrap(), UdpIo::new(bind()).unwrap()];
    let targets: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
    let sizes = [1200, 1200, 1200, 1200, 700];
    let mut expected: Vec<Vec<Vec<u8>>> = vec![Vec::new(), Vec::new()];
    let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(), Vec::new()];
    let mut batch = RecvBatch::default();
    let mut tag = 0u16;
    for _round in 0..10 {
        // Runs of one destination, as a pump to one connection produces them.
        for (i, &to) in targets.iter().enumerate() {
            for _ in 0..20 {
                let d = datagram(tag, sizes[usize::from(tag) % sizes.len()]);
                tag += 1;
                expected[i].push(d.to_vec());
                sender.queue(to, d);
            }
        }
        sender.flush().await;
        assert_eq!(sender.queued(), 0);
        for (i, receiver) in receivers.iter_mut().enumerate() {
            while got[i].len() < expected[i].len() {
                tokio::time::timeout(Duration::from_secs(5), receiver.readable())
                    .await
                    .expect("datagrams arrive")
                    .unwrap();
                if receiver.try_recv(&mut batch).is_ok() {
                    for (from, d) in batch.datagrams() {
                        assert_eq!(from, sender.local_addr().unwrap());
                        got[i].push(d.to_vec());
                    }
                }
            }
        }
    }
    assert_eq!(got, expected);
    let sent = sender.counters();
    assert_eq!(sent.datagrams_sent, 400);
    if sender.max_gso_segments() > 1 {
        assert!(sent.sends < 400, "GSO batched the runs: {sent:?}");
    }
    let received: u64 = receivers
        .iter()
        .map(|r| r.counters().datagrams_received)
        .sum();
    assert_eq!(received, 400);
}

/// A GRO group (several datagrams of one sender in one buffer) comes back as its datagrams.
#[test]
fn received_gro_groups_split_into_datagrams() {
    let mut batch = RecvBatch::default();
    let first = super::RECV_BUFFER;
    batch.buffer[..2500].copy_from_slice(&datagram(7, 2500));
    batch.buffer[first..first + 10].copy_from_slice(&datagram(8, 10));
    batch.meta[0].addr = addr(1);
    batch.meta[0].len = 2500;
    batch.meta[0].stride = 1000;
    batch.meta[1].addr = addr(2);
    batch.meta[1].len = 10;
    batch.meta[1].stride = 10;
    batch.filled = 2;
    let whole = datagram(7, 2500);
    let got: Vec<(SocketAddr, Vec<u8>)> = batch
        .datagrams()
        .map(|(from, d)| (from, d.to_vec()))
        .collect();
    assert_eq!(
        got,
        vec![
            (addr(1), whole[..1000].to_vec()),
            (addr(1), whole[1000..2000].to_vec()),
            (addr(1), whole[2000..].to_vec()),
            (addr(2), datagram(8, 10).to_vec()),
        ]
    );
}

#[test]
fn the_loop_waits_only_after_sending_a_transfers_worth() {
    let hold = Duration::from_millis(1);
    assert_eq!(hold_for(0, hold), None, "idle");
    assert_eq!(
        hold_for(1, hold),
        None,
        "a STUN response or one acknowledgement"
    );
    assert_eq!(hold_for(2, hold), Some(hold));
    assert_eq!(hold_for(500, hold), Some(hold));
    assert_eq!(hold_for(500, Duration::ZERO), None, "turned off");
}

/// `take_hold` counts what flushes really sent since its last call, and starts over.
#[tokio::test]
async fn take_hold_follows_what_was_sent_since_the_last_call() {
    let bind = || super::super::bind_udp(addr(0), 1024 * 1024).unwrap();
    let mut sender = UdpIo::new(bind()).unwrap();
    let to = bind().local_addr().unwrap();
    sender.queue(to, datagram(0, 100));
    sender.queue(to, datagram(1, 100));
    sender.flush().await;
    assert_eq!(sender.take_hold(), None, "no wait unless set");
    sender.set_hold(DEFAULT_HOLD);
    assert_eq!(sender.take_hold(), None);
    sender.queue(to, datagram(0, 100));
    sender.flush().await;
    assert_eq!(sender.take_hold(), None, "one datagram");
    sender.queue(to, datagram(1, 100));
    sender.flush().await;
    sender.queue(to, datagram(2, 100));
    sender.flush().await;
    assert_eq!(
        sender.take_hold(),
        Some(DEFAULT_HOLD),
        "two flushes of one each"
    );
    assert_eq!(sender.take_hold(), None, "counted from the last call");
    sender.set_hold(Duration::ZERO);
    for tag in 3..10 {
        sender.queue(to, datagram(tag, 100));
    }
    sender.flush().await;
    assert_eq!(sender.take_hold(), None, "turned off");
}
