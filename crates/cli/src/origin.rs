//! `swarmcast origin`

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct OriginArgs {
    /// Media folder served at `/`. Any VOD HLS playlist in it is also served as a looping
    /// live stream under `/live/` (e.g. `/hls-ts/index.m3u8` -> `/live/hls-ts/index.m3u8`).
    #[arg(long, env = "SWARMCAST_ORIGIN_ROOT")]
    pub root: PathBuf,

    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        env = "SWARMCAST_ORIGIN_LISTEN"
    )]
    pub listen: SocketAddr,

    /// Extra folder to serve under a URL prefix, as `PREFIX=DIR` (repeatable),
    /// e.g. `--mount /player=web/player`. A mount at the prefix of a built-in part (see
    /// --no-site) serves that folder instead, for development.
    #[arg(long = "mount", value_name = "PREFIX=DIR", value_parser = parse_mount)]
    pub mounts: Vec<(String, PathBuf)>,

    /// Do not serve the parts built into the binary: the demo player at `/player/`, hls.js at
    /// `/vendor/hls.js/hls.min.js` and the SDK's browser bundles at
    /// `/vendor/swarmcast/hlsjs.iife.js`, `/vendor/swarmcast-shaka/shaka.iife.js`,
    /// `/vendor/swarmcast-core/core.iife.js` and `/vendor/swarmcast-media/media.iife.js`.
    #[arg(long, env = "SWARMCAST_ORIGIN_NO_SITE")]
    pub no_site: bool,

    /// Number of segments listed in a live playlist.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub live_window: u16,
}

fn parse_mount(s: &str) -> Result<(String, PathBuf), String> {
    let (prefix, dir) = s
        .split_once('=')
        .ok_or("expected PREFIX=DIR, e.g. /player=web/player")?;
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return Err(format!(
            "prefix `{prefix}` must start with `/` and not end with one"
        ));
    }
    Ok((prefix.to_owned(), PathBuf::from(dir)))
}

impl OriginArgs {
    pub fn config(&self) -> anyhow::Result<origin::OriginConfig> {
        for dir in std::iter::once(&self.root).chain(self.mounts.iter().map(|(_, d)| d)) {
            anyhow::ensure!(dir.is_dir(), "{} is not a folder", dir.display());
        }
        Ok(origin::OriginConfig {
            root: self.root.clone(),
            mounts: self.mounts.clone(),
            embedded: if self.no_site {
                Vec::new()
            } else {
                webassets::site()
            },
            live_window: usize::from(self.live_window),
        })
    }
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(args: OriginArgs) -> anyhow::Result<()> {
    serve_until(args, crate::demo::shutdown_signal()).await
}

/// Binds and serves until `shutdown` resolves.
pub async fn serve_until(
    args: OriginArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = origin::router(args.config()?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is the port in use?", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, root = %args.root.display(), "origin listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

pub fn run(args: OriginArgs) -> anyhow::Result<()> {
    crate::demo::runtime()?.block_on(serve(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_validated() {
        assert_eq!(
            parse_mount("/player=web/p").unwrap(),
            ("/player".into(), "web/p".into())
        );
        assert!(parse_mount("player=web").is_err());
        assert!(parse_mount("/player/=web").is_err());
        assert!(parse_mount("/player").is_err());
    }
}
