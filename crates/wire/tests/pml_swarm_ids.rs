//! Swarm ids and info-hashes against values computed by P2P Media Loader 2.3.1's own
//! functions (`e2e/tests/wire-vectors.test.mjs` checks the same file against them).

use serde_json::Value;
use wire::swarm_id::{info_hash, stream_swarm_id, StreamIdentity, StreamType};

#[test]
fn swarm_ids_match_p2p_media_loader() {
    let file: Value = serde_json::from_str(include_str!("vectors/pml-swarm-ids.json")).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let id = &v["identity"];
        let text = |k: &str| id[k].as_str().map(str::to_string);
        let identity = StreamIdentity {
            bitrate: id["bitrate"].as_u64(),
            codecs: text("codecs"),
            width: id["width"].as_u64(),
            height: id["height"].as_u64(),
            language: text("language"),
            channels: text("channels"),
            name: text("name"),
            frame_rate: text("frameRate"),
            video_range: text("videoRange"),
        };
        let short_id = identity.short_id();
        assert_eq!(
            short_id,
            v["shortId"].as_str().unwrap(),
            "{}",
            identity.canonical()
        );
        let stream_type = if v["type"] == "main" {
            StreamType::Main
        } else {
            StreamType::Secondary
        };
        let swarm = stream_swarm_id(v["swarmBase"].as_str().unwrap(), stream_type, &short_id);
        assert_eq!(swarm, v["streamSwarmId"].as_str().unwrap());
        assert_eq!(info_hash(&swarm), v["infoHash"].as_str().unwrap());
        assert_eq!(info_hash(&swarm).len(), 20);
    }
}
