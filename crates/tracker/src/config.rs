//! Tracker settings. `Default` gives sane values for an embedded tracker (e.g. in the demo).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::admission::Limits;
use crate::channels::SwarmList;

/// Rules of the swarm state machine.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// `interval` sent in announce responses: how often clients re-announce.
    pub announce_interval: Duration,
    /// A peer that has not announced for this long is removed from its swarm.
    pub peer_ttl: Duration,
    /// A relayed offer can be answered for this long (clients give up after 50 s).
    pub offer_ttl: Duration,
    /// Offers beyond this many in one announce are dropped (the client times them out).
    pub max_offers_per_announce: usize,
    /// Swarm memberships, i.e. (info_hash, peer_id) pairs, one connection may hold.
    pub max_info_hashes_per_connection: usize,
    /// Relayed offers a peer may have pending (unanswered) at once; the oldest are forgotten.
    pub max_pending_offers_per_peer: usize,
    /// info_hashes one scrape may name (and the most a full scrape lists).
    pub max_scrape_hashes: usize,
    /// Whether a scrape without `info_hash` lists every swarm.
    pub full_scrape: bool,
    /// Stats ingest and channel aggregates.
    pub stats: StatsConfig,
    /// QoE of the control-group experiment.
    pub qoe: crate::qoe::QoeConfig,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            announce_interval: Duration::from_secs(120),
            peer_ttl: Duration::from_secs(300),
            offer_ttl: Duration::from_secs(50),
            max_offers_per_announce: 10,
            max_info_hashes_per_connection: 256,
            max_pending_offers_per_peer: 100,
            max_scrape_hashes: 256,
            full_scrape: false,
            stats: StatsConfig::default(),
            qoe: crate::qoe::QoeConfig::default(),
        }
    }
}

/// Bounds of the stats ingest.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// A viewer that has not reported for this long no longer counts (reports come every ~10 s).
    pub reporter_ttl: Duration,
    /// A channel without viewers for this long is forgotten, totals included.
    pub channel_ttl: Duration,
    /// Viewers tracked at once; reports from new viewers beyond this are refused.
    pub max_reporters: usize,
    /// Channels tracked at once; reports for new channels beyond this are refused.
    pub max_channels: usize,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            reporter_ttl: Duration::from_secs(30),
            channel_ttl: Duration::from_secs(3600),
            max_reporters: 200_000,
            max_channels: 10_000,
        }
    }
}

/// PEM files for built-in TLS (`wss://`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Everything the server needs.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub swarm: SwarmConfig,
    /// Serve `wss://` with these files; plain `ws://` when `None`.
    pub tls: Option<TlsFiles>,
    /// Largest WebSocket message (and frame) accepted, in bytes.
    pub max_message_size: usize,
    /// Open WebSocket connections allowed in total.
    pub max_connections: usize,
    /// Open WebSocket connections allowed from one IP address.
    pub max_connections_per_ip: usize,
    /// Frames queued for one connection; offers only fill half of it (see the slow-reader policy).
    pub send_queue: usize,
    /// A connection whose socket accepts no frame for this long is closed.
    pub write_timeout: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed for the TLS handshake and the HTTP request head.
    pub handshake_timeout: Duration,
    /// When set, WebSocket upgrades and `POST /stats` need `?token=` with this value (or a
    /// viewer token, when `token_secret` is set too).
    pub token: Option<String>,
    /// When set, `?token=` may be a viewer token signed with this secret
    /// ([`crate::viewer_token`]): it expires, and holds the connection to its channel.
    pub token_secret: Option<Vec<u8>>,
    /// Rate limits on announces and offers, per connection and per IP address.
    pub limits: Limits,
    /// A private tracker: only the swarms of this list are served. The sender may replace
    /// the list at any time (taken within a second). `None`: any info_hash.
    pub swarm_list: Option<tokio::sync::watch::Receiver<Arc<SwarmList>>>,
    /// When not empty, a request with an `Origin` header must name one of these origins.
    pub allowed_origins: Vec<String>,
    /// How long shutdown waits for connections to close.
    pub shutdown_grace: Duration,
    /// Before shutting down, how long to drain: refuse new connections (`/health` 503) and
    /// close the open ones gradually so that clients reconnect to other nodes. Zero: none.
    pub drain: Duration,
    /// Seed of the random peer selection (fixed for reproducible tests; `None` = random).
    pub seed: Option<u64>,
    /// Join the other nodes of a cluster through Redis; `None`: a tracker of its own.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            swarm: SwarmConfig::default(),
            tls: None,
            max_message_size: 64 * 1024,
            max_connections: 50_000,
            max_connections_per_ip: 256,
            send_queue: 64,
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            token: None,
            token_secret: None,
            limits: Limits::default(),
            swarm_list: None,
            allowed_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
            drain: Duration::ZERO,
            seed: None,
            cluster: None,
        }
    }
}
