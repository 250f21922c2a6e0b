//! Client → tracker messages: announce (with offers), answer, scrape, and our `stats` report.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, Visitor};
use serde::Serialize;

use super::ids::{Id20, InfoHash, OfferId, PeerId};
use super::qoe::{QoeIncoming, QoeOutgoing, QoeReport};
use super::server::{Action, ServerError};
use super::Signal;

/// Longest `channel` id accepted in a stats report, in bytes.
pub const MAX_CHANNEL_LEN: usize = 512;
/// Largest counter accepted in a stats report: JavaScript's `Number.MAX_SAFE_INTEGER`.
const MAX_COUNTER: f64 = 9_007_199_254_740_991.0;

/// A decoded client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Announce(AnnounceRequest),
    Answer(AnswerRequest),
    Scrape(ScrapeRequest),
    Stats(StatsReport),
}

/// `{"action":"announce", ...}` without `answer`: joins, updates or leaves a swarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub event: AnnounceEvent,
    /// Bytes left to download; `Some(0.0)` marks a seeder. Absent for P2P Media Loader.
    pub left: Option<f64>,
    /// Informational only: the fan-out is the number of offers.
    pub numwant: Option<f64>,
    pub offers: Vec<Offer>,
}

/// `event`: absent, `null` and any unknown value all mean [`AnnounceEvent::Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnounceEvent {
    Started,
    Stopped,
    Completed,
    #[default]
    Update,
}

impl AnnounceEvent {
    fn as_wire(self) -> Option<&'static str> {
        match self {
            AnnounceEvent::Started => Some("started"),
            AnnounceEvent::Stopped => Some("stopped"),
            AnnounceEvent::Completed => Some("completed"),
            AnnounceEvent::Update => None,
        }
    }
}

/// One WebRTC offer to be forwarded to one other peer of the swarm.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Offer {
    pub offer_id: OfferId,
    pub offer: Signal,
}

/// `{"action":"announce","answer":…,"to_peer_id":…,"offer_id":…}`: the reply to a relayed offer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRequest {
    pub info_hash: InfoHash,
    /// The answering peer.
    pub peer_id: PeerId,
    /// The peer whose offer this answers.
    pub to_peer_id: PeerId,
    pub offer_id: OfferId,
    pub answer: Signal,
}

/// `{"action":"scrape"}`: swarm counts for some info_hashes, or for all without `info_hash`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScrapeRequest {
    All,
    InfoHashes(Vec<InfoHash>),
}

/// `{"action":"stats", ...}`: Swarmcast's playback report, cumulative counters since page load.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// The channel id, e.g. the manifest URL without its query (1 to 512 bytes).
    pub channel: String,
    pub http_down: u64,
    pub p2p_down: u64,
    pub p2p_up: u64,
    pub peers: u64,
    pub rebuffers: u64,
    /// Quality counters (absent in reports from older clients: 0).
    pub quality: QualityCounters,
    /// Playback quality and the viewer's experiment group (absent in older clients' reports).
    pub qoe: Option<QoeReport>,
}

/// What went wrong in a viewer's playback since page load, reported with its stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QualityCounters {
    /// Player errors (parsing, decoding) on segments that came by HTTP.
    pub errors_http: u64,
    /// Player errors on segments that came from browser peers.
    pub errors_peer: u64,
    /// Player errors on segments that came from super peers.
    pub errors_superpeer: u64,
    /// Segments from peers that failed the integrity check (dropped, never played).
    pub bad_segments: u64,
    /// Peers banned for sending them.
    pub banned_peers: u64,
}

/// A frame that is not a valid client message, with what is needed to answer it in a way
/// clients accept: the frame's `action` and `info_hash` when it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub action: Action,
    /// The frame's `info_hash` string as sent (the first one for a scrape list), or empty.
    pub info_hash: String,
    pub reason: String,
}

impl DecodeError {
    /// The error frame to send back.
    pub fn into_server_error(self) -> ServerError {
        ServerError {
            action: self.action,
            info_hash: self.info_hash,
            reason: self.reason,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// `info_hash` is one id, or a list of them in a scrape.
#[derive(Debug)]
enum OneOrMany {
    One(InfoHash),
    Many(Vec<InfoHash>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an info_hash or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Id20::from_binary_str(s).map(OneOrMany::One).map_err(|e| {
                    E::custom(format_args!(
                        "info_hash {e}, expected 20 chars U+0000-U+00FF"
                    ))
                })
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut hashes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(hash) = seq.next_element()? {
                    hashes.push(hash);
                }
                Ok(OneOrMany::Many(hashes))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for AnnounceEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnnounceEvent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AnnounceEvent, E> {
                Ok(match s {
                    "started" => AnnounceEvent::Started,
                    "stopped" => AnnounceEvent::Stopped,
                    "completed" => AnnounceEvent::Completed,
                    _ => AnnounceEvent::Update,
                })
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnnounceEvent, E> {
                Ok(AnnounceEvent::Update)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnnounceEvent, E> {
                Ok(AnnounceEvent::Update)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnnounceEvent, E> {
                Ok(AnnounceEvent::Update)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnnounceEvent, E> {
                Ok(AnnounceEvent::Update)
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnnounceEvent, E> {
                Ok(AnnounceEvent::Update)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AnnounceEvent, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnnounceEvent::Update)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnnounceEvent, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnnounceEvent::Update)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A number that clients send in many shapes: a JSON number, a numeric string, or junk
/// (which counts as absent).
#[derive(Debug, Clone, Copy)]
pub(super) struct LenientNumber(Option<f64>);

impl<'de> Deserialize<'de> for LenientNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientNumber, E> {
                Ok(LenientNumber(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientNumber, E> {
                Ok(LenientNumber(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientNumber, E> {
                Ok(LenientNumber(Some(v)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LenientNumber, E> {
                Ok(LenientNumber(
                    s.trim().parse().ok().filter(|v: &f64| v.is_finite()),
                ))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientNumber, E> {
                Ok(LenientNumber(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientNumber, E> {
                Ok(LenientNumber(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LenientNumber, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientNumber(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LenientNumber, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientNumber(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Every field any client message may carry; `null` and absent both decode to `None`.
#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    info_hash: Option<OneOrMany>,
    peer_id: Option<PeerId>,
    event: Option<AnnounceEvent>,
    left: Option<LenientNumber>,
    numwant: Option<LenientNumber>,
    offers: Option<Vec<Offer>>,
    answer: Option<Signal>,
    to_peer_id: Option<PeerId>,
    offer_id: Option<OfferId>,
    channel: Option<String>,
    http_down: Option<LenientNumber>,
    p2p_down: Option<LenientNumber>,
    p2p_up: Option<LenientNumber>,
    peers: Option<LenientNumber>,
    rebuffers: Option<LenientNumber>,
    errors_http: Option<LenientNumber>,
    errors_peer: Option<LenientNumber>,
    errors_superpeer: Option<LenientNumber>,
    bad_segments: Option<LenientNumber>,
    banned_peers: Option<LenientNumber>,
    qoe: Option<QoeIncoming>,
}

/// Decodes one client frame.
pub fn decode_client(frame: &[u8]) -> Result<ClientMessage, DecodeError> {
    match serde_json::from_slice::<Incoming>(frame) {
        Ok(msg) => {
            let (action, info_hash) = (msg.action.clone(), echo_hash(&msg.info_hash));
            from_incoming(msg).map_err(|reason| DecodeError {
                action: echo_action(action.as_deref()),
                info_hash,
                reason,
            })
        }
        Err(e) => Err(describe_bad_frame(frame, e)),
    }
}

fn echo_hash(info_hash: &Option<OneOrMany>) -> String {
    match info_hash {
        Some(OneOrMany::One(h)) => h.to_binary_string(),
        Some(OneOrMany::Many(list)) => list.first().map(Id20::to_binary_string).unwrap_or_default(),
        None => String::new(),
    }
}

/// Error frames must carry an action the client knows, or it drops the socket.
fn echo_action(action: Option<&str>) -> Action {
    match action {
        Some("scrape") => Action::Scrape,
        Some("stats") => Action::Stats,
        _ => Action::Announce,
    }
}

/// Builds the error for a frame that failed to decode, salvaging `action` and `info_hash`.
fn describe_bad_frame(frame: &[u8], error: serde_json::Error) -> DecodeError {
    let value = serde_json::from_slice::<serde_json::Value>(frame).ok();
    let field = |name: &str| value.as_ref().and_then(|v| v.get(name));
    let info_hash = match field("info_hash") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(list)) => list
            .first()
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    let reason = match &value {
        None => format!("invalid JSON: {error}"),
        Some(v) if !v.is_object() => "a message must be a JSON object".to_owned(),
        Some(_) => format!("invalid message: {error}"),
    };
    DecodeError {
        action: echo_action(field("action").and_then(|a| a.as_str())),
        info_hash,
        reason,
    }
}

fn from_incoming(msg: Incoming<'_>) -> Result<ClientMessage, String> {
    let action = msg.action.as_deref().ok_or("missing action")?;
    match action {
        "announce" => {
            let info_hash = single_hash(msg.info_hash)?;
            let peer_id = msg.peer_id.ok_or("missing peer_id")?;
            if let Some(answer) = msg.answer {
                return Ok(ClientMessage::Answer(AnswerRequest {
                    info_hash,
                    peer_id,
                    to_peer_id: msg.to_peer_id.ok_or("an answer needs to_peer_id")?,
                    offer_id: msg.offer_id.ok_or("an answer needs offer_id")?,
                    answer,
                }));
            }
            Ok(ClientMessage::Announce(AnnounceRequest {
                info_hash,
                peer_id,
                event: msg.event.unwrap_or_default(),
                left: msg.left.and_then(|n| n.0),
                numwant: msg.numwant.and_then(|n| n.0),
                offers: msg.offers.unwrap_or_default(),
            }))
        }
        "scrape" => Ok(ClientMessage::Scrape(match msg.info_hash {
            None => ScrapeRequest::All,
            Some(OneOrMany::One(h)) => ScrapeRequest::InfoHashes(vec![h]),
            Some(OneOrMany::Many(list)) => ScrapeRequest::InfoHashes(list),
        })),
        "stats" => {
            let channel = msg.channel.ok_or("missing channel")?;
            if channel.is_empty() || channel.len() > MAX_CHANNEL_LEN {
                return Err(format!("channel must have 1 to {MAX_CHANNEL_LEN} bytes"));
            }
            Ok(ClientMessage::Stats(StatsReport {
                info_hash: single_hash(msg.info_hash)?,
                peer_id: msg.peer_id.ok_or("missing peer_id")?,
                channel,
                http_down: counter("http_down", msg.http_down)?,
                p2p_down: counter("p2p_down", msg.p2p_down)?,
                p2p_up: counter("p2p_up", msg.p2p_up)?,
                peers: counter("peers", msg.peers)?,
                rebuffers: counter("rebuffers", msg.rebuffers)?,
                quality: QualityCounters {
                    errors_http: counter("errors_http", msg.errors_http)?,
                    errors_peer: counter("errors_peer", msg.errors_peer)?,
                    errors_superpeer: counter("errors_superpeer", msg.errors_superpeer)?,
                    bad_segments: counter("bad_segments", msg.bad_segments)?,
                    banned_peers: counter("banned_peers", msg.banned_peers)?,
                },
                qoe: msg.qoe.map(QoeIncoming::check).transpose()?,
            }))
        }
        other => Err(format!(
            "unknown action {other:?}: expected announce, scrape or stats"
        )),
    }
}

fn single_hash(info_hash: Option<OneOrMany>) -> Result<InfoHash, String> {
    match info_hash {
        Some(OneOrMany::One(h)) => Ok(h),
        Some(OneOrMany::Many(_)) => Err("info_hash must be a single id here".to_owned()),
        None => Err("missing info_hash".to_owned()),
    }
}

/// A cumulative counter: absent means 0; otherwise a whole number from 0 to 2^53 - 1.
pub(super) fn counter(name: &str, value: Option<LenientNumber>) -> Result<u64, String> {
    match value {
        None => Ok(0),
        Some(LenientNumber(Some(v))) if (0.0..=MAX_COUNTER).contains(&v) => Ok(v.trunc() as u64),
        Some(_) => Err(format!("{name} must be a number from 0 to 2^53-1")),
    }
}

fn nonzero(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}

/// The fields a client sends, for encoding. Absent fields are left out.
#[derive(Serialize)]
struct Outgoing<'a> {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    info_hash: Option<OutHash<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_id: Option<&'a PeerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    numwant: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    left: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offers: Option<&'a [Offer]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_peer_id: Option<&'a PeerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offer_id: Option<&'a OfferId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a Signal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_down: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p_down: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p_up: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rebuffers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_http: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_peer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_superpeer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bad_segments: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banned_peers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qoe: Option<QoeOutgoing<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutHash<'a> {
    One(&'a InfoHash),
    Many(&'a [InfoHash]),
}

impl<'a> Outgoing<'a> {
    fn new(action: &'static str) -> Self {
        Outgoing {
            action,
            info_hash: None,
            peer_id: None,
            numwant: None,
            left: None,
            event: None,
            offers: None,
            to_peer_id: None,
            offer_id: None,
            answer: None,
            channel: None,
            http_down: None,
            p2p_down: None,
            p2p_up: None,
            peers: None,
            rebuffers: None,
            errors_http: None,
            errors_peer: None,
            errors_superpeer: None,
            bad_segments: None,
            banned_peers: None,
            qoe: None,
        }
    }
}

/// Encodes a client message as the JSON text a WebTorrent client sends.
pub fn encode_client(msg: &ClientMessage) -> String {
    let out = match msg {
        ClientMessage::Announce(a) => Outgoing {
            info_hash: Some(OutHash::One(&a.info_hash)),
            peer_id: Some(&a.peer_id),
            // A stopped announce carries no offers; otherwise numwant follows the offers.
            numwant: a.numwant.or(Some(a.offers.len() as f64)),
            left: a.left,
            event: a.event.as_wire(),
            offers: (!a.offers.is_empty()).then_some(a.offers.as_slice()),
            ..Outgoing::new("announce")
        },
        ClientMessage::Answer(a) => Outgoing {
            info_hash: Some(OutHash::One(&a.info_hash)),
            peer_id: Some(&a.peer_id),
            to_peer_id: Some(&a.to_peer_id),
            offer_id: Some(&a.offer_id),
            answer: Some(&a.answer),
            ..Outgoing::new("announce")
        },
        ClientMessage::Scrape(s) => Outgoing {
            info_hash: match s {
                ScrapeRequest::All => None,
                ScrapeRequest::InfoHashes(list) if list.len() == 1 => Some(OutHash::One(&list[0])),
                ScrapeRequest::InfoHashes(list) => Some(OutHash::Many(list)),
            },
            ..Outgoing::new("scrape")
        },
        ClientMessage::Stats(s) => Outgoing {
            info_hash: Some(OutHash::One(&s.info_hash)),
            peer_id: Some(&s.peer_id),
            channel: Some(&s.channel),
            http_down: Some(s.http_down),
            p2p_down: Some(s.p2p_down),
            p2p_up: Some(s.p2p_up),
            peers: Some(s.peers),
            rebuffers: Some(s.rebuffers),
            errors_http: nonzero(s.quality.errors_http),
            errors_peer: nonzero(s.quality.errors_peer),
            errors_superpeer: nonzero(s.quality.errors_superpeer),
            bad_segments: nonzero(s.quality.bad_segments),
            banned_peers: nonzero(s.quality.banned_peers),
            qoe: s.qoe.as_ref().map(QoeOutgoing::from),
            ..Outgoing::new("stats")
        },
    };
    serde_json::to_string(&out).unwrap_or_default()
}
