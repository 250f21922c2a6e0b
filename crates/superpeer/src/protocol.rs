//! Messages between the master and its workers, as JSON lines: the master writes a
//! [`WorkerSpec`] then [`MasterCommand`]s to the worker's stdin; the worker writes
//! [`WorkerEvent`]s to its stdout. Closing stdin tells the worker to exit.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::master::validate::SeedSpec;

/// Everything a worker needs, sent as the first line on its stdin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    pub seed: SeedSpec,
    /// The master's pid: a worker whose parent is someone else exits at once.
    pub master_pid: u32,
    /// UDP port for the WebRTC endpoint; 0 picks a free one.
    pub udp_port: u16,
    /// Address advertised in ICE candidates.
    pub public_ip: Option<IpAddr>,
    /// Disk cache folder of this channel; `None` when `noUseDiskCache`.
    pub cache_dir: Option<PathBuf>,
    pub cache_size_mb: u64,
    #[serde(default = "default_send_budget_mb")]
    pub send_budget_mb: u64,
    #[serde(default = "default_viewer_buffer_kb")]
    pub viewer_buffer_kb: u64,
    #[serde(default = "default_viewer_message_kb")]
    pub viewer_message_kb: u64,
    /// Whether the worker announces with offers of its own (its channel's first worker does).
    #[serde(default = "default_make_offers")]
    pub make_offers: bool,
    pub stats_interval_ms: u64,
    /// The master's `originHosts`: what the worker may fetch (an [`outbound::Policy`] list).
    #[serde(default)]
    pub origin_hosts: String,
}

fn default_make_offers() -> bool {
    true
}

fn default_send_budget_mb() -> u64 {
    crate::config::DEFAULT_SEND_BUDGET_MB
}

fn default_viewer_buffer_kb() -> u64 {
    crate::config::DEFAULT_VIEWER_BUFFER_KB
}

fn default_viewer_message_kb() -> u64 {
    crate::config::DEFAULT_VIEWER_MESSAGE_KB
}

/// Commands after the spec line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "camelCase")]
pub enum MasterCommand {
    /// Fields of the seed that change without a restart (`maxConnections`, `label`, ...).
    Update { seed: Box<SeedSpec> },
}

/// Counters a worker reports; totals since the worker started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkerCounters {
    /// Browsers connected over data channels.
    pub peers: u64,
    /// Other members of the channel's swarms as counted by the tracker.
    pub swarm_peers: u64,
    pub uploaded_bytes: u64,
    /// Bytes fetched from the origin (playlists and segments).
    pub origin_bytes: u64,
    /// Segments currently held (memory and disk).
    pub segments: u64,
    /// Tracker URL the worker is connected to, if any.
    pub signal: Option<String>,
    /// Swarms (one per variant) the worker announces in.
    pub swarms: u64,
    /// Why the channel's manifest cannot be used right now (unreachable, malformed), if so.
    pub manifest_error: Option<String>,
}

/// Lines a worker writes on stdout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum WorkerEvent {
    Ready {
        #[serde(rename = "udpPort")]
        udp_port: u16,
        #[serde(rename = "peerId")]
        peer_id: String,
    },
    Stats(WorkerCounters),
}
