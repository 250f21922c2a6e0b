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
    /// `.env` file to read [default: `.env` in the working directory, if there is one]. Keys
    /// without a flag live there only: `sendBudgetMB`, `viewerBufferKB`, `viewerMessageKB`,
    /// `workerMbps`, `maxBodyBytes`, `statsIntervalMs`, `restartBackoffMinMs`,
    /// `restartBackoffMaxMs`
    /// (docs/superpeer.md, "Configuration").
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// REST API port (`listenPort`) [default: 8090].
    #[arg(long)]
    pub listen_port: Option<u16>,
    /// REST API address (`listenHost`) [default: 0.0.0.0]. Other than loopback, it needs an
    /// access token or --allow-open.
    #[arg(long)]
    pub listen_host: Option<String>,
    /// Required `X-ACCESS-TOKEN` of every request (`accessToken`). Prefer `.env` (mode 600) or
    /// the environment: other users of the machine can read a flag in the process list.
    #[arg(long)]
    pub access_token: Option<String>,
    /// Serve the REST API on a non-loopback address without an access token (`allowOpen`);
    /// a warning is logged at every start.
    #[arg(long)]
    pub allow_open: bool,
    /// Hosts channel URLs may point at, comma-separated (`originHosts`): names
    /// (`cdn.example.com`, `*.example.com`), addresses or networks (`10.0.0.0/8`), `*` for any
    /// host with public addresses. Loopback, private, link-local and metadata addresses are
    /// refused unless listed as addresses. Empty (the default) refuses every seed.
    #[arg(long, value_name = "LIST")]
    pub origin_hosts: Option<String>,
    /// Hosts a seed's own signal1/signal2 may name (`signalHosts`), `*` for any
    /// [default: the hosts of signal1, signal2 and trackerZones].
    #[arg(long, value_name = "LIST")]
    pub signal_hosts: Option<String>,
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
            ("allowOpen", self.allow_open.then(|| "true".to_owned())),
            ("originHosts", self.origin_hosts.clone()),
            ("signalHosts", self.signal_hosts.clone()),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect()
    }
}

/// Resolves `.env`, environment and flags into the master's configuration.
pub fn resolve_config(args: &SuperpeerArgs) -> anyhow::Result<MasterConfig> {
    let path = args
        .env_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(".env"));
    let dotenv = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let dotenv =
                config::parse_dotenv(&text).with_context(|| format!("{}", path.display()))?;
            if dotenv.contains_key("accessToken") {
                warn_if_readable_by_others(&path);
            }
            dotenv
        }
        Err(e) if args.env_file.is_some() => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()))
        }
        Err(_) => BTreeMap::new(),
    };
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| config::KEYS.contains(&k.as_str()))
        .collect();
    let merged = config::merge_sources(&[&dotenv, &env, &args.to_map()]);
    Ok(MasterConfig::from_map(&merged)?)
}

/// Warns when a file holding a token can be read by every user of the machine.
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if let Some(warning) = readable_by_others(path, meta.permissions().mode()) {
            tracing::warn!("{warning}");
        }
    }
}

/// The warning for a token file with mode `mode`, if other users can read it.
fn readable_by_others(path: &std::path::Path, mode: u32) -> Option<String> {
    (mode & 0o004 != 0).then(|| {
        format!(
            "{} holds accessToken and every user of this machine can read it (mode {:o}): \
             run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

pub fn run(args: SuperpeerArgs) -> anyhow::Result<()> {
    let config = resolve_config(&args)?;
    demo::runtime()?.block_on(superpeer::serve(config, demo::shutdown_signal()))
}

/// One worker process; started by the master only, with its spec on stdin.
pub fn run_worker() -> anyhow::Result<()> {
    demo::single_thread_runtime()?.block_on(superpeer::worker::run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_readable_token_file_is_named_with_its_fix() {
        let path = std::path::Path::new("/srv/sp/.env");
        let w = readable_by_others(path, 0o100644).unwrap();
        assert!(
            w.contains("mode 644") && w.contains("chmod 600 /srv/sp/.env"),
            "{w}"
        );
        assert_eq!(readable_by_others(path, 0o100640), None);
        assert_eq!(readable_by_others(path, 0o100600), None);
    }
}
