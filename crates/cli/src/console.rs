//! `swarmcast console`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// Address to listen on (API under `/api/`, dashboard at `/`).
    #[arg(
        long,
        default_value = "127.0.0.1:9090",
        env = "SWARMCAST_CONSOLE_LISTEN"
    )]
    pub listen: SocketAddr,

    /// SQLite database holding the registry, settings, decision log and traffic history
    /// (created if missing). `:memory:` keeps everything in memory.
    #[arg(
        long,
        default_value = "swarmcast-console.db",
        env = "SWARMCAST_CONSOLE_DB"
    )]
    pub database: String,

    /// Admin token the dashboard asks for (sent as `Authorization: Bearer` or
    /// `X-ACCESS-TOKEN`). Prefer the environment variable: other users of the machine can
    /// read a flag in the process list. Without a token the console serves on loopback only,
    /// unless --allow-open.
    #[arg(long, env = "SWARMCAST_CONSOLE_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Serve on an address other than loopback without an admin token (a warning is logged
    /// at start).
    #[arg(long)]
    pub allow_open: bool,

    /// Hosts and addresses super peers may be registered at (repeatable or comma-separated):
    /// names (`sp1.example.com`, `*.example.com`), addresses or networks (`10.0.0.0/8`), `*`
    /// for any host with public addresses. Loopback, private, link-local and metadata
    /// addresses only when listed as addresses [default: the hosts of --super-peer, with the
    /// addresses their names have at start].
    #[arg(
        long = "super-peer-host",
        value_name = "HOSTS",
        env = "SWARMCAST_CONSOLE_SUPER_PEER_HOSTS",
        value_delimiter = ','
    )]
    pub super_peer_hosts: Vec<String>,

    /// Hosts and addresses channel manifests may be read from, to tell live from VOD (same
    /// syntax). Channel ids come from viewers' reports, so they are never fetched elsewhere
    /// [default: none: manifests are not read and seeds are sent as live].
    #[arg(
        long = "origin-host",
        value_name = "HOSTS",
        env = "SWARMCAST_CONSOLE_ORIGIN_HOSTS",
        value_delimiter = ','
    )]
    pub origin_hosts: Vec<String>,

    /// Tracker HTTP base URL polled for `GET /channels` (repeatable, e.g. one per node).
    #[arg(
        long = "tracker",
        value_name = "URL",
        env = "SWARMCAST_CONSOLE_TRACKERS",
        value_delimiter = ','
    )]
    pub trackers: Vec<String>,

    /// Tracker WebSocket URL handed to super peers as `signal1` (then `signal2`); by
    /// default the `--tracker` URLs with ws:// or wss://.
    #[arg(long = "signal", value_name = "URL")]
    pub signals: Vec<String>,

    /// Seconds between automatic seeding rounds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub seed_interval: f64,

    /// Seconds between super peer health checks (`/ping` + `/stats`).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub health_interval: f64,

    /// Seconds between tracker polls (traffic history points).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub traffic_interval: f64,

    /// Serve the dashboard from this folder (`web/dashboard/dist` after `npm run build
    /// --workspace web/dashboard`) instead of the one built into the binary: for development.
    #[arg(long, value_name = "DIR")]
    pub dashboard: Option<PathBuf>,

    /// Start with automatic seeding on or off (default: as last set, on the first time).
    #[arg(long, value_name = "BOOL")]
    pub auto_seeding: Option<bool>,

    /// Register a super peer at start (repeatable):
    /// `URL[,bandwidth=MBPS][,token=ACCESS_TOKEN][,label=LABEL]`.
    #[arg(long = "super-peer", value_name = "SPEC", value_parser = parse_super_peer)]
    pub super_peers: Vec<console::NewSuperPeer>,

    /// List a channel's manifest URL at start (repeatable): its swarms are matched by the
    /// ids P2P Media Loader derives, so channels whose viewers report no stats are seeded too.
    #[arg(long = "channel", value_name = "URL")]
    pub channels: Vec<String>,

    /// List an index of channel URLs at start (repeatable): a text or M3U file, one URL per
    /// line, read again every --listed-refresh seconds.
    #[arg(long = "channel-index", value_name = "URL")]
    pub channel_indexes: Vec<String>,

    /// Seconds between readings of listed manifests and indexes.
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
    pub listed_refresh: f64,

    /// Viewers a channel needs to be seeded automatically.
    #[arg(long, default_value_t = 1)]
    pub min_viewers: u32,

    /// A seeded channel with fewer viewers than this is stopped.
    #[arg(long, default_value_t = 1)]
    pub stop_below: u32,

    /// Upload bandwidth budgeted per worker (Mbps); bounds workers per super peer.
    #[arg(long, default_value_t = console::planner::DEFAULT_WORKER_MBPS)]
    pub worker_mbps: u32,

    /// `token` sent in `POST /seed` entries (the tracker token, if the tracker wants one).
    #[arg(
        long,
        default_value = "",
        env = "SWARMCAST_SEED_TOKEN",
        hide_env_values = true
    )]
    pub seed_token: String,

    /// `maxConnections` sent in `POST /seed` entries.
    #[arg(long, default_value_t = 80)]
    pub seed_max_connections: u32,
}

fn parse_super_peer(spec: &str) -> Result<console::NewSuperPeer, String> {
    let mut parts = spec.split(',');
    let url = parts.next().unwrap_or_default().trim().to_owned();
    if url.is_empty() {
        return Err("expected URL[,bandwidth=MBPS][,token=T][,label=L]".into());
    }
    let mut sp = console::NewSuperPeer {
        url,
        ..Default::default()
    };
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
        match k.trim() {
            "bandwidth" => {
                sp.bandwidth_mbps = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("bandwidth `{v}` is not a number of Mbps"))?;
            }
            "token" => sp.access_token = v.to_owned(),
            "label" => sp.label = v.to_owned(),
            other => return Err(format!("unknown key `{other}` (bandwidth, token, label)")),
        }
    }
    Ok(sp)
}

fn secs(name: &str, v: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        v.is_finite() && (0.1..=86_400.0).contains(&v),
        "--{name} must be between 0.1 and 86400 seconds"
    );
    Ok(Duration::from_secs_f64(v))
}

impl ConsoleArgs {
    pub fn config(&self) -> anyhow::Result<console::ConsoleConfig> {
        let defaults = console::ConsoleConfig::default();
        Ok(console::ConsoleConfig {
            database: (self.database != ":memory:").then(|| PathBuf::from(&self.database)),
            admin_token: self.admin_token.clone().unwrap_or_default(),
            allow_open: self.allow_open,
            super_peer_hosts: self.super_peer_hosts.clone(),
            origin_hosts: self.origin_hosts.clone(),
            trackers: self.trackers.clone(),
            signals: self.signals.clone(),
            seed_interval: secs("seed-interval", self.seed_interval)?,
            health_interval: secs("health-interval", self.health_interval)?,
            traffic_interval: secs("traffic-interval", self.traffic_interval)?,
            dashboard_dir: self.dashboard.clone(),
            planner: console::planner::PlannerConfig {
                min_viewers_to_seed: self.min_viewers,
                stop_below_viewers: self.stop_below,
                worker_mbps: self.worker_mbps,
                ..defaults.planner
            },
            seed: console::SeedDefaults {
                token: self.seed_token.clone(),
                max_connections: self.seed_max_connections,
                ..console::SeedDefaults::default()
            },
            super_peers: self.super_peers.clone(),
            auto_seeding: self.auto_seeding,
            listed: self
                .channels
                .iter()
                .map(|u| (console::listed::Kind::Channel, u.clone()))
                .chain(
                    self.channel_indexes
                        .iter()
                        .map(|u| (console::listed::Kind::Index, u.clone())),
                )
                .collect(),
            listed_refresh: secs("listed-refresh", self.listed_refresh)?,
            ..defaults
        })
    }
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(args: ConsoleArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    // Refused before binding, so an open console never listens even for a moment.
    if let Err(refusal) = config.exposure(args.listen) {
        anyhow::bail!(refusal);
    }
    match &args.dashboard {
        Some(dir) if !dir.join("index.html").is_file() => {
            tracing::warn!(dir = %dir.display(), "no index.html there; serving the API only")
        }
        None if webassets::dashboard().is_none() => tracing::warn!(
            "this binary was built without the dashboard (run `npm run build --workspaces \
             --if-present` before `cargo build`); serving the API only"
        ),
        _ => {}
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is the port in use?", args.listen))?;
    console::serve(listener, config, crate::demo::shutdown_signal()).await
}

pub fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    crate::demo::runtime()?.block_on(serve(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn super_peer_specs_parse() {
        let sp = parse_super_peer("http://sp:8081,bandwidth=500,token=s3cret,label=eu-1").unwrap();
        assert_eq!(sp.url, "http://sp:8081");
        assert_eq!(sp.bandwidth_mbps, 500);
        assert_eq!(sp.access_token, "s3cret");
        assert_eq!(sp.label, "eu-1");
        assert!(parse_super_peer("http://sp,bandwidth=fast").is_err());
        assert!(parse_super_peer("http://sp,colour=red").is_err());
        assert!(parse_super_peer("").is_err());
    }
}
