//! P2P Media Loader command bodies (`wire::peer::Command::decode_body`), as a peer sends them
//! inside `cstr…cend` frames. A decoded command must encode to a body that decodes to the
//! same command (announced ids may come back grouped in another order).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::peer::Command;

fuzz_target!(|data: &[u8]| {
    let Ok(command) = Command::decode_body(data) else {
        return;
    };
    let body = command.encode_body();
    let back = Command::decode_body(&body)
        .unwrap_or_else(|e| panic!("{command:?} encodes to {body:?}, which does not decode: {e}"));
    assert_eq!(sorted(command), sorted(back));
});

fn sorted(command: Command) -> Command {
    match command {
        Command::SegmentsAnnouncement {
            mut loaded,
            mut http_loading,
        } => {
            loaded.sort_unstable();
            http_loading.sort_unstable();
            Command::SegmentsAnnouncement {
                loaded,
                http_loading,
            }
        }
        other => other,
    }
}
