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
    /// `X-ACCESS-TOKEN`). Empty leaves the API open, for local demos only.
    pub admin_token: String,
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
    /// Built dashboard (`web/dashboard/dist`); `None` or missing serves a hint page.
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

impl ConsoleConfig {
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

#[cfg(test)]
mod tests {
    use super::*;

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
