//! Viewer tokens that expire, the way CDNs sign URLs: the site's backend signs a channel id
//! and an expiry time with a secret it shares with the tracker; the tracker checks the
//! signature and the time when a viewer's WebSocket opens, and then holds the connection to
//! that channel. Pure: the caller passes the current Unix time.
//!
//! A token is `{expires}.{channel}.{signature}`:
//! - `expires`: Unix time in seconds after which the token is refused;
//! - `channel`: the channel id (by default the manifest URL without query), base64url
//!   without padding; empty means any channel of the site;
//! - `signature`: base64url without padding of
//!   `HMAC-SHA256(secret, "swarmcast-viewer-token\n" + channel + "\n" + expires)`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// What every signed message starts with, so a signature made for something else never
/// passes for a viewer token.
const CONTEXT: &str = "swarmcast-viewer-token";
/// Longest token looked at.
const MAX_TOKEN: usize = 4096;

/// A token that passed: the channel it is for (`None`: any channel) and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub channel: Option<String>,
    pub expires: u64,
}

/// Why a token was refused; the message is safe to send back (it never repeats the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the viewer token is not of the form EXPIRES.CHANNEL.SIGNATURE")]
    Malformed,
    #[error("the viewer token expired {ago} s ago: the page needs a fresh one")]
    Expired { ago: u64 },
    #[error("the viewer token's signature does not match")]
    BadSignature,
}

fn message(channel: &str, expires: u64) -> String {
    format!("{CONTEXT}\n{channel}\n{expires}")
}

fn key(secret: &[u8]) -> ring::hmac::Key {
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)
}

/// Signs a token for `channel` (empty: any channel) valid until `expires` (Unix seconds).
pub fn sign(secret: &[u8], channel: &str, expires: u64) -> String {
    let tag = ring::hmac::sign(&key(secret), message(channel, expires).as_bytes());
    format!(
        "{expires}.{}.{}",
        URL_SAFE_NO_PAD.encode(channel),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// Checks `token` at Unix time `now`: its form, then its signature (in constant time), then
/// its expiry.
pub fn verify(secret: &[u8], token: &str, now: u64) -> Result<Grant, TokenError> {
    if token.len() > MAX_TOKEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(expires), Some(channel), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let channel = URL_SAFE_NO_PAD
        .decode(channel)
        .ok()
        .and_then(|c| String::from_utf8(c).ok())
        .ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    ring::hmac::verify(
        &key(secret),
        message(&channel, expires).as_bytes(),
        &signature,
    )
    .map_err(|_| TokenError::BadSignature)?;
    if expires <= now {
        return Err(TokenError::Expired { ago: now - expires });
    }
    Ok(Grant {
        channel: (!channel.is_empty()).then_some(channel),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"site-and-tracker-secret";
    const CHANNEL: &str = "https://cdn.example.com/live/news/index.m3u8";

    #[test]
    fn a_signed_token_passes_until_it_expires() {
        let token = sign(SECRET, CHANNEL, 1_000);
        let grant = verify(SECRET, &token, 999).unwrap();
        assert_eq!(grant.channel.as_deref(), Some(CHANNEL));
        assert_eq!(
            verify(SECRET, &token, 1_000),
            Err(TokenError::Expired { ago: 0 })
        );
        assert_eq!(
            verify(SECRET, &token, 1_060),
            Err(TokenError::Expired { ago: 60 })
        );
        assert_eq!(
            verify(SECRET, &sign(SECRET, "", 1_000), 10)
                .unwrap()
                .channel,
            None
        );
    }

    #[test]
    fn anything_changed_is_refused() {
        let token = sign(SECRET, CHANNEL, 1_000);
        assert_eq!(
            verify(b"other secret", &token, 0),
            Err(TokenError::BadSignature)
        );
        // A later expiry with the same signature.
        let later = token.replacen("1000.", "9000.", 1);
        assert_eq!(verify(SECRET, &later, 0), Err(TokenError::BadSignature));
        // Another channel with the same signature.
        let (_, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let other = format!(
            "1000.{}.{sig}",
            URL_SAFE_NO_PAD.encode("https://cdn.example.com/x")
        );
        assert_eq!(verify(SECRET, &other, 0), Err(TokenError::BadSignature));
        for bad in ["", "1000", "1000.a", "x.YQ.YQ", "1000.%%.YQ", "1.YQ.YQ.YQ"] {
            assert_eq!(verify(SECRET, bad, 0), Err(TokenError::Malformed), "{bad}");
        }
        assert_eq!(
            verify(SECRET, &"1".repeat(5000), 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_documented_message() {
        // Computed with another HMAC-SHA256 implementation (Python's hmac module), so a
        // site's backend can sign tokens in any language.
        assert_eq!(
            sign(b"key", "ch", 42),
            "42.Y2g.JVaGWOqJxe8CptA_mkP67UQvRJ-81xUfWmiCSMx8ZAQ"
        );
    }
}
