//! Which IP addresses are special: loopback, private, link-local, cloud metadata and the other
//! ranges that a server fetching URLs on request must not reach unless its operator says so.
//! Pure: an address in, a class out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not an ordinary public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// 127.0.0.0/8, ::1: this machine.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7 (and the deprecated fec0::/10): private networks.
    Private,
    /// 100.64.0.0/10: carrier-grade NAT, private to a provider's network.
    SharedNat,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// Cloud instance metadata services (169.254.169.254, fd00:ec2::254, 100.100.100.200).
    Metadata,
    /// 0.0.0.0/8 and ::, which reach this machine on Linux.
    Unspecified,
    /// Multicast and broadcast.
    Multicast,
    /// Documentation, benchmarking, protocol and future-use ranges; Teredo; discard.
    Reserved,
}

impl Special {
    /// "a loopback address" and so on, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Special::Loopback => "a loopback address",
            Special::Private => "a private address",
            Special::SharedNat => "a carrier-grade NAT (private) address",
            Special::LinkLocal => "a link-local address",
            Special::Metadata => "a cloud metadata address",
            Special::Unspecified => "an unspecified address (this machine)",
            Special::Multicast => "a multicast or broadcast address",
            Special::Reserved => "a reserved address",
        }
    }
}

/// The class of `ip`, or `None` for an ordinary public address. IPv6 forms that carry an
/// IPv4 address (mapped, NAT64, 6to4) are judged by that IPv4 address.
pub fn classify(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Special> {
    const METADATA: [Ipv4Addr; 2] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(100, 100, 100, 200),
    ];
    let table: [([u8; 4], u32, Special); 16] = [
        ([0, 0, 0, 0], 8, Special::Unspecified),
        ([127, 0, 0, 0], 8, Special::Loopback),
        ([10, 0, 0, 0], 8, Special::Private),
        ([172, 16, 0, 0], 12, Special::Private),
        ([192, 168, 0, 0], 16, Special::Private),
        ([100, 64, 0, 0], 10, Special::SharedNat),
        ([169, 254, 0, 0], 16, Special::LinkLocal),
        ([192, 0, 0, 0], 24, Special::Reserved),
        ([192, 0, 2, 0], 24, Special::Reserved),
        ([192, 88, 99, 0], 24, Special::Reserved),
        ([198, 18, 0, 0], 15, Special::Reserved),
        ([198, 51, 100, 0], 24, Special::Reserved),
        ([203, 0, 113, 0], 24, Special::Reserved),
        ([224, 0, 0, 0], 4, Special::Multicast),
        ([255, 255, 255, 255], 32, Special::Multicast),
        ([240, 0, 0, 0], 4, Special::Reserved),
    ];
    if METADATA.contains(&ip) {
        return Some(Special::Metadata);
    }
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn classify_v6(ip: Ipv6Addr) -> Option<Special> {
    let v6 = |s: &str| s.parse::<Ipv6Addr>().expect("a valid constant");
    let bits = u128::from(ip);
    if ip.is_unspecified() {
        return Some(Special::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Special::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address through a gateway.
    if in_v6(ip, v6("64:ff9b::"), 96) {
        return classify_v4(Ipv4Addr::from(bits as u32));
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if in_v6(ip, v6("2002::"), 16) {
        return classify_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if ip == v6("fd00:ec2::254") {
        return Some(Special::Metadata);
    }
    let table: [(&str, u32, Special); 10] = [
        // IPv4-compatible (deprecated) addresses: ::a.b.c.d.
        ("::", 96, Special::Reserved),
        ("64:ff9b:1::", 48, Special::Private),
        ("100::", 64, Special::Reserved),
        ("2001::", 32, Special::Reserved),
        ("2001:10::", 28, Special::Reserved),
        ("2001:20::", 28, Special::Reserved),
        ("2001:db8::", 32, Special::Reserved),
        ("fc00::", 7, Special::Private),
        ("fe80::", 10, Special::LinkLocal),
        ("fec0::", 10, Special::Private),
    ];
    if in_v6(ip, v6("ff00::"), 8) {
        return Some(Special::Multicast);
    }
    table
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, v6(net), *prefix))
        .map(|(_, _, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<Special> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        assert_eq!(class("127.0.0.1"), Some(Special::Loopback));
        assert_eq!(class("127.255.1.2"), Some(Special::Loopback));
        assert_eq!(class("10.1.2.3"), Some(Special::Private));
        assert_eq!(class("172.16.0.1"), Some(Special::Private));
        assert_eq!(class("172.31.255.255"), Some(Special::Private));
        assert_eq!(class("172.32.0.1"), None);
        assert_eq!(class("192.168.1.1"), Some(Special::Private));
        assert_eq!(class("169.254.169.254"), Some(Special::Metadata));
        assert_eq!(class("169.254.1.1"), Some(Special::LinkLocal));
        assert_eq!(class("100.100.100.200"), Some(Special::Metadata));
        assert_eq!(class("100.64.0.1"), Some(Special::SharedNat));
        assert_eq!(class("0.0.0.0"), Some(Special::Unspecified));
        assert_eq!(class("0.1.2.3"), Some(Special::Unspecified));
        assert_eq!(class("224.0.0.1"), Some(Special::Multicast));
        assert_eq!(class("255.255.255.255"), Some(Special::Multicast));
        assert_eq!(class("240.0.0.1"), Some(Special::Reserved));
        assert_eq!(class("192.0.2.10"), Some(Special::Reserved));
        assert_eq!(class("198.18.0.1"), Some(Special::Reserved));
        assert_eq!(class("8.8.8.8"), None);
        assert_eq!(class("1.1.1.1"), None);
        assert_eq!(class("100.128.0.1"), None);
    }

    #[test]
    fn ipv6_ranges_and_embedded_ipv4() {
        assert_eq!(class("::1"), Some(Special::Loopback));
        assert_eq!(class("::"), Some(Special::Unspecified));
        assert_eq!(class("::ffff:127.0.0.1"), Some(Special::Loopback));
        assert_eq!(class("::ffff:10.0.0.1"), Some(Special::Private));
        assert_eq!(class("::ffff:8.8.8.8"), None);
        assert_eq!(class("64:ff9b::169.254.169.254"), Some(Special::Metadata));
        assert_eq!(class("64:ff9b::8.8.8.8"), None);
        assert_eq!(class("2002:7f00:1::"), Some(Special::Loopback));
        assert_eq!(class("2002:0808:0808::1"), None);
        assert_eq!(class("::127.0.0.1"), Some(Special::Reserved));
        assert_eq!(class("fd00:ec2::254"), Some(Special::Metadata));
        assert_eq!(class("fd12:3456::1"), Some(Special::Private));
        assert_eq!(class("fe80::1"), Some(Special::LinkLocal));
        assert_eq!(class("ff02::1"), Some(Special::Multicast));
        assert_eq!(class("2001:db8::1"), Some(Special::Reserved));
        assert_eq!(class("2001::1"), Some(Special::Reserved));
        assert_eq!(class("2606:4700::1111"), None);
    }
}
