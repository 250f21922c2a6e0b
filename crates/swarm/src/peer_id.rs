//! Our servers' peer ids: `-SCSP01-` and 12 random alphanumerics, as P2P Media Loader shapes
//! its own (ASCII, 20 characters). One generator for every seeder (super-peer workers,
//! `swarmcast peer`). Browsers running our SDK are `-SC0001-…`: both start `-SC` (our peers,
//! which speak our extensions), and viewers tell a server from a browser by `-SCSP`, to say
//! where a bad segment came from.

use wire::tracker::PeerId;

/// The client prefix of Swarmcast's servers.
pub const PREFIX: &[u8; 8] = b"-SCSP01-";

/// A fresh random peer id.
pub fn random() -> PeerId {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).expect("the OS random source");
    PeerId::peer_id(PREFIX, random)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_carry_the_prefix() {
        let (a, b) = (super::random(), super::random());
        assert_ne!(a, b);
        assert!(a.0.starts_with(super::PREFIX));
    }
}
