//! Master configuration: `.env` file, then the process environment, then CLI flags (the
//! later source wins), resolved into a typed [`MasterConfig`].
//!
//! Keys keep the spelling users of the commercial super peer already have in their `.env`
//! files (`listenPort`, `accessToken`, `signal1`, `signal2`); our additions use the same
//! camelCase style. Parsing is pure: the caller gathers the key/value maps.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// Every configuration key the master understands, in `.env` spelling.
pub const KEYS: &[&str] = &[
    "listenPort",
    "listenHost",
    "accessToken",
    "signal1",
    "signal2",
    "trackerZones",
    "publicIp",
    "udpPorts",
    "cacheDir",
    "cacheSizeMB",
    "sendBudgetMB",
    "viewerBufferKB",
    "viewerMessageKB",
    "maxWorkers",
    "bandwidth",
    "workerMbps",
    "reapAfterSecs",
    "maxBodyBytes",
    "statsIntervalMs",
    "restartBackoffMinMs",
    "restartBackoffMaxMs",
    "originHosts",
    "signalHosts",
    "allowOpen",
];

/// Default `sendBudgetMB`. The bytes in flight are copies of segment data held until
/// acknowledged, so the budget is memory. 8 MiB in flight carries 335 Mbit/s to viewers 200 ms
/// away, 1.7 times a worker's planned `workerMbps`; a loaded worker serves the viewers it holds
/// back in turn. On the 1000-viewer bench 16 MiB measured 7 MB more RSS and no fewer misses.
pub const DEFAULT_SEND_BUDGET_MB: u64 = 8;

/// Default `viewerBufferKB`. The stack keeps each connection's unacknowledged chunks in a hash
/// table that never shrinks: 96 KiB and one more message (about 90 chunks of 1.2 KB) keep it at
/// 128 slots, 17 KiB per viewer for good; 192 KiB took 256 slots, 256 KiB 512. 96 KiB in flight
/// is still 7.8 Mbit/s per viewer at 100 ms round trip, a 680 KB segment in 0.7 s.
pub const DEFAULT_VIEWER_BUFFER_KB: u64 = 96;

/// Default `viewerMessageKB`: the largest data-channel message between a worker and a viewer,
/// as the worker's `a=max-message-size`. The stack zero-fills one buffer of that size per
/// connection and never uses its bytes, and a send's burst of packets queues in the stack as
/// one message's worth, so each KiB here is 1–2 MB per 1000 viewers (8 to 4 KiB measured 5 MB
/// at 1000). Viewers send the worker only commands (an announcement of a few hundred segments
/// is a few hundred bytes; our SDK splits longer ones to fit), and segment data goes out in
/// messages of the whole SCTP chunks that fit in this size (3480 bytes of 4 KiB), which viewers
/// join.
pub const DEFAULT_VIEWER_MESSAGE_KB: u64 = 4;

/// Tracker (signal) URLs of one tracker zone: `signal1`, failing over to `signal2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalPair {
    pub signal1: String,
    pub signal2: Option<String>,
}

/// Resolved master configuration. `Default` gives port 8090 on all interfaces, no token and
/// no origin host: [`MasterConfig::exposure`] refuses that until it has a token, listens on
/// loopback or `allow_open` is set, and every seed is refused until `origin_hosts` lists
/// the hosts of the streams.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// TCP port of the REST API (`listenPort`); 0 picks a free port.
    pub listen_port: u16,
    /// Address the REST API binds (`listenHost`).
    pub listen_host: IpAddr,
    /// Required in `X-ACCESS-TOKEN` on every request when set (`accessToken`).
    pub access_token: Option<String>,
    /// Default tracker URLs for seeds that give neither their own nor a known zone.
    pub signal1: Option<String>,
    pub signal2: Option<String>,
    /// Tracker URLs per `trackerZone` (`trackerZones=us=wss://a|wss://b,eu=wss://c`).
    pub tracker_zones: BTreeMap<String, SignalPair>,
    /// IP address put in the workers' ICE candidates (`publicIp`); default: the address the
    /// worker's UDP socket is bound to, which only works on a flat network.
    pub public_ip: Option<IpAddr>,
    /// UDP ports handed to workers, one each (`udpPorts=40000-40999`); `None`: ephemeral.
    pub udp_ports: Option<RangeInclusive<u16>>,
    /// Disk cache of VOD segments shared by restarts of a channel's workers (`cacheDir`).
    pub cache_dir: PathBuf,
    /// Upper bound of the disk cache per channel, in MiB (`cacheSizeMB`).
    pub cache_size_mb: u64,
    /// Unacknowledged bytes a worker keeps in flight over all its viewers at most, in MiB
    /// (`sendBudgetMB`): what bounds its send buffers when many viewers fetch at once.
    pub send_budget_mb: u64,
    /// Unacknowledged bytes one viewer's channel may hold, in KiB (`viewerBufferKB`); sending
    /// to it resumes at half. Higher serves far viewers (long RTT) faster, at more memory each.
    pub viewer_buffer_kb: u64,
    /// Largest data-channel message to and from a viewer, in KiB (`viewerMessageKB`).
    pub viewer_message_kb: u64,
    /// Hard ceiling on worker processes (`maxWorkers`).
    pub max_workers: u32,
    /// Upload capacity of this server in Mbit/s (`bandwidth`, also set by `POST /ping`).
    pub bandwidth_mbps: Option<f64>,
    /// Planning figure: upload one worker can serve, Mbit/s (`workerMbps`).
    pub worker_mbps: f64,
    /// A non-keepAlive worker whose swarm stayed empty this long is stopped (`reapAfterSecs`).
    pub reap_after: Duration,
    /// Largest accepted request body (`maxBodyBytes`); larger gets 413.
    pub max_body_bytes: usize,
    /// How often workers report their counters (`statsIntervalMs`).
    pub stats_interval: Duration,
    /// Restart backoff of keepAlive workers: first delay, doubling up to the maximum.
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
    /// Executable started as a worker (`<exe> superpeer-worker`); default: this executable.
    pub worker_exe: Option<PathBuf>,
    /// Hosts and addresses channel URLs (and everything a worker fetches) may point at
    /// (`originHosts`, see [`outbound::Policy`]); empty refuses every seed.
    pub origin_hosts: outbound::Policy,
    /// Hosts a seed's own `signal1`/`signal2` may name (`signalHosts`); `None`: the hosts of
    /// `signal1`, `signal2` and `trackerZones`.
    pub signal_hosts: Option<Vec<String>>,
    /// Serve the REST API on a non-loopback address without an access token (`allowOpen`).
    pub allow_open: bool,
}

/// The setting named in refusals of channel URLs.
pub const ORIGIN_HOSTS_SETTING: &str = "originHosts (.env, or --origin-hosts)";

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            listen_port: 8090,
            listen_host: IpAddr::from([0, 0, 0, 0]),
            access_token: None,
            signal1: None,
            signal2: None,
            tracker_zones: BTreeMap::new(),
            public_ip: None,
            udp_ports: None,
            cache_dir: PathBuf::from("cache"),
            cache_size_mb: 2048,
            send_budget_mb: DEFAULT_SEND_BUDGET_MB,
            viewer_buffer_kb: DEFAULT_VIEWER_BUFFER_KB,
            viewer_message_kb: DEFAULT_VIEWER_MESSAGE_KB,
            max_workers: std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
            bandwidth_mbps: None,
            worker_mbps: 200.0,
            reap_after: Duration::from_secs(120),
            max_body_bytes: 1 << 20,
            stats_interval: Duration::from_secs(1),
            restart_backoff_min: Duration::from_millis(500),
            restart_backoff_max: Duration::from_secs(30),
            worker_exe: None,
            origin_hosts: outbound::Policy::new(Vec::new(), ORIGIN_HOSTS_SETTING),
            signal_hosts: None,
            allow_open: false,
        }
    }
}

/// A configuration value that could not be used; names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Parses `.env` text: `KEY=VALUE` lines, `#` comments, optional `export `, values optionally
/// in single or double quotes. Unparseable lines are reported with their number.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(&format!(".env line {}", i + 1), "expected KEY=VALUE"));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(&format!(".env line {}", i + 1), "bad key"));
        }
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')))
        {
            &value[1..value.len() - 1]
        } else {
            // Unquoted values may carry a trailing ` # comment`.
            value.split(" #").next().unwrap_or(value).trim_end()
        };
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// Merges sources, later ones winning, keeping only known keys.
pub fn merge_sources(sources: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for source in sources {
        for (k, v) in source.iter() {
            if KEYS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// Checks that `url` is a WebSocket URL usable as a tracker (signal) address.
pub fn check_ws_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or("must start with ws:// or wss://")?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err("has no host".into());
    }
    if url.len() > 2048 {
        return Err("is longer than 2048 characters".into());
    }
    Ok(())
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str, what: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| err(key, format!("`{v}` is not {what}")))
}

fn parse_port_range(v: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let key = "udpPorts";
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let a: u16 = parse_num(key, a, "a port")?;
    let b: u16 = parse_num(key, b, "a port")?;
    if a == 0 || a > b {
        return Err(err(key, "expected FIRST-LAST with 0 < FIRST <= LAST"));
    }
    Ok(a..=b)
}

fn parse_zones(v: &str) -> Result<BTreeMap<String, SignalPair>, ConfigError> {
    let key = "trackerZones";
    let mut zones = BTreeMap::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (zone, urls) = entry
            .split_once('=')
            .ok_or_else(|| err(key, format!("`{entry}`: expected ZONE=URL[|URL]")))?;
        let mut urls = urls.split('|').map(str::trim);
        let signal1 = urls.next().unwrap_or_default().to_owned();
        let signal2 = urls.next().map(str::to_owned);
        for url in std::iter::once(&signal1).chain(signal2.as_ref()) {
            check_ws_url(url).map_err(|m| err(key, format!("zone {zone}: `{url}` {m}")))?;
        }
        zones.insert(zone.trim().to_owned(), SignalPair { signal1, signal2 });
    }
    Ok(zones)
}

impl MasterConfig {
    /// Builds a configuration from merged key/values on top of the defaults.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let get = |k: &str| map.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(v) = get("listenPort") {
            c.listen_port = parse_num("listenPort", v, "a TCP port")?;
        }
        if let Some(v) = get("listenHost") {
            c.listen_host = parse_num("listenHost", v, "an IP address")?;
        }
        c.access_token = get("accessToken").map(str::to_owned);
        for (key, slot) in [("signal1", &mut c.signal1), ("signal2", &mut c.signal2)] {
            if let Some(v) = get(key) {
                check_ws_url(v).map_err(|m| err(key, format!("`{v}` {m}")))?;
                *slot = Some(v.to_owned());
            }
        }
        if let Some(v) = get("trackerZones") {
            c.tracker_zones = parse_zones(v)?;
        }
        if let Some(v) = get("publicIp") {
            c.public_ip = Some(parse_num("publicIp", v, "an IP address")?);
        }
        if let Some(v) = get("udpPorts") {
            c.udp_ports = Some(parse_port_range(v)?);
        }
        if let Some(v) = get("cacheDir") {
            c.cache_dir = PathBuf::from(v);
        }
        if let Some(v) = get("cacheSizeMB") {
            c.cache_size_mb = parse_num("cacheSizeMB", v, "a size in MiB")?;
        }
        if let Some(v) = get("sendBudgetMB") {
            c.send_budget_mb = parse_num("sendBudgetMB", v, "a size in MiB")?;
            if c.send_budget_mb == 0 {
                return Err(err("sendBudgetMB", "must be at least 1 (MiB)"));
            }
        }
        if let Some(v) = get("viewerBufferKB") {
            c.viewer_buffer_kb = parse_num("viewerBufferKB", v, "a size in KiB")?;
            if !(32..=16 * 1024).contains(&c.viewer_buffer_kb) {
                return Err(err("viewerBufferKB", "must be between 32 and 16384 (KiB)"));
            }
        }
        if let Some(v) = get("viewerMessageKB") {
            c.viewer_message_kb = parse_num("viewerMessageKB", v, "a size in KiB")?;
            if !(4..=64).contains(&c.viewer_message_kb) {
                return Err(err("viewerMessageKB", "must be between 4 and 64 (KiB)"));
            }
        }
        if let Some(v) = get("maxWorkers") {
            c.max_workers = parse_num("maxWorkers", v, "a worker count")?;
        }
        if let Some(v) = get("bandwidth") {
            let mbps: f64 = parse_num("bandwidth", v, "a number of Mbit/s")?;
            if !(mbps.is_finite() && mbps > 0.0) {
                return Err(err("bandwidth", "must be positive"));
            }
            c.bandwidth_mbps = Some(mbps);
        }
        if let Some(v) = get("workerMbps") {
            let mbps: f64 = parse_num("workerMbps", v, "a number of Mbit/s")?;
            if !(mbps.is_finite() && mbps > 0.0) {
                return Err(err("workerMbps", "must be positive"));
            }
            c.worker_mbps = mbps;
        }
        if let Some(v) = get("reapAfterSecs") {
            c.reap_after = Duration::from_secs(parse_num("reapAfterSecs", v, "seconds")?);
        }
        if let Some(v) = get("maxBodyBytes") {
            c.max_body_bytes = parse_num("maxBodyBytes", v, "a byte count")?;
        }
        if let Some(v) = get("statsIntervalMs") {
            let ms: u64 = parse_num("statsIntervalMs", v, "milliseconds")?;
            c.stats_interval = Duration::from_millis(ms.max(50));
        }
        if let Some(v) = get("restartBackoffMinMs") {
            c.restart_backoff_min =
                Duration::from_millis(parse_num("restartBackoffMinMs", v, "milliseconds")?);
        }
        if let Some(v) = get("restartBackoffMaxMs") {
            c.restart_backoff_max =
                Duration::from_millis(parse_num("restartBackoffMaxMs", v, "milliseconds")?);
        }
        if let Some(v) = get("originHosts") {
            c.origin_hosts = outbound::Policy::parse(v, ORIGIN_HOSTS_SETTING)
                .map_err(|m| err("originHosts", m))?;
        }
        if let Some(v) = get("signalHosts") {
            c.signal_hosts = Some(
                v.split([',', ' '])
                    .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
            );
        }
        if let Some(v) = get("allowOpen") {
            c.allow_open = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(err("allowOpen", format!("`{v}` is not true or false"))),
            };
        }
        if c.restart_backoff_max < c.restart_backoff_min {
            return Err(err("restartBackoffMaxMs", "is below restartBackoffMinMs"));
        }
        Ok(c)
    }

    /// Whether the REST API may be served as configured. An API that other machines can
    /// reach needs `accessToken`, unless `allowOpen` says otherwise: then the warning to log
    /// at every start comes back.
    pub fn exposure(&self) -> Result<Option<String>, String> {
        let addr = std::net::SocketAddr::new(self.listen_host, self.listen_port);
        if is_loopback(self.listen_host) || self.access_token.is_some() {
            return Ok(None);
        }
        if self.allow_open {
            return Ok(Some(format!(
                "the REST API on {addr} has no accessToken and allowOpen is set: anyone who can \
                 reach it can start and stop workers. Set accessToken to close it"
            )));
        }
        Err(format!(
            "refusing to serve the REST API on {addr} without an access token: anyone who \
             could reach it could start and stop workers. Set accessToken (.env, or \
             --access-token), or listen on loopback only (listenHost=127.0.0.1), or set \
             allowOpen=true (--allow-open) to serve it open anyway"
        ))
    }

    /// The hosts a seed's own tracker URLs may name: `signalHosts`, else the hosts of the
    /// configured tracker URLs. `*` allows any.
    pub fn allowed_signal_hosts(&self) -> Vec<String> {
        if let Some(list) = &self.signal_hosts {
            return list.clone();
        }
        let configured = self.signal1.iter().chain(&self.signal2).chain(
            self.tracker_zones
                .values()
                .flat_map(|z| std::iter::once(&z.signal1).chain(&z.signal2)),
        );
        let mut hosts: Vec<String> = configured.filter_map(|u| url_host(u)).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Worker slots the capacity allows: `maxWorkers`, and `bandwidth / workerMbps` when a
    /// bandwidth is known (at least one, so a single channel can always be seeded).
    pub fn capacity_workers(&self, bandwidth_mbps: Option<f64>) -> u32 {
        let by_bandwidth = bandwidth_mbps
            .map(|b| ((b / self.worker_mbps).floor() as u32).max(1))
            .unwrap_or(u32::MAX);
        self.max_workers.min(by_bandwidth)
    }
}

/// Loopback, IPv4-mapped loopback included.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// The host of a URL, lowercased, without port, brackets or a trailing dot.
pub fn url_host(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = match parsed.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dotenv_parses_comments_quotes_and_export() {
        let m = parse_dotenv(
            "# super peer\nlistenPort=9000\nexport accessToken=\"s3cret\"\nsignal1='wss://a/ws'\n\nlabel=x # note\n",
        )
        .unwrap();
        assert_eq!(m["listenPort"], "9000");
        assert_eq!(m["accessToken"], "s3cret");
        assert_eq!(m["signal1"], "wss://a/ws");
        assert_eq!(m["label"], "x");
        assert_eq!(
            parse_dotenv("listenPort 9000").unwrap_err().key,
            ".env line 1"
        );
    }

    #[test]
    fn later_sources_win_and_unknown_keys_are_dropped() {
        let dotenv = map(&[("listenPort", "1"), ("accessToken", "a"), ("PATH", "/bin")]);
        let env = map(&[("listenPort", "2")]);
        let cli = map(&[("accessToken", "c")]);
        let merged = merge_sources(&[&dotenv, &env, &cli]);
        assert_eq!(merged["listenPort"], "2");
        assert_eq!(merged["accessToken"], "c");
        assert!(!merged.contains_key("PATH"));
    }

    #[test]
    fn resolves_all_keys() {
        let c = MasterConfig::from_map(&map(&[
            ("listenPort", "9100"),
            ("signal1", "ws://127.0.0.1:8000/"),
            ("signal2", "wss://backup.example/ws"),
            (
                "trackerZones",
                "us=wss://us.example/ws|wss://us2.example/ws, eu=wss://eu.example",
            ),
            ("udpPorts", "40000-40009"),
            ("publicIp", "203.0.113.7"),
            ("bandwidth", "1000"),
            ("maxWorkers", "8"),
            ("sendBudgetMB", "16"),
            ("viewerBufferKB", "512"),
            ("viewerMessageKB", "32"),
        ]))
        .unwrap();
        assert_eq!(c.listen_port, 9100);
        assert_eq!(c.send_budget_mb, 16);
        assert_eq!(c.viewer_buffer_kb, 512);
        assert_eq!(c.viewer_message_kb, 32);
        assert_eq!(
            c.tracker_zones["us"].signal2.as_deref(),
            Some("wss://us2.example/ws")
        );
        assert_eq!(c.tracker_zones["eu"].signal2, None);
        assert_eq!(c.udp_ports, Some(40000..=40009));
        assert_eq!(c.capacity_workers(c.bandwidth_mbps), 5);
        assert_eq!(c.capacity_workers(Some(10.0)), 1);
        assert_eq!(c.capacity_workers(None), 8);
    }

    #[test]
    fn an_open_api_needs_a_token_loopback_or_allow_open() {
        let open = MasterConfig::default();
        let e = open.exposure().unwrap_err();
        assert!(
            e.contains("0.0.0.0:8090") && e.contains("accessToken") && e.contains("allowOpen"),
            "{e}"
        );
        let loopback = MasterConfig::from_map(&map(&[("listenHost", "127.0.0.1")])).unwrap();
        assert_eq!(loopback.exposure(), Ok(None));
        let mapped = MasterConfig::from_map(&map(&[("listenHost", "::ffff:127.0.0.1")])).unwrap();
        assert_eq!(mapped.exposure(), Ok(None));
        let token = MasterConfig::from_map(&map(&[("accessToken", "t")])).unwrap();
        assert_eq!(token.exposure(), Ok(None));
        let allowed = MasterConfig::from_map(&map(&[("allowOpen", "true")])).unwrap();
        let warning = allowed.exposure().unwrap().unwrap();
        assert!(warning.contains("has no accessToken"), "{warning}");
    }

    #[test]
    fn signal_hosts_default_to_the_configured_trackers() {
        let c = MasterConfig::from_map(&map(&[
            ("signal1", "ws://127.0.0.1:8000/"),
            (
                "trackerZones",
                "us=wss://US.example/ws|wss://us2.example./ws",
            ),
        ]))
        .unwrap();
        assert_eq!(
            c.allowed_signal_hosts(),
            ["127.0.0.1", "us.example", "us2.example"]
        );
        let c = MasterConfig::from_map(&map(&[("signalHosts", "*, t.example")])).unwrap();
        assert_eq!(c.allowed_signal_hosts(), ["*", "t.example"]);
        let c =
            MasterConfig::from_map(&map(&[("originHosts", "cdn.example, 10.0.0.0/8")])).unwrap();
        assert_eq!(c.origin_hosts.to_list(), "cdn.example,10.0.0.0/8");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (k, v) in [
            ("listenPort", "http"),
            ("signal1", "http://x"),
            ("udpPorts", "9-1"),
            ("trackerZones", "us"),
            ("bandwidth", "-5"),
            ("publicIp", "nope"),
            ("originHosts", "http://cdn"),
            ("allowOpen", "maybe"),
            ("sendBudgetMB", "0"),
            ("viewerBufferKB", "8"),
            ("viewerBufferKB", "many"),
            ("viewerMessageKB", "2"),
            ("viewerMessageKB", "65"),
        ] {
            let e = MasterConfig::from_map(&map(&[(k, v)])).unwrap_err();
            assert_eq!(e.key, k, "{e}");
        }
    }
}
