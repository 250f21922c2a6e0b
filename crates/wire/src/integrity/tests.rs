use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[test]
fn reads_peertube_manifests_and_looks_segments_up() {
    let json = format!(
        r#"{{"seg_000.ts": "{A}", "video.mp4": {{"0-999": "{B}", "1000-1499": "{}"}}}}"#,
        A.to_uppercase()
    );
    let m = DigestManifest::parse(json.as_bytes()).unwrap();
    assert_eq!(m.lookup("seg_000.ts", None), Some(A));
    assert_eq!(
        m.lookup("video.mp4", Some((1000, 1499))),
        Some(A),
        "hex read in any case"
    );
    assert_eq!(m.lookup("video.mp4", None), None);
    assert_eq!(m.lookup("seg_000.ts", Some((0, 9))), None);
    assert_eq!(m.lookup("other.ts", None), None);
}

#[test]
fn writes_what_it_reads_with_ranges_in_byte_order() {
    let mut m = DigestManifest::default();
    m.files.insert("a.ts".into(), FileDigests::Whole(A.into()));
    let ranges = [((0, 99), B), ((100, 1099), A), ((1100, 10000), B)]
        .into_iter()
        .map(|(r, d)| (r, d.to_owned()))
        .collect();
    m.files.insert("b.mp4".into(), FileDigests::Ranges(ranges));
    let json = m.to_json();
    assert!(json.find("\"100-1099\"").unwrap() < json.find("\"1100-10000\"").unwrap());
    assert_eq!(DigestManifest::parse(json.as_bytes()).unwrap(), m);
    assert_eq!(DigestManifest::default().to_json(), "{}\n");
}

#[test]
fn refuses_what_is_not_a_manifest_and_says_why() {
    let bad = [
        (&b"[]"[..], "JSON object"),
        (b"{", "not JSON"),
        (br#"{"a": "xyz"}"#, "a: \"xyz\" is not a SHA-256"),
        (br#"{"a": {"9-1": "x"}}"#, "\"9-1\" is not a byte range"),
        (br#"{"a": {"0-1": 5}}"#, "the digest is not a string"),
        (br#"{"a": 5}"#, "expected a digest"),
    ];
    for (input, why) in bad {
        let err = DigestManifest::parse(input).unwrap_err().to_string();
        assert!(err.contains(why), "{err} should say {why}");
    }
}

#[test]
fn pieces_cover_the_file_exactly() {
    assert_eq!(pieces(0, 10), []);
    assert_eq!(pieces(10, 10), [(0, 9)]);
    assert_eq!(pieces(25, 10), [(0, 9), (10, 19), (20, 24)]);
}

#[test]
fn hashes_as_sha256_does() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
