//! Segment digest manifests: which SHA-256 each segment of a folder must have, so that bytes
//! from peers can be checked before they are played.
//!
//! The format is PeerTube's `segments-sha256.json`: a JSON object keyed by file name (the last
//! path component of a segment's URL). A value is either the hex SHA-256 of the whole file, or
//! an object keyed by inclusive byte ranges `"<first>-<last>"` whose values are the digests of
//! those ranges: the segments that are byte ranges of one file (`EXT-X-BYTERANGE`, a DASH
//! `sidx`), and the fixed-size pieces a progressive file is shared in. Any packager can write
//! it; `swarmcast hash` writes it for a folder and `swarmcast origin` serves one per live stream.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// An inclusive byte range, as HTTP `Range` and the manifest write it.
pub type ByteRange = (u64, u64);

/// The digests of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileDigests {
    Whole(String),
    Ranges(BTreeMap<ByteRange, String>),
}

/// A folder's digests, by file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestManifest {
    pub files: BTreeMap<String, FileDigests>,
}

/// Why bytes are not a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("a segment digest manifest is a JSON object keyed by file name")]
    NotAnObject,
    #[error("{file}: {what}")]
    Entry { file: String, what: String },
}

impl DigestManifest {
    /// Reads a manifest (PeerTube's format or ours, which is the same).
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(ManifestError::NotAnObject);
        };
        let mut files = BTreeMap::new();
        for (file, v) in map {
            let err = |what: String| ManifestError::Entry {
                file: file.clone(),
                what,
            };
            let digests = match v {
                Value::String(d) => FileDigests::Whole(check_digest(&d).map_err(err)?),
                Value::Object(ranges) => {
                    let mut out = BTreeMap::new();
                    for (range, d) in ranges {
                        let r = parse_range(&range)
                            .ok_or_else(|| err(format!("\"{range}\" is not a byte range")))?;
                        let Value::String(d) = d else {
                            return Err(err(format!("{range}: the digest is not a string")));
                        };
                        out.insert(r, check_digest(&d).map_err(err)?);
                    }
                    FileDigests::Ranges(out)
                }
                _ => return Err(err("expected a digest or an object of byte ranges".into())),
            };
            files.insert(file, digests);
        }
        Ok(Self { files })
    }

    /// The manifest as JSON: files by name, ranges in byte order, one entry a line.
    pub fn to_json(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let mut out = String::from("{");
        for (i, (file, digests)) in self.files.iter().enumerate() {
            out.push_str(if i == 0 { "\n  " } else { ",\n  " });
            out.push_str(&quote(file));
            out.push_str(": ");
            match digests {
                FileDigests::Whole(d) => out.push_str(&quote(d)),
                FileDigests::Ranges(ranges) => {
                    out.push('{');
                    for (j, ((first, last), d)) in ranges.iter().enumerate() {
                        out.push_str(if j == 0 { "\n    " } else { ",\n    " });
                        let _ = write!(out, "\"{first}-{last}\": {}", quote(d));
                    }
                    out.push_str(if ranges.is_empty() { "}" } else { "\n  }" });
                }
            }
        }
        out.push_str(if self.files.is_empty() {
            "}\n"
        } else {
            "\n}\n"
        });
        out
    }

    /// The digest of a whole file, or of a byte range of it.
    pub fn lookup(&self, file: &str, range: Option<ByteRange>) -> Option<&str> {
        match (self.files.get(file)?, range) {
            (FileDigests::Whole(d), None) => Some(d),
            (FileDigests::Ranges(r), Some(range)) => r.get(&range).map(String::as_str),
            _ => None,
        }
    }
}

fn parse_range(s: &str) -> Option<ByteRange> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

fn check_digest(d: &str) -> Result<String, String> {
    let lower = d.to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(format!(
            "\"{}\" is not a SHA-256 in hex",
            d.chars().take(80).collect::<String>()
        ))
    }
}

/// SHA-256 of the bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    let mut s = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The pieces a file of `len` bytes is shared in: `piece_len` bytes each, the last shorter.
pub fn pieces(len: u64, piece_len: u64) -> Vec<ByteRange> {
    let piece_len = piece_len.max(1);
    (0..len.div_ceil(piece_len))
        .map(|k| (k * piece_len, ((k + 1) * piece_len).min(len) - 1))
        .collect()
}

#[cfg(test)]
mod tests;
