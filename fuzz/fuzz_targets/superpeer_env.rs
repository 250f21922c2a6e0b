//! The super peer's `.env` file and settings (`superpeer::config`): parsed, merged with an
//! empty environment and resolved into a configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpeer::config::{merge_sources, parse_dotenv};
use superpeer::MasterConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(map) = parse_dotenv(&String::from_utf8_lossy(data)) else {
        return;
    };
    let merged = merge_sources(&[&map]);
    if let Ok(config) = MasterConfig::from_map(&merged) {
        let _ = config.capacity_workers(Some(1000.0));
        let _ = config.capacity_workers(None);
    }
});
