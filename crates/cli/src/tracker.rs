//! `swarmcast tracker`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tracker::admission::{Limits, Rate};
use tracker::{QoeConfig, StatsConfig, SwarmConfig, TlsFiles, TrackerConfig};

/// WebTorrent tracker for P2P Media Loader, bittorrent-tracker and Swarmcast clients.
///
/// One port serves the WebSocket tracker (`ws://HOST:PORT/` or `/announce`; `wss://` with
/// `--tls-cert` and `--tls-key`) and HTTP: `GET /health`, `GET /metrics` (Prometheus),
/// `GET /channels` (swarms ranked by peers), `GET /channels/{info_hash}`, `POST /stats` and,
/// with --redis, `GET /cluster` (this node and its cluster).
/// With --drain, SIGTERM first drains the node (`/health` answers 503, sessions close
/// gradually) so that a load balancer moves its viewers to other nodes (docs/operations.md).
/// Every option can also be set through the environment variable shown.
#[derive(Args, Debug, Clone)]
pub struct TrackerArgs {
    /// Address to listen on (port 0 picks a free port; the log shows the real one).
    #[arg(long, default_value = "0.0.0.0:8000", env = "SWARMCAST_TRACKER_LISTEN")]
    pub listen: SocketAddr,

    /// PEM certificate chain for built-in TLS (`wss://`); needs --tls-key.
    #[arg(long, env = "SWARMCAST_TRACKER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for built-in TLS; needs --tls-cert.
    #[arg(long, env = "SWARMCAST_TRACKER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require `?token=TOKEN` in the announce URL (and on POST /stats); others get HTTP 401.
    /// Prefer the environment variable: a flag shows in the process list.
    #[arg(long, env = "SWARMCAST_TRACKER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Secret shared with the site's backend for viewer tokens that expire: `?token=` may
    /// then be `EXPIRES.CHANNEL.SIGNATURE` (`swarmcast viewer-token` makes one; the format is
    /// in docs/tracker.md). Such a connection may use its channel's swarms only. Works beside
    /// --token.
    #[arg(long, env = "SWARMCAST_TRACKER_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,

    /// Private tracker: serve only the swarms of the channels listed in this file (one
    /// manifest URL a line, or `CHANNEL_ID MANIFEST_URL`); the tracker reads each manifest to
    /// derive the swarms, and the file again every --channels-refresh seconds.
    #[arg(long, value_name = "FILE", env = "SWARMCAST_TRACKER_CHANNELS")]
    pub channels: Option<PathBuf>,

    /// Seconds between readings of the --channels file and its manifests.
    #[arg(long, default_value_t = 300, env = "SWARMCAST_TRACKER_CHANNELS_REFRESH", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub channels_refresh: u64,

    /// Announces (and scrapes) per second on one connection, `RATE[,BURST]`; more get an
    /// error frame. 0 turns the limit off.
    #[arg(long, default_value = "2,20", value_name = "RATE[,BURST]", env = "SWARMCAST_TRACKER_ANNOUNCE_RATE", value_parser = parse_rate)]
    pub announce_rate: Rate,

    /// Announces (and scrapes) per second from one IP address, all its connections together.
    #[arg(long, default_value = "50,500", value_name = "RATE[,BURST]", env = "SWARMCAST_TRACKER_ANNOUNCE_RATE_PER_IP", value_parser = parse_rate)]
    pub announce_rate_per_ip: Rate,

    /// Offers relayed per second from one connection; an announce over it is taken without
    /// its offers.
    #[arg(long, default_value = "20,200", value_name = "RATE[,BURST]", env = "SWARMCAST_TRACKER_OFFER_RATE", value_parser = parse_rate)]
    pub offer_rate: Rate,

    /// Offers relayed per second from one IP address.
    #[arg(long, default_value = "500,5000", value_name = "RATE[,BURST]", env = "SWARMCAST_TRACKER_OFFER_RATE_PER_IP", value_parser = parse_rate)]
    pub offer_rate_per_ip: Rate,

    /// Page origin allowed to connect, e.g. `https://example.com` (repeatable, or
    /// comma-separated; `*` allows any). Browsers from other origins get HTTP 403. Requests
    /// without an Origin header (non-browser clients) are allowed.
    #[arg(
        long = "allow-origin",
        env = "SWARMCAST_TRACKER_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Seconds between a client's announces (the `interval` sent to clients).
    #[arg(long, default_value_t = 120, env = "SWARMCAST_TRACKER_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,

    /// Seconds after its last announce when a peer leaves its swarm.
    #[arg(long, default_value_t = 300, env = "SWARMCAST_TRACKER_PEER_TTL", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub peer_ttl: u64,

    /// Seconds during which a relayed offer can be answered.
    #[arg(long, default_value_t = 50, env = "SWARMCAST_TRACKER_OFFER_TTL", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub offer_ttl: u64,

    /// Offers relayed per announce; further offers in the same announce are dropped.
    #[arg(long, default_value_t = 10, env = "SWARMCAST_TRACKER_MAX_OFFERS")]
    pub max_offers: usize,

    /// Swarm memberships (info_hash, peer_id pairs) one connection may hold.
    #[arg(long, default_value_t = 256, env = "SWARMCAST_TRACKER_MAX_INFO_HASHES")]
    pub max_info_hashes_per_connection: usize,

    /// Unanswered relayed offers remembered per peer (oldest forgotten first).
    #[arg(
        long,
        default_value_t = 100,
        env = "SWARMCAST_TRACKER_MAX_PENDING_OFFERS"
    )]
    pub max_pending_offers: usize,

    /// info_hashes one scrape may name.
    #[arg(long, default_value_t = 256, env = "SWARMCAST_TRACKER_MAX_SCRAPE")]
    pub max_scrape: usize,

    /// Answer scrapes without info_hash with every swarm (up to --max-scrape of them).
    #[arg(long, env = "SWARMCAST_TRACKER_FULL_SCRAPE")]
    pub full_scrape: bool,

    /// Largest WebSocket message accepted, in bytes; larger ones close the connection (1009).
    #[arg(long, default_value_t = 65_536, env = "SWARMCAST_TRACKER_MAX_MESSAGE_SIZE", value_parser = clap::value_parser!(u64).range(1024..=16 * 1024 * 1024))]
    pub max_message_size: u64,

    /// Open WebSocket connections in total; more get HTTP 503.
    #[arg(
        long,
        default_value_t = 50_000,
        env = "SWARMCAST_TRACKER_MAX_CONNECTIONS"
    )]
    pub max_connections: usize,

    /// Open WebSocket connections per IP address; more get HTTP 429.
    #[arg(
        long,
        default_value_t = 256,
        env = "SWARMCAST_TRACKER_MAX_CONNECTIONS_PER_IP"
    )]
    pub max_connections_per_ip: usize,

    /// Frames queued per connection. Offers fill at most half; a reader too slow to make
    /// room for replies is disconnected.
    #[arg(long, default_value_t = 64, env = "SWARMCAST_TRACKER_SEND_QUEUE", value_parser = clap::value_parser!(u64).range(2..=65_536))]
    pub send_queue: u64,

    /// Seconds a socket may refuse writes before its connection is closed.
    #[arg(long, default_value_t = 10, env = "SWARMCAST_TRACKER_WRITE_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout: u64,

    /// Seconds of silence from a client before its connection is closed.
    #[arg(long, default_value_t = 300, env = "SWARMCAST_TRACKER_IDLE_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,

    /// Seconds to drain on SIGTERM or Ctrl-C before stopping: `/health` answers 503 and new
    /// WebSocket connections get 503, so that the load balancer sends new clients to other
    /// nodes, while open sessions are closed (1001) a few at a time over this period and
    /// their clients reconnect elsewhere. 0 stops at once.
    #[arg(long, default_value_t = 0, value_name = "SECS", env = "SWARMCAST_TRACKER_DRAIN", value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain: u64,

    /// Viewers followed by the stats ingest; reports from more are refused.
    #[arg(long, default_value_t = 200_000, env = "SWARMCAST_TRACKER_MAX_VIEWERS")]
    pub max_viewers: usize,

    /// Channels followed by the stats ingest; reports for more are refused.
    #[arg(long, default_value_t = 10_000, env = "SWARMCAST_TRACKER_MAX_CHANNELS")]
    pub max_channels: usize,

    /// Viewers whose QoE (control-group experiment) is followed; reports from more are refused.
    #[arg(
        long,
        default_value_t = 200_000,
        env = "SWARMCAST_TRACKER_QOE_MAX_VIEWERS"
    )]
    pub qoe_max_viewers: usize,

    /// QoE groups (channel, group, tag) followed; reports for more are refused.
    #[arg(
        long,
        default_value_t = 10_000,
        env = "SWARMCAST_TRACKER_QOE_MAX_GROUPS"
    )]
    pub qoe_max_groups: usize,

    /// Form one tracker with every node started with the same Redis, e.g.
    /// `redis://10.0.0.5:6379/0`: an announce on one node finds peers connected to the
    /// others, and offers and answers are relayed between nodes. While Redis is unreachable
    /// a node serves its own peers alone and retries. Without it, a tracker of its own.
    /// A URL with a password (`redis://:PASSWORD@HOST:PORT`) belongs in the environment
    /// variable: a flag shows in the process list.
    #[arg(
        long,
        value_name = "URL",
        env = "SWARMCAST_TRACKER_REDIS",
        hide_env_values = true
    )]
    pub redis: Option<String>,

    /// Prefix of the cluster's Redis keys and channels: clusters sharing one Redis need
    /// different prefixes.
    #[arg(
        long,
        default_value = "swarmcast",
        env = "SWARMCAST_TRACKER_REDIS_PREFIX",
        requires = "redis"
    )]
    pub redis_prefix: String,

    /// Seconds of silence after which a cluster node counts as dead and its peers are
    /// dropped everywhere (it beats every fifth of this).
    #[arg(long, default_value_t = 10, env = "SWARMCAST_TRACKER_NODE_TTL", value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub node_ttl: u64,
}

/// `RATE[,BURST]`: a rate per second (0: no limit) and a burst (default: 10 seconds' worth).
fn parse_rate(s: &str) -> Result<Rate, String> {
    let (rate, burst) = match s.split_once(',') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let rate: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| format!("`{s}`: expected RATE[,BURST], a rate per second >= 0"))?;
    let burst = match burst {
        Some(b) => b
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|b| *b >= 1)
            .ok_or_else(|| format!("`{s}`: the burst is a whole number >= 1"))?,
        None => (rate * 10.0).ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
    };
    Ok(Rate::new(rate, burst))
}

impl TrackerArgs {
    pub fn config(&self) -> TrackerConfig {
        let secs = Duration::from_secs;
        let defaults = TrackerConfig::default();
        TrackerConfig {
            swarm: SwarmConfig {
                announce_interval: secs(self.interval),
                peer_ttl: secs(self.peer_ttl),
                offer_ttl: secs(self.offer_ttl),
                max_offers_per_announce: self.max_offers,
                max_info_hashes_per_connection: self.max_info_hashes_per_connection,
                max_pending_offers_per_peer: self.max_pending_offers,
                max_scrape_hashes: self.max_scrape,
                full_scrape: self.full_scrape,
                stats: StatsConfig {
                    max_reporters: self.max_viewers,
                    max_channels: self.max_channels,
                    ..StatsConfig::default()
                },
                qoe: QoeConfig {
                    max_reporters: self.qoe_max_viewers,
                    max_groups: self.qoe_max_groups,
                    ..QoeConfig::default()
                },
            },
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            max_message_size: self.max_message_size as usize,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            send_queue: self.send_queue as usize,
            write_timeout: secs(self.write_timeout),
            idle_timeout: secs(self.idle_timeout),
            token: self.token.clone().filter(|t| !t.is_empty()),
            token_secret: self
                .token_secret
                .clone()
                .filter(|t| !t.is_empty())
                .map(String::into_bytes),
            limits: Limits {
                announces_per_connection: self.announce_rate,
                announces_per_ip: self.announce_rate_per_ip,
                offers_per_connection: self.offer_rate,
                offers_per_ip: self.offer_rate_per_ip,
            },
            allowed_origins: self.allowed_origins.clone(),
            drain: secs(self.drain),
            cluster: self.redis.as_ref().filter(|u| !u.is_empty()).map(|url| {
                let mut cluster = tracker::ClusterConfig::new(url.clone());
                cluster.prefix = self.redis_prefix.clone();
                cluster.node_ttl = secs(self.node_ttl);
                cluster.beat = cluster.node_ttl / 5;
                cluster
            }),
            ..defaults
        }
    }
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub fn run(args: TrackerArgs) -> anyhow::Result<()> {
    let mut config = args.config();
    if let Some(tls) = &config.tls {
        // Fail before binding, with the file name in the message.
        tracker::load_tls(tls)?;
    }
    crate::demo::runtime()?.block_on(async {
        if let Some(path) = &args.channels {
            let every = Duration::from_secs(args.channels_refresh);
            config.swarm_list =
                Some(crate::tracker_channels::watch_list(path.clone(), every).await?);
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracker::serve(listener, config, crate::demo::shutdown_signal()).await?;
        Ok(())
    })
}

/// Prints a viewer token for the tracker's --token-secret, as a site's backend would sign it.
#[derive(Args, Debug, Clone)]
pub struct ViewerTokenArgs {
    /// The tracker's --token-secret.
    #[arg(long, env = "SWARMCAST_TRACKER_TOKEN_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Channel id the token is for (by default the manifest URL without query); empty: any.
    #[arg(long, default_value = "")]
    pub channel: String,
    /// Seconds the token stays valid.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
}

pub fn print_viewer_token(args: ViewerTokenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.secret.is_empty(), "--secret is empty");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    println!(
        "{}",
        tracker::viewer_token::sign(args.secret.as_bytes(), &args.channel, now + args.ttl)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_or_without_a_burst() {
        assert_eq!(parse_rate("2,20").unwrap(), Rate::new(2.0, 20));
        assert_eq!(parse_rate("0.5").unwrap(), Rate::new(0.5, 5));
        assert_eq!(parse_rate("0").unwrap(), Rate::new(0.0, 1));
        for bad in ["-1", "x", "2,0", "2,x", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
