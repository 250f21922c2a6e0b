//! Console configuration; `Default` gives a working console on an in-memory database.

use std::path::PathBuf;
use std::time::Duration;

use crate::listed::Kind;
use crate::planner::PlannerConfig;
use crate::store::NewSuperPeer;
use crate::traffic::{Resolution, DEFAULT_RESOLUTIONS};

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// SQLite file; `None` keeps everything in memory (lost on exit).
    pub database: Option<PathBuf>,
    /// Token the dashboard and API clients must present (`Authorization: Bearer` or
    /// `X-ACCESS-TOKEN`). Empty leaves the API open: allowed on loopback, elsewhere only with
    /// `allow_open`.
    pub admin_token: String,
    /// Serve on an address other than loopback without an admin token (warned at start).
    pub allow_open: bool,
    /// Hosts and addresses super peers may be called at ([`outbound::Policy`] entries:
    /// names, `*.domain`, addresses, networks, `*`). Empty: the hosts of `super_peers`, and
    /// the addresses their names have at start.
    pub super_peer_hosts: Vec<String>,
    /// Hosts and addresses channel manifests may be read from (to tell live from VOD, and the
    /// listed channels and indexes). Empty: the hosts of the channels and indexes listed at
    /// start, with the addresses their names have then; none listed: manifests are not read,
    /// and seeds carry `seed.live`.
    pub origin_hosts: Vec<String>,
    /// Tracker HTTP base URLs polled for `GET /channels`.
    pub trackers: Vec<String>,
    /// Tracker WebSocket URLs given to super peers as `signal1` / `signal2`; empty derives
    /// them from `trackers` (http -> ws).
    pub signals: Vec<String>,
    /// Seeding plan cadence.
    pub seed_interval: Duration,
    /// Super peer `/ping` + `/stats` cadence.
    pub health_interval: Duration,
    /// Tracker poll cadence (also the finest traffic resolution worth having).
    pub traffic_interval: Duration,
    /// Timeout of every call to a super peer or tracker.
    pub request_timeout: Duration,
    /// Built dashboard folder (`web/dashboard/dist`), for development; `None` serves the one
    /// built into the binary, and a hint page if the binary has none.
    pub dashboard_dir: Option<PathBuf>,
    pub planner: PlannerConfig,
    pub seed: SeedDefaults,
    /// Rollup levels of the traffic history.
    pub resolutions: Vec<Resolution>,
    /// Channels with their own traffic series (the most watched); all count in the total.
    pub max_traffic_channels: usize,
    /// Decision log entries kept.
    pub max_decisions: u32,
    /// Super peers registered at start (updated in place when the URL is known).
    pub super_peers: Vec<NewSuperPeer>,
    /// Forces automatic seeding on or off at start; `None` keeps the stored choice (on by
    /// default).
    pub auto_seeding: Option<bool>,
    /// Channel URLs and index URLs listed at start (kept with those listed through the API).
    pub listed: Vec<(Kind, String)>,
    /// How often listed manifests and indexes are read again (their variants may change).
    pub listed_refresh: Duration,
}

/// Fields of the `POST /seed` entries the console sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedDefaults {
    pub token: String,
    pub tracker_zone: String,
    /// `live` when the channel's manifest cannot be read to tell (it normally decides).
    pub live: bool,
    pub priority: u32,
    pub keep_alive: bool,
    pub no_use_disk_cache: bool,
    pub max_connections: u32,
    /// Label of automatically seeded workers.
    pub label: String,
}

impl Default for SeedDefaults {
    fn default() -> Self {
        SeedDefaults {
            token: String::new(),
            tracker_zone: String::new(),
            live: true,
            priority: 0,
            keep_alive: true,
            no_use_disk_cache: false,
            max_connections: 80,
            label: "auto".into(),
        }
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            database: None,
            admin_token: String::new(),
            allow_open: false,
            super_peer_hosts: Vec::new(),
            origin_hosts: Vec::new(),
            trackers: Vec::new(),
            signals: Vec::new(),
            seed_interval: Duration::from_secs(30),
            health_interval: Duration::from_secs(5),
            traffic_interval: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            dashboard_dir: None,
            planner: PlannerConfig::default(),
            seed: SeedDefaults::default(),
            resolutions: DEFAULT_RESOLUTIONS.to_vec(),
            max_traffic_channels: 50,
            max_decisions: 5000,
            super_peers: Vec::new(),
            auto_seeding: None,
            listed: Vec::new(),
            listed_refresh: Duration::from_secs(300),
        }
    }
}

/// The flag named in refusals of super-peer URLs.
pub const SUPER_PEER_HOSTS_SETTING: &str = "--super-peer-host";
/// The flag named in refusals of manifest URLs.
pub const ORIGIN_HOSTS_SETTING: &str = "--origin-host";

impl ConsoleConfig {
    /// Whether the console may serve at `addr`: with a token, on loopback, or with
    /// `allow_open` (then the warning to log at start comes back).
    pub fn exposure(&self, addr: std::net::SocketAddr) -> Result<Option<String>, String> {
        let ip = match addr.ip() {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr.ip(), Into::into),
            ip => ip,
        };
        if !self.admin_token.is_empty() {
            return Ok(None);
        }
        if ip.is_loopback() {
            return Ok(Some(
                "no admin token: the console API is open to anyone on this machine".into(),
            ));
        }
        if self.allow_open {
            return Ok(Some(format!(
                "the console on {addr} has no admin token and --allow-open is set: anyone who \
                 can reach it can register super peers and seed channels. Set --admin-token to close it"
            )));
        }
        Err(format!(
            "refusing to serve the console on {addr} without an admin token: anyone who could \
             reach it could register super peers and seed channels. Set --admin-token \
             (SWARMCAST_CONSOLE_TOKEN), or listen on loopback (--listen 127.0.0.1:9090), or \
             pass --allow-open to serve it open anyway"
        ))
    }

    /// The super-peer policy: `super_peer_hosts`, or the hosts of `super_peers` with the
    /// addresses `resolve` gives for their names now.
    pub fn super_peer_policy(
        &self,
        resolve: impl Fn(&str) -> Vec<std::net::IpAddr>,
    ) -> Result<outbound::Policy, String> {
        if !self.super_peer_hosts.is_empty() {
            return outbound::Policy::parse(
                &self.super_peer_hosts.join(","),
                SUPER_PEER_HOSTS_SETTING,
            )
            .map_err(|e| format!("{SUPER_PEER_HOSTS_SETTING}: {e}"));
        }
        let urls = self.super_peers.iter().map(|sp| sp.url.as_str());
        Ok(outbound::Policy::new(
            hosts_of(urls, resolve),
            SUPER_PEER_HOSTS_SETTING,
        ))
    }

    /// The origin policy, for manifests: `origin_hosts`, or the hosts of the channels and
    /// indexes listed at start with the addresses `resolve` gives for their names now.
    pub fn origin_policy(
        &self,
        resolve: impl Fn(&str) -> Vec<std::net::IpAddr>,
    ) -> Result<outbound::Policy, String> {
        if !self.origin_hosts.is_empty() {
            return outbound::Policy::parse(&self.origin_hosts.join(","), ORIGIN_HOSTS_SETTING)
                .map_err(|e| format!("{ORIGIN_HOSTS_SETTING}: {e}"));
        }
        let urls = self.listed.iter().map(|(_, url)| url.as_str());
        Ok(outbound::Policy::new(
            hosts_of(urls, resolve),
            ORIGIN_HOSTS_SETTING,
        ))
    }

    /// `signal1`, `signal2` for seeds: the configured ones, else the trackers' WebSocket URLs.
    pub fn signal_urls(&self) -> (String, String) {
        let list: Vec<String> = if self.signals.is_empty() {
            self.trackers.iter().map(|t| to_ws(t)).collect()
        } else {
            self.signals.clone()
        };
        let first = list.first().cloned().unwrap_or_default();
        let second = list.get(1).cloned().unwrap_or_else(|| first.clone());
        (first, second)
    }
}

fn to_ws(http_url: &str) -> String {
    let trimmed = http_url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        trimmed.to_owned()
    }
}

/// Allow-list rules for the hosts of `urls`: a name and the addresses it has now, or an
/// address. The operator wrote these URLs, so their hosts are the operator's choice.
fn hosts_of<'a>(
    urls: impl Iterator<Item = &'a str>,
    resolve: impl Fn(&str) -> Vec<std::net::IpAddr>,
) -> Vec<outbound::Rule> {
    let mut rules = Vec::new();
    for url in urls {
        let Ok(url) = reqwest::Url::parse(url.trim()) else {
            continue;
        };
        match url.host() {
            Some(url::Host::Domain(name)) => {
                rules.push(outbound::Rule::Host(
                    name.trim_end_matches('.').to_ascii_lowercase(),
                ));
                for ip in resolve(name) {
                    rules.push(outbound::Rule::Addresses(outbound::policy::Net::host(ip)));
                }
            }
            Some(url::Host::Ipv4(ip)) => rules.push(outbound::Rule::Addresses(
                outbound::policy::Net::host(ip.into()),
            )),
            Some(url::Host::Ipv6(ip)) => rules.push(outbound::Rule::Addresses(
                outbound::policy::Net::host(ip.into()),
            )),
            None => {}
        }
    }
    rules.dedup();
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_console_needs_loopback_a_token_or_allow_open() {
        let mut c = ConsoleConfig::default();
        let public: std::net::SocketAddr = "0.0.0.0:9090".parse().unwrap();
        let e = c.exposure(public).unwrap_err();
        assert!(
            e.contains("--admin-token") && e.contains("--allow-open"),
            "{e}"
        );
        assert!(c
            .exposure("127.0.0.1:9090".parse().unwrap())
            .unwrap()
            .is_some());
        c.allow_open = true;
        assert!(c
            .exposure(public)
            .unwrap()
            .unwrap()
            .contains("--allow-open is set"));
        c.admin_token = "t".into();
        c.allow_open = false;
        assert_eq!(c.exposure(public), Ok(None));
    }

    #[test]
    fn super_peer_hosts_default_to_the_listed_super_peers() {
        let c = ConsoleConfig {
            super_peers: vec![
                NewSuperPeer {
                    url: "http://127.0.0.1:8100".into(),
                    ..Default::default()
                },
                NewSuperPeer {
                    url: "http://SP1.example:8090/".into(),
                    ..Default::default()
                },
            ],
            ..ConsoleConfig::default()
        };
        let p = c
            .super_peer_policy(|name| {
                assert_eq!(name, "sp1.example");
                vec!["10.0.0.7".parse().unwrap()]
            })
            .unwrap();
        assert_eq!(p.to_list(), "127.0.0.1,sp1.example,10.0.0.7");
        let c = ConsoleConfig {
            super_peer_hosts: vec!["*.internal".into(), "10.0.0.0/8".into()],
            ..c
        };
        assert_eq!(
            c.super_peer_policy(|_| unreachable!()).unwrap().to_list(),
            "*.internal,10.0.0.0/8"
        );
        assert!(ConsoleConfig {
            origin_hosts: vec!["http://x".into()],
            ..ConsoleConfig::default()
        }
        .origin_policy(|_| unreachable!())
        .is_err());
    }

    #[test]
    fn origin_hosts_default_to_the_listed_channels() {
        let c = ConsoleConfig {
            listed: vec![
                (
                    Kind::Channel,
                    "http://127.0.0.1:8080/live/a.m3u8?token=t".into(),
                ),
                (Kind::Index, "https://cdn.example/tv.m3u".into()),
            ],
            ..ConsoleConfig::default()
        };
        let p = c
            .origin_policy(|name| {
                assert_eq!(name, "cdn.example");
                vec!["10.1.2.3".parse().unwrap()]
            })
            .unwrap();
        assert_eq!(p.to_list(), "127.0.0.1,cdn.example,10.1.2.3");
        assert!(ConsoleConfig::default()
            .origin_policy(|_| unreachable!())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn signals_default_to_the_trackers() {
        let mut c = ConsoleConfig {
            trackers: vec!["http://t1:8000/".into(), "https://t2".into()],
            ..ConsoleConfig::default()
        };
        assert_eq!(c.signal_urls(), ("ws://t1:8000".into(), "wss://t2".into()));
        c.signals = vec!["ws://s".into()];
        assert_eq!(c.signal_urls(), ("ws://s".into(), "ws://s".into()));
    }
}
