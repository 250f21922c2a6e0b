//! The first request on a connection: WebSocket upgrades are answered here directly, any
//! other HTTP request goes to hyper and axum.
//!
//! Answering the upgrade ourselves means a WebSocket connection holds only its socket and
//! its small framing state: no hyper connection, no boxed upgraded stream, one task.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::config::TrackerConfig;

use super::access::{check_origin, check_token, Access, Refusal};

/// Largest request head read before deciding; longer heads go to hyper, which applies its
/// own limits.
const MAX_HEAD: usize = 8 * 1024;
/// Headers looked at; a request with more goes to hyper.
const MAX_HEADERS: usize = 48;

/// What the first request is.
pub enum Request {
    /// A WebSocket upgrade on the announce path, already accepted or refused.
    WebSocket(Upgrade),
    /// Anything else: hand the bytes read so far to hyper.
    Http(Vec<u8>),
}

/// A WebSocket upgrade request, as far as the tracker cares.
pub struct Upgrade {
    accept_key: String,
    refusal: Option<Refusal>,
    /// What the token allows, when it passed.
    pub access: Access,
    /// Bytes the client sent after the request head (normally none).
    pub rest: Vec<u8>,
}

/// Reads the request head (the caller bounds the time) and classifies it.
pub async fn read_request<S>(stream: &mut S, config: &TrackerConfig) -> io::Result<Request>
where
    S: AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() >= MAX_HEAD {
            return Ok(Request::Http(buf));
        }
        let start = buf.len();
        buf.resize(start + 1024.min(MAX_HEAD - start), 0);
        let n = stream.read(&mut buf[start..]).await?;
        buf.truncate(start + n);
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match parse_head(&buf, config) {
            Head::Partial => continue,
            Head::WebSocket(mut upgrade, len) => {
                upgrade.rest = buf.split_off(len);
                return Ok(Request::WebSocket(upgrade));
            }
            Head::Http => return Ok(Request::Http(buf)),
        }
    }
}

/// What the bytes read so far of a first request are.
pub enum Head {
    /// The head is not complete yet.
    Partial,
    /// A WebSocket upgrade on the announce path whose head takes this many bytes.
    WebSocket(Upgrade, usize),
    /// Any other request, or a malformed one: hyper answers it.
    Http,
}

/// Classifies the start of a request. Pure: what the connection task does with the bytes
/// it read, and what the fuzzer feeds arbitrary bytes to.
pub fn parse_head(buf: &[u8], config: &TrackerConfig) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Partial) => Head::Partial,
        Ok(httparse::Status::Complete(len)) => match classify(&request, config) {
            Some(upgrade) => Head::WebSocket(upgrade, len),
            None => Head::Http,
        },
        // Hyper answers malformed requests (400) and oversized header lists (431).
        Err(_) => Head::Http,
    }
}

fn classify(request: &httparse::Request<'_, '_>, config: &TrackerConfig) -> Option<Upgrade> {
    let (path, query) = match request.path?.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.path?, None),
    };
    if request.method != Some("GET") || !matches!(path, "/" | "/announce") {
        return None;
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let has_token = |name: &str, token: &str| {
        header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return None;
    }
    let key = header("sec-websocket-key")?;
    let checked = if header("sec-websocket-version") != Some(b"13") {
        Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            message: "only WebSocket version 13 is supported".to_owned(),
            reason: None,
        })
    } else {
        check_token(config, query, unix_now()).and_then(|access| {
            check_origin(config, header("origin"))?;
            Ok(access)
        })
    };
    let (access, refusal) = match checked {
        Ok(access) => (access, None),
        Err(refusal) => (Access::default(), Some(refusal)),
    };
    Some(Upgrade {
        accept_key: accept_key(key),
        refusal,
        access,
        rest: Vec::new(),
    })
}

/// Seconds since the Unix epoch, for viewer-token expiry.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 section 4.2.2).
fn accept_key(key: &[u8]) -> String {
    use base64::Engine;
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut context = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    context.update(key);
    context.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(context.finish())
}

impl Upgrade {
    /// Token, origin or protocol version refused, if so.
    pub fn take_refusal(&mut self) -> Option<Refusal> {
        self.refusal.take()
    }

    /// Sends `101 Switching Protocols`.
    pub async fn accept<S: AsyncWrite + Unpin>(&self, stream: &mut S) -> io::Result<()> {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: {}\r\n\r\n",
            self.accept_key
        );
        stream.write_all(response.as_bytes()).await?;
        stream.flush().await
    }
}

/// Sends a refusal as a complete HTTP response and ends the connection.
pub async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, refusal: &Refusal) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        refusal.status.as_u16(),
        refusal.status.canonical_reason().unwrap_or(""),
        refusal.message.len(),
        refusal.message
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A stream that first yields bytes already read from it.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    offset: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed {
            prefix,
            offset: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.offset < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.offset);
            buf.put_slice(&this.prefix[this.offset..this.offset + n]);
            this.offset += n;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            super::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
