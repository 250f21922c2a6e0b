//! UDP datagrams from a remote peer (`rtc::Endpoint::handle_datagram`): whatever arrives on the
//! server's socket from the address of a peer whose offer it accepted. The harness first sends
//! that peer's valid STUN check, which binds its address and, when the input asks, nominates
//! the pair so that ICE connects and the datagrams reach DTLS; then the input's datagrams
//! follow, some from an unknown address, with the clock moving between them.
#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rtc::testing::TestPeer;
use rtc::{Endpoint, EndpointConfig};
use webrtc_core::ice::attributes::control::AttrControlling;
use webrtc_core::ice::attributes::priority::PriorityAttr;
use webrtc_core::ice::attributes::use_candidate::UseCandidateAttr;
use webrtc_core::stun::attributes::ATTR_USERNAME;
use webrtc_core::stun::fingerprint::FINGERPRINT;
use webrtc_core::stun::integrity::MessageIntegrity;
use webrtc_core::stun::message::{Message, Setter, TransactionId, BINDING_REQUEST};
use webrtc_core::stun::textattrs::Username;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    nominate: bool,
    datagrams: Vec<Datagram<'a>>,
}

#[derive(Debug, Arbitrary)]
struct Datagram<'a> {
    /// Milliseconds since the previous datagram.
    gap_ms: u16,
    from_stranger: bool,
    bytes: &'a [u8],
}

struct Harness {
    endpoint: Endpoint,
    /// A browser-like peer's offer, and its ICE username fragment.
    offer: String,
    peer_ufrag: String,
}

const PEER: &str = "127.0.0.1:40000";
const STRANGER: &str = "127.0.0.1:40001";

thread_local! {
    static HARNESS: RefCell<Harness> = RefCell::new({
        let endpoint =
            Endpoint::new(EndpointConfig::new("127.0.0.1:9".parse().unwrap())).unwrap();
        let (_, offer) = TestPeer::new(PEER.parse().unwrap());
        let peer_ufrag = sdp_attribute(&offer, "ice-ufrag").to_owned();
        Harness { endpoint, offer, peer_ufrag }
    });
}

fn sdp_attribute<'a>(sdp: &'a str, name: &str) -> &'a str {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("a={name}:")))
        .unwrap_or_else(|| panic!("no a={name} in {sdp}"))
}

/// The binding request the peer's ICE agent would send: signed with our password.
fn stun_check(our_ufrag: &str, our_pwd: &str, peer_ufrag: &str, nominate: bool) -> Vec<u8> {
    let provider = webrtc_core::crypto::default_provider().unwrap();
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(Username::new(
            ATTR_USERNAME,
            format!("{our_ufrag}:{peer_ufrag}"),
        )),
        Box::new(AttrControlling(7)),
        Box::new(PriorityAttr(2_130_706_431)),
    ];
    if nominate {
        setters.push(Box::new(UseCandidateAttr::new()));
    }
    setters.push(Box::new(
        MessageIntegrity::new_short_term_integrity_with_provider(
            our_pwd.to_owned(),
            provider.crypto(),
        ),
    ));
    setters.push(Box::new(FINGERPRINT));
    let mut msg = Message::new();
    msg.build(&setters).unwrap();
    msg.raw
}

fuzz_target!(|input: Input<'_>| {
    HARNESS.with_borrow_mut(|h| {
        let peer: SocketAddr = PEER.parse().unwrap();
        let stranger: SocketAddr = STRANGER.parse().unwrap();
        let mut now = Instant::now();
        let (id, answer) = h.endpoint.accept_offer(now, &h.offer).unwrap();
        let check = stun_check(
            sdp_attribute(&answer, "ice-ufrag"),
            sdp_attribute(&answer, "ice-pwd"),
            &h.peer_ufrag,
            input.nominate,
        );
        assert_eq!(h.endpoint.handle_datagram(now, peer, &check), Some(id));
        drain(&mut h.endpoint);
        for d in input.datagrams.iter().take(64) {
            now += Duration::from_millis(u64::from(d.gap_ms));
            if h.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                h.endpoint.handle_timeout(now);
            }
            let from = if d.from_stranger { stranger } else { peer };
            let routed = h.endpoint.handle_datagram(now, from, d.bytes);
            if d.from_stranger {
                assert!(routed.is_none() || routed == Some(id));
            }
            drain(&mut h.endpoint);
        }
        h.endpoint.close(id, "fuzzed");
        drain(&mut h.endpoint);
        assert_eq!(h.endpoint.connection_count(), 0);
    });
});

fn drain(endpoint: &mut Endpoint) {
    while endpoint.poll_transmit().is_some() {}
    while endpoint.poll_event().is_some() {}
}
