//! Access control at upgrade time: token (static, or a viewer token that expires), page
//! origin, connection limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::viewer_token;

use axum::http::StatusCode;

use crate::config::TrackerConfig;

use super::metrics::Reject;

/// A refusal: the HTTP status, the message, and the metric reason.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// The metric reason (`None`: not counted, e.g. a malformed upgrade).
    pub reason: Option<Reject>,
}

/// What a connection's token allows: any channel, or the one of its viewer token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub channel: Option<Arc<str>>,
}

/// Checks `?token=` when a token or a viewer-token secret is configured: the static token
/// (compared in constant time), or a viewer token signed with the secret and not expired at
/// `now_unix`. Messages never repeat the token.
pub fn check_token(
    config: &TrackerConfig,
    query: Option<&str>,
    now_unix: u64,
) -> Result<Access, Refusal> {
    if config.token.is_none() && config.token_secret.is_none() {
        return Ok(Access::default());
    }
    let given = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        });
    let refuse = |message: String, reason| Refusal {
        status: StatusCode::UNAUTHORIZED,
        message,
        reason: Some(reason),
    };
    let Some(given) = given else {
        return Err(refuse(
            "this tracker needs ?token= in the announce URL".to_owned(),
            Reject::Token,
        ));
    };
    if let Some(expected) = &config.token {
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Ok(Access::default());
        }
    }
    if let Some(secret) = &config.token_secret {
        match viewer_token::verify(secret, &given, now_unix) {
            Ok(grant) => {
                return Ok(Access {
                    channel: grant.channel.map(Arc::from),
                })
            }
            Err(e @ viewer_token::TokenError::Expired { .. }) => {
                return Err(refuse(e.to_string(), Reject::TokenExpired))
            }
            Err(e @ viewer_token::TokenError::BadSignature) => {
                return Err(refuse(e.to_string(), Reject::Token))
            }
            Err(viewer_token::TokenError::Malformed) if config.token.is_none() => {
                return Err(refuse(
                    viewer_token::TokenError::Malformed.to_string(),
                    Reject::Token,
                ))
            }
            Err(viewer_token::TokenError::Malformed) => {}
        }
    }
    Err(refuse(
        "wrong token in the announce URL".to_owned(),
        Reject::Token,
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, y) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ y);
    }
    diff == 0
}

/// Checks the `Origin` header against the allow-list. Requests without `Origin` (not from
/// a browser page) pass: any non-browser client could send whatever Origin it likes.
pub fn check_origin(config: &TrackerConfig, origin: Option<&[u8]>) -> Result<(), Refusal> {
    if config.allowed_origins.is_empty() {
        return Ok(());
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    let origin = std::str::from_utf8(origin)
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/');
    if config
        .allowed_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        Ok(())
    } else {
        Err(Refusal {
            status: StatusCode::FORBIDDEN,
            message: format!("origin {origin} is not allowed on this tracker"),
            reason: Some(Reject::Origin),
        })
    }
}

/// Open WebSocket connections, in total and per IP.
#[derive(Debug, Default)]
pub struct ConnectionLimits {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection's place in [`ConnectionLimits`], given back on drop.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub fn acquire(&self, ip: IpAddr, config: &TrackerConfig) -> Result<Slot, Refusal> {
        let mut counts = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= config.max_connections {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "the tracker is full ({} connections); try again later",
                    config.max_connections
                ),
                reason: Some(Reject::ConnectionsTotal),
            });
        }
        let from_ip = counts.per_ip.entry(ip).or_default();
        if *from_ip >= config.max_connections_per_ip {
            return Err(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "too many connections from {ip} (at most {})",
                    config.max_connections_per_ip
                ),
                reason: Some(Reject::ConnectionsPerIp),
            });
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(Slot {
            inner: self.inner.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_must_match_exactly() {
        let config = TrackerConfig {
            token: Some("s3cret".into()),
            ..TrackerConfig::default()
        };
        assert!(check_token(&config, Some("token=s3cret"), 0).is_ok());
        assert!(check_token(&config, Some("a=1&token=s3cret"), 0).is_ok());
        assert!(check_token(&config, Some("token=s3cre"), 0).is_err());
        assert!(check_token(&config, Some("token=s3cret2"), 0).is_err());
        assert!(check_token(&config, None, 0).is_err());
        assert!(check_token(&TrackerConfig::default(), None, 0).is_ok());
    }

    #[test]
    fn viewer_tokens_expire_and_carry_their_channel() {
        let config = TrackerConfig {
            token: Some("static".into()),
            token_secret: Some(b"secret".to_vec()),
            ..TrackerConfig::default()
        };
        let token = viewer_token::sign(b"secret", "https://o/a.m3u8", 1_000);
        let query = format!("token={token}");
        let access = check_token(&config, Some(&query), 999).unwrap();
        assert_eq!(access.channel.as_deref(), Some("https://o/a.m3u8"));
        let expired = check_token(&config, Some(&query), 1_000).unwrap_err();
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert!(expired.message.contains("expired"), "{}", expired.message);
        assert!(matches!(expired.reason, Some(Reject::TokenExpired)));
        assert!(!expired.message.contains(&token));
        // The static token still works beside it; anything else is wrong.
        assert_eq!(
            check_token(&config, Some("token=static"), 5_000).unwrap(),
            Access::default()
        );
        assert!(check_token(&config, Some("token=other"), 0)
            .unwrap_err()
            .message
            .contains("wrong token"));
        let forged = viewer_token::sign(b"guess", "https://o/a.m3u8", 9_000);
        assert!(check_token(&config, Some(&format!("token={forged}")), 0)
            .unwrap_err()
            .message
            .contains("signature"));
    }

    #[test]
    fn slots_are_counted_and_released() {
        let config = TrackerConfig {
            max_connections: 3,
            max_connections_per_ip: 2,
            ..TrackerConfig::default()
        };
        let limits = ConnectionLimits::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = limits.acquire(a, &config).unwrap();
        let _s2 = limits.acquire(a, &config).unwrap();
        assert_eq!(
            limits.acquire(a, &config).unwrap_err().status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let _s3 = limits.acquire(b, &config).unwrap();
        assert_eq!(
            limits.acquire(b, &config).unwrap_err().status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(s1);
        assert!(limits.acquire(a, &config).is_ok());
    }
}
