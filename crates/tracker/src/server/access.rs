//! Access control at upgrade time: token, page origin, connection limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

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

/// Checks `?token=` (when a token is configured), comparing in constant time.
pub fn check_token(config: &TrackerConfig, query: Option<&str>) -> Result<(), Refusal> {
    let Some(expected) = &config.token else {
        return Ok(());
    };
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
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(Refusal {
            status: StatusCode::UNAUTHORIZED,
            message: "wrong token in the announce URL".to_owned(),
            reason: Some(Reject::Token),
        }),
        None => Err(Refusal {
            status: StatusCode::UNAUTHORIZED,
            message: "this tracker needs ?token= in the announce URL".to_owned(),
            reason: Some(Reject::Token),
        }),
    }
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
        assert!(check_token(&config, Some("token=s3cret")).is_ok());
        assert!(check_token(&config, Some("a=1&token=s3cret")).is_ok());
        assert!(check_token(&config, Some("token=s3cre")).is_err());
        assert!(check_token(&config, Some("token=s3cret2")).is_err());
        assert!(check_token(&config, None).is_err());
        assert!(check_token(&TrackerConfig::default(), None).is_ok());
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
