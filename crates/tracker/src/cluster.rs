//! What tracker nodes of one cluster tell each other through Redis, without the I/O: the
//! key and channel names, the encoding of membership events and relayed messages, and the
//! registry of the other nodes with their liveness.
//!
//! Each node publishes, in one message per batch, its peers' membership changes (and
//! heartbeats, stats reports) on the cluster's `members` channel, and the offers and answers
//! for another node's peers on that node's own channel. Its peer list also sits in a Redis
//! hash that expires with the node, so a node that (re)joins can load the others' lists.
//! The Redis side is [`crate::server::cluster`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wire::tracker::{decode_server, encode_server, InfoHash, PeerId, ServerMessage};

use crate::swarm::{Change, ConnId};

/// Settings of a cluster node.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]` or `redis+unix:///PATH` (no TLS: keep Redis on a
    /// private network).
    pub redis_url: String,
    /// Prefix of every key and channel: several clusters may share one Redis.
    pub prefix: String,
    /// How often a node says it is alive (and refreshes its peer list's expiry).
    pub beat: Duration,
    /// A node silent for this long is dead: its peers are dropped everywhere, and its peer
    /// list expires in Redis. Keep it well below the peer TTL.
    pub node_ttl: Duration,
    /// Longest wait between reconnection attempts while Redis is unreachable.
    pub max_backoff: Duration,
    /// Messages (changes, relays, reports) waiting for Redis beyond which new ones are
    /// dropped and counted.
    pub max_queued: usize,
}

impl ClusterConfig {
    pub fn new(redis_url: impl Into<String>) -> Self {
        ClusterConfig {
            redis_url: redis_url.into(),
            prefix: "swarmcast".to_owned(),
            beat: Duration::from_secs(2),
            node_ttl: Duration::from_secs(10),
            max_backoff: Duration::from_secs(5),
            max_queued: 100_000,
        }
    }
}

/// Names of the keys and channels of one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// String key: the cluster's id, set by the first node.
    pub fn cluster_id(&self) -> String {
        format!("{}:cluster-id", self.prefix)
    }

    /// Sorted set: node id scored by its last heartbeat (Unix milliseconds).
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// Hash of one node's peers: [`member_field`] to `1` (seeder) or `0`.
    pub fn peers(&self, node: &str) -> String {
        format!("{}:peers:{node}", self.prefix)
    }

    /// Channel of membership events, heartbeats and stats reports.
    pub fn members(&self) -> String {
        format!("{}:members", self.prefix)
    }

    /// Channel of the offers and answers for one node's peers.
    pub fn relay(&self, node: &str) -> String {
        format!("{}:relay:{node}", self.prefix)
    }
}

/// The Redis URL as logs may show it: without a password.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A random node id: 16 hex digits.
pub fn new_node_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// A node id as sent by others: 1 to 64 characters of `[0-9A-Za-z_-]`.
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A field of a node's peer hash: info_hash then peer_id, 80 hex digits.
pub fn member_field(info_hash: &InfoHash, peer_id: &PeerId) -> String {
    let mut field = info_hash.to_hex();
    field.push_str(&peer_id.to_hex());
    field
}

/// Reads a [`member_field`] and its value back.
pub fn parse_member(field: &str, value: &str) -> Option<(InfoHash, PeerId, bool)> {
    if field.len() != 80 || !field.is_ascii() {
        return None;
    }
    let info_hash = InfoHash::from_hex(&field[..40])?;
    let peer_id = PeerId::from_hex(&field[40..])?;
    Some((info_hash, peer_id, value == "1"))
}

/// One line of a `members` message.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Change(Change),
    /// The node is alive.
    Beat,
    /// The node has (re)registered all its peers: load its list again.
    Hello,
    /// The node is shutting down: drop its peers now.
    Bye,
    /// A viewer's stats report, as the client sent it (JSON).
    Stats(String),
}

/// A `members` message: the sender's id on the first line, then one event a line:
/// `j INFO_HASH PEER_ID 0|1`, `l INFO_HASH PEER_ID`, `b`, `h`, `x` or `s JSON`.
pub fn encode_events(node: &str, events: &[Event]) -> String {
    let mut s = String::with_capacity(node.len() + 1 + events.len() * 90);
    s.push_str(node);
    for event in events {
        s.push('\n');
        match event {
            Event::Change(Change::Join {
                info_hash,
                peer_id,
                seeder,
            }) => {
                let _ = write!(
                    s,
                    "j {} {} {}",
                    info_hash.to_hex(),
                    peer_id.to_hex(),
                    u8::from(*seeder)
                );
            }
            Event::Change(Change::Leave { info_hash, peer_id }) => {
                let _ = write!(s, "l {} {}", info_hash.to_hex(), peer_id.to_hex());
            }
            Event::Beat => s.push('b'),
            Event::Hello => s.push('h'),
            Event::Bye => s.push('x'),
            // serde_json escapes newlines inside strings: one report stays on one line.
            Event::Stats(json) => {
                s.push_str("s ");
                s.push_str(json);
            }
        }
    }
    s
}

/// A message from another node as read: who sent it, what could be read, and how many
/// lines could not (skipped).
#[derive(Debug, PartialEq)]
pub struct Decoded<'a, T> {
    pub node: &'a str,
    pub items: Vec<T>,
    pub bad: usize,
}

/// Reads a `members` message.
pub fn decode_events(payload: &str) -> Result<Decoded<'_, Event>, String> {
    let mut lines = payload.split('\n');
    let node = lines.next().unwrap_or_default();
    if !valid_node_id(node) {
        return Err("a members message without a valid node id".to_owned());
    }
    let mut events = Vec::new();
    let mut bad = 0;
    for line in lines {
        match decode_event(line) {
            Some(event) => events.push(event),
            None => bad += 1,
        }
    }
    Ok(Decoded {
        node,
        items: events,
        bad,
    })
}

fn decode_event(line: &str) -> Option<Event> {
    let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
    match kind {
        "b" => Some(Event::Beat),
        "h" => Some(Event::Hello),
        "x" => Some(Event::Bye),
        "s" if !rest.is_empty() => Some(Event::Stats(rest.to_owned())),
        "j" => {
            let mut parts = rest.split(' ');
            let info_hash = InfoHash::from_hex(parts.next()?)?;
            let peer_id = PeerId::from_hex(parts.next()?)?;
            let seeder = match parts.next()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some(Event::Change(Change::Join {
                info_hash,
                peer_id,
                seeder,
            }))
        }
        "l" => {
            let mut parts = rest.split(' ');
            let info_hash = InfoHash::from_hex(parts.next()?)?;
            let peer_id = PeerId::from_hex(parts.next()?)?;
            Some(Event::Change(Change::Leave { info_hash, peer_id }))
        }
        _ => None,
    }
}

/// A relay message: the sender's id on the first line, then `TO_PEER_ID JSON` a line, the
/// JSON being the offer or answer as the receiving node sends it to its peer.
pub fn encode_relays<'a>(
    node: &str,
    relays: impl Iterator<Item = (&'a PeerId, &'a ServerMessage)>,
) -> String {
    let mut s = String::with_capacity(1024);
    s.push_str(node);
    for (to_peer, msg) in relays {
        s.push('\n');
        s.push_str(&to_peer.to_hex());
        s.push(' ');
        s.push_str(&encode_server(msg));
    }
    s
}

/// Reads a relay message.
pub fn decode_relays(payload: &str) -> Result<Decoded<'_, (PeerId, ServerMessage)>, String> {
    let mut lines = payload.split('\n');
    let node = lines.next().unwrap_or_default();
    if !valid_node_id(node) {
        return Err("a relay message without a valid node id".to_owned());
    }
    let mut relays = Vec::new();
    let mut bad = 0;
    for line in lines {
        let parsed = line.split_once(' ').and_then(|(peer, json)| {
            let peer = PeerId::from_hex(peer)?;
            match decode_server(json.as_bytes()).ok()? {
                msg @ (ServerMessage::Offer(_) | ServerMessage::Answer(_)) => Some((peer, msg)),
                _ => None,
            }
        });
        match parsed {
            Some(relay) => relays.push(relay),
            None => bad += 1,
        }
    }
    Ok(Decoded {
        node,
        items: relays,
        bad,
    })
}

/// The other nodes this one has heard of, each with its pseudo-connection.
#[derive(Debug, Default)]
pub struct Nodes {
    by_id: HashMap<String, Node>,
    ids: HashMap<ConnId, String>,
    next: u32,
}

#[derive(Debug)]
struct Node {
    conn: ConnId,
    last_heard: Instant,
}

impl Nodes {
    /// Notes that `id` was heard from; returns its pseudo-connection and whether it is new
    /// (or back after falling silent).
    pub fn heard(&mut self, id: &str, now: Instant) -> (ConnId, bool) {
        if let Some(node) = self.by_id.get_mut(id) {
            node.last_heard = now;
            return (node.conn, false);
        }
        // Never reused: a relay for a node that is gone cannot reach its successor.
        let conn = ConnId::remote(self.next);
        self.next = self.next.wrapping_add(1);
        self.by_id.insert(
            id.to_owned(),
            Node {
                conn,
                last_heard: now,
            },
        );
        self.ids.insert(conn, id.to_owned());
        (conn, true)
    }

    /// The id of the node behind a pseudo-connection.
    pub fn id_of(&self, conn: ConnId) -> Option<&str> {
        self.ids.get(&conn).map(String::as_str)
    }

    /// Forgets the nodes not heard from for `ttl`; returns their pseudo-connections.
    pub fn silent(&mut self, now: Instant, ttl: Duration) -> Vec<(String, ConnId)> {
        let mut gone = Vec::new();
        self.by_id.retain(|id, node| {
            let alive = now.saturating_duration_since(node.last_heard) < ttl;
            if !alive {
                gone.push((id.clone(), node.conn));
            }
            alive
        });
        for (_, conn) in &gone {
            self.ids.remove(conn);
        }
        gone
    }

    /// Forgets a node that said it leaves; returns its pseudo-connection.
    pub fn forget(&mut self, id: &str) -> Option<ConnId> {
        let node = self.by_id.remove(id)?;
        self.ids.remove(&node.conn);
        Some(node.conn)
    }

    /// Forgets every node (this node lost the cluster); returns their pseudo-connections.
    pub fn forget_all(&mut self) -> Vec<(String, ConnId)> {
        self.ids.clear();
        self.by_id
            .drain()
            .map(|(id, node)| (id, node.conn))
            .collect()
    }

    /// Nodes currently alive.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::tracker::{ForwardedOffer, OfferId, Signal};

    fn id(n: u8) -> InfoHash {
        InfoHash::from_hex(&format!("{n:02x}").repeat(20)).unwrap()
    }

    #[test]
    fn events_round_trip_and_bad_lines_are_skipped() {
        let events = vec![
            Event::Change(Change::Join {
                info_hash: id(1),
                peer_id: id(2),
                seeder: true,
            }),
            Event::Change(Change::Leave {
                info_hash: id(1),
                peer_id: id(3),
            }),
            Event::Beat,
            Event::Hello,
            Event::Bye,
            Event::Stats(r#"{"action":"stats","a":"x\ny"}"#.to_owned()),
        ];
        let payload = encode_events("node-a", &events);
        let back = decode_events(&payload).unwrap();
        assert_eq!((back.node, back.bad), ("node-a", 0));
        assert_eq!(back.items, events);
        let back = decode_events("n\nj zz 00 1\ny\nl 01\nb").unwrap();
        assert_eq!((back.items, back.bad), (vec![Event::Beat], 3));
        assert!(decode_events("bad id\nb").is_err());
        assert!(decode_events("").is_err());
    }

    #[test]
    fn relays_round_trip_and_only_offers_and_answers_pass() {
        let offer = ServerMessage::Offer(ForwardedOffer {
            info_hash: id(1),
            peer_id: id(2),
            offer_id: OfferId::from_bytes(b"offer-id-0123456789x").unwrap(),
            offer: Signal::new("offer", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"),
        });
        let payload = encode_relays("a1", [(&id(3), &offer)].into_iter());
        assert_eq!(
            payload.lines().count(),
            2,
            "the SDP's line breaks stay escaped"
        );
        let back = decode_relays(&payload).unwrap();
        assert_eq!((back.node, back.bad), ("a1", 0));
        assert_eq!(back.items, vec![(id(3), offer)]);
        let junk = format!(
            "a1\n{} {{\"action\":\"scrape\",\"files\":{{}}}}\nxx",
            id(3).to_hex()
        );
        let back = decode_relays(&junk).unwrap();
        assert_eq!((back.items.len(), back.bad), (0, 2));
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redacted_url("redis://:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn member_fields_round_trip() {
        let field = member_field(&id(1), &id(2));
        assert_eq!(parse_member(&field, "1"), Some((id(1), id(2), true)));
        assert_eq!(parse_member(&field, "0"), Some((id(1), id(2), false)));
        assert_eq!(parse_member("abc", "1"), None);
        assert_eq!(parse_member(&"é".repeat(40), "1"), None);
    }

    #[test]
    fn silent_nodes_are_forgotten_and_come_back_with_a_new_conn() {
        let t0 = Instant::now();
        let mut nodes = Nodes::default();
        let (a, new) = nodes.heard("a", t0);
        assert!(new && a.is_remote());
        assert_eq!(nodes.heard("a", t0 + Duration::from_secs(1)), (a, false));
        let (b, _) = nodes.heard("b", t0);
        assert_ne!(a, b);
        let gone = nodes.silent(t0 + Duration::from_secs(10), Duration::from_secs(10));
        assert_eq!(gone, vec![("b".to_owned(), b)]);
        assert_eq!(nodes.id_of(a), Some("a"));
        assert_eq!(nodes.id_of(b), None);
        let (b2, new) = nodes.heard("b", t0 + Duration::from_secs(11));
        assert!(new && b2 != b);
        assert_eq!(nodes.len(), 2);
    }

    #[test]
    fn a_lost_cluster_forgets_every_node_and_never_reuses_their_conns() {
        let t0 = Instant::now();
        let mut nodes = Nodes::default();
        let (a, _) = nodes.heard("a", t0);
        let (b, _) = nodes.heard("b", t0);
        let mut gone = nodes.forget_all();
        gone.sort();
        assert_eq!(gone, vec![("a".to_owned(), a), ("b".to_owned(), b)]);
        assert!(nodes.is_empty());
        assert_eq!(nodes.id_of(a), None);
        let (a2, new) = nodes.heard("a", t0);
        assert!(new && a2 != a && a2 != b);
    }
}
