//! The WebTorrent tracker protocol over WebSocket: one JSON text frame per message.
//!
//! Both directions are here, so a tracker decodes [`ClientMessage`]s and encodes
//! [`ServerMessage`]s, and a client does the reverse. Decoding is lenient where real clients
//! differ (`null` means absent, unknown `event` means an update, `left` is any number,
//! `numwant` is optional, unknown fields are ignored) and strict on ids (exactly 20 chars
//! U+0000–U+00FF). A frame that cannot be decoded yields a [`DecodeError`] that still knows
//! the frame's `action` and `info_hash`, so the error frame sent back is one that clients
//! accept without dropping their socket.

mod client;
mod ids;
mod qoe;
mod server;

pub use client::{
    decode_client, encode_client, AnnounceEvent, AnnounceRequest, AnswerRequest, ClientMessage,
    DecodeError, Offer, QualityCounters, ScrapeRequest, StatsReport, MAX_CHANNEL_LEN,
};
pub use ids::{Id20, IdError, InfoHash, OfferId, PeerId, ID_LEN, MAX_OFFER_ID_LEN};
pub use qoe::{QoeGroup, QoeReport, QoeSummary, QoeTotals, MAX_TAG_LEN};
pub use server::{
    decode_server, encode_server, encode_server_into, Action, AnnounceResponse, ForwardedAnswer,
    ForwardedOffer, ScrapeFile, ScrapeResponse, ServerError, ServerMessage,
};

use serde::de::{Deserialize, Deserializer, Error as _};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// An SDP offer or answer as the JSON object clients exchange (`{"type":"offer","sdp":"…"}`).
///
/// The tracker relays it byte for byte without looking inside; it must be a JSON object.
#[derive(Clone)]
pub struct Signal(Box<RawValue>);

impl Signal {
    /// `{"type":kind,"sdp":sdp}`, e.g. `Signal::new("answer", &sdp)`.
    pub fn new(kind: &str, sdp: &str) -> Self {
        #[derive(Serialize)]
        struct Sdp<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            sdp: &'a str,
        }
        let json = serde_json::to_string(&Sdp { kind, sdp }).unwrap_or_default();
        Signal(RawValue::from_string(json).unwrap_or_else(|_| empty_object()))
    }

    /// Wraps a JSON object as it is.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let raw = RawValue::from_string(json.to_owned()).map_err(|e| e.to_string())?;
        Self::from_raw(raw).map_err(str::to_owned)
    }

    fn from_raw(raw: Box<RawValue>) -> Result<Self, &'static str> {
        if raw.get().starts_with('{') {
            Ok(Signal(raw))
        } else {
            Err("offer and answer must be JSON objects")
        }
    }

    /// The JSON text, exactly as received.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The `sdp` field, if there is one.
    pub fn sdp(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Sdp {
            sdp: Option<String>,
        }
        serde_json::from_str::<Sdp>(self.json()).ok()?.sdp
    }

    /// The `type` field, if there is one.
    pub fn kind(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Kind {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        serde_json::from_str::<Kind>(self.json()).ok()?.kind
    }
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is valid JSON")
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signal({} bytes)", self.json().len())
    }
}

impl PartialEq for Signal {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Signal::from_raw(raw).map_err(D::Error::custom)
    }
}
