//! The six P2P Media Loader v2 commands and their bodies: `[type:u8]` then `[name:u8][item]`…

use super::items::{
    read_int, read_similar_int_array, read_string, write_int, write_similar_int_array, TYPE_INT,
    TYPE_SIMILAR_INT_ARRAY, TYPE_STRING,
};
use super::DecodeError;

/// A segment's number inside its stream: the playlist index for VOD HLS, the media sequence
/// number for live HLS (P2P Media Loader's `externalId`).
pub type SegmentId = i64;
/// The requester's random number that ties replies to one request.
pub type RequestId = i64;

/// The bits of [`Command::ExtensionHello`]: the extensions of ours a peer speaks.
pub mod extension {
    /// Parts of a segment: [`super::Command::PartRequest`], answered by [`super::Command::PartData`].
    pub const BYTE_RANGES: u64 = 1;
    /// A refusal for lack of upload told apart from a missing segment.
    pub const BUSY: u64 = 2;
    /// Segments passed on while they arrive.
    pub const RELAY: u64 = 4;
    /// One more part asked for while the current one is still coming.
    pub const QUEUE: u64 = 8;
}

/// One data-channel command: P2P Media Loader 2.x's, and our extensions' that a server speaks
/// (the protocol document lists them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `c=0`: everything the sender holds (`l`) and is loading over HTTP (`p`).
    SegmentsAnnouncement {
        loaded: Vec<SegmentId>,
        http_loading: Vec<SegmentId>,
    },
    /// `c=1`: please send segment `i` from byte `b` on.
    SegmentRequest {
        segment: SegmentId,
        request: RequestId,
        byte_from: u64,
    },
    /// `c=2`: `size` bytes of segment data follow as raw messages.
    SegmentData {
        segment: SegmentId,
        request: RequestId,
        size: u64,
    },
    /// `c=3`: all data of the request was sent.
    SegmentDataSendingCompleted {
        segment: SegmentId,
        request: RequestId,
    },
    /// `c=4`: the sender does not have the segment.
    SegmentAbsent {
        segment: SegmentId,
        request: RequestId,
    },
    /// `c=5`: the requester no longer wants the data.
    CancelSegmentRequest {
        segment: SegmentId,
        request: RequestId,
    },
    /// `c=32`, ours: the extensions the sender speaks ([`extension`] bits).
    ExtensionHello { flags: u64 },
    /// `c=1` with `e` past `b`, ours: please send bytes `b` up to `e` (exclusive) of segment
    /// `i`; `queued`: after the part being sent now, instead of replacing it.
    PartRequest {
        segment: SegmentId,
        request: RequestId,
        byte_from: u64,
        byte_to: u64,
        queued: bool,
    },
    /// `c=2` with `t`, ours: `size` bytes of a part follow; the segment's whole length is `total`.
    PartData {
        segment: SegmentId,
        request: RequestId,
        size: u64,
        total: u64,
    },
    /// A command type this version does not know; P2P Media Loader ignores those too.
    Unknown { code: u8 },
}

const ANNOUNCEMENT: u8 = 0;
const REQUEST: u8 = 1;
const DATA: u8 = 2;
const COMPLETED: u8 = 3;
const ABSENT: u8 = 4;
const CANCEL: u8 = 5;
const HELLO: u8 = 32;

impl Command {
    /// The unframed body, field by field in P2P Media Loader's order, so the bytes match.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match self {
            Command::SegmentsAnnouncement {
                loaded,
                http_loading,
            } => {
                out.push(ANNOUNCEMENT);
                if !loaded.is_empty() {
                    out.push(b'l');
                    write_similar_int_array(&mut out, loaded);
                }
                if !http_loading.is_empty() {
                    out.push(b'p');
                    write_similar_int_array(&mut out, http_loading);
                }
            }
            Command::SegmentRequest {
                segment,
                request,
                byte_from,
            } => {
                out.push(REQUEST);
                int_field(&mut out, b'i', *segment);
                int_field(&mut out, b'r', *request);
                if *byte_from != 0 {
                    int_field(&mut out, b'b', clamp(*byte_from));
                }
            }
            Command::SegmentData {
                segment,
                request,
                size,
            } => {
                out.push(DATA);
                int_field(&mut out, b'i', *segment);
                int_field(&mut out, b's', clamp(*size));
                int_field(&mut out, b'r', *request);
            }
            Command::PartRequest {
                segment,
                request,
                byte_from,
                byte_to,
                queued,
            } => {
                out.push(REQUEST);
                int_field(&mut out, b'i', *segment);
                int_field(&mut out, b'r', *request);
                if *byte_from != 0 {
                    int_field(&mut out, b'b', clamp(*byte_from));
                }
                int_field(&mut out, b'e', clamp(*byte_to));
                if *queued {
                    int_field(&mut out, b'q', 1);
                }
            }
            Command::PartData {
                segment,
                request,
                size,
                total,
            } => {
                out.push(DATA);
                int_field(&mut out, b'i', *segment);
                int_field(&mut out, b's', clamp(*size));
                int_field(&mut out, b'r', *request);
                int_field(&mut out, b't', clamp(*total));
            }
            Command::ExtensionHello { flags } => {
                out.push(HELLO);
                int_field(&mut out, b'f', clamp(*flags));
            }
            Command::SegmentDataSendingCompleted { segment, request } => {
                segment_command(&mut out, COMPLETED, *segment, *request)
            }
            Command::SegmentAbsent { segment, request } => {
                segment_command(&mut out, ABSENT, *segment, *request)
            }
            Command::CancelSegmentRequest { segment, request } => {
                segment_command(&mut out, CANCEL, *segment, *request)
            }
            Command::Unknown { code } => out.push(*code),
        }
        out
    }

    /// Parses an unframed body. Unknown field letters are skipped (their item type still has
    /// to be valid, as in P2P Media Loader); missing required fields are errors.
    pub fn decode_body(body: &[u8]) -> Result<Command, DecodeError> {
        let (&code, mut rest) = body.split_first().ok_or(DecodeError::Truncated)?;
        let mut fields = Fields::default();
        while let Some((&name, item)) = rest.split_first() {
            let &head = item.first().ok_or(DecodeError::Truncated)?;
            let used = match head >> 4 {
                TYPE_INT => {
                    let (n, used) = read_int(item)?;
                    fields.set_int(name, n);
                    used
                }
                TYPE_SIMILAR_INT_ARRAY => {
                    let (list, used) = read_similar_int_array(item)?;
                    fields.set_list(name, list);
                    used
                }
                TYPE_STRING => read_string(item)?.1,
                other => return Err(DecodeError::WrongItemType(other)),
            };
            rest = &item[used..];
        }
        let need = |v: Option<i64>, name: u8| v.ok_or(DecodeError::MissingField(name as char));
        let non_negative = |v: i64, name: u8| {
            u64::try_from(v).map_err(|_| DecodeError::NegativeField(name as char))
        };
        Ok(match code {
            ANNOUNCEMENT => Command::SegmentsAnnouncement {
                loaded: fields.l.unwrap_or_default(),
                http_loading: fields.p.unwrap_or_default(),
            },
            REQUEST => {
                let segment = need(fields.i, b'i')?;
                let request = need(fields.r, b'r')?;
                let byte_from = non_negative(fields.b.unwrap_or(0), b'b')?;
                // An end not past the start is dropped, as the SDK's decoder does.
                match fields.e.and_then(|e| u64::try_from(e).ok()) {
                    Some(byte_to) if byte_to > byte_from => Command::PartRequest {
                        segment,
                        request,
                        byte_from,
                        byte_to,
                        queued: fields.q.is_some_and(|q| q > 0),
                    },
                    _ => Command::SegmentRequest {
                        segment,
                        request,
                        byte_from,
                    },
                }
            }
            DATA => {
                let segment = need(fields.i, b'i')?;
                let request = need(fields.r, b'r')?;
                let size = non_negative(need(fields.s, b's')?, b's')?;
                match fields.t.and_then(|t| u64::try_from(t).ok()) {
                    Some(total) => Command::PartData {
                        segment,
                        request,
                        size,
                        total,
                    },
                    None => Command::SegmentData {
                        segment,
                        request,
                        size,
                    },
                }
            }
            HELLO => Command::ExtensionHello {
                flags: fields.f.and_then(|f| u64::try_from(f).ok()).unwrap_or(0),
            },
            COMPLETED | ABSENT | CANCEL => {
                let segment = need(fields.i, b'i')?;
                let request = need(fields.r, b'r')?;
                match code {
                    COMPLETED => Command::SegmentDataSendingCompleted { segment, request },
                    ABSENT => Command::SegmentAbsent { segment, request },
                    _ => Command::CancelSegmentRequest { segment, request },
                }
            }
            code => Command::Unknown { code },
        })
    }
}

/// The fields of one body; a repeated field keeps its last value, as in P2P Media Loader.
#[derive(Default)]
struct Fields {
    i: Option<i64>,
    r: Option<i64>,
    b: Option<i64>,
    s: Option<i64>,
    e: Option<i64>,
    q: Option<i64>,
    t: Option<i64>,
    f: Option<i64>,
    l: Option<Vec<i64>>,
    p: Option<Vec<i64>>,
}

impl Fields {
    fn set_int(&mut self, name: u8, n: i64) {
        match name {
            b'i' => self.i = Some(n),
            b'r' => self.r = Some(n),
            b'b' => self.b = Some(n),
            b's' => self.s = Some(n),
            b'e' => self.e = Some(n),
            b'q' => self.q = Some(n),
            b't' => self.t = Some(n),
            b'f' => self.f = Some(n),
            _ => {}
        }
    }

    fn set_list(&mut self, name: u8, list: Vec<i64>) {
        match name {
            b'l' => self.l = Some(list),
            b'p' => self.p = Some(list),
            _ => {}
        }
    }
}

fn int_field(out: &mut Vec<u8>, name: u8, n: i64) {
    out.push(name);
    write_int(out, n);
}

fn segment_command(out: &mut Vec<u8>, code: u8, segment: SegmentId, request: RequestId) {
    out.push(code);
    int_field(out, b'i', segment);
    int_field(out, b'r', request);
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn bodies_match_the_reference_bytes() {
        let announcement = Command::SegmentsAnnouncement {
            loaded: vec![1, 2, 3, 300, 301],
            http_loading: vec![5],
        };
        assert_eq!(
            hex(&announcement.encode_body()),
            "006c1002010301020302010 22c2d701001010105".replace(' ', "")
        );
        let request = Command::SegmentRequest {
            segment: 42,
            request: 7,
            byte_from: 70000,
        };
        assert_eq!(
            hex(&request.encode_body()),
            "0169012a72010762 03011170".replace(' ', "")
        );
        let data = Command::SegmentData {
            segment: 42,
            request: 7,
            size: 1_234_567,
        };
        assert_eq!(hex(&data.encode_body()), "0269012a730312d687720107");
        for command in [announcement, request, data] {
            assert_eq!(
                Command::decode_body(&command.encode_body()).unwrap(),
                command
            );
        }
    }

    /// The bytes the SDK's encoder writes for the same commands.
    #[test]
    fn extension_bodies_match_the_sdk() {
        let cases = [
            (Command::ExtensionHello { flags: 9 }, "20660109"),
            (
                Command::PartRequest {
                    segment: 42,
                    request: 7,
                    byte_from: 70000,
                    byte_to: 131072,
                    queued: true,
                },
                "0169012a72010762030111706503020000710101",
            ),
            (
                Command::PartRequest {
                    segment: 42,
                    request: 7,
                    byte_from: 0,
                    byte_to: 32768,
                    queued: false,
                },
                "0169012a7201076503008000",
            ),
            (
                Command::PartData {
                    segment: 42,
                    request: 7,
                    size: 61072,
                    total: 1_234_567,
                },
                "0269012a730300ee90720107740312d687",
            ),
        ];
        for (command, bytes) in cases {
            assert_eq!(hex(&command.encode_body()), bytes);
            assert_eq!(
                Command::decode_body(&command.encode_body()).unwrap(),
                command
            );
        }
    }

    #[test]
    fn a_part_request_needs_an_end_past_its_start() {
        // {c:1, i:1, r:2, b:10, e:10}: served as a plain request from byte 10.
        let body = [
            1, b'i', 0x01, 1, b'r', 0x01, 2, b'b', 0x01, 10, b'e', 0x01, 10,
        ];
        assert_eq!(
            Command::decode_body(&body),
            Ok(Command::SegmentRequest {
                segment: 1,
                request: 2,
                byte_from: 10,
            })
        );
        // `q` without `e`: plain; `q:0` with `e`: not queued.
        let queued_without_end = [1, b'i', 0x01, 1, b'r', 0x01, 2, b'q', 0x01, 1];
        assert!(matches!(
            Command::decode_body(&queued_without_end),
            Ok(Command::SegmentRequest { .. })
        ));
        let not_queued = [
            1, b'i', 0x01, 1, b'r', 0x01, 2, b'e', 0x01, 5, b'q', 0x01, 0,
        ];
        assert!(matches!(
            Command::decode_body(&not_queued),
            Ok(Command::PartRequest {
                queued: false,
                byte_to: 5,
                ..
            })
        ));
    }

    #[test]
    fn missing_fields_and_bad_items_are_errors() {
        assert_eq!(
            Command::decode_body(&[1, b'i', 0x01, 5]),
            Err(DecodeError::MissingField('r'))
        );
        assert_eq!(
            Command::decode_body(&[3, b'i', 0x31]),
            Err(DecodeError::WrongItemType(3))
        );
        assert_eq!(
            Command::decode_body(&[3, b'i']),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Command::decode_body(&[]), Err(DecodeError::Truncated));
        assert_eq!(
            Command::decode_body(&[9, b'x', 0x01, 1]),
            Ok(Command::Unknown { code: 9 })
        );
    }
}
