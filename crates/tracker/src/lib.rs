//! Swarmcast's WebTorrent tracker.
//!
//! [`swarm::Tracker`] is the protocol logic as a deterministic state machine; [`serve`] is
//! the tokio server around it: WebSocket (`ws://`, or `wss://` with built-in TLS), limits,
//! metrics, the channel API and stats ingest, all on one port.

pub mod admission;
pub mod channels;
pub mod cluster;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod qoe;
pub mod stats;
pub mod swarm;
pub mod viewer_token;
pub mod websocket;

pub use cluster::ClusterConfig;
pub use config::{StatsConfig, SwarmConfig, TlsFiles, TrackerConfig};
pub use qoe::QoeConfig;
pub use swarm::{Change, ConnId, Outgoing, Relay, Tracker};
pub mod server;

pub use server::{load_tls, serve};
