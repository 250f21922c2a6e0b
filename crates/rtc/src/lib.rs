//! A WebRTC data-channel endpoint for servers: many browser peer connections over ONE UDP
//! socket, sans-IO.
//!
//! The caller owns the socket and the clock. It hands [`Endpoint`] remote SDP offers
//! ([`Endpoint::accept_offer`], non-trickle, as bittorrent-tracker clients send them),
//! received datagrams and timeouts, and drains datagrams to send ([`Endpoint::poll_transmit`])
//! and [`Event`]s. Data channels are the in-band (DCEP) ones the browser opens, with any
//! label; messages are binary; [`Endpoint::send`] reports the channel's buffered amount so
//! the caller can stop at a high-water mark and resume on [`Event::BufferedAmountLow`].
//!
//! The server is ICE-lite with one host candidate: the advertised address (a public or NAT
//! address, or 127.0.0.1 in tests). Datagrams are routed to peer connections by source
//! address, and a new address by the ICE username fragment in its STUN binding request.
//!
//! The WebRTC stack underneath is webrtc-rs's sans-IO `rtc` crate; nothing of it leaks
//! through this API, so it can be swapped (str0m is the measured alternative, see docs/rtc.md).

mod endpoint;
mod stun;
/// For the fuzz targets (`fuzz/` at the repository root): the STUN parsing that routes each
/// datagram. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::stun::local_ufrag;
}
#[cfg(feature = "testing")]
pub mod testing;

pub use endpoint::{
    whole_chunks_within, ChannelId, ConnectionId, Endpoint, EndpointConfig, Error, Event, Transmit,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_SCTP_MTU,
};
