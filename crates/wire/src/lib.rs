//! Sans-IO codecs shared by every Swarmcast server: no sockets, no async, no clocks.
//!
//! Each module turns bytes into typed messages and back, so protocol logic is tested
//! deterministically and fuzzed without any I/O.

pub mod integrity;
pub mod mp4;
pub mod peer;
pub mod swarm_id;
pub mod tracker;
