//! The console's HTTP clients and what they share: a plain one for the operator's trackers,
//! and clients held to an allow-list ([`outbound`]) for the URLs it is given (super peers) or
//! finds in tracker data (channel manifests); one retry for idempotent requests whose pooled
//! connection failed; errors in words for the operator.

use std::time::Duration;

/// Servers close idle keep-alive connections (the tracker after its 10 s header timeout); a
/// pooled connection idle for longer than this is not reused.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// A client builder with the console's timeouts and pool settings.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

/// A client whose every connection, DNS answer and redirect obeys `policy`.
pub fn guarded(
    timeout: Duration,
    policy: outbound::Policy,
) -> reqwest::Result<outbound::GuardedClient> {
    outbound::GuardedClient::build(builder(timeout), policy)
}

/// Why a super peer call failed, in words for the operator.
pub fn describe(e: &reqwest::Error) -> String {
    if let Some(refusal) = outbound::refusal_of(e) {
        format!("refused: {refusal}")
    } else if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let mut msg = "cannot connect".to_owned();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg = format!("cannot connect: {s}");
            src = s.source();
        }
        msg
    } else {
        e.to_string()
    }
}

/// Whether a request may be sent again after a connection-level failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Idempotent requests: sent once more on a fresh connection.
    Once,
    Never,
}

/// Sends `req`; with [`Retry::Once`], sends it again when the connection failed under it
/// (typically a pooled keep-alive connection the server closed as idle just as the request
/// went out: hyper reports "connection closed before message completed").
pub async fn send(
    req: reqwest::RequestBuilder,
    retry: Retry,
) -> Result<reqwest::Response, reqwest::Error> {
    let again = match retry {
        Retry::Once => req.try_clone(),
        Retry::Never => None,
    };
    match req.send().await {
        Err(e) if is_connection_failure(&e) => match again {
            Some(again) => {
                tracing::debug!(error = %e, "connection failed under a request; sending it again");
                again.send().await
            }
            None => Err(e),
        },
        other => other,
    }
}

/// A failure of the connection (not a timeout, not an HTTP status): the request can be sent
/// again on a new connection.
fn is_connection_failure(e: &reqwest::Error) -> bool {
    e.is_request() && !e.is_timeout() && !e.is_builder()
}
