//! An HTTP client that holds a [`Policy`] at every connection it makes, so that what was
//! checked is what is connected to:
//!
//! - a URL naming an IP address is checked before the request is built;
//! - a host name is checked, resolved, and only the addresses the policy allows are handed to
//!   the connector (reqwest's custom DNS resolver): no second lookup can answer differently;
//! - every redirect is checked the same way before it is followed;
//! - proxies are off, since a proxy would resolve names itself.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::{Policy, Refusal};

/// Redirects followed before giving up (reqwest's default too).
const MAX_REDIRECTS: usize = 10;

/// Why a request was not made: the policy refused it, or the URL is not one.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("not a URL: {0}")]
    BadUrl(String),
}

/// A `reqwest::Client` whose every connection obeys one [`Policy`].
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl GuardedClient {
    /// Builds the client from `builder` (the caller's timeouts, user agent, pool settings),
    /// adding the resolver, the redirect rule and no proxy.
    pub fn build(builder: reqwest::ClientBuilder, policy: Policy) -> reqwest::Result<Self> {
        let policy = Arc::new(policy);
        let redirects = {
            let policy = Arc::clone(&policy);
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(Refusal(format!("more than {MAX_REDIRECTS} redirects")));
                }
                match policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => {
                        attempt.error(Refusal(format!("redirect refused: {}", refusal.0)))
                    }
                }
            })
        };
        let client = builder
            .no_proxy()
            .redirect(redirects)
            .dns_resolver(Arc::new(Resolver {
                policy: Arc::clone(&policy),
            }))
            .build()?;
        Ok(GuardedClient { client, policy })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A request to `url`, if the policy allows its scheme and host.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, GuardError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| GuardError::BadUrl(e.to_string()))?;
        self.policy.check_url(&parsed)?;
        Ok(self.client.request(method, parsed))
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, GuardError> {
        self.request(reqwest::Method::GET, url)
    }
}

/// The resolver reqwest calls for every host name it connects to.
struct Resolver {
    policy: Arc<Policy>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let addrs = resolve(&policy, name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a name gave no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("cannot resolve {name}: {error}")]
    Lookup { name: String, error: std::io::Error },
}

/// Checks `name` against the policy, resolves it, and keeps the addresses the policy allows;
/// refuses when it allows none of them.
pub async fn resolve(
    policy: &Policy,
    name: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ResolveError> {
    policy.check_name(name)?;
    let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|error| ResolveError::Lookup {
            name: name.to_owned(),
            error,
        })?
        .collect();
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match policy.check_resolved(name, a.ip()) {
            Ok(()) => true,
            Err(r) => {
                tracing::debug!(host = name, addr = %a.ip(), "address refused: {r}");
                first_refusal.get_or_insert(r);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_refusal) {
        (true, Some(refusal)) => Err(refusal.into()),
        _ => Ok(allowed),
    }
}

/// The policy's refusal behind an error of a request made with a [`GuardedClient`], if that is
/// why it failed (reqwest wraps it in its own errors).
pub fn refusal_of<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r);
        }
        if let Some(ResolveError::Refused(r)) = e.downcast_ref::<ResolveError>() {
            return Some(r);
        }
        if let Some(GuardError::Refused(r)) = e.downcast_ref::<GuardError>() {
            return Some(r);
        }
        cur = e.source();
    }
    None
}
