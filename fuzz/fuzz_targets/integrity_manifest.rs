//! Segment digest manifests (`wire::integrity::DigestManifest::parse`), fetched from an origin
//! or a packager by the super peer. A parsed manifest must write out to JSON that parses to
//! the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::integrity::DigestManifest;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = DigestManifest::parse(data) else {
        return;
    };
    let json = manifest.to_json();
    let back = DigestManifest::parse(json.as_bytes())
        .unwrap_or_else(|e| panic!("{manifest:?} writes {json}, which does not parse: {e}"));
    assert_eq!(manifest, back);
    for (file, _) in manifest.files.iter().take(4) {
        let _ = manifest.lookup(file, None);
        let _ = manifest.lookup(file, Some((0, 0)));
    }
});
