//! What a seed may make the super peer reach, checked before any worker starts.
//!
//! - The channel URL must be one `originHosts` allows: its host listed, and every address it
//!   leads to public or listed, after DNS and after redirects. The master requests it once
//!   through the guarded client, exactly as the worker would, so a redirect to a refused place
//!   is caught here too. An origin that does not answer is not a refusal: the worker retries.
//! - A seed's own `signal1` / `signal2` must name a host of `signalHosts` (by default the
//!   hosts of the configured trackers), so a seed cannot point workers at any host it likes.
//!
//! The worker fetches through the same guarded client, so a manifest that lists segments or
//! variants elsewhere is held to the same rules.

use std::time::Duration;

use outbound::GuardedClient;

use super::validate::SeedSpec;
use crate::config::{url_host, MasterConfig};

/// How long the master waits for the origin's answer to its check of a channel URL.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Channel URLs checked at once.
const PROBE_CONCURRENCY: usize = 8;

/// A seed the policy does not allow: HTTP 403 with this message (the field, then why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

/// The field a channel URL came from: `url` when the seed gave one, else `channel`.
fn url_field(i: usize, spec: &SeedSpec) -> String {
    if spec.url == spec.channel_id {
        format!("list[{i}].channel")
    } else {
        format!("list[{i}].url")
    }
}

/// Checks a seed's own tracker URLs against `signalHosts` (pure).
pub fn check_signals(specs: &[SeedSpec], config: &MasterConfig) -> Result<(), Forbidden> {
    let allowed = config.allowed_signal_hosts();
    let any = allowed.iter().any(|h| h == "*");
    for (i, spec) in specs.iter().enumerate() {
        for (name, url) in [
            ("signal1", Some(&spec.signal1)),
            ("signal2", spec.signal2.as_ref()),
        ] {
            let Some(url) = url else { continue };
            let host = url_host(url).unwrap_or_default();
            if any || allowed.contains(&host) {
                continue;
            }
            return Err(Forbidden(format!(
                "list[{i}].{name}: {host} is not a tracker host this super peer connects to: \
                 configure it as signal1, signal2 or in trackerZones, or add it to signalHosts \
                 (`*` allows any)"
            )));
        }
    }
    Ok(())
}

/// Checks every seed's channel URL with one request through `client`; the first refusal
/// is returned with the field it came from.
pub async fn check_origins(specs: &[SeedSpec], client: &GuardedClient) -> Result<(), Forbidden> {
    for (n, chunk) in specs.chunks(PROBE_CONCURRENCY).enumerate() {
        let mut probes = Vec::with_capacity(chunk.len());
        for spec in chunk {
            probes.push(probe(client, &spec.url));
        }
        let results = futures_util::future::join_all(probes).await;
        for (j, (result, spec)) in results.into_iter().zip(chunk).enumerate() {
            let i = n * PROBE_CONCURRENCY + j;
            result.map_err(|why| Forbidden(format!("{}: {why}", url_field(i, spec))))?;
        }
    }
    Ok(())
}

/// `Err` only when the policy refuses the URL or where it leads; an origin that is down, slow
/// or answers an error status is the worker's business.
async fn probe(client: &GuardedClient, url: &str) -> Result<(), String> {
    let request = match client.get(url) {
        Ok(r) => r,
        Err(outbound::GuardError::Refused(r)) => return Err(r.0),
        Err(e) => return Err(e.to_string()),
    };
    match tokio::time::timeout(PROBE_TIMEOUT, request.send()).await {
        Ok(Err(e)) => match outbound::refusal_of(&e) {
            Some(refusal) => Err(refusal.0.clone()),
            None => {
                tracing::debug!(url = %wire::redact::url(url), "channel URL check: {}", e.without_url());
                Ok(())
            }
        },
        // Answered (the body is not read), or too slow to tell: the worker will see.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(signal1: &str, signal2: Option<&str>) -> SeedSpec {
        SeedSpec {
            channel: String::new(),
            channel_id: "http://o/x.m3u8".into(),
            swarm_base: "http://o/x.m3u8".into(),
            url: "http://o/x.m3u8".into(),
            token: String::new(),
            tracker_zone: None,
            live: false,
            signal1: signal1.into(),
            signal2: signal2.map(Into::into),
            priority: 0,
            keep_alive: false,
            no_use_disk_cache: false,
            max_connections: 80,
            label: String::new(),
            piece_length: None,
        }
    }

    fn config(pairs: &[(&str, &str)]) -> MasterConfig {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MasterConfig::from_map(&map).unwrap()
    }

    #[test]
    fn seed_trackers_must_be_on_configured_hosts() {
        let c = config(&[("signal1", "ws://127.0.0.1:8000")]);
        assert!(check_signals(&[spec("ws://127.0.0.1:9001/", None)], &c).is_ok());
        let e = check_signals(
            &[spec("ws://127.0.0.1:8000", Some("ws://10.0.0.1:22/"))],
            &c,
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("list[0].signal2: 10.0.0.1 is not a tracker host"),
            "{e}"
        );
        let any = config(&[("signalHosts", "*")]);
        assert!(check_signals(&[spec("ws://anything.example/", None)], &any).is_ok());
    }

    #[test]
    fn the_refused_field_is_the_one_the_url_came_from() {
        let mut s = spec("ws://t", None);
        assert_eq!(url_field(3, &s), "list[3].channel");
        s.url = "http://o/other.m3u8".into();
        assert_eq!(url_field(3, &s), "list[3].url");
    }
}
