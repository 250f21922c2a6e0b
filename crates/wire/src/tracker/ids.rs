//! Identifiers carried as JavaScript "binary strings": one char per byte, U+0000–U+00FF.
//!
//! `JSON.stringify` writes such a string as UTF-8, so byte 0xE9 travels as the two bytes
//! `C3 A9`. Decoding maps each char back to one byte and rejects chars above U+00FF;
//! encoding does the reverse, so an id survives a round trip exactly.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// Length of `info_hash` and `peer_id`, in chars.
pub const ID_LEN: usize = 20;
/// Longest `offer_id` accepted, in chars. Reference clients send 20; we accept any length
/// from 1 to this, as the reference server does, but keep ids inline and bounded.
pub const MAX_OFFER_ID_LEN: usize = 40;

/// Why a string is not a valid binary-string id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// A char above U+00FF: not a byte.
    NotLatin1,
    /// Wrong number of chars (the number found).
    Length(usize),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::NotLatin1 => f.write_str("has a char above U+00FF"),
            IdError::Length(n) => write!(f, "has {n} chars"),
        }
    }
}

impl std::error::Error for IdError {}

/// Decodes `s` into `out`, one byte per char; returns the number of chars.
fn decode_latin1(s: &str, out: &mut [u8]) -> Result<usize, IdError> {
    let mut n = 0;
    for c in s.chars() {
        let code = u32::from(c);
        if code > 0xFF {
            return Err(IdError::NotLatin1);
        }
        if n < out.len() {
            out[n] = code as u8;
        }
        n += 1;
    }
    if n > out.len() {
        return Err(IdError::Length(n));
    }
    Ok(n)
}

/// Encodes bytes as a UTF-8 string of chars U+0000–U+00FF into `buf` (2 bytes per input byte).
fn encode_latin1<'b>(bytes: &[u8], buf: &'b mut [u8]) -> &'b str {
    let mut n = 0;
    for &b in bytes {
        n += char::from(b).encode_utf8(&mut buf[n..]).len();
    }
    // Only whole chars were written, so this cannot fail.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

fn fmt_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        write!(f, "{:?}", std::str::from_utf8(bytes).unwrap_or_default())
    } else {
        f.write_str("0x")?;
        bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A 20-byte id (`info_hash`, `peer_id`, `to_peer_id`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id20(pub [u8; ID_LEN]);

/// The swarm key: 20 bytes, e.g. P2P Media Loader's base64 of a truncated SHA-1.
pub type InfoHash = Id20;
/// A peer's id within a swarm, e.g. `-PM0203-` and 12 alphanumerics.
pub type PeerId = Id20;

impl Id20 {
    /// Parses a binary string of exactly 20 chars U+0000–U+00FF.
    pub fn from_binary_str(s: &str) -> Result<Self, IdError> {
        let mut bytes = [0u8; ID_LEN];
        match decode_latin1(s, &mut bytes)? {
            ID_LEN => Ok(Id20(bytes)),
            n => Err(IdError::Length(n)),
        }
    }

    /// The binary string as a Rust string (chars U+0000–U+00FF).
    pub fn to_binary_string(&self) -> String {
        self.0.iter().map(|&b| char::from(b)).collect()
    }

    /// A P2P Media Loader-style peer id: an 8-byte client prefix such as `-SC0001-`, then 12
    /// alphanumerics, one chosen by each byte of `random` (ASCII, so every client decodes it).
    pub fn peer_id(prefix: &[u8; 8], random: [u8; 12]) -> Self {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut id = [0u8; ID_LEN];
        id[..8].copy_from_slice(prefix);
        for (slot, r) in id[8..].iter_mut().zip(random) {
            *slot = ALNUM[usize::from(r) % ALNUM.len()];
        }
        Id20(id)
    }

    /// Lowercase hex, 40 chars.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 40 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 2 * ID_LEN || !s.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; ID_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Id20(bytes))
    }
}

impl fmt::Debug for Id20 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bytes(&self.0, f)
    }
}

impl Serialize for Id20 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 2 * ID_LEN];
        serializer.serialize_str(encode_latin1(&self.0, &mut buf))
    }
}

struct Id20Visitor;

impl Visitor<'_> for Id20Visitor {
    type Value = Id20;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id of 20 chars U+0000-U+00FF (info_hash, peer_id, to_peer_id)")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Id20, E> {
        Id20::from_binary_str(s)
            .map_err(|e| E::custom(format_args!("id {e}, expected 20 chars U+0000-U+00FF")))
    }
}

impl<'de> Deserialize<'de> for Id20 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Id20Visitor)
    }
}

/// An `offer_id`: opaque, 1 to [`MAX_OFFER_ID_LEN`] chars U+0000–U+00FF, relayed verbatim.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferId {
    len: u8,
    bytes: [u8; MAX_OFFER_ID_LEN],
}

impl OfferId {
    /// An offer id from raw bytes (1 to [`MAX_OFFER_ID_LEN`] of them).
    pub fn from_bytes(raw: &[u8]) -> Result<Self, IdError> {
        if raw.is_empty() || raw.len() > MAX_OFFER_ID_LEN {
            return Err(IdError::Length(raw.len()));
        }
        let mut bytes = [0u8; MAX_OFFER_ID_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(OfferId {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// Parses a binary string of 1 to [`MAX_OFFER_ID_LEN`] chars U+0000–U+00FF.
    pub fn from_binary_str(s: &str) -> Result<Self, IdError> {
        let mut bytes = [0u8; MAX_OFFER_ID_LEN];
        match decode_latin1(s, &mut bytes)? {
            0 => Err(IdError::Length(0)),
            n => Ok(OfferId {
                len: n as u8,
                bytes,
            }),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The binary string as a Rust string (chars U+0000–U+00FF).
    pub fn to_binary_string(&self) -> String {
        self.as_bytes().iter().map(|&b| char::from(b)).collect()
    }
}

impl From<Id20> for OfferId {
    fn from(id: Id20) -> Self {
        let mut bytes = [0u8; MAX_OFFER_ID_LEN];
        bytes[..ID_LEN].copy_from_slice(&id.0);
        OfferId {
            len: ID_LEN as u8,
            bytes,
        }
    }
}

impl fmt::Debug for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bytes(self.as_bytes(), f)
    }
}

impl Serialize for OfferId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 2 * MAX_OFFER_ID_LEN];
        serializer.serialize_str(encode_latin1(self.as_bytes(), &mut buf))
    }
}

struct OfferIdVisitor;

impl Visitor<'_> for OfferIdVisitor {
    type Value = OfferId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an offer_id of 1 to {MAX_OFFER_ID_LEN} chars U+0000-U+00FF"
        )
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<OfferId, E> {
        OfferId::from_binary_str(s).map_err(|e| {
            E::custom(format_args!(
                "offer_id {e}, expected 1 to {MAX_OFFER_ID_LEN} chars U+0000-U+00FF"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for OfferId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(OfferIdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_the_prefix_and_twelve_alphanumerics() {
        let id = Id20::peer_id(b"-SC0001-", [0, 61, 62, 255, 9, 10, 35, 36, 51, 52, 1, 2]);
        assert_eq!(&id.0, b"-SC0001-A9AHJKjkz0BC");
        let any = Id20::peer_id(b"-SV0001-", [200; 12]);
        assert!(any.0[8..].iter().all(u8::is_ascii_alphanumeric));
    }

    #[test]
    fn every_byte_value_round_trips_through_json() {
        let mut bytes = [0u8; ID_LEN];
        for start in (0..=255u8).step_by(ID_LEN) {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8);
            }
            let id = Id20(bytes);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<Id20>(&json).unwrap(), id);
        }
    }

    #[test]
    fn high_bytes_travel_as_two_byte_utf8_and_controls_as_escapes() {
        let mut bytes = [b'a'; ID_LEN];
        bytes[0] = 0x00;
        bytes[1] = 0xE9;
        bytes[2] = 0xFF;
        let json = serde_json::to_string(&Id20(bytes)).unwrap();
        assert!(json.starts_with("\"\\u0000\u{e9}\u{ff}aaa"), "{json}");
    }

    #[test]
    fn rejects_wrong_length_and_chars_above_ff() {
        assert_eq!(Id20::from_binary_str("short"), Err(IdError::Length(5)));
        assert_eq!(
            Id20::from_binary_str(&"a".repeat(21)),
            Err(IdError::Length(21))
        );
        assert_eq!(
            Id20::from_binary_str("\u{100}aaaaaaaaaaaaaaaaaaa"),
            Err(IdError::NotLatin1)
        );
        // 20 chars but 40 UTF-8 bytes: valid.
        assert!(Id20::from_binary_str(&"\u{e9}".repeat(20)).is_ok());
        assert!(OfferId::from_binary_str("").is_err());
        assert!(OfferId::from_binary_str(&"x".repeat(41)).is_err());
        assert_eq!(OfferId::from_binary_str("abc").unwrap().as_bytes(), b"abc");
    }

    #[test]
    fn hex_round_trip() {
        let id = Id20(*b"-PM0203-abcdefghijkl");
        assert_eq!(Id20::from_hex(&id.to_hex()), Some(id));
        assert_eq!(Id20::from_hex("zz"), None);
    }
}
