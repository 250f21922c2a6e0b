//! `swarmcast hash DIR`: writes the segment digest manifest (`segments-sha256.json`) into every
//! folder of media below DIR, or with `--check` says whether the manifests there are current.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use origin::digests::{self, DEFAULT_PIECE_LENGTH, MANIFEST_NAME};
use wire::integrity::DigestManifest;

#[derive(Args, Debug)]
pub struct HashArgs {
    /// The folder of media (HLS, DASH, progressive files); its subfolders are hashed too.
    pub dir: PathBuf,

    /// Bytes per piece of a progressive file (MP4, MP3, WebM), as players share it; must
    /// match the engine's `pieceLength`.
    #[arg(long, default_value_t = DEFAULT_PIECE_LENGTH, value_parser = clap::value_parser!(u64).range(16 * 1024..=64 * 1024 * 1024))]
    pub piece_length: u64,

    /// Write nothing: compare each folder's manifest with its media and fail if any is
    /// missing or out of date.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: HashArgs) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        bail!("{} is not a folder", args.dir.display());
    }
    if !args.check {
        let written = digests::write_manifests(&args.dir, args.piece_length)
            .with_context(|| format!("hashing {}", args.dir.display()))?;
        if written.is_empty() {
            bail!("no media files under {}", args.dir.display());
        }
        for (path, files) in written {
            println!("{}: {files} files", path.display());
        }
        return Ok(());
    }
    let mut stale = 0;
    let mut dirs = vec![args.dir.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        let fresh = digests::folder_manifest(&dir, args.piece_length)?;
        if fresh.files.is_empty() {
            continue;
        }
        let path = dir.join(MANIFEST_NAME);
        let status = match std::fs::read(&path) {
            Err(_) => "missing",
            Ok(bytes) => match DigestManifest::parse(&bytes) {
                Err(_) => "unreadable",
                Ok(m) if m == fresh => "current",
                Ok(_) => "out of date",
            },
        };
        if status != "current" {
            stale += 1;
        }
        println!("{}: {status}", path.display());
    }
    if stale > 0 {
        bail!(
            "{stale} manifests are not current: run `swarmcast hash {}`",
            args.dir.display()
        );
    }
    Ok(())
}
