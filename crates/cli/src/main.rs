//! The `swarmcast` binary: every Swarmcast server and tool behind one command.

mod console;
mod demo;
mod hash;
mod media;
mod origin;
mod peer;
mod superpeer;
mod tracker;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

/// Swarmcast: hybrid CDN + P2P video delivery.
///
/// Viewers of the same stream share segments over WebRTC data channels; HTTP from the
/// origin or CDN is always the safety net. Every server runs from this one binary.
#[derive(Parser, Debug)]
#[command(
    name = "swarmcast",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// Log filter, in `RUST_LOG` syntax (e.g. `info`, `swarmcast=debug,origin=trace`).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run everything on 127.0.0.1 with embedded defaults and print the URLs to open.
    Demo(demo::DemoArgs),
    /// Serve a media folder over HTTP, replaying VOD HLS as looping live streams.
    Origin(origin::OriginArgs),
    /// Operator console: super-peer registry, hot-channel auto-seeding, traffic dashboard.
    Console(console::ConsoleArgs),
    /// Write the SHA-256 digests of every segment under a folder (`segments-sha256.json`), so
    /// that players can check what peers send them.
    Hash(hash::HashArgs),
    /// Make or locate the test media (HLS, DASH, MP4, MP3) with ffmpeg.
    #[command(subcommand)]
    Media(media::MediaCommand),
    /// Seed a VOD HLS stream to P2P Media Loader players over WebRTC, joining their swarms
    /// through a WebTorrent tracker.
    Peer(peer::PeerArgs),
    /// Run the WebTorrent tracker (WebSocket signaling, channel API, stats ingest, metrics).
    Tracker(tracker::TrackerArgs),
    /// Run the super peer master: REST API plus one seeding worker process per channel.
    Superpeer(Box<superpeer::SuperpeerArgs>),
    /// One super-peer worker process (started by the master, spec on stdin).
    #[command(hide = true)]
    SuperpeerWorker,
}

/// mimalloc instead of glibc's malloc: the WebRTC stack allocates and frees a few buffers per
/// packet (glibc's malloc and free were 13 % of a sending peer's CPU, mimalloc's 5 %), and it
/// keeps less memory per idle connection (tracker 1.15 vs 1.35 KiB, peer 74–85 vs 88–91 KiB;
/// docs/rtc.md). Built without transparent huge pages, which would count whole 2 MiB pages
/// of mostly free memory in RSS. The `system-allocator` feature keeps glibc's, for heap
/// profilers such as heaptrack that watch malloc.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log)?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Origin(args) => origin::run(args),
        Command::Hash(args) => hash::run(args),
        Command::Media(cmd) => media::run(cmd),
        Command::Peer(args) => peer::run(args),
        Command::Console(args) => console::run(args),
        Command::Tracker(args) => tracker::run(args),
        Command::Superpeer(args) => superpeer::run(*args),
        Command::SuperpeerWorker => superpeer::run_worker(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
