//! `swarmcast superpeer` (the master) and the hidden `swarmcast superpeer-worker`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use superpeer::config::{self, MasterConfig};

use crate::demo;

/// Flags override the environment, which overrides `.env`. Each flag names its `.env` key.
#[derive(Args, Debug, Default)]
pub struct SuperpeerArgs {
    /// `.env` file to read [default: `.env` in the working directory, if there is one].
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// REST API port (`listenPort`) [default: 8090].
    #[arg(long)]
    pub listen_port: Option<u16>,
    /// REST API address (`listenHost`) [default: 0.0.0.0].
    #[arg(long)]
    pub listen_host: Option<String>,
    /// Required `X-ACCESS-TOKEN` of every request (`accessToken`).
    #[arg(long)]
    pub access_token: Option<String>,
    /// Default tracker URL, ws:// or wss:// (`signal1`).
    #[arg(long)]
    pub signal1: Option<String>,
    /// Backup tracker URL, used while signal1 is down (`signal2`).
    #[arg(long)]
    pub signal2: Option<String>,
    /// Tracker URLs per trackerZone, `ZONE=URL[|BACKUP],...` (`trackerZones`).
    #[arg(long)]
    pub tracker_zones: Option<String>,
    /// Public IP advertised in ICE candidates (`publicIp`).
    #[arg(long)]
    pub public_ip: Option<String>,
    /// UDP ports for workers, `FIRST-LAST`, one per worker (`udpPorts`) [default: any].
    #[arg(long)]
    pub udp_ports: Option<String>,
    /// Disk cache folder of VOD segments (`cacheDir`) [default: ./cache].
    #[arg(long)]
    pub cache_dir: Option<String>,
    /// Disk cache bound per channel in MiB (`cacheSizeMB`) [default: 2048].
    #[arg(long)]
    pub cache_size_mb: Option<String>,
    /// Most worker processes (`maxWorkers`) [default: number of CPUs].
    #[arg(long)]
    pub max_workers: Option<String>,
    /// Upload capacity in Mbit/s used for planning (`bandwidth`).
    #[arg(long)]
    pub bandwidth: Option<String>,
    /// Stop non-keepAlive workers whose swarm was empty this long (`reapAfterSecs`) [default: 120].
    #[arg(long)]
    pub reap_after_secs: Option<String>,
}

impl SuperpeerArgs {
    fn to_map(&self) -> BTreeMap<String, String> {
        let pairs = [
            ("listenPort", self.listen_port.map(|p| p.to_string())),
            ("listenHost", self.listen_host.clone()),
            ("accessToken", self.access_token.clone()),
            ("signal1", self.signal1.clone()),
            ("signal2", self.signal2.clone()),
            ("trackerZones", self.tracker_zones.clone()),
            ("publicIp", self.public_ip.clone()),
            ("udpPorts", self.udp_ports.clone()),
            ("cacheDir", self.cache_dir.clone()),
            ("cacheSizeMB", self.cache_size_mb.clone()),
            ("maxWorkers", self.max_workers.clone()),
            ("bandwidth", self.bandwidth.clone()),
            ("reapAfterSecs", self.reap_after_secs.clone()),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect()
    }
}

/// Resolves `.env`, environment and flags into the master's configuration.
pub fn resolve_config(args: &SuperpeerArgs) -> anyhow::Result<MasterConfig> {
    let dotenv = match &args.env_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            config::parse_dotenv(&text)?
        }
        None => match std::fs::read_to_string(".env") {
            Ok(text) => config::parse_dotenv(&text).context(".env")?,
            Err(_) => BTreeMap::new(),
        },
    };
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| config::KEYS.contains(&k.as_str()))
        .collect();
    let merged = config::merge_sources(&[&dotenv, &env, &args.to_map()]);
    Ok(MasterConfig::from_map(&merged)?)
}

pub fn run(args: SuperpeerArgs) -> anyhow::Result<()> {
    let config = resolve_config(&args)?;
    demo::runtime()?.block_on(superpeer::serve(config, demo::shutdown_signal()))
}

/// One worker process; started by the master only, with its spec on stdin.
pub fn run_worker() -> anyhow::Result<()> {
    demo::single_thread_runtime()?.block_on(superpeer::worker::run())
}
