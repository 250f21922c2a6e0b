//! The tracker side: polls `GET /channels` and folds the swarms into a channel ranking.
//!
//! The tracker lists swarms (one per info_hash; an ABR channel has one per variant). A swarm
//! knows its channel id once one of our SDK clients reported stats for it, and then carries
//! that channel's traffic totals. Parsing is lenient about where those fields sit, so the
//! console keeps working across tracker versions.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// What went wrong for a channel's viewers, from their stats reports (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Quality {
    /// Player errors (parsing, decoding) on segments from HTTP, browser peers, super peers.
    pub errors_http: u64,
    pub errors_peer: u64,
    pub errors_superpeer: u64,
    /// Segments from peers that failed viewers' integrity checks, and peers banned for them.
    pub bad_segments: u64,
    pub banned_peers: u64,
}

impl Quality {
    fn max(self, o: Quality) -> Quality {
        Quality {
            errors_http: self.errors_http.max(o.errors_http),
            errors_peer: self.errors_peer.max(o.errors_peer),
            errors_superpeer: self.errors_superpeer.max(o.errors_superpeer),
            bad_segments: self.bad_segments.max(o.bad_segments),
            banned_peers: self.banned_peers.max(o.banned_peers),
        }
    }

    fn add(self, o: Quality) -> Quality {
        Quality {
            errors_http: self.errors_http.saturating_add(o.errors_http),
            errors_peer: self.errors_peer.saturating_add(o.errors_peer),
            errors_superpeer: self.errors_superpeer.saturating_add(o.errors_superpeer),
            bad_segments: self.bad_segments.saturating_add(o.bad_segments),
            banned_peers: self.banned_peers.saturating_add(o.banned_peers),
        }
    }
}

/// One swarm as the tracker lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwarmEntry {
    pub info_hash: String,
    pub peers: u32,
    pub seeders: u32,
    pub leechers: u32,
    pub channel: Option<String>,
    /// Viewers that reported SDK stats recently (0 when the tracker does not say).
    pub viewers: u32,
    pub http_bytes: u64,
    pub p2p_bytes: u64,
    pub upload_bytes: u64,
    pub rebuffers: u64,
    pub quality: Quality,
}

/// One channel, all its swarms together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelRank {
    /// The channel id; for a swarm whose channel is unknown, `info_hash:<hash>`.
    pub channel: String,
    /// Whether the channel id is known, i.e. a super peer could be told to seed it.
    pub seedable: bool,
    pub info_hashes: Vec<String>,
    /// Peers announced in the channel's swarms (viewers plus any super-peer workers).
    pub peers: u32,
    pub seeders: u32,
    pub leechers: u32,
    /// Viewers reporting SDK stats.
    pub reporting: u32,
    /// Viewers: the larger of `reporting` and the peer count (less our own workers, once
    /// [`discount_workers`] ran).
    pub viewers: u32,
    pub http_bytes: u64,
    pub p2p_bytes: u64,
    pub upload_bytes: u64,
    pub rebuffers: u64,
    pub quality: Quality,
}

/// Parses a `GET /channels` body: a list of swarms, bare or under `channels` / `swarms`.
pub fn parse_channels(body: &Value) -> Result<Vec<SwarmEntry>, String> {
    let list = match body {
        Value::Array(a) => a,
        Value::Object(o) => match ["channels", "swarms", "items"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
        {
            Some(a) => a,
            None => return Err("expected a list of swarms".into()),
        },
        _ => return Err("expected a list of swarms".into()),
    };
    Ok(list.iter().filter_map(parse_swarm).collect())
}

fn parse_swarm(v: &Value) -> Option<SwarmEntry> {
    let o = v.as_object()?;
    // Traffic fields may sit at the top or in a nested object.
    let nested: Vec<&serde_json::Map<String, Value>> =
        ["stats", "traffic", "totals", "channel_stats"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_object))
            .collect();
    let num = |keys: &[&str]| -> u64 {
        for k in keys {
            if let Some(n) = o.get(*k).and_then(Value::as_u64) {
                return n;
            }
            for m in &nested {
                if let Some(n) = m.get(*k).and_then(Value::as_u64) {
                    return n;
                }
            }
        }
        0
    };
    let small = |keys: &[&str]| u32::try_from(num(keys)).unwrap_or(u32::MAX);
    let channel = match o.get("channel") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Object(m)) => m
            .get("id")
            .or_else(|| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    // Prefer the hex form: `info_hash` is the 20-char binary string clients send.
    let info_hash = o
        .get("info_hash_hex")
        .or_else(|| o.get("info_hash"))
        .or_else(|| o.get("infoHash"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if info_hash.is_empty() && channel.is_none() {
        return None;
    }
    let seeders = small(&["seeders", "complete"]);
    let leechers = small(&["leechers", "incomplete"]);
    let mut peers = small(&["peers", "peer_count"]);
    if peers == 0 {
        peers = seeders.saturating_add(leechers);
    }
    Some(SwarmEntry {
        info_hash,
        peers,
        seeders,
        leechers,
        channel,
        viewers: small(&["viewers"]),
        http_bytes: num(&["http_bytes", "httpBytes"]),
        p2p_bytes: num(&["p2p_bytes", "p2pBytes"]),
        upload_bytes: num(&["upload_bytes", "uploadBytes"]),
        rebuffers: num(&["rebuffers"]),
        quality: Quality {
            errors_http: num(&["errors_http"]),
            errors_peer: num(&["errors_peer"]),
            errors_superpeer: num(&["errors_superpeer"]),
            bad_segments: num(&["bad_segments"]),
            banned_peers: num(&["banned_peers"]),
        },
    })
}

/// Folds swarms into channels, most viewers first. Traffic totals are per channel on the
/// tracker (repeated on each of its swarms), so they are taken once, not summed.
pub fn rank_channels(swarms: &[SwarmEntry]) -> Vec<ChannelRank> {
    let mut by_channel: BTreeMap<String, ChannelRank> = BTreeMap::new();
    for s in swarms {
        let (key, seedable) = match &s.channel {
            Some(c) => (c.clone(), true),
            None => (format!("info_hash:{}", s.info_hash), false),
        };
        let c = by_channel
            .entry(key.clone())
            .or_insert_with(|| ChannelRank {
                channel: key,
                seedable,
                ..ChannelRank::default()
            });
        if !s.info_hash.is_empty() && !c.info_hashes.contains(&s.info_hash) {
            c.info_hashes.push(s.info_hash.clone());
        }
        c.peers = c.peers.saturating_add(s.peers);
        c.seeders = c.seeders.saturating_add(s.seeders);
        c.leechers = c.leechers.saturating_add(s.leechers);
        c.reporting = c.reporting.max(s.viewers);
        c.http_bytes = c.http_bytes.max(s.http_bytes);
        c.p2p_bytes = c.p2p_bytes.max(s.p2p_bytes);
        c.upload_bytes = c.upload_bytes.max(s.upload_bytes);
        c.rebuffers = c.rebuffers.max(s.rebuffers);
        c.quality = c.quality.max(s.quality);
    }
    let mut out: Vec<ChannelRank> = by_channel
        .into_values()
        .map(|mut c| {
            // Viewers that report SDK stats, or more when other clients (e.g. plain P2P
            // Media Loader) announce without reporting.
            c.viewers = c.reporting.max(c.peers);
            c
        })
        .collect();
    sort_by_viewers(&mut out);
    out
}

fn sort_by_viewers(ranking: &mut [ChannelRank]) {
    ranking.sort_by(|a, b| {
        b.viewers
            .cmp(&a.viewers)
            .then_with(|| a.channel.cmp(&b.channel))
    });
}

/// Takes our own super-peer workers out of the viewer counts: a worker announces in each of
/// its channel's swarms like a viewer. `workers[channel]` is the number of workers seeding
/// it. A channel never drops below the viewers that report SDK stats.
pub fn discount_workers(
    ranking: &mut [ChannelRank],
    workers: &std::collections::HashMap<String, u32>,
) {
    for c in ranking.iter_mut() {
        let Some(n) = workers.get(&c.channel) else {
            continue;
        };
        let swarms = u32::try_from(c.info_hashes.len().max(1)).unwrap_or(u32::MAX);
        let own = n.saturating_mul(swarms);
        c.viewers = c.reporting.max(c.peers.saturating_sub(own));
    }
    sort_by_viewers(ranking);
}

/// Merges the rankings of several trackers (nodes of one cluster or separate trackers).
pub fn merge_rankings(rankings: &[Vec<ChannelRank>]) -> Vec<ChannelRank> {
    let mut by_channel: BTreeMap<String, ChannelRank> = BTreeMap::new();
    for r in rankings.iter().flatten() {
        match by_channel.get_mut(&r.channel) {
            None => {
                by_channel.insert(r.channel.clone(), r.clone());
            }
            Some(c) => {
                for h in &r.info_hashes {
                    if !c.info_hashes.contains(h) {
                        c.info_hashes.push(h.clone());
                    }
                }
                c.peers = c.peers.saturating_add(r.peers);
                c.seeders = c.seeders.saturating_add(r.seeders);
                c.leechers = c.leechers.saturating_add(r.leechers);
                c.reporting = c.reporting.saturating_add(r.reporting);
                c.viewers = c.viewers.saturating_add(r.viewers);
                c.http_bytes = c.http_bytes.saturating_add(r.http_bytes);
                c.p2p_bytes = c.p2p_bytes.saturating_add(r.p2p_bytes);
                c.upload_bytes = c.upload_bytes.saturating_add(r.upload_bytes);
                c.rebuffers = c.rebuffers.saturating_add(r.rebuffers);
                c.quality = c.quality.add(r.quality);
            }
        }
    }
    let mut out: Vec<ChannelRank> = by_channel.into_values().collect();
    out.sort_by(|a, b| {
        b.viewers
            .cmp(&a.viewers)
            .then_with(|| a.channel.cmp(&b.channel))
    });
    out
}

/// Which tracker node answered, when it is a node of a cluster (`swarmcast tracker
/// --redis`): its `/channels` then lists the whole cluster's swarms, with this beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub cluster: String,
    pub node: String,
    /// Whether the node reaches Redis (otherwise it serves its own peers alone).
    pub connected: bool,
    /// Peers connected to this node.
    pub local_peers: u64,
    pub connections: u64,
    /// Client messages received since the node started.
    pub messages_in: u64,
}

/// Reads the `node` object of a `GET /channels` body; `None` for a tracker of its own (or a
/// node that has not reached Redis yet, which has no cluster id).
pub fn parse_node(body: &Value) -> Option<NodeInfo> {
    let n = body.get("node")?.as_object()?;
    let text = |k: &str| n.get(k).and_then(Value::as_str).map(str::to_owned);
    let num = |k: &str| n.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(NodeInfo {
        cluster: text("cluster").filter(|c| !c.is_empty())?,
        node: text("node").unwrap_or_default(),
        connected: n.get("connected").and_then(Value::as_bool).unwrap_or(false),
        local_peers: num("local_peers"),
        connections: num("connections"),
        messages_in: num("messages_in"),
    })
}

/// For each polled tracker (`None`: it failed; `Some(None)`: a tracker of its own), whether
/// its ranking counts: nodes of one cluster list the same swarms, so only the first node
/// that answered for each cluster counts.
pub fn counted(polls: &[Option<Option<&str>>]) -> Vec<bool> {
    let mut seen: Vec<&str> = Vec::new();
    polls
        .iter()
        .map(|p| match p {
            None => false,
            Some(None) => true,
            Some(Some(cluster)) if seen.contains(cluster) => false,
            Some(Some(cluster)) => {
                seen.push(cluster);
                true
            }
        })
        .collect()
}

/// One tracker's answer.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub swarms: Vec<SwarmEntry>,
    pub node: Option<NodeInfo>,
}

/// Fetches one tracker's swarms.
pub async fn poll(http: &reqwest::Client, base_url: &str) -> Result<Polled, String> {
    let url = format!("{}/channels?limit=1000", base_url.trim_end_matches('/'));
    let resp = crate::http::send(http.get(&url), crate::http::Retry::Once)
        .await
        .map_err(|e| format!("{url}: {}", crate::http::describe(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url}: bad JSON: {e}"))?;
    let swarms = parse_channels(&body).map_err(|e| format!("{url}: {e}"))?;
    Ok(Polled {
        swarms,
        node: parse_node(&body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn viewers_quality_counters_are_read_once_per_channel_and_summed_over_trackers() {
        let swarm = |h: &str| {
            json!({"info_hash": h, "peers": 2, "channel": "c", "errors_http": 1, "errors_peer": 2,
                   "errors_superpeer": 3, "bad_segments": 4, "banned_peers": 5})
        };
        let one = rank_channels(&parse_channels(&json!([swarm("a"), swarm("b")])).unwrap());
        let want = Quality {
            errors_http: 1,
            errors_peer: 2,
            errors_superpeer: 3,
            bad_segments: 4,
            banned_peers: 5,
        };
        assert_eq!(one[0].quality, want);
        let both = merge_rankings(&[one.clone(), one]);
        assert_eq!(both[0].quality.bad_segments, 8);
    }

    #[test]
    fn swarms_fold_into_channels() {
        let body = json!({"channels": [
            {"info_hash": "h1", "peers": 3, "seeders": 0, "leechers": 3,
             "channel": "http://o/live/abr.m3u8", "viewers": 4,
             "http_bytes": 100, "p2p_bytes": 900, "upload_bytes": 800, "rebuffers": 1},
            {"info_hash": "h2", "peers": 2, "seeders": 1, "leechers": 1,
             "channel": "http://o/live/abr.m3u8",
             "stats": {"viewers": 4, "http_bytes": 100, "p2p_bytes": 900}},
            {"info_hash": "h3", "peers": 7},
            {"info_hash": "h4", "seeders": 1, "leechers": 1, "channel": "http://o/vod.m3u8"}
        ]});
        let ranking = rank_channels(&parse_channels(&body).unwrap());
        let names: Vec<&str> = ranking.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(
            names,
            [
                "info_hash:h3",
                "http://o/live/abr.m3u8",
                "http://o/vod.m3u8"
            ]
        );
        let abr = &ranking[1];
        assert!(abr.seedable);
        assert_eq!(abr.peers, 5);
        assert_eq!(abr.viewers, 5, "more peers than SDK reporters");
        assert_eq!(
            abr.p2p_bytes, 900,
            "per-channel totals are not double counted"
        );
        assert_eq!(abr.info_hashes, ["h1", "h2"]);
        assert!(!ranking[0].seedable);
        assert_eq!(abr.quality, Quality::default(), "absent counters are 0");
        assert_eq!(ranking[2].peers, 2, "peers default to seeders + leechers");
        assert!(parse_channels(&json!({"nope": 1})).is_err());
        assert_eq!(parse_channels(&json!([])).unwrap(), []);
    }

    #[test]
    fn our_workers_are_not_viewers() {
        let body = json!([
            {"info_hash": "a1", "peers": 3, "channel": "abr", "viewers": 1},
            {"info_hash": "a2", "peers": 2, "channel": "abr"},
            {"info_hash": "s", "peers": 1, "channel": "seeded-only"},
            {"info_hash": "o", "peers": 2, "channel": "other"}
        ]);
        let mut ranking = rank_channels(&parse_channels(&body).unwrap());
        assert_eq!(ranking[0].viewers, 5);
        let workers = [("abr".to_owned(), 1), ("seeded-only".to_owned(), 1)].into();
        discount_workers(&mut ranking, &workers);
        let viewers: Vec<(&str, u32)> = ranking
            .iter()
            .map(|c| (c.channel.as_str(), c.viewers))
            .collect();
        // One worker in each of abr's two swarms; the lone worker leaves no viewer.
        assert_eq!(viewers, [("abr", 3), ("other", 2), ("seeded-only", 0)]);
        let mut reported = ranking.clone();
        reported[0].reporting = 4;
        discount_workers(&mut reported, &workers);
        assert_eq!(reported[0].viewers, 4, "never below the SDK's reporters");
    }

    #[test]
    fn rankings_of_several_trackers_add_up() {
        let a = ChannelRank {
            channel: "x".into(),
            viewers: 2,
            peers: 2,
            info_hashes: vec!["h".into()],
            ..Default::default()
        };
        let b = ChannelRank {
            channel: "y".into(),
            viewers: 3,
            ..Default::default()
        };
        let merged = merge_rankings(&[vec![a.clone()], vec![a, b]]);
        assert_eq!(merged[0].channel, "x");
        assert_eq!(merged[0].viewers, 4);
        assert_eq!(merged[0].info_hashes, ["h"]);
        assert_eq!(merged[1].viewers, 3);
    }

    #[test]
    fn nodes_of_one_cluster_count_once() {
        let body = json!({"channels": [], "node": {"cluster": "k1", "node": "n1", "connected": true,
            "nodes": 2, "local_peers": 4, "peers": 9, "connections": 5, "messages_in": 70}});
        let node = parse_node(&body).unwrap();
        assert_eq!(
            (node.cluster.as_str(), node.local_peers, node.messages_in),
            ("k1", 4, 70)
        );
        assert_eq!(parse_node(&json!({"channels": []})), None);
        assert_eq!(parse_node(&json!({"node": {"cluster": null}})), None);
        let polls = [
            Some(Some("k1")),
            None,
            Some(None),
            Some(Some("k1")),
            Some(Some("k2")),
            Some(None),
        ];
        assert_eq!(counted(&polls), [true, false, true, false, true, true]);
    }

    /// Reads one request head (GET, no body).
    async fn read_head(conn: &mut tokio::net::TcpStream) -> bool {
        use tokio::io::AsyncReadExt;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    }

    #[tokio::test]
    async fn a_poll_on_a_keep_alive_connection_the_tracker_closes_is_sent_again() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = r#"{"channels":[{"info_hash":"h","peers":2,"channel":"c"}]}"#;
        let ok = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let server = tokio::spawn(async move {
            // First connection: one poll answered and kept alive; the next request on it
            // meets the tracker closing the connection (its idle timeout firing just then).
            let (mut first, _) = listener.accept().await.unwrap();
            assert!(read_head(&mut first).await);
            first.write_all(ok.as_bytes()).await.unwrap();
            assert!(
                read_head(&mut first).await,
                "the second poll reused the connection"
            );
            drop(first);
            // A fresh connection answers.
            let (mut second, _) = listener.accept().await.unwrap();
            assert!(read_head(&mut second).await);
            second.write_all(ok.as_bytes()).await.unwrap();
            let _ = read_head(&mut second).await;
        });
        let http = reqwest::Client::new();
        assert_eq!(poll(&http, &url).await.unwrap().swarms[0].peers, 2);
        let again = poll(&http, &url).await;
        assert_eq!(again.unwrap().swarms[0].channel.as_deref(), Some("c"));
        drop(http);
        server.await.unwrap();
    }
}
