//! The master process: REST API on `listenPort`, one worker process per channel (or more
//! when a channel is busy), stats aggregated from the workers' pipes and `/proc`.

pub(crate) mod api;
pub mod plan;
pub mod procstat;
pub(crate) mod supervisor;
pub mod validate;
pub mod vet;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::config::MasterConfig;
use supervisor::Supervisor;

/// How often the master samples CPU/RSS, reaps idle workers and rebalances.
const TICK: Duration = Duration::from_millis(500);

/// A master bound to its port, not yet serving.
pub struct Master {
    listener: tokio::net::TcpListener,
    config: MasterConfig,
}

impl Master {
    /// Binds the REST API port (`listenHost:listenPort`). Refuses an address other machines
    /// can reach without an access token, unless `allowOpen` (then warns, at every start).
    pub async fn bind(config: MasterConfig) -> anyhow::Result<Self> {
        match config.exposure() {
            Ok(None) => {}
            Ok(Some(warning)) => tracing::warn!("{warning}"),
            Err(refusal) => anyhow::bail!(refusal),
        }
        if config.origin_hosts.is_empty() {
            tracing::warn!(
                "originHosts is empty: every seed will be refused until it lists the hosts of \
                 the streams (`*` allows any host with public addresses)"
            );
        }
        let addr = SocketAddr::new(config.listen_host, config.listen_port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Self { listener, config })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops every worker (bounded wait).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let origins = crate::worker::media::origin_client(self.config.origin_hosts.clone())?;
        let (sup, mut events) = Supervisor::new(self.config)?;
        let driver = {
            let sup = sup.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        Some(event) = events.recv() => sup.handle(event),
                        _ = tick.tick() => sup.tick(),
                    }
                }
            })
        };
        let app = api::router(sup.clone(), origins);
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        sup.shutdown(Duration::from_secs(5)).await;
        driver.abort();
        served.context("REST API server failed")
    }
}

/// Runs a master with `config` until `shutdown` completes: the entry point for
/// `swarmcast superpeer` and for embedding a super peer (e.g. in the demo).
pub async fn serve(
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let master = Master::bind(config).await?;
    tracing::info!("super peer REST API on http://{}", master.local_addr()?);
    master.run(shutdown).await
}
