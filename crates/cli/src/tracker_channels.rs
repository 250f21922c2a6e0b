//! The private tracker's channel list: read from the operator's file, each channel's
//! manifest fetched to derive its swarms ([`tracker::channels`]), and read again every
//! refresh interval so new channels and changed variants are picked up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tracker::channels::{parse_list, SwarmList};

/// Manifests larger than this are not read.
const MAX_MANIFEST: usize = 4 << 20;

/// Reads the list and fetches every manifest. A manifest that cannot be read is logged and
/// left out (the next refresh tries again); a list that cannot be read is an error.
pub async fn load(path: &Path, http: &reqwest::Client) -> anyhow::Result<SwarmList> {
    let text = tokio::fs::read_to_string(path)
        .await
        .with_context(|| format!("cannot read the channel list {}", path.display()))?;
    let entries = parse_list(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut list = SwarmList::default();
    for entry in &entries {
        let shown = wire::redact::url(&entry.manifest_url);
        match fetch(http, &entry.manifest_url).await {
            Ok((final_url, manifest)) => {
                if list.add(entry, &final_url, &manifest) == 0 {
                    tracing::warn!(manifest = %shown, "not an HLS playlist: no swarm for this channel");
                }
            }
            Err(e) => tracing::warn!(manifest = %shown, "cannot read the manifest: {e:#}"),
        }
    }
    Ok(list)
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<(String, String)> {
    let resp = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(reqwest::Error::without_url)?;
    let final_url = resp.url().to_string();
    let body = resp.bytes().await.map_err(reqwest::Error::without_url)?;
    anyhow::ensure!(
        body.len() <= MAX_MANIFEST,
        "manifest over {MAX_MANIFEST} bytes"
    );
    Ok((final_url, String::from_utf8_lossy(&body).into_owned()))
}

/// Loads the list once (an error stops the tracker from starting), then reloads it every
/// `every` into the returned channel for the tracker to take.
pub async fn watch_list(
    path: PathBuf,
    every: Duration,
) -> anyhow::Result<watch::Receiver<Arc<SwarmList>>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let first = load(&path, &http).await?;
    tracing::info!(
        channels = first.channels(),
        swarms = first.swarms(),
        "private tracker: serving only the swarms of {}",
        path.display()
    );
    let (tx, rx) = watch::channel(Arc::new(first));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match load(&path, &http).await {
                Ok(list) => {
                    if **tx.borrow() != list {
                        tracing::info!(
                            channels = list.channels(),
                            swarms = list.swarms(),
                            "channel list changed"
                        );
                    }
                    if tx.send(Arc::new(list)).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!("keeping the previous channel list: {e:#}"),
            }
        }
    });
    Ok(rx)
}
