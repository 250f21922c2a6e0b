//! The peer engine servers share: what segments we hold ([`store`]), how we talk to one
//! remote peer about them ([`session`]), the seeding engine over all connections
//! ([`seeder`], sans-IO) and its UDP loop ([`node`]), and how a seeder joins swarms through a
//! tracker ([`signal`]). Sessions and the seeder take received messages and give back what to
//! send; the node owns the socket and the clock.

pub mod node;
pub mod peer_id;
pub mod seeder;
pub mod session;
pub mod signal;
pub mod store;

pub use seeder::{OfferError, Seeder, SeederConfig, SeederStats, SwarmDemand, SwarmKey};
pub use session::{Demand, Session, SessionConfig, SessionError, SessionStats};
pub use store::SegmentStore;
