//! The peer engine servers share: what segments we hold ([`store`]) and how we talk to one
//! remote peer about them ([`session`]). Sans-IO: sessions take received messages and give
//! back messages to send; the caller owns the transport and its backpressure.

pub mod node;
pub mod session;
pub mod store;

pub use session::{Demand, Session, SessionConfig, SessionError, SessionStats};
pub use store::SegmentStore;
