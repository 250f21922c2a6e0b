//! `swarmcast demo`: the whole stack on 127.0.0.1 with embedded defaults.
//!
//! One process runs the origin (the CDN stand-in, with the looping live stream and the player
//! page), the tracker, a super peer master (its workers are child processes, as always) and the
//! console, which registers that super peer and seeds the hottest channels on it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use crate::media;
use crate::origin::OriginArgs;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Serve the player, hls.js, the SDK bundles and the dashboard from this repository
    /// checkout (after `npm ci && npm run build --workspaces --if-present`) instead of the
    /// copies built into the binary: for development.
    #[arg(long, value_name = "DIR")]
    pub assets: Option<PathBuf>,

    /// Port of the media origin (the CDN stand-in); the player page is served there too.
    #[arg(long, default_value_t = 8080)]
    pub origin_port: u16,

    /// Port of the tracker (WebSocket signaling and channel API).
    #[arg(long, default_value_t = 8000)]
    pub tracker_port: u16,

    /// Port of the console (dashboard and API).
    #[arg(long, default_value_t = 8090)]
    pub console_port: u16,

    /// Port of the super peer's REST API.
    #[arg(long, default_value_t = 8100)]
    pub superpeer_port: u16,

    /// Admin token of the console (the dashboard asks for it).
    #[arg(long, default_value = "demo")]
    pub admin_token: String,

    /// Seconds between the console's automatic seeding rounds (a channel that gets viewers,
    /// or whose worker was stopped, is seeded within this time).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub seed_interval: f64,

    /// Folder for the demo's state (console database, super peer cache)
    /// [default: next to the test media, in `demo/`].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub media: media::DirArgs,
}

/// How often viewers re-announce. A super peer's worker sends no offers: viewers already
/// watching reach a newly seeded worker with their next announce, so the demo keeps this
/// short (the tracker's default is 120 s).
const DEMO_ANNOUNCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// A folder the demo needs, and what to do when it is missing.
fn require(dir: PathBuf, hint: &str) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(dir.is_dir(), "{} is missing: {hint}", dir.display());
    Ok(dir)
}

type Mounts = Vec<(String, PathBuf)>;

/// The origin's mounts and the dashboard folder from a repository checkout (`--assets`).
fn from_checkout(assets: &std::path::Path) -> anyhow::Result<(Mounts, Option<PathBuf>)> {
    let npm = "run `npm ci && npm run build --workspaces --if-present` in the repository root \
               (`make demo` does)";
    let player = require(assets.join("web/player"), "pass the repository root")?;
    let hls_js = require(assets.join("node_modules/hls.js/dist"), npm)?;
    let sdk = require(assets.join("sdk/packages/hlsjs/dist"), npm)?;
    let media_sdk = require(assets.join("sdk/packages/media/dist"), npm)?;
    let dashboard = require(assets.join("web/dashboard/dist"), npm)?;
    let mounts = vec![
        ("/player".into(), player),
        ("/vendor/hls.js".into(), hls_js),
        ("/vendor/swarmcast".into(), sdk),
        ("/vendor/swarmcast-media".into(), media_sdk),
    ];
    Ok((mounts, Some(dashboard)))
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let media_dir = media::ensure(&media::GenerateArgs {
        dir: args.media.clone(),
        seconds: 60,
        force: false,
    })?;
    let (mounts, dashboard) = match &args.assets {
        Some(assets) => from_checkout(assets)?,
        None => {
            let missing = webassets::missing();
            anyhow::ensure!(
                missing.is_empty(),
                "this binary was built without {}: run `npm ci && npm run build --workspaces \
                 --if-present` in the repository root and build it again (`make demo` does), \
                 or pass --assets with the repository root",
                missing.join(", ")
            );
            (Vec::new(), None)
        }
    };
    let state = match &args.state_dir {
        Some(dir) => dir.clone(),
        None => media_dir
            .parent()
            .context("media folder has no parent")?
            .join("demo"),
    };
    std::fs::create_dir_all(&state)
        .with_context(|| format!("cannot create {}", state.display()))?;

    let local = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let origin = OriginArgs {
        root: media_dir,
        listen: local(args.origin_port),
        mounts,
        no_site: false,
        live_window: 10,
    };
    let tracker_addr = local(args.tracker_port);
    let superpeer_url = format!("http://{}", local(args.superpeer_port));
    let console_config = console::ConsoleConfig {
        database: Some(state.join("console.sqlite")),
        admin_token: args.admin_token.clone(),
        trackers: vec![format!("http://{tracker_addr}")],
        dashboard_dir: dashboard,
        super_peers: vec![console::NewSuperPeer {
            url: superpeer_url.clone(),
            bandwidth_mbps: 1000,
            access_token: String::new(),
            label: "demo".into(),
        }],
        auto_seeding: Some(true),
        // Manifests of the demo's own origin only; the super peer is allowed as listed.
        origin_hosts: vec![origin.listen.ip().to_string()],
        seed_interval: std::time::Duration::try_from_secs_f64(args.seed_interval)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--seed-interval must be a positive number of seconds")?,
        // Quick enough for someone watching the dashboard while opening player tabs.
        health_interval: std::time::Duration::from_secs(2),
        traffic_interval: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let superpeer_config = superpeer::MasterConfig {
        listen_port: args.superpeer_port,
        listen_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        signal1: Some(format!("ws://{tracker_addr}")),
        public_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        cache_dir: state.join("superpeer-cache"),
        // The demo's streams come from its own origin on loopback, and only from there.
        origin_hosts: outbound::Policy::new(
            vec![outbound::Rule::Addresses(outbound::policy::Net::host(
                origin.listen.ip(),
            ))],
            superpeer::config::ORIGIN_HOSTS_SETTING,
        ),
        ..Default::default()
    };

    let base = format!("http://{}", origin.listen);
    let player_url = format!("{base}/player/?tracker=ws://{tracker_addr}");
    runtime()?.block_on(async move {
        let (stop, stopped) = watch::channel(false);
        let until = move || wait_for(stopped.clone());
        let origin_task = tokio::spawn(crate::origin::serve_until(origin, until()));
        let listener = bind(tracker_addr).await?;
        let tracker_config = tracker::TrackerConfig {
            swarm: tracker::SwarmConfig {
                announce_interval: DEMO_ANNOUNCE_INTERVAL,
                ..Default::default()
            },
            ..Default::default()
        };
        let tracker_task = tokio::spawn(tracker::serve(listener, tracker_config, until()));
        let superpeer_task = tokio::spawn(superpeer::serve(superpeer_config, until()));
        let listener = bind(local(args.console_port)).await?;
        let console_task = tokio::spawn(console::serve(listener, console_config, until()));

        println!();
        println!("Swarmcast demo, all on 127.0.0.1 (Ctrl-C stops it):");
        println!("  player, looping live stream   {player_url}");
        println!("  player, VOD                   {player_url}&src=/hls-ts/index.m3u8");
        println!("  player, live ABR ladder       {player_url}&src=/live/hls-abr/master.m3u8");
        println!(
            "  player, MP4 file              {base}/player/media.html?tracker=ws://{tracker_addr}"
        );
        println!(
            "  dashboard (admin token: {})  http://{}/",
            args.admin_token,
            local(args.console_port)
        );
        println!("  tracker channel ranking       http://{tracker_addr}/channels");
        println!("  super peer workers            {superpeer_url}/stats");
        println!("  origin bytes served           {base}/__stats");
        println!("Open the player in two or more tabs: they share segments, and the console seeds");
        println!(
            "the channel on the super peer within {} s (dashboard, \"Super peers\").",
            args.seed_interval
        );
        println!();

        // The first server to stop (Ctrl-C, or one that fails) stops the others.
        tokio::select! {
            _ = shutdown_signal() => {}
            r = origin_task => report("origin", r),
            r = tracker_task => report("tracker", r.map(|r| r.map_err(Into::into))),
            r = superpeer_task => report("super peer", r),
            r = console_task => report("console", r),
        }
        let _ = stop.send(true);
        // Give the servers a moment to close connections and stop workers.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        anyhow::Ok(())
    })
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}: is the port in use? (see --help for the port flags)")
    })
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

fn report(what: &str, result: Result<anyhow::Result<()>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => tracing::warn!("{what} stopped"),
        Ok(Err(e)) => tracing::error!("{what} failed: {e:#}"),
        Err(e) => tracing::error!("{what} crashed: {e}"),
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A runtime on the calling thread only, for processes whose work is one packet loop (a WebRTC
/// peer): no other worker threads to wake and hand tasks to on every datagram.
pub fn single_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM, for graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
