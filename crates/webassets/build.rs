//! Gathers the built web parts into `$OUT_DIR/web`, which `include_dir!` embeds.
//!
//! They come from the npm build (`npm ci && npm run build --workspaces --if-present`): a part
//! not built yet is left out with a warning, so that a clean clone still compiles and tests
//! its Rust; the binary then says which parts it lacks (see `missing`). Only what a browser
//! loads is copied: no source maps, no type definitions, one hls.js build of the thirty.

use std::fs;
use std::path::{Path, PathBuf};

/// Where each part comes from (relative to the repository) and goes (under `web/`), and which
/// of its files: `None` = every file of the folder, recursively.
const PARTS: &[(&str, &str, Option<&[&str]>)] = &[
    ("web/dashboard/dist", "dashboard", None),
    ("web/player", "player", None),
    (
        "node_modules/hls.js/dist",
        "vendor/hls.js",
        Some(&["hls.min.js"]),
    ),
    (
        "sdk/packages/hlsjs/dist",
        "vendor/swarmcast",
        Some(&["hlsjs.iife.js"]),
    ),
    (
        "sdk/packages/shaka/dist",
        "vendor/swarmcast-shaka",
        Some(&["shaka.iife.js"]),
    ),
    (
        "sdk/packages/core/dist",
        "vendor/swarmcast-core",
        Some(&["core.iife.js"]),
    ),
    (
        "sdk/packages/media/dist",
        "vendor/swarmcast-media",
        Some(&["media.iife.js", "sw.js"]),
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest.join("../..");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("web");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let mut missing = Vec::new();
    for (from, to, files) in PARTS {
        let src = repo.join(from);
        let dst = out.join(to);
        let copied = match files {
            None => copy_tree(&src, &dst),
            Some(files) => files.iter().all(|f| copy_file(&src.join(f), &dst.join(f))),
        };
        // A folder that does not exist yet is watched through its nearest existing parent,
        // so that the npm build creating it triggers a new embedding.
        let watched = src.ancestors().find(|p| p.exists()).unwrap_or(&repo);
        if copied {
            println!("cargo:rerun-if-changed={}", src.display());
        } else {
            println!("cargo:rerun-if-changed={}", watched.display());
            missing.push(*to);
        }
    }
    if !missing.is_empty() {
        println!(
            "cargo:warning=web parts not built, left out of the binary: {} \
             (run `npm ci && npm run build --workspaces --if-present` before `cargo build`)",
            missing.join(", ")
        );
    }
    fs::write(out.join("MISSING"), missing.join("\n")).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=build.rs");
}

/// Copies a file; false when it is not there.
fn copy_file(src: &Path, dst: &Path) -> bool {
    if !src.is_file() {
        return false;
    }
    fs::create_dir_all(dst.parent().expect("a file has a parent")).expect("OUT_DIR is writable");
    fs::copy(src, dst).expect("reading a built web file");
    true
}

/// Copies a folder without its source maps; false when it has no `index.html`.
fn copy_tree(src: &Path, dst: &Path) -> bool {
    if !src.join("index.html").is_file() {
        return false;
    }
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("reading a built web folder") {
            let path = entry.expect("reading a built web folder").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "map") {
                let rel = path.strip_prefix(src).expect("under src");
                copy_file(&path, &dst.join(rel));
            }
        }
    }
    true
}
