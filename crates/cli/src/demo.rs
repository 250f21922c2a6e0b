//! `swarmcast demo`: the whole stack on 127.0.0.1 with embedded defaults.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::media;
use crate::origin::OriginArgs;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Repository checkout holding `web/player` and `node_modules` (after `npm ci`).
    #[arg(long, default_value = ".")]
    pub assets: PathBuf,

    /// Port of the media origin (the CDN stand-in); the player page is served there too.
    #[arg(long, default_value_t = 8080)]
    pub origin_port: u16,

    #[command(flatten)]
    pub media: media::DirArgs,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let media_dir = media::ensure(&media::GenerateArgs {
        dir: args.media.clone(),
        seconds: 60,
        force: false,
    })?;
    let hls_js = args.assets.join("node_modules/hls.js/dist");
    let player = args.assets.join("web/player");
    anyhow::ensure!(
        player.join("index.html").is_file(),
        "{} has no index.html: run the demo from the repository root or pass --assets",
        player.display()
    );
    anyhow::ensure!(
        hls_js.is_dir(),
        "{} is missing: run `npm ci` in the repository root first (`make demo` does)",
        hls_js.display()
    );
    let origin = OriginArgs {
        root: media_dir,
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.origin_port),
        mounts: vec![
            ("/player".into(), player),
            ("/vendor/hls.js".into(), hls_js),
        ],
        live_window: 10,
    };
    let base = format!("http://{}", origin.listen);
    println!();
    println!("Swarmcast demo, all on 127.0.0.1 (Ctrl-C stops it):");
    println!("  player, looping live stream  {base}/player/");
    println!("  player, VOD                  {base}/player/?src=/hls-ts/index.m3u8");
    println!("  player, live ABR ladder      {base}/player/?src=/live/hls-abr/master.m3u8");
    println!("  origin bytes served          {base}/__stats");
    println!();
    runtime()?.block_on(crate::origin::serve(origin))
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
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
