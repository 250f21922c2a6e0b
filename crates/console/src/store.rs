//! SQLite persistence: the super-peer registry, settings, the decision log and the traffic
//! history. One connection behind a mutex: every statement is small and the console is the
//! only writer, so this is simpler than a pool and fast enough.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::listed::Kind;
use crate::traffic::{Resolution, TrafficPoint, TrafficSeries};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a super peer with URL {0} is already registered")]
    DuplicateUrl(String),
}

/// A registered super peer, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperPeerRecord {
    pub id: i64,
    pub url: String,
    pub bandwidth_mbps: u32,
    pub access_token: String,
    pub label: String,
    pub created_at: i64,
}

/// What the operator gives to register a super peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSuperPeer {
    pub url: String,
    #[serde(default)]
    pub bandwidth_mbps: u32,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub label: String,
}

/// A partial update; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SuperPeerPatch {
    pub url: Option<String>,
    pub bandwidth_mbps: Option<u32>,
    pub access_token: Option<String>,
    pub label: Option<String>,
}

/// A channel URL or index URL the operator listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedRecord {
    pub id: i64,
    pub kind: Kind,
    pub url: String,
    pub added_at: i64,
}

/// One entry of the decision log: what the console (or the operator) did and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub id: i64,
    /// Unix seconds.
    pub ts: i64,
    /// `seed`, `stop`, `unplaced`, `restart`, `stop_all`, `restart_all`, `mode`.
    pub action: String,
    pub channel: Option<String>,
    pub super_peer_id: Option<i64>,
    pub super_peer_label: Option<String>,
    pub pid: Option<u32>,
    /// `auto` or `operator`.
    pub by: String,
    pub reason: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// A decision about to be logged (the store assigns the id).
#[derive(Debug, Clone, Default)]
pub struct NewDecision {
    pub ts: i64,
    pub action: String,
    pub channel: Option<String>,
    pub super_peer_id: Option<i64>,
    pub super_peer_label: Option<String>,
    pub pid: Option<u32>,
    pub by: String,
    pub reason: String,
    pub ok: bool,
    pub error: Option<String>,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS super_peers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    bandwidth_mbps INTEGER NOT NULL DEFAULT 0,
    access_token TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS listed_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    url TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    super_peer_id INTEGER,
    super_peer_label TEXT,
    pid INTEGER,
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS decisions_channel ON decisions(channel, id);
CREATE TABLE IF NOT EXISTS traffic (
    resolution INTEGER NOT NULL,
    channel TEXT NOT NULL,
    ts INTEGER NOT NULL,
    viewers INTEGER NOT NULL,
    http_bytes INTEGER NOT NULL,
    p2p_bytes INTEGER NOT NULL,
    upload_bytes INTEGER NOT NULL,
    rebuffers INTEGER NOT NULL,
    PRIMARY KEY (resolution, channel, ts)
) WITHOUT ROWID;
";

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`.
    pub fn open(path: Option<&Path>) -> Result<Store, StoreError> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL keeps readers and the writer from blocking each other; in-memory ignores it.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- super peers ----

    pub fn list_super_peers(&self) -> Result<Vec<SuperPeerRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, url, bandwidth_mbps, access_token, label, created_at FROM super_peers ORDER BY id",
        )?;
        let rows = stmt.query_map([], row_to_super_peer)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn super_peer(&self, id: i64) -> Result<Option<SuperPeerRecord>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT id, url, bandwidth_mbps, access_token, label, created_at FROM super_peers WHERE id = ?1",
                [id],
                row_to_super_peer,
            )
            .optional()?)
    }

    pub fn super_peer_by_url(&self, url: &str) -> Result<Option<SuperPeerRecord>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT id, url, bandwidth_mbps, access_token, label, created_at FROM super_peers WHERE url = ?1",
                [url],
                row_to_super_peer,
            )
            .optional()?)
    }

    pub fn insert_super_peer(
        &self,
        new: &NewSuperPeer,
        now: i64,
    ) -> Result<SuperPeerRecord, StoreError> {
        let conn = self.conn();
        let res = conn.execute(
            "INSERT INTO super_peers (url, bandwidth_mbps, access_token, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![new.url, new.bandwidth_mbps, new.access_token, new.label, now],
        );
        map_unique(res, &new.url)?;
        Ok(SuperPeerRecord {
            id: conn.last_insert_rowid(),
            url: new.url.clone(),
            bandwidth_mbps: new.bandwidth_mbps,
            access_token: new.access_token.clone(),
            label: new.label.clone(),
            created_at: now,
        })
    }

    /// Applies `patch`; `None` when no super peer has this id.
    pub fn update_super_peer(
        &self,
        id: i64,
        patch: &SuperPeerPatch,
    ) -> Result<Option<SuperPeerRecord>, StoreError> {
        let Some(mut rec) = self.super_peer(id)? else {
            return Ok(None);
        };
        if let Some(url) = &patch.url {
            rec.url.clone_from(url);
        }
        if let Some(bw) = patch.bandwidth_mbps {
            rec.bandwidth_mbps = bw;
        }
        if let Some(token) = &patch.access_token {
            rec.access_token.clone_from(token);
        }
        if let Some(label) = &patch.label {
            rec.label.clone_from(label);
        }
        let res = self.conn().execute(
            "UPDATE super_peers SET url = ?2, bandwidth_mbps = ?3, access_token = ?4, label = ?5 WHERE id = ?1",
            params![id, rec.url, rec.bandwidth_mbps, rec.access_token, rec.label],
        );
        map_unique(res, &rec.url)?;
        Ok(Some(rec))
    }

    pub fn delete_super_peer(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM super_peers WHERE id = ?1", [id])?
            > 0)
    }

    // ---- listed channels ----

    pub fn listed(&self) -> Result<Vec<ListedRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, kind, url, added_at FROM listed_channels ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(1)?;
            Ok(ListedRecord {
                id: r.get(0)?,
                kind: Kind::parse(&kind).unwrap_or(Kind::Channel),
                url: r.get(2)?,
                added_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Lists a URL (or changes the kind of one listed already).
    pub fn insert_listed(
        &self,
        kind: Kind,
        url: &str,
        now: i64,
    ) -> Result<ListedRecord, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO listed_channels (kind, url, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(url) DO UPDATE SET kind = excluded.kind",
            params![kind.as_str(), url, now],
        )?;
        Ok(conn.query_row(
            "SELECT id, added_at FROM listed_channels WHERE url = ?1",
            [url],
            |r| {
                Ok(ListedRecord {
                    id: r.get(0)?,
                    kind,
                    url: url.to_owned(),
                    added_at: r.get(1)?,
                })
            },
        )?)
    }

    pub fn delete_listed(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM listed_channels WHERE id = ?1", [id])?
            > 0)
    }

    // ---- settings ----

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    // ---- decision log ----

    /// Appends a decision and trims the log to the newest `keep` entries.
    pub fn log_decision(&self, d: &NewDecision, keep: u32) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO decisions (ts, action, channel, super_peer_id, super_peer_label, pid, by, reason, ok, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                d.ts,
                d.action,
                d.channel,
                d.super_peer_id,
                d.super_peer_label,
                d.pid,
                d.by,
                d.reason,
                d.ok,
                d.error
            ],
        )?;
        let id = conn.last_insert_rowid();
        conn.execute(
            "DELETE FROM decisions WHERE id <= ?1",
            [id - i64::from(keep)],
        )?;
        Ok(id)
    }

    /// Newest first; only those about `channel` when given.
    pub fn decisions(
        &self,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Decision>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, ts, action, channel, super_peer_id, super_peer_label, pid, by, reason, ok, error
             FROM decisions WHERE (?1 IS NULL OR channel = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![channel, limit], |r| {
            Ok(Decision {
                id: r.get(0)?,
                ts: r.get(1)?,
                action: r.get(2)?,
                channel: r.get(3)?,
                super_peer_id: r.get(4)?,
                super_peer_label: r.get(5)?,
                pid: r.get(6)?,
                by: r.get(7)?,
                reason: r.get(8)?,
                ok: r.get(9)?,
                error: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- traffic history ----

    /// Adds `points` (taken at unix second `ts`) to the bucket of every resolution: bytes and
    /// rebuffers add up, viewers keep the bucket's peak. Then drops buckets past retention.
    pub fn record_traffic(
        &self,
        ts: i64,
        points: &[(String, TrafficPoint)],
        resolutions: &[Resolution],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO traffic (resolution, channel, ts, viewers, http_bytes, p2p_bytes, upload_bytes, rebuffers)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(resolution, channel, ts) DO UPDATE SET
                   viewers = max(viewers, excluded.viewers),
                   http_bytes = http_bytes + excluded.http_bytes,
                   p2p_bytes = p2p_bytes + excluded.p2p_bytes,
                   upload_bytes = upload_bytes + excluded.upload_bytes,
                   rebuffers = rebuffers + excluded.rebuffers",
            )?;
            for res in resolutions {
                let step = i64::from(res.step_secs.max(1));
                let bucket = ts - ts.rem_euclid(step);
                for (channel, p) in points {
                    upsert.execute(params![
                        res.step_secs,
                        channel,
                        bucket,
                        p.viewers,
                        clamp_i64(p.http_bytes),
                        clamp_i64(p.p2p_bytes),
                        clamp_i64(p.upload_bytes),
                        clamp_i64(p.rebuffers),
                    ])?;
                }
            }
            let mut prune =
                tx.prepare_cached("DELETE FROM traffic WHERE resolution = ?1 AND ts < ?2")?;
            for res in resolutions {
                prune.execute(params![res.step_secs, ts - i64::from(res.keep_secs)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The series of `channel` at `step_secs` resolution since unix second `since`, oldest first.
    pub fn traffic(
        &self,
        channel: &str,
        step_secs: u32,
        since: i64,
    ) -> Result<TrafficSeries, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT ts, viewers, http_bytes, p2p_bytes, upload_bytes, rebuffers FROM traffic
             WHERE resolution = ?1 AND channel = ?2 AND ts >= ?3 ORDER BY ts",
        )?;
        let mut series = TrafficSeries {
            channel: channel.to_owned(),
            step_secs,
            ..TrafficSeries::default()
        };
        let mut rows = stmt.query(params![step_secs, channel, since])?;
        while let Some(r) = rows.next()? {
            series.ts.push(r.get(0)?);
            series.viewers.push(r.get(1)?);
            series.http_bytes.push(r.get::<_, i64>(2)?.max(0) as u64);
            series.p2p_bytes.push(r.get::<_, i64>(3)?.max(0) as u64);
            series.upload_bytes.push(r.get::<_, i64>(4)?.max(0) as u64);
            series.rebuffers.push(r.get::<_, i64>(5)?.max(0) as u64);
        }
        Ok(series)
    }

    /// Channels with history at `step_secs` since `since`, busiest (total bytes) first.
    pub fn traffic_channels(&self, step_secs: u32, since: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT channel FROM traffic WHERE resolution = ?1 AND ts >= ?2 AND channel != ''
             GROUP BY channel ORDER BY sum(http_bytes + p2p_bytes) DESC, max(viewers) DESC",
        )?;
        let rows = stmt.query_map(params![step_secs, since], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn row_to_super_peer(r: &rusqlite::Row<'_>) -> rusqlite::Result<SuperPeerRecord> {
    Ok(SuperPeerRecord {
        id: r.get(0)?,
        url: r.get(1)?,
        bandwidth_mbps: r.get(2)?,
        access_token: r.get(3)?,
        label: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn map_unique(res: rusqlite::Result<usize>, url: &str) -> Result<(), StoreError> {
    match res {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::DuplicateUrl(url.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(url: &str) -> NewSuperPeer {
        NewSuperPeer {
            url: url.into(),
            bandwidth_mbps: 1000,
            access_token: "t".into(),
            label: "eu-1".into(),
        }
    }

    #[test]
    fn registry_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.db");
        let id = {
            let store = Store::open(Some(&path)).unwrap();
            let rec = store.insert_super_peer(&peer("http://a:1"), 7).unwrap();
            store.set_setting("auto_seeding", "false").unwrap();
            rec.id
        };
        let store = Store::open(Some(&path)).unwrap();
        let all = store.list_super_peers().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, id);
        assert_eq!(all[0].label, "eu-1");
        assert_eq!(all[0].created_at, 7);
        assert_eq!(
            store.setting("auto_seeding").unwrap().as_deref(),
            Some("false")
        );
    }

    #[test]
    fn listed_channels_survive_reopen_and_relisting_changes_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.db");
        {
            let store = Store::open(Some(&path)).unwrap();
            let a = store
                .insert_listed(Kind::Channel, "http://o/a.m3u8", 5)
                .unwrap();
            let again = store
                .insert_listed(Kind::Index, "http://o/a.m3u8", 9)
                .unwrap();
            assert_eq!((again.id, again.added_at), (a.id, 5));
            store
                .insert_listed(Kind::Channel, "http://o/b.m3u8", 6)
                .unwrap();
        }
        let store = Store::open(Some(&path)).unwrap();
        let all = store.listed().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].kind, Kind::Index);
        assert!(store.delete_listed(all[1].id).unwrap());
        assert!(!store.delete_listed(all[1].id).unwrap());
        assert_eq!(store.listed().unwrap().len(), 1);
    }

    #[test]
    fn duplicate_urls_are_refused_and_patches_apply() {
        let store = Store::open(None).unwrap();
        let a = store.insert_super_peer(&peer("http://a:1"), 0).unwrap();
        store.insert_super_peer(&peer("http://b:1"), 0).unwrap();
        assert!(matches!(
            store.insert_super_peer(&peer("http://a:1"), 0),
            Err(StoreError::DuplicateUrl(_))
        ));
        let patch = SuperPeerPatch {
            url: Some("http://b:1".into()),
            ..Default::default()
        };
        assert!(matches!(
            store.update_super_peer(a.id, &patch),
            Err(StoreError::DuplicateUrl(_))
        ));
        let patch = SuperPeerPatch {
            bandwidth_mbps: Some(50),
            ..Default::default()
        };
        let rec = store.update_super_peer(a.id, &patch).unwrap().unwrap();
        assert_eq!((rec.bandwidth_mbps, rec.url.as_str()), (50, "http://a:1"));
        assert!(store.delete_super_peer(a.id).unwrap());
        assert!(!store.delete_super_peer(a.id).unwrap());
        assert!(store.update_super_peer(a.id, &patch).unwrap().is_none());
    }

    #[test]
    fn decision_log_is_bounded_and_filterable() {
        let store = Store::open(None).unwrap();
        for i in 0..10 {
            let d = NewDecision {
                ts: i,
                action: "seed".into(),
                channel: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
                by: "auto".into(),
                reason: format!("r{i}"),
                ok: true,
                ..Default::default()
            };
            store.log_decision(&d, 4).unwrap();
        }
        let all = store.decisions(None, 100).unwrap();
        assert_eq!(
            all.iter().map(|d| d.reason.as_str()).collect::<Vec<_>>(),
            ["r9", "r8", "r7", "r6"]
        );
        let odd = store.decisions(Some("odd"), 100).unwrap();
        assert_eq!(odd.len(), 2);
        assert!(odd.iter().all(|d| d.channel.as_deref() == Some("odd")));
    }

    #[test]
    fn traffic_rolls_up_and_is_pruned() {
        let store = Store::open(None).unwrap();
        let res = [
            Resolution {
                step_secs: 10,
                keep_secs: 60,
            },
            Resolution {
                step_secs: 60,
                keep_secs: 600,
            },
        ];
        let point = |viewers, http| TrafficPoint {
            viewers,
            http_bytes: http,
            p2p_bytes: 2 * http,
            upload_bytes: 0,
            rebuffers: 0,
        };
        // Three samples in the same 10 s bucket (1000..1009), one in the next.
        for (ts, v) in [(1000, 3), (1003, 5), (1009, 4), (1010, 1)] {
            store
                .record_traffic(ts, &[("ch".into(), point(v, 100))], &res)
                .unwrap();
        }
        let s10 = store.traffic("ch", 10, 0).unwrap();
        assert_eq!(s10.ts, [1000, 1010]);
        assert_eq!(s10.viewers, [5, 1]);
        assert_eq!(s10.http_bytes, [300, 100]);
        assert_eq!(s10.p2p_bytes, [600, 200]);
        let s60 = store.traffic("ch", 60, 0).unwrap();
        assert_eq!(s60.ts, [960]);
        assert_eq!(s60.http_bytes, [400]);
        // Far later: the 10 s points age out, the minute point stays a while longer.
        store
            .record_traffic(1100, &[("ch".into(), point(1, 1))], &res)
            .unwrap();
        assert_eq!(store.traffic("ch", 10, 0).unwrap().ts, [1100]);
        assert_eq!(store.traffic("ch", 60, 0).unwrap().ts, [960, 1080]);
        assert_eq!(store.traffic_channels(60, 0).unwrap(), ["ch"]);
    }
}
