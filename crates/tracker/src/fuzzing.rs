//! Entry points for the fuzz targets (`fuzz/` at the repository root): the pure parts of the
//! server that read bytes from a connection, reachable without a socket. Not an API: hidden
//! from the docs and free to change with the server.

use wire::tracker::InfoHash;

use crate::config::TrackerConfig;
use crate::server::handshake::{parse_head, Head};

/// What the tracker makes of the first bytes of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstRequest {
    /// Not a complete request head yet.
    Partial,
    /// Handed to the HTTP server (any other request, or a malformed one).
    Http,
    /// A WebSocket upgrade: its head length, and the HTTP status it is refused with, if so.
    WebSocket {
        head_len: usize,
        refused: Option<u16>,
    },
}

/// Classifies the start of a connection as the connection task does.
pub fn first_request(bytes: &[u8], config: &TrackerConfig) -> FirstRequest {
    match parse_head(bytes, config) {
        Head::Partial => FirstRequest::Partial,
        Head::Http => FirstRequest::Http,
        Head::WebSocket(mut upgrade, head_len) => FirstRequest::WebSocket {
            head_len,
            refused: upgrade.take_refusal().map(|r| r.status.as_u16()),
        },
    }
}

/// The info_hash of a `GET /channels/{info_hash}` path.
pub fn channel_path(raw: &str) -> Option<InfoHash> {
    crate::server::http::parse_info_hash(raw)
}
