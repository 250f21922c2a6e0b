use super::*;
use wire::integrity::sha256_hex;

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[test]
fn a_folder_lists_whole_segments_ranges_and_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let seg = bytes(5000, 1);
    let big = bytes(1_300_000, 2);
    let ranged = bytes(3000, 3);
    std::fs::write(dir.path().join("seg_000.ts"), &seg).unwrap();
    std::fs::write(dir.path().join("movie.mp4"), &big).unwrap();
    std::fs::write(dir.path().join("all.m4s"), &ranged).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not media").unwrap();
    std::fs::write(
        dir.path().join("index.m3u8"),
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:1000@0\n#EXTINF:2,\nall.m4s\n#EXT-X-BYTERANGE:2000\n#EXTINF:2,\nall.m4s\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let m = folder_manifest(dir.path(), 512 * 1024).unwrap();
    assert_eq!(m.files.len(), 3, "{:?}", m.files.keys());
    assert_eq!(
        m.lookup("seg_000.ts", None),
        Some(sha256_hex(&seg).as_str())
    );
    assert_eq!(
        m.lookup("all.m4s", Some((1000, 2999))),
        Some(sha256_hex(&ranged[1000..]).as_str()),
        "an offset-less range follows the previous one"
    );
    assert_eq!(
        m.lookup("all.m4s", Some((0, 999))),
        Some(sha256_hex(&ranged[..1000]).as_str())
    );
    let FileDigests::Ranges(pieces) = &m.files["movie.mp4"] else {
        panic!("a progressive file is listed by pieces")
    };
    assert_eq!(
        pieces.keys().copied().collect::<Vec<_>>(),
        [(0, 524_287), (524_288, 1_048_575), (1_048_576, 1_299_999)]
    );
    assert_eq!(
        m.lookup("movie.mp4", Some((1_048_576, 1_299_999))),
        Some(sha256_hex(&big[1_048_576..]).as_str())
    );
}

#[test]
fn manifests_are_written_in_every_folder_with_media() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    std::fs::write(dir.path().join("a/x.ts"), b"x").unwrap();
    std::fs::write(dir.path().join("a/b/y.ts"), b"y").unwrap();
    let written = write_manifests(dir.path(), DEFAULT_PIECE_LENGTH).unwrap();
    assert_eq!(
        written,
        [
            (dir.path().join("a/b").join(MANIFEST_NAME), 1),
            (dir.path().join("a").join(MANIFEST_NAME), 1)
        ]
    );
    let read = DigestManifest::parse(&std::fs::read(&written[0].0).unwrap()).unwrap();
    assert_eq!(read.lookup("y.ts", None), Some(sha256_hex(b"y").as_str()));
    assert!(!dir.path().join("empty").join(MANIFEST_NAME).exists());
}

#[test]
fn byte_ranges_of_playlists_and_file_names_of_uris() {
    let p = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:10@5\n#EXTINF:2,\nsub/a.mp4?t=1\n#EXT-X-BYTERANGE:0\n#EXTINF:2,\na.mp4\n#EXTINF:2,\nb.ts\n";
    assert_eq!(playlist_byte_ranges(p), [("a.mp4".to_owned(), (5, 14))]);
    assert!(playlist_byte_ranges(b"not a playlist").is_empty());
    assert_eq!(file_name("https://cdn/x/seg_1.ts?seq=9#t"), "seg_1.ts");
}

#[test]
fn the_cache_hashes_a_file_once_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.ts");
    std::fs::write(&path, b"one").unwrap();
    let cache = DigestCache::default();
    assert_eq!(cache.whole(&path).unwrap(), sha256_hex(b"one"));
    std::fs::write(&path, b"two!").unwrap();
    assert_eq!(cache.whole(&path).unwrap(), sha256_hex(b"two!"));
    assert!(cache.whole(&dir.path().join("none.ts")).is_err());
}
