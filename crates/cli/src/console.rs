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
    /// `X-ACCESS-TOKEN`). Without one the API is open: for local demos only.
    #[arg(long, env = "SWARMCAST_CONSOLE_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

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

    /// Built dashboard to serve (`npm run build --workspace web/dashboard`).
    #[arg(long, default_value = "web/dashboard/dist", value_name = "DIR")]
    pub dashboard: PathBuf,

    /// Start with automatic seeding on or off (default: as last set, on the first time).
    #[arg(long, value_name = "BOOL")]
    pub auto_seeding: Option<bool>,

    /// Register a super peer at start (repeatable):
    /// `URL[,bandwidth=MBPS][,token=ACCESS_TOKEN][,label=LABEL]`.
    #[arg(long = "super-peer", value_name = "SPEC", value_parser = parse_super_peer)]
    pub super_peers: Vec<console::NewSuperPeer>,

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
            trackers: self.trackers.clone(),
            signals: self.signals.clone(),
            seed_interval: secs("seed-interval", self.seed_interval)?,
            health_interval: secs("health-interval", self.health_interval)?,
            traffic_interval: secs("traffic-interval", self.traffic_interval)?,
            dashboard_dir: Some(self.dashboard.clone()),
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
            ..defaults
        })
    }
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(args: ConsoleArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    if !args.dashboard.join("index.html").is_file() {
        tracing::warn!(dir = %args.dashboard.display(), "dashboard not built; serving the API only");
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
