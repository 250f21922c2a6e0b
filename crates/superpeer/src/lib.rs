//! Swarmcast super peer: a server that joins swarms as a peer and seeds to browsers.
//!
//! The [`master`] serves the REST API (`/ping`, `/seed`, `/stats`, `/stop*`, `/restart*`)
//! and supervises one [`worker`] process per channel: the same binary started as
//! `swarmcast superpeer-worker`, talking JSON lines over its stdin/stdout
//! ([`protocol`]). Decision logic (validation, capacity, priority, backoff, reaping) is
//! pure and unit-tested; process and socket I/O stay thin.

pub mod config;
pub mod master;
pub mod protocol;
pub mod worker;

pub use config::MasterConfig;
pub use master::{serve, Master};
