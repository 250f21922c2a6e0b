//! Bytes served, counted per directory: how tests and benchmarks measure CDN offload.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// What was served under one prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Served {
    pub bytes: u64,
    pub requests: u64,
}

impl Served {
    fn add(&mut self, other: Served) {
        self.bytes += other.bytes;
        self.requests += other.requests;
    }
}

/// Thread-safe counters keyed by the directory of the request path (`/hls-ts/` for
/// `/hls-ts/seg_001.ts`).
#[derive(Debug, Default)]
pub struct ByteCounters {
    by_dir: Mutex<BTreeMap<String, Served>>,
}

/// The JSON answer of `GET /__stats`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct StatsReport {
    pub total: Served,
    /// Present when the report was filtered by `?prefix=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub dirs: BTreeMap<String, Served>,
}

impl ByteCounters {
    pub fn record(&self, path: &str, bytes: u64) {
        let dir = match path.rfind('/') {
            Some(i) => &path[..=i],
            None => "/",
        };
        let mut map = self.by_dir.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(dir.to_owned())
            .or_default()
            .add(Served { bytes, requests: 1 });
    }

    /// Everything served under `prefix` (all when `None`), per directory and in total.
    pub fn report(&self, prefix: Option<&str>) -> StatsReport {
        let map = self.by_dir.lock().unwrap_or_else(|e| e.into_inner());
        let dirs: BTreeMap<String, Served> = map
            .iter()
            .filter(|(dir, _)| prefix.is_none_or(|p| dir.starts_with(p)))
            .map(|(dir, served)| (dir.clone(), *served))
            .collect();
        let mut total = Served::default();
        dirs.values().for_each(|s| total.add(*s));
        StatsReport {
            total,
            prefix: prefix.map(str::to_owned),
            dirs,
        }
    }

    pub fn reset(&self) {
        self.by_dir
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_directory_and_filters_by_prefix() {
        let c = ByteCounters::default();
        c.record("/hls-ts/seg_000.ts", 100);
        c.record("/hls-ts/seg_001.ts", 50);
        c.record("/live/hls-ts/seg_000.ts", 7);
        c.record("/index.html", 3);
        let all = c.report(None);
        assert_eq!(
            all.total,
            Served {
                bytes: 160,
                requests: 4
            }
        );
        assert_eq!(
            all.dirs["/hls-ts/"],
            Served {
                bytes: 150,
                requests: 2
            }
        );
        assert_eq!(
            all.dirs["/"],
            Served {
                bytes: 3,
                requests: 1
            }
        );
        let live = c.report(Some("/live/"));
        assert_eq!(
            live.total,
            Served {
                bytes: 7,
                requests: 1
            }
        );
        c.reset();
        assert_eq!(c.report(None).total, Served::default());
    }
}
