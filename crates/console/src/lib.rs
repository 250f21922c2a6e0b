//! Swarmcast console: the operator's side. It keeps the registry of super peers (SQLite),
//! checks their health, seeds the tracker's hottest channels on them within their capacity
//! (logging why), keeps a rolled-up traffic history from the stats the SDK reports to the
//! tracker, and serves the dashboard and its API.
//!
//! Embed it with [`serve`]; [`ConsoleConfig::default`] runs on an in-memory database.

pub mod api;
pub mod config;
pub mod http;
pub mod listed;
pub mod manifest;
pub mod planner;
pub mod qoe;
pub mod state;
pub mod store;
pub mod superpeer;
pub mod tracker;
pub mod traffic;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ConsoleConfig, SeedDefaults};
pub use state::Console;
pub use store::NewSuperPeer;

/// Serves the console on `listener` until `shutdown` completes, running the health-check,
/// tracker-poll and seeding loops meanwhile.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ConsoleConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let console = Console::new(config)?;
    serve_console(listener, console, shutdown).await
}

/// [`serve`] for an already built [`Console`] (to keep a handle on it). Refuses an address
/// other than loopback without an admin token, unless `allow_open`.
pub async fn serve_console(
    listener: tokio::net::TcpListener,
    console: Arc<Console>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    match console.config.exposure(addr) {
        Ok(None) => {}
        Ok(Some(warning)) => tracing::warn!("{warning}"),
        Err(refusal) => anyhow::bail!(refusal),
    }
    if console.config.trackers.is_empty() {
        tracing::warn!("no tracker configured: no channel ranking, seeding or traffic");
    }
    let c = &console.config;
    let loops = [
        spawn_loop(c.health_interval, true, {
            let console = Arc::clone(&console);
            move || {
                let console = Arc::clone(&console);
                async move { console.check_all().await }
            }
        }),
        spawn_loop(c.traffic_interval, true, {
            let console = Arc::clone(&console);
            move || {
                let console = Arc::clone(&console);
                async move {
                    console.poll_trackers().await;
                }
            }
        }),
        // The first seeding round waits one interval, so health checks and a tracker poll
        // come first (and an operator can turn seeding off before anything happens).
        spawn_loop(c.seed_interval, false, {
            let console = Arc::clone(&console);
            move || {
                let console = Arc::clone(&console);
                async move {
                    console.seeding_round().await;
                }
            }
        }),
    ];
    tracing::info!(
        %addr,
        auto_seeding = console.auto_seeding(),
        trackers = ?console
            .config
            .trackers
            .iter()
            .map(|t| wire::redact::url(t))
            .collect::<Vec<_>>(),
        "console listening on http://{addr}"
    );
    let result = axum::serve(listener, api::router(Arc::clone(&console)))
        .with_graceful_shutdown(shutdown)
        .await;
    for l in loops {
        l.abort();
    }
    Ok(result?)
}

fn spawn_loop<F, Fut>(every: Duration, at_once: bool, mut tick: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every.max(Duration::from_millis(100)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if !at_once {
            interval.tick().await;
        }
        loop {
            interval.tick().await;
            tick().await;
        }
    })
}
