//! What a Swarmcast server may fetch when a request tells it to: the super peer fetches the
//! channel URLs it is asked to seed, the console calls the super peers it is given and reads
//! channels' manifests. Without a limit, anyone who can make those requests can make the
//! server reach its own loopback services, its private network or its cloud's metadata
//! service (server-side request forgery).
//!
//! - [`addr`]: which addresses are special (loopback, private, link-local, metadata, ...).
//! - [`policy`]: the operator's allow-list of hosts and addresses, and its checks (pure).
//! - [`client`]: an HTTP client that applies the policy at every connection, redirect and
//!   DNS answer included.

pub mod addr;
pub mod client;
pub mod policy;

pub use client::{refusal_of, resolve, GuardError, GuardedClient, ResolveError};
pub use policy::{Host, Policy, Refusal, Rule};
