//! Just enough STUN to route a binding request to its peer connection: the USERNAME
//! attribute, `"<our ufrag>:<their ufrag>"` (RFC 8445 §7.2.2).

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

/// The local (our) ufrag of a STUN message's USERNAME, if `packet` is STUN and has one.
pub fn local_ufrag(packet: &[u8]) -> Option<&str> {
    if packet.len() < HEADER_LEN || packet[0] & 0xc0 != 0 || packet[4..8] != MAGIC_COOKIE {
        return None;
    }
    let body_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let mut attrs = packet.get(HEADER_LEN..HEADER_LEN + body_len)?;
    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attribute values are padded to 4 bytes.
        attrs = attrs.get(4 + len.div_ceil(4) * 4..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&0x0024u16.to_be_bytes()); // PRIORITY first, like browsers
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[0, 0, 0, 1]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        attrs.resize(attrs.len().div_ceil(4) * 4, 0);
        let mut packet = vec![0x00, 0x01];
        packet.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        packet.extend_from_slice(&MAGIC_COOKIE);
        packet.extend_from_slice(&[7; 12]);
        packet.extend_from_slice(&attrs);
        packet
    }

    #[test]
    fn finds_our_ufrag() {
        assert_eq!(local_ufrag(&binding_request("abcd:wxyz1")), Some("abcd"));
    }

    #[test]
    fn ignores_non_stun_and_truncated_packets() {
        assert_eq!(local_ufrag(&[0x16, 0xfe, 0xfd]), None);
        let packet = binding_request("abcd:wxyz");
        for len in 0..packet.len() {
            let _ = local_ufrag(&packet[..len]);
        }
        assert_eq!(local_ufrag(&packet[..22]), None);
    }
}
