//! Disk cache of VOD segments: one folder per channel, one file per segment, bounded in
//! bytes, least recently used first out (recency is the file's modification time, so it
//! survives worker restarts).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A cached file as the eviction plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub used: SystemTime,
}

/// Names to delete so that the total fits in `limit` bytes, oldest use first.
pub fn eviction_plan(mut entries: Vec<Entry>, limit: u64) -> Vec<String> {
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    entries.sort_by(|a, b| a.used.cmp(&b.used).then(a.name.cmp(&b.name)));
    let mut out = Vec::new();
    for e in entries {
        if total <= limit {
            break;
        }
        total -= e.size;
        out.push(e.name);
    }
    out
}

/// File name of a segment: swarm (as a short hash) and segment id.
pub fn file_name(info_hash: &str, segment: i64) -> String {
    let safe: String = info_hash
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{safe}-{segment}.seg")
}

#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    limit: u64,
}

impl DiskCache {
    pub fn open(dir: &Path, limit_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let cache = Self {
            dir: dir.to_owned(),
            limit: limit_bytes,
        };
        cache.trim()?;
        Ok(cache)
    }

    /// Reads a cached segment and marks it used.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        let data = std::fs::read(&path).ok()?;
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(data)
    }

    /// Stores a segment (atomically: temp file then rename) and trims the cache.
    pub fn put(&self, name: &str, data: &[u8]) -> std::io::Result<()> {
        if data.len() as u64 > self.limit {
            return Ok(());
        }
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, self.dir.join(name))?;
        self.trim()
    }

    fn trim(&self) -> std::io::Result<()> {
        let mut entries = Vec::new();
        for item in std::fs::read_dir(&self.dir)? {
            let item = item?;
            let meta = item.metadata()?;
            let name = item.file_name().to_string_lossy().into_owned();
            if meta.is_file() && name.ends_with(".seg") {
                entries.push(Entry {
                    name,
                    size: meta.len(),
                    used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        for name in eviction_plan(entries, self.limit) {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn e(name: &str, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.into(),
            size,
            used: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn evicts_least_recently_used_until_it_fits() {
        let plan = eviction_plan(
            vec![e("new", 40, 30), e("old", 40, 10), e("mid", 40, 20)],
            80,
        );
        assert_eq!(plan, ["old"]);
        let plan = eviction_plan(vec![e("a", 40, 30), e("b", 40, 10)], 10);
        assert_eq!(plan, ["b", "a"]);
        assert!(eviction_plan(vec![e("a", 40, 1)], 40).is_empty());
    }

    #[test]
    fn survives_reopen_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), 250).unwrap();
        c.put(&file_name("ab/+c", 1), &[1; 100]).unwrap();
        c.put(&file_name("ab/+c", 2), &[2; 100]).unwrap();
        drop(c);
        let c = DiskCache::open(dir.path(), 250).unwrap();
        assert_eq!(c.get(&file_name("ab/+c", 1)).unwrap(), vec![1; 100]);
        // Segment 1 was used last, so 2 goes when 3 arrives.
        std::thread::sleep(Duration::from_millis(20));
        c.put(&file_name("ab/+c", 3), &[3; 100]).unwrap();
        assert!(c.get(&file_name("ab/+c", 2)).is_none());
        assert!(c.get(&file_name("ab/+c", 1)).is_some());
        assert!(c.get(&file_name("ab/+c", 3)).is_some());
    }
}
