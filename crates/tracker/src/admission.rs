//! Which client messages the tracker takes, before its swarm logic sees them: rate limits on
//! announces and offers per connection and per IP address, the private tracker's list of
//! known swarms, and the channel a viewer token holds a connection to. Pure: the caller
//! passes `now` and owns the sockets; every refusal says why, for the error frame and the
//! metrics.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use wire::tracker::{
    Action, ClientMessage, InfoHash, ScrapeRequest, ServerError, ServerMessage, StatsReport,
};

use crate::channels::SwarmList;
use crate::swarm::ConnId;

/// A sustained rate with a burst on top; `per_sec` 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: u32,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate {
        per_sec: 0.0,
        burst: 0,
    };

    pub fn new(per_sec: f64, burst: u32) -> Rate {
        Rate { per_sec, burst }
    }

    fn is_limited(&self) -> bool {
        self.per_sec > 0.0 && self.per_sec.is_finite()
    }

    /// Nanoseconds one unit is worth.
    fn interval_ns(&self) -> u64 {
        (1e9 / self.per_sec).max(1.0) as u64
    }
}

/// The limits, per connection and per client IP address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Announces (and scrapes and undecodable frames) per connection.
    pub announces_per_connection: Rate,
    /// Offers per connection (an announce carries several).
    pub offers_per_connection: Rate,
    pub announces_per_ip: Rate,
    pub offers_per_ip: Rate,
}

impl Default for Limits {
    /// Far above what a player does (a few announces a minute, 5 to 10 offers each, a burst
    /// when it starts or switches quality), and per IP room for a few hundred viewers behind
    /// one NAT.
    fn default() -> Self {
        Limits {
            announces_per_connection: Rate::new(2.0, 20),
            offers_per_connection: Rate::new(20.0, 200),
            announces_per_ip: Rate::new(50.0, 500),
            offers_per_ip: Rate::new(500.0, 5000),
        }
    }
}

impl Limits {
    pub const NONE: Limits = Limits {
        announces_per_connection: Rate::UNLIMITED,
        offers_per_connection: Rate::UNLIMITED,
        announces_per_ip: Rate::UNLIMITED,
        offers_per_ip: Rate::UNLIMITED,
    };
}

/// A token bucket in eight bytes (the generic cell rate algorithm): the time at which the
/// bucket would be full again, in nanoseconds since the admission's epoch.
#[derive(Debug, Default, Clone, Copy)]
struct Bucket(u64);

impl Bucket {
    /// The bucket after taking `n` units at `now`, if the rate allows them all.
    fn after(self, rate: &Rate, n: u64, now: u64) -> Option<Bucket> {
        if !rate.is_limited() || n == 0 {
            return Some(self);
        }
        let interval = rate.interval_ns();
        let full_at = self.0.max(now).saturating_add(interval.saturating_mul(n));
        let tolerance = interval.saturating_mul(u64::from(rate.burst.max(1)));
        (full_at <= now.saturating_add(tolerance)).then_some(Bucket(full_at))
    }
}

/// Where a limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Connection,
    Ip,
}

/// Why a message (or an announce's offers) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    AnnounceRate(Scope),
    OfferRate(Scope),
    /// A private tracker, and an info_hash none of its channels has.
    UnknownSwarm,
    /// The connection's viewer token is for another channel.
    OtherChannel,
}

impl Refused {
    /// The failure reason sent to the client.
    pub fn reason(self, limits: &Limits) -> String {
        let rate = |r: &Rate| format!("{} per second (bursts of {})", r.per_sec, r.burst);
        match self {
            Refused::AnnounceRate(Scope::Connection) => format!(
                "too many announces: at most {} on one connection",
                rate(&limits.announces_per_connection)
            ),
            Refused::AnnounceRate(Scope::Ip) => format!(
                "too many announces: at most {} from one IP address",
                rate(&limits.announces_per_ip)
            ),
            Refused::OfferRate(Scope::Connection) => format!(
                "offers dropped: at most {} on one connection",
                rate(&limits.offers_per_connection)
            ),
            Refused::OfferRate(Scope::Ip) => format!(
                "offers dropped: at most {} from one IP address",
                rate(&limits.offers_per_ip)
            ),
            Refused::UnknownSwarm => {
                "unknown info_hash: this tracker serves only its operator's channels".into()
            }
            Refused::OtherChannel => {
                "not the channel of this info_hash, or of the viewer token".into()
            }
        }
    }
}

/// The error frame that tells the client its message was refused (or its offers dropped).
pub fn error_frame(msg: &ClientMessage, reason: String) -> ServerMessage {
    let (action, info_hash) = match msg {
        ClientMessage::Announce(a) => (Action::Announce, Some(&a.info_hash)),
        ClientMessage::Answer(a) => (Action::Announce, Some(&a.info_hash)),
        ClientMessage::Scrape(ScrapeRequest::InfoHashes(list)) => (Action::Scrape, list.first()),
        ClientMessage::Scrape(ScrapeRequest::All) => (Action::Scrape, None),
        ClientMessage::Stats(s) => (Action::Stats, Some(&s.info_hash)),
    };
    ServerMessage::Error(ServerError {
        action,
        info_hash: info_hash
            .map(InfoHash::to_binary_string)
            .unwrap_or_default(),
        reason,
    })
}

/// What to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Take,
    /// Take the announce, without its offers (already removed), and say why.
    TakeWithoutOffers(Refused),
    Refuse(Refused),
}

#[derive(Debug)]
struct ConnState {
    ip: IpAddr,
    announces: Bucket,
    offers: Bucket,
    /// The channel the viewer token is for.
    channel: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct IpState {
    conns: u32,
    announces: Bucket,
    offers: Bucket,
}

/// The admission state of every connection and client IP address.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    /// Offers counted per announce at most (the swarm logic relays no more).
    max_offers: usize,
    epoch: Instant,
    conns: HashMap<ConnId, ConnState>,
    ips: HashMap<IpAddr, IpState>,
    /// A private tracker's swarms; `None`: any info_hash.
    swarms: Option<Arc<SwarmList>>,
    /// Connections held to a channel by their viewer token.
    scoped: usize,
}

impl Admission {
    pub fn new(limits: Limits, max_offers: usize, now: Instant) -> Self {
        Admission {
            limits,
            max_offers,
            epoch: now,
            conns: HashMap::new(),
            ips: HashMap::new(),
            swarms: None,
            scoped: 0,
        }
    }

    /// Nothing to check: no limit, no private list, no connection held to a channel. Every
    /// message is then taken without a lookup, so turning the limits off costs nothing.
    fn idle(&self) -> bool {
        self.limits == Limits::NONE && self.swarms.is_none() && self.scoped == 0
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Makes this a private tracker with these swarms (`None`: open to any info_hash).
    pub fn set_swarms(&mut self, swarms: Option<Arc<SwarmList>>) {
        self.swarms = swarms;
    }

    /// A connection opened from `ip`, held to `channel` by its viewer token if any.
    pub fn open(&mut self, conn: ConnId, ip: IpAddr, channel: Option<Arc<str>>) {
        self.scoped += usize::from(channel.is_some());
        self.ips.entry(ip).or_default().conns += 1;
        self.conns.insert(
            conn,
            ConnState {
                ip,
                announces: Bucket::default(),
                offers: Bucket::default(),
                channel,
            },
        );
    }

    /// A connection closed; its IP's state goes with its last connection.
    pub fn close(&mut self, conn: ConnId) {
        let Some(state) = self.conns.remove(&conn) else {
            return;
        };
        self.scoped -= usize::from(state.channel.is_some());
        if let Some(ip) = self.ips.get_mut(&state.ip) {
            ip.conns -= 1;
            if ip.conns == 0 {
                self.ips.remove(&state.ip);
            }
        }
    }

    fn now_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Counts one announce-like message; both buckets change only if both allow it.
    fn take_announce(&mut self, conn: ConnId, now: u64) -> Result<(), Refused> {
        let Some(state) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let own = state
            .announces
            .after(&self.limits.announces_per_connection, 1, now)
            .ok_or(Refused::AnnounceRate(Scope::Connection))?;
        let ip = self.ips.entry(state.ip).or_default();
        let shared = ip
            .announces
            .after(&self.limits.announces_per_ip, 1, now)
            .ok_or(Refused::AnnounceRate(Scope::Ip))?;
        state.announces = own;
        ip.announces = shared;
        Ok(())
    }

    fn take_offers(&mut self, conn: ConnId, n: u64, now: u64) -> Result<(), Refused> {
        let Some(state) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let own = state
            .offers
            .after(&self.limits.offers_per_connection, n, now)
            .ok_or(Refused::OfferRate(Scope::Connection))?;
        let ip = self.ips.entry(state.ip).or_default();
        let shared = ip
            .offers
            .after(&self.limits.offers_per_ip, n, now)
            .ok_or(Refused::OfferRate(Scope::Ip))?;
        state.offers = own;
        ip.offers = shared;
        Ok(())
    }

    /// Whether `info_hash` may be used on `conn`: known to a private tracker, and of the
    /// viewer token's channel.
    fn check_swarm(&self, conn: ConnId, info_hash: &InfoHash) -> Result<(), Refused> {
        let Some(swarms) = &self.swarms else {
            return Ok(());
        };
        let channel = swarms.channel_of(info_hash).ok_or(Refused::UnknownSwarm)?;
        match self.conns.get(&conn).and_then(|c| c.channel.as_deref()) {
            Some(allowed) if allowed != channel => Err(Refused::OtherChannel),
            _ => Ok(()),
        }
    }

    /// Whether a stats report may count: for the viewer token's channel, and on a private
    /// tracker for a known swarm under that swarm's own channel id (a report cannot rename a
    /// channel in the ranking automatic seeding reads).
    pub fn check_report(
        &self,
        token_channel: Option<&str>,
        report: &StatsReport,
    ) -> Result<(), Refused> {
        if token_channel.is_some_and(|c| c != report.channel) {
            return Err(Refused::OtherChannel);
        }
        let Some(swarms) = &self.swarms else {
            return Ok(());
        };
        match swarms.channel_of(&report.info_hash) {
            None => Err(Refused::UnknownSwarm),
            Some(channel) if channel != report.channel => Err(Refused::OtherChannel),
            Some(_) => Ok(()),
        }
    }

    /// Checks one message from `conn`; may remove an announce's offers.
    pub fn admit(&mut self, conn: ConnId, msg: &mut ClientMessage, now: Instant) -> Verdict {
        if self.idle() {
            return Verdict::Take;
        }
        let now = self.now_ns(now);
        match msg {
            ClientMessage::Announce(a) => {
                if let Err(r) = self.take_announce(conn, now) {
                    return Verdict::Refuse(r);
                }
                if let Err(r) = self.check_swarm(conn, &a.info_hash) {
                    return Verdict::Refuse(r);
                }
                let offers = a.offers.len().min(self.max_offers) as u64;
                match self.take_offers(conn, offers, now) {
                    Ok(()) => Verdict::Take,
                    Err(r) => {
                        a.offers.clear();
                        Verdict::TakeWithoutOffers(r)
                    }
                }
            }
            ClientMessage::Scrape(_) => match self.take_announce(conn, now) {
                Ok(()) => Verdict::Take,
                Err(r) => Verdict::Refuse(r),
            },
            ClientMessage::Stats(report) => {
                let token_channel = self.conns.get(&conn).and_then(|c| c.channel.as_deref());
                match self.check_report(token_channel, report) {
                    Ok(()) => Verdict::Take,
                    Err(r) => Verdict::Refuse(r),
                }
            }
            // Bounded by the offers relayed to the answering peer.
            ClientMessage::Answer(_) => Verdict::Take,
        }
    }

    /// A frame that could not be decoded costs an announce.
    pub fn admit_undecodable(&mut self, conn: ConnId, now: Instant) -> Verdict {
        if self.idle() {
            return Verdict::Take;
        }
        let now = self.now_ns(now);
        match self.take_announce(conn, now) {
            Ok(()) => Verdict::Take,
            Err(r) => Verdict::Refuse(r),
        }
    }

    /// Connections and IP addresses held, for tests.
    pub fn held(&self) -> (usize, usize) {
        (self.conns.len(), self.ips.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wire::tracker::{decode_client, AnnounceRequest};

    fn announce(info_hash: &str, offers: usize) -> ClientMessage {
        let offers: Vec<String> = (0..offers)
            .map(|i| {
                format!(r#"{{"offer_id":"offer-{i:014}","offer":{{"type":"offer","sdp":"x"}}}}"#)
            })
            .collect();
        let text = format!(
            r#"{{"action":"announce","info_hash":"{info_hash}","peer_id":"-SC0001-aaaaaaaaaaaa","offers":[{}]}}"#,
            offers.join(",")
        );
        decode_client(text.as_bytes()).unwrap()
    }

    const HASH: &str = "LF5ru/aNcTeuFIVnksyB";

    fn offers_of(msg: &ClientMessage) -> usize {
        match msg {
            ClientMessage::Announce(AnnounceRequest { offers, .. }) => offers.len(),
            _ => 0,
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let rate = Rate::new(10.0, 5);
        let mut b = Bucket::default();
        let t0 = 1_000_000_000;
        for _ in 0..5 {
            b = b.after(&rate, 1, t0).expect("within the burst");
        }
        assert!(b.after(&rate, 1, t0).is_none(), "the burst is spent");
        // One unit every 100 ms comes back.
        assert!(b.after(&rate, 1, t0 + 99_000_000).is_none());
        b = b.after(&rate, 1, t0 + 100_000_000).unwrap();
        assert!(b.after(&rate, 1, t0 + 100_000_000).is_none());
        // After a long pause the whole burst is there again, not more.
        let later = t0 + 60_000_000_000;
        assert!(b.after(&rate, 5, later).is_some());
        assert!(b.after(&rate, 6, later).is_none());
        assert!(Bucket::default()
            .after(&Rate::UNLIMITED, 1_000_000, 0)
            .is_some());
    }

    #[test]
    fn announces_are_limited_per_connection_and_per_ip() {
        let limits = Limits {
            announces_per_connection: Rate::new(1.0, 3),
            announces_per_ip: Rate::new(1.0, 5),
            ..Limits::NONE
        };
        let t = Instant::now();
        let mut a = Admission::new(limits, 10, t);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        a.open(ConnId(1), ip, None);
        a.open(ConnId(2), ip, None);
        for _ in 0..3 {
            assert_eq!(a.admit(ConnId(1), &mut announce(HASH, 0), t), Verdict::Take);
        }
        assert_eq!(
            a.admit(ConnId(1), &mut announce(HASH, 0), t),
            Verdict::Refuse(Refused::AnnounceRate(Scope::Connection))
        );
        // The second connection from the same IP has 2 left of the IP's 5.
        assert_eq!(a.admit(ConnId(2), &mut announce(HASH, 0), t), Verdict::Take);
        assert_eq!(a.admit(ConnId(2), &mut announce(HASH, 0), t), Verdict::Take);
        assert_eq!(
            a.admit(ConnId(2), &mut announce(HASH, 0), t),
            Verdict::Refuse(Refused::AnnounceRate(Scope::Ip))
        );
        // Refused messages cost nothing: a second later one more goes through on each.
        let later = t + Duration::from_secs(1);
        assert_eq!(
            a.admit(ConnId(2), &mut announce(HASH, 0), later),
            Verdict::Take
        );
        a.close(ConnId(1));
        a.close(ConnId(2));
        assert_eq!(a.held(), (0, 0));
    }

    #[test]
    fn offers_over_the_limit_are_dropped_and_the_announce_kept() {
        let limits = Limits {
            offers_per_connection: Rate::new(1.0, 12),
            ..Limits::NONE
        };
        let t = Instant::now();
        let mut a = Admission::new(limits, 10, t);
        a.open(ConnId(1), "127.0.0.1".parse().unwrap(), None);
        // 15 offers count as the 10 that would be relayed.
        let mut first = announce(HASH, 15);
        assert_eq!(a.admit(ConnId(1), &mut first, t), Verdict::Take);
        assert_eq!(offers_of(&first), 15);
        let mut second = announce(HASH, 5);
        assert_eq!(
            a.admit(ConnId(1), &mut second, t),
            Verdict::TakeWithoutOffers(Refused::OfferRate(Scope::Connection))
        );
        assert_eq!(offers_of(&second), 0);
        let mut third = announce(HASH, 2);
        assert_eq!(a.admit(ConnId(1), &mut third, t), Verdict::Take);
    }

    #[test]
    fn a_private_tracker_takes_its_swarms_only_and_tokens_hold_a_channel() {
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p.m3u8\n";
        let media = "#EXTM3U\n#EXTINF:2,\na.ts\n";
        let mut list = SwarmList::default();
        let entries = crate::channels::parse_list("https://o/a.m3u8\nhttps://o/b.m3u8").unwrap();
        list.add(&entries[0], "https://o/a.m3u8", master);
        list.add(&entries[1], "https://o/b.m3u8", media);
        let hash_of = |url: &str, text: &str| {
            let s = &wire::swarm_id::hls::streams(text)[0];
            let id = wire::swarm_id::stream_swarm_id(url, s.stream_type, &s.identity.short_id());
            wire::swarm_id::info_hash(&id)
        };
        let (a_hash, b_hash) = (
            hash_of("https://o/a.m3u8", master),
            hash_of("https://o/b.m3u8", media),
        );
        let t = Instant::now();
        let mut adm = Admission::new(Limits::NONE, 10, t);
        adm.set_swarms(Some(Arc::new(list)));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        adm.open(ConnId(1), ip, None);
        adm.open(ConnId(2), ip, Some(Arc::from("https://o/a.m3u8")));
        assert_eq!(
            adm.admit(ConnId(1), &mut announce(&a_hash, 0), t),
            Verdict::Take
        );
        assert_eq!(
            adm.admit(ConnId(1), &mut announce(&b_hash, 0), t),
            Verdict::Take
        );
        assert_eq!(
            adm.admit(ConnId(1), &mut announce(HASH, 0), t),
            Verdict::Refuse(Refused::UnknownSwarm)
        );
        assert_eq!(
            adm.admit(ConnId(2), &mut announce(&a_hash, 0), t),
            Verdict::Take
        );
        assert_eq!(
            adm.admit(ConnId(2), &mut announce(&b_hash, 0), t),
            Verdict::Refuse(Refused::OtherChannel)
        );
        let stats = |channel: &str| {
            decode_client(
                format!(r#"{{"action":"stats","info_hash":"{a_hash}","peer_id":"-SC0001-aaaaaaaaaaaa","channel":"{channel}"}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(
            adm.admit(ConnId(2), &mut stats("https://o/a.m3u8"), t),
            Verdict::Take
        );
        assert_eq!(
            adm.admit(ConnId(2), &mut stats("https://evil/fake.m3u8"), t),
            Verdict::Refuse(Refused::OtherChannel)
        );
        // Without a token too, a report cannot give a known swarm another channel id.
        assert_eq!(
            adm.admit(ConnId(1), &mut stats("http://169.254.169.254/x.m3u8"), t),
            Verdict::Refuse(Refused::OtherChannel)
        );
        assert_eq!(
            adm.admit(ConnId(1), &mut stats("https://o/a.m3u8"), t),
            Verdict::Take
        );
    }
}
