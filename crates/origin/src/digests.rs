//! Segment digests (`segments-sha256.json`, see [`wire::integrity`]): the manifest
//! `swarmcast hash` writes for each folder of media, and the one the origin serves for each live
//! stream as its window moves.
//!
//! What a folder's manifest lists, by file name:
//! - a segment file (`.ts`, `.m4s`, `.aac`, ...): the digest of the whole file;
//! - a file that playlists in the folder address by `EXT-X-BYTERANGE`, or whose top-level
//!   `sidx` lists its segments (a DASH `SegmentBase` file): the digest of each of those ranges;
//! - a progressive file (`.mp4`, `.mp3`, `.webm`, ...): the digest of each piece of
//!   `piece_length` bytes, the unit the MP4 engine shares it in (and the ranges above, if any).
//!
//! Files are read piece by piece, never whole, so a file of any size hashes in bounded memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wire::integrity::{hex, pieces, ByteRange, DigestManifest, FileDigests};

/// The manifest's file name, as PeerTube names it.
pub const MANIFEST_NAME: &str = "segments-sha256.json";

/// The piece length of progressive files by default: the MP4 engine's default.
pub const DEFAULT_PIECE_LENGTH: u64 = wire::swarm_id::DEFAULT_PIECE_LENGTH;

/// Files that are media segments or progressive media.
const MEDIA: &[&str] = &[
    "ts", "m4s", "mp4", "m4a", "m4v", "aac", "mp3", "webm", "vtt", "cmfv", "cmfa", "mkv", "ogg",
    "oga", "opus", "weba", "mov",
];
/// Media that is played as one file and shared in pieces.
const PROGRESSIVE: &[&str] = &[
    "mp4", "m4a", "m4v", "mp3", "webm", "mkv", "ogg", "oga", "opus", "weba", "mov",
];
/// ISO BMFF files that may carry a `sidx`.
const ISO_BMFF: &[&str] = &["mp4", "m4s", "m4a", "m4v", "cmfv", "cmfa", "mov"];

fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// The digest manifest of one folder (not its subfolders).
pub fn folder_manifest(dir: &Path, piece_length: u64) -> io::Result<DigestManifest> {
    let mut names = BTreeSet::new();
    let mut playlists = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        match extension(&name) {
            "m3u8" => playlists.push(entry.path()),
            e if MEDIA.contains(&e) => {
                names.insert(name);
            }
            _ => {}
        }
    }
    let mut ranged: HashMap<String, BTreeSet<ByteRange>> = HashMap::new();
    for p in playlists {
        for (name, range) in playlist_byte_ranges(&std::fs::read(&p)?) {
            ranged.entry(name).or_default().insert(range);
        }
    }
    let mut manifest = DigestManifest::default();
    for name in names {
        let path = dir.join(&name);
        let len = std::fs::metadata(&path)?.len();
        let ext = extension(&name);
        let mut ranges = ranged.remove(&name).unwrap_or_default();
        if ISO_BMFF.contains(&ext) {
            ranges.extend(sidx_ranges_of(&path)?);
        }
        if PROGRESSIVE.contains(&ext) {
            ranges.extend(pieces(len, piece_length));
        }
        let digests = if ranges.is_empty() {
            FileDigests::Whole(whole_digest(&path)?)
        } else {
            let file = File::open(&path)?;
            let mut out = BTreeMap::new();
            for r in ranges.into_iter().filter(|&(_, last)| last < len) {
                out.insert(r, range_digest(&file, r)?);
            }
            FileDigests::Ranges(out)
        };
        manifest.files.insert(name, digests);
    }
    Ok(manifest)
}

/// Writes `segments-sha256.json` into `root` and every folder below it that holds media;
/// returns each manifest written and how many files it lists.
pub fn write_manifests(root: &Path, piece_length: u64) -> io::Result<Vec<(PathBuf, usize)>> {
    let mut written = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        let manifest = folder_manifest(&dir, piece_length)?;
        if manifest.files.is_empty() {
            continue;
        }
        let path = dir.join(MANIFEST_NAME);
        // A temporary file renamed into place: a reader never sees half a manifest.
        let tmp = dir.join(format!(".{MANIFEST_NAME}.tmp"));
        std::fs::write(&tmp, manifest.to_json())?;
        std::fs::rename(&tmp, &path)?;
        written.push((path, manifest.files.len()));
    }
    written.sort();
    Ok(written)
}

/// The byte ranges an HLS media playlist addresses with `EXT-X-BYTERANGE`, by file name.
/// A range without an offset starts where the previous one of the same file ended.
pub fn playlist_byte_ranges(playlist: &[u8]) -> Vec<(String, ByteRange)> {
    let Ok(m3u8_rs::Playlist::MediaPlaylist(media)) = m3u8_rs::parse_playlist_res(playlist) else {
        return Vec::new();
    };
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    for seg in &media.segments {
        let Some(br) = &seg.byte_range else { continue };
        let name = file_name(&seg.uri);
        let start = br
            .offset
            .unwrap_or_else(|| next.get(&name).copied().unwrap_or(0));
        if br.length == 0 {
            continue;
        }
        let Some(last) = start.checked_add(br.length - 1) else {
            continue;
        };
        next.insert(name.clone(), last + 1);
        out.push((name, (start, last)));
    }
    out
}

/// The name a manifest knows a URI by: its last path component, without query.
pub fn file_name(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

fn sidx_ranges_of(path: &Path) -> io::Result<Vec<ByteRange>> {
    // A sidx sits after ftyp and moov, near the start; 1 MiB covers any real index.
    let mut head = Vec::new();
    File::open(path)?.take(1024 * 1024).read_to_end(&mut head)?;
    Ok(wire::mp4::sidx_ranges(&head).unwrap_or_default())
}

fn whole_digest(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn range_digest(file: &File, (first, last): ByteRange) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = first;
    while at <= last {
        let want = usize::try_from((last - at + 1).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its ranges",
            ));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hex(&hasher.finalize()))
}

/// Whole-file digests of files that do not change, computed once each (by path, length and
/// modification time): the live streams' manifests name the same VOD files loop after loop.
#[derive(Debug, Default)]
pub struct DigestCache {
    known: Mutex<HashMap<PathBuf, Known>>,
}

/// A file's length and modification time when it was hashed, and its digest.
#[derive(Debug)]
struct Known {
    len: u64,
    modified: Option<SystemTime>,
    digest: String,
}

impl DigestCache {
    pub fn whole(&self, path: &Path) -> io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let stamp = (meta.len(), meta.modified().ok());
        if let Some(known) = self.lock().get(path) {
            if (known.len, known.modified) == stamp {
                return Ok(known.digest.clone());
            }
        }
        let digest = whole_digest(path)?;
        let known = Known {
            len: stamp.0,
            modified: stamp.1,
            digest: digest.clone(),
        };
        self.lock().insert(path.to_owned(), known);
        Ok(digest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Known>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
