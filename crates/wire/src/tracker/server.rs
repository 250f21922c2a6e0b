//! Tracker → client messages: announce responses, relayed offers and answers, scrape
//! responses, error frames.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::ids::{InfoHash, OfferId, PeerId};
use super::Signal;

/// The `action` of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Announce,
    Scrape,
    /// Swarmcast's stats report; only our SDK sends it, so only it gets such errors.
    Stats,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Announce => "announce",
            Action::Scrape => "scrape",
            Action::Stats => "stats",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A decoded or to-be-encoded tracker frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    AnnounceResponse(AnnounceResponse),
    Offer(ForwardedOffer),
    Answer(ForwardedAnswer),
    Scrape(ScrapeResponse),
    Error(ServerError),
}

/// `{"action":"announce","info_hash","complete","incomplete","interval"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnounceResponse {
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u32,
    /// Leechers.
    pub incomplete: u32,
    /// Seconds until the next announce.
    pub interval: u32,
}

/// An offer relayed to one peer: `peer_id` is the offering peer.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedOffer {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub offer_id: OfferId,
    pub offer: Signal,
}

/// An answer relayed to the offering peer: `peer_id` is the answering peer.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedAnswer {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub offer_id: OfferId,
    pub answer: Signal,
}

/// Per-swarm counts of a scrape response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ScrapeFile {
    pub complete: u32,
    pub incomplete: u32,
    #[serde(default)]
    pub downloaded: u32,
}

/// `{"action":"scrape","files":{info_hash:{complete,incomplete,downloaded}},"flags":{…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeResponse {
    pub files: Vec<(InfoHash, ScrapeFile)>,
    /// Seconds, sent as `flags.min_request_interval`.
    pub min_request_interval: Option<u32>,
}

/// `{"action","info_hash","failure reason"}`: always with an action and an info_hash (empty
/// when the request had none), so that clients treat it as a warning, not a broken socket.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    pub action: Action,
    /// The info_hash string as the request sent it.
    pub info_hash: String,
    pub reason: String,
}

struct Files<'a>(&'a [(InfoHash, ScrapeFile)]);

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (hash, file) in self.0 {
            map.serialize_entry(hash, file)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ScrapeOut<'a> {
    action: &'static str,
    files: Files<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Flags>,
}

#[derive(Serialize)]
struct Flags {
    min_request_interval: u32,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    action: Action,
    info_hash: &'a str,
    #[serde(rename = "failure reason")]
    reason: &'a str,
}

#[derive(Serialize)]
struct AnnounceOut<'a> {
    action: &'static str,
    info_hash: &'a InfoHash,
    complete: u32,
    incomplete: u32,
    interval: u32,
}

#[derive(Serialize)]
struct RelayOut<'a> {
    action: &'static str,
    info_hash: &'a InfoHash,
    peer_id: &'a PeerId,
    offer_id: &'a OfferId,
    #[serde(skip_serializing_if = "Option::is_none")]
    offer: Option<&'a Signal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a Signal>,
}

/// Appends the JSON text of `msg` to `out`.
pub fn encode_server_into(msg: &ServerMessage, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and every type here serializes infallibly.
    let _ = match msg {
        ServerMessage::AnnounceResponse(r) => serde_json::to_writer(
            &mut *out,
            &AnnounceOut {
                action: "announce",
                info_hash: &r.info_hash,
                complete: r.complete,
                incomplete: r.incomplete,
                interval: r.interval,
            },
        ),
        ServerMessage::Offer(o) => serde_json::to_writer(
            &mut *out,
            &RelayOut {
                action: "announce",
                info_hash: &o.info_hash,
                peer_id: &o.peer_id,
                offer_id: &o.offer_id,
                offer: Some(&o.offer),
                answer: None,
            },
        ),
        ServerMessage::Answer(a) => serde_json::to_writer(
            &mut *out,
            &RelayOut {
                action: "announce",
                info_hash: &a.info_hash,
                peer_id: &a.peer_id,
                offer_id: &a.offer_id,
                offer: None,
                answer: Some(&a.answer),
            },
        ),
        ServerMessage::Scrape(s) => serde_json::to_writer(
            &mut *out,
            &ScrapeOut {
                action: "scrape",
                files: Files(&s.files),
                flags: s.min_request_interval.map(|min_request_interval| Flags {
                    min_request_interval,
                }),
            },
        ),
        ServerMessage::Error(e) => serde_json::to_writer(
            &mut *out,
            &ErrorOut {
                action: e.action,
                info_hash: &e.info_hash,
                reason: &e.reason,
            },
        ),
    };
}

/// The JSON text of `msg`.
pub fn encode_server(msg: &ServerMessage) -> String {
    let mut out = Vec::with_capacity(128);
    encode_server_into(msg, &mut out);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct ServerIncoming<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    info_hash: Option<String>,
    peer_id: Option<PeerId>,
    offer_id: Option<OfferId>,
    offer: Option<Signal>,
    answer: Option<Signal>,
    complete: Option<f64>,
    incomplete: Option<f64>,
    interval: Option<f64>,
    #[serde(rename = "failure reason")]
    failure_reason: Option<String>,
    files: Option<HashMap<InfoHash, ScrapeFile>>,
    flags: Option<FlagsIn>,
}

#[derive(serde::Deserialize)]
struct FlagsIn {
    min_request_interval: Option<f64>,
}

/// Decodes one tracker frame, as a client does.
pub fn decode_server(frame: &[u8]) -> Result<ServerMessage, String> {
    let msg: ServerIncoming = serde_json::from_slice(frame).map_err(|e| e.to_string())?;
    let action = match msg.action.as_deref() {
        Some("announce") => Action::Announce,
        Some("scrape") => Action::Scrape,
        Some("stats") => Action::Stats,
        other => return Err(format!("invalid action {other:?}")),
    };
    if let Some(reason) = msg.failure_reason {
        return Ok(ServerMessage::Error(ServerError {
            action,
            info_hash: msg.info_hash.unwrap_or_default(),
            reason,
        }));
    }
    let count = |v: Option<f64>| v.filter(|v| *v >= 0.0).map_or(0, |v| v as u32);
    match action {
        Action::Scrape => {
            let mut files: Vec<_> = msg.files.unwrap_or_default().into_iter().collect();
            files.sort_by_key(|(hash, _)| *hash);
            Ok(ServerMessage::Scrape(ScrapeResponse {
                files,
                min_request_interval: msg
                    .flags
                    .and_then(|f| f.min_request_interval)
                    .map(|v| count(Some(v))),
            }))
        }
        Action::Stats => Err("a stats frame from a tracker is always an error".to_owned()),
        Action::Announce => {
            let info_hash = msg.info_hash.as_deref().ok_or("missing info_hash")?;
            let info_hash =
                InfoHash::from_binary_str(info_hash).map_err(|e| format!("info_hash {e}"))?;
            match (msg.offer, msg.answer) {
                (Some(offer), _) => Ok(ServerMessage::Offer(ForwardedOffer {
                    info_hash,
                    peer_id: msg.peer_id.ok_or("an offer needs peer_id")?,
                    offer_id: msg.offer_id.ok_or("an offer needs offer_id")?,
                    offer,
                })),
                (None, Some(answer)) => Ok(ServerMessage::Answer(ForwardedAnswer {
                    info_hash,
                    peer_id: msg.peer_id.ok_or("an answer needs peer_id")?,
                    offer_id: msg.offer_id.ok_or("an answer needs offer_id")?,
                    answer,
                })),
                (None, None) => Ok(ServerMessage::AnnounceResponse(AnnounceResponse {
                    info_hash,
                    complete: count(msg.complete),
                    incomplete: count(msg.incomplete),
                    interval: count(msg.interval),
                })),
            }
        }
    }
}
