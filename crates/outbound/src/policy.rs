//! An operator's allow-list of hosts, and whether it lets a server reach a URL, a host name or
//! an address. Pure: no sockets, no DNS.
//!
//! Rules, separated by commas or spaces:
//! - `cdn.example.com`: that host name (case-insensitive, a trailing dot ignored);
//! - `*.example.com`: any name under example.com (not example.com itself);
//! - `*`: any host name or IP address;
//! - `203.0.113.7`, `[2001:db8::1]`, `10.0.0.0/8`, `fd00::/8`: those addresses, whether a URL
//!   names them or a host name resolves to them.
//!
//! A URL's host must match a rule. Then every address the connection goes to must be an
//! ordinary public address, or lie in an address rule: loopback, private, link-local, metadata
//! and reserved addresses ([`crate::addr`]) are reached only when an address rule names them,
//! whatever host name or redirect led there.

use std::fmt;
use std::net::IpAddr;

use crate::addr;

/// A request the policy does not allow, with what the operator can configure to allow it.
/// The message names hosts and addresses, never whole URLs (they may carry tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// An address block: an address and the number of leading bits that must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// One address.
    pub fn host(ip: IpAddr) -> Net {
        let addr = canonical(ip);
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Net { addr, prefix }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn parse(s: &str) -> Option<Net> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let addr = canonical(ip.parse().ok()?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        match (self.addr, self.prefix == full) {
            (IpAddr::V6(v6), true) => write!(f, "[{v6}]"),
            (addr, true) => write!(f, "{addr}"),
            (addr, false) => write!(f, "{addr}/{}", self.prefix),
        }
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `*`
    AnyHost,
    /// `cdn.example.com`
    Host(String),
    /// `*.example.com`, kept as `.example.com`.
    Subdomains(String),
    /// `10.0.0.0/8`, `203.0.113.7`
    Addresses(Net),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::AnyHost => f.write_str("*"),
            Rule::Host(h) => f.write_str(h),
            Rule::Subdomains(s) => write!(f, "*{s}"),
            Rule::Addresses(net) => net.fmt(f),
        }
    }
}

fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Rule {
    fn parse(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(Rule::AnyHost);
        }
        if let Some(net) = Net::parse(s) {
            return Ok(Rule::Addresses(net));
        }
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = normalize_name(name);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(format!(
                "`{s}` is not a host name, `*.domain`, `*`, an IP address or a network such as 10.0.0.0/8"
            ));
        }
        Ok(if wild {
            Rule::Subdomains(format!(".{name}"))
        } else {
            Rule::Host(name)
        })
    }
}

/// A URL's host as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

/// What a server may fetch: the allow-list and the name of the setting that holds it (for
/// messages such as "add it to originHosts").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    setting: String,
}

const ANY_HINT: &str = "`*` allows any host with public addresses";

impl Policy {
    /// Parses a comma- or space-separated list; empty allows nothing.
    pub fn parse(list: &str, setting: impl Into<String>) -> Result<Policy, String> {
        let rules = list
            .split([',', ' ', '\n', '\t'])
            .filter(|s| !s.trim().is_empty())
            .map(Rule::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            rules,
            setting: setting.into(),
        })
    }

    pub fn new(rules: Vec<Rule>, setting: impl Into<String>) -> Policy {
        Policy {
            rules,
            setting: setting.into(),
        }
    }

    /// The rules written back as a list [`Policy::parse`] reads.
    pub fn to_list(&self) -> String {
        self.rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The setting that holds the list, as messages name it.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    fn net_allows(&self, ip: IpAddr) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, Rule::Addresses(net) if net.contains(ip)))
    }

    fn not_listed(&self, host: &str) -> Refusal {
        if self.rules.is_empty() {
            Refusal(format!(
                "{host} is not an allowed host: this server fetches from no host until {} lists the hosts it may fetch from (e.g. {host}; {ANY_HINT})",
                self.setting
            ))
        } else {
            Refusal(format!(
                "{host} is not an allowed host: add it to {} ({ANY_HINT})",
                self.setting
            ))
        }
    }

    fn special(&self, what: &str, ip: IpAddr, class: addr::Special) -> Refusal {
        let shown = Net::host(ip);
        Refusal(format!(
            "{what} {}, which this server does not fetch from unless {} lists it: add {shown} (or its network) to {}",
            class.describe(),
            self.setting,
            self.setting
        ))
    }

    /// Whether a host name matches a rule (its addresses are checked when it is resolved).
    pub fn check_name(&self, name: &str) -> Result<(), Refusal> {
        let name = normalize_name(name);
        let listed = self.rules.iter().any(|r| match r {
            Rule::AnyHost => true,
            Rule::Host(h) => *h == name,
            Rule::Subdomains(suffix) => name.ends_with(suffix.as_str()),
            Rule::Addresses(_) => false,
        });
        if listed {
            Ok(())
        } else {
            Err(self.not_listed(&name))
        }
    }

    /// Whether `ip`, which `name` resolved to, may be connected to.
    pub fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<(), Refusal> {
        match addr::classify(ip) {
            Some(class) if !self.net_allows(ip) => Err(self.special(
                &format!("{} resolves to {}:", normalize_name(name), canonical(ip)),
                ip,
                class,
            )),
            _ => Ok(()),
        }
    }

    /// Whether a URL naming this IP address may be fetched.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = canonical(ip);
        if self.net_allows(ip) {
            return Ok(());
        }
        if !self.rules.contains(&Rule::AnyHost) {
            return Err(self.not_listed(&Net::host(ip).to_string()));
        }
        match addr::classify(ip) {
            Some(class) => Err(self.special(&format!("{ip} is"), ip, class)),
            None => Ok(()),
        }
    }

    pub fn check_host(&self, host: Host<'_>) -> Result<(), Refusal> {
        match host {
            Host::Name(name) => self.check_name(name),
            Host::Ip(ip) => self.check_ip(ip),
        }
    }

    /// Whether a URL may be fetched as far as can be told without DNS: an http(s) scheme, a
    /// host that matches a rule, and for an IP address, an address that may be reached.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal(format!(
                "only http:// and https:// URLs are fetched, not {}://",
                url.scheme()
            )));
        }
        match url.host() {
            Some(url::Host::Domain(name)) => self.check_name(name),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            None => Err(Refusal("the URL has no host".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &str) -> Policy {
        Policy::parse(list, "originHosts").unwrap()
    }

    fn url_ok(p: &Policy, url: &str) -> Result<(), String> {
        p.check_url(&reqwest::Url::parse(url).unwrap())
            .map_err(|r| r.0)
    }

    #[test]
    fn rules_parse_and_print_back() {
        let p = policy("cdn.example.com, *.Media.Example.com. 10.0.0.0/8 [::1] 203.0.113.7 *");
        assert_eq!(
            p.to_list(),
            "cdn.example.com,*.media.example.com,10.0.0.0/8,[::1],203.0.113.7,*"
        );
        assert_eq!(Policy::parse(&p.to_list(), "x").unwrap().rules(), p.rules());
        for bad in ["http://x", "a..b", "10.0.0.0/33", "*.", "x/y"] {
            assert!(Policy::parse(bad, "k").is_err(), "{bad}");
        }
        assert!(policy("").is_empty());
    }

    #[test]
    fn names_must_be_listed() {
        let p = policy("cdn.example.com,*.media.example.com");
        assert!(url_ok(&p, "https://CDN.example.com./live/a.m3u8").is_ok());
        assert!(url_ok(&p, "https://eu.media.example.com/a.m3u8").is_ok());
        let e = url_ok(&p, "https://media.example.com/a.m3u8").unwrap_err();
        assert!(
            e.contains("media.example.com is not an allowed host: add it to originHosts"),
            "{e}"
        );
        assert!(url_ok(&p, "https://evil.com/?cdn.example.com").is_err());
        assert!(url_ok(&p, "ftp://cdn.example.com/a")
            .unwrap_err()
            .contains("only http"));
        let e = url_ok(&policy(""), "http://cdn.example.com/a.m3u8?token=s3cret").unwrap_err();
        assert!(e.contains("until originHosts lists"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn special_ip_literals_need_an_address_rule() {
        let any = policy("*");
        assert!(url_ok(&any, "http://8.8.8.8/a.m3u8").is_ok());
        for url in [
            "http://127.0.0.1:22/x.m3u8",
            "http://[::1]/x",
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/x",
            "http://0x7f000001/x",
            "http://2130706433/x",
            "http://127.1/x",
            "http://0.0.0.0/x",
            "http://[fe80::1]/x",
        ] {
            let e = url_ok(&any, url).unwrap_err();
            assert!(
                e.contains("which this server does not fetch from"),
                "{url}: {e}"
            );
        }
        let e = url_ok(&any, "http://127.0.0.1:22/x").unwrap_err();
        assert!(
            e.contains("127.0.0.1 is a loopback address")
                && e.contains("add 127.0.0.1 (or its network) to originHosts"),
            "{e}"
        );
        let local = policy("127.0.0.1");
        assert!(url_ok(&local, "http://127.0.0.1:8080/a.m3u8").is_ok());
        assert!(url_ok(&local, "http://[::ffff:127.0.0.1]:8080/a.m3u8").is_ok());
        assert!(url_ok(&local, "http://127.0.0.2:8080/a.m3u8").is_err());
        assert!(
            url_ok(&local, "http://8.8.8.8/a.m3u8").is_err(),
            "not listed, no `*`"
        );
        assert!(url_ok(&policy("10.0.0.0/8"), "http://10.9.8.7/a").is_ok());
    }

    #[test]
    fn resolved_addresses_are_checked_whatever_the_name() {
        let p = policy("*,10.1.0.0/16");
        assert!(p
            .check_resolved("cdn.example.com", "93.184.216.34".parse().unwrap())
            .is_ok());
        let e = p
            .check_resolved("localhost", "127.0.0.1".parse().unwrap())
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("localhost resolves to 127.0.0.1: a loopback address"),
            "{e}"
        );
        assert!(p
            .check_resolved("db.internal", "10.2.0.1".parse().unwrap())
            .is_err());
        assert!(p
            .check_resolved("origin.internal", "10.1.0.1".parse().unwrap())
            .is_ok());
        assert!(p
            .check_resolved("x", "::ffff:10.1.2.3".parse().unwrap())
            .is_ok());
        assert!(p
            .check_resolved("x", "169.254.169.254".parse().unwrap())
            .is_err());
    }
}
