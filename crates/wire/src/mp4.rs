//! Just enough ISO BMFF (MP4) to find the segments of a single-file fragmented MP4: its
//! segment index box (`sidx`, ISO/IEC 14496-12 8.16.3), which lists where each segment's bytes
//! are and how long it plays. A DASH `SegmentBase` points at it with `indexRange`; the origin's
//! digests and the manifest crate's DASH segment lists both read it here.
//! Sans-IO and total: any bytes give an answer or an error, never a panic.

use crate::integrity::ByteRange;

/// One referenced segment: `(offset, length)` in the file and its time in the sidx timescale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidxReference {
    pub offset: u64,
    pub length: u64,
    /// Presentation time at its start, in `timescale` units.
    pub start: u64,
    pub duration: u64,
}

/// A parsed sidx box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidx {
    pub timescale: u64,
    pub references: Vec<SidxReference>,
}

/// Why bytes are not a usable sidx box.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SidxError(&'static str);

/// The media segments a top-level `sidx` box of `file` lists, as inclusive byte ranges, or
/// `None` when there is no usable one (none, truncated, references to other indexes).
pub fn sidx_ranges(file: &[u8]) -> Option<Vec<ByteRange>> {
    let mut at = 0usize;
    while at < file.len() {
        let (size, kind, _) = box_header(&file[at..])?;
        let end = at.checked_add(size)?;
        if kind == *b"sidx" {
            let sidx = parse_sidx(file.get(at..end)?, at as u64).ok()?;
            return Some(
                sidx.references
                    .iter()
                    .map(|r| (r.offset, r.offset + r.length - 1))
                    .collect(),
            );
        }
        if size == 0 {
            return None; // the box runs to the end of the file
        }
        at = end;
    }
    None
}

/// Parses the sidx box at the start of `bytes`, which were read from `file_offset` of the
/// media file (for DASH, the start of `indexRange`).
pub fn parse_sidx(bytes: &[u8], file_offset: u64) -> Result<Sidx, SidxError> {
    let err = SidxError;
    let (size, kind, header) = box_header(bytes).ok_or(err("truncated"))?;
    if kind != *b"sidx" {
        return Err(err("the index range does not start with a sidx box"));
    }
    let mut r = Reader {
        b: bytes.get(header..).ok_or(err("truncated"))?,
        at: 0,
    };
    let truncated = || err("truncated");
    let version = r.u8().ok_or_else(truncated)?;
    r.skip(3 + 4).ok_or_else(truncated)?; // flags, reference_ID
    let timescale = u64::from(r.u32().ok_or_else(truncated)?);
    if timescale == 0 {
        return Err(err("timescale 0"));
    }
    let (earliest, first_offset) = if version == 0 {
        let e = r.u32().ok_or_else(truncated)?;
        (u64::from(e), u64::from(r.u32().ok_or_else(truncated)?))
    } else {
        let e = r.u64().ok_or_else(truncated)?;
        (e, r.u64().ok_or_else(truncated)?)
    };
    r.skip(2).ok_or_else(truncated)?;
    let count = r.u16().ok_or_else(truncated)?;
    let overflow = || err("offset overflow");
    let mut offset = file_offset
        .checked_add(size as u64)
        .and_then(|o| o.checked_add(first_offset))
        .ok_or_else(overflow)?;
    let mut start = earliest;
    let mut references = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let reference = r.u32().ok_or_else(truncated)?;
        let duration = u64::from(r.u32().ok_or_else(truncated)?);
        r.skip(4).ok_or_else(truncated)?; // SAP fields
        if reference >> 31 == 1 {
            return Err(err(
                "hierarchical indexes (a sidx pointing at sidx) are not supported",
            ));
        }
        let length = u64::from(reference & 0x7fff_ffff);
        if length == 0 {
            return Err(err("a reference of 0 bytes"));
        }
        references.push(SidxReference {
            offset,
            length,
            start,
            duration,
        });
        offset = offset.checked_add(length).ok_or_else(overflow)?;
        start = start.checked_add(duration).ok_or_else(overflow)?;
    }
    Ok(Sidx {
        timescale,
        references,
    })
}

/// Size (whole box), type and header length of the box at the start of `b`.
fn box_header(b: &[u8]) -> Option<(usize, [u8; 4], usize)> {
    let size = u32::from_be_bytes(b.get(0..4)?.try_into().ok()?);
    let kind: [u8; 4] = b.get(4..8)?.try_into().ok()?;
    match size {
        0 => Some((b.len(), kind, 8)),
        1 => {
            let large = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
            let large = usize::try_from(large).ok()?;
            (large >= 16).then_some((large, kind, 16))
        }
        n if n >= 8 => Some((n as usize, kind, 8)),
        _ => None,
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A version-0 sidx whose references have these sizes (top bit: a reference to an index).
    fn sidx(first_offset: u32, references: &[u32]) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0]; // version, flags
        body.extend_from_slice(&1u32.to_be_bytes()); // reference_ID
        body.extend_from_slice(&90_000u32.to_be_bytes()); // timescale
        body.extend_from_slice(&0u32.to_be_bytes()); // earliest_presentation_time
        body.extend_from_slice(&first_offset.to_be_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&(references.len() as u16).to_be_bytes());
        for r in references {
            body.extend_from_slice(&r.to_be_bytes());
            body.extend_from_slice(&1800u32.to_be_bytes()); // subsegment_duration
            body.extend_from_slice(&[0; 4]);
        }
        boxed(b"sidx", &body)
    }

    #[test]
    fn lists_the_segments_after_the_index() {
        let mut file = boxed(b"ftyp", b"isom0000");
        file.extend(boxed(b"moov", &[0; 20]));
        let index_end = (file.len() + sidx(0, &[100, 50]).len()) as u64;
        file.extend(sidx(10, &[100, 50]));
        let first = index_end + 10;
        assert_eq!(
            sidx_ranges(&file),
            Some(vec![(first, first + 99), (first + 100, first + 149)])
        );
    }

    #[test]
    fn nothing_usable_gives_none() {
        assert_eq!(sidx_ranges(&boxed(b"moov", &[0; 4])), None);
        assert_eq!(sidx_ranges(&sidx(0, &[1 << 31 | 10])), None, "nested index");
        assert_eq!(sidx_ranges(&sidx(0, &[0])), None, "empty reference");
        let s = sidx(0, &[10, 10]);
        assert_eq!(sidx_ranges(&s[..s.len() - 3]), None, "truncated");
        assert_eq!(sidx_ranges(&[0, 0, 0, 3, b'a']), None);
        assert_eq!(sidx_ranges(&[]), None);
    }

    #[test]
    fn any_bytes_give_an_answer_not_a_panic() {
        let mut x = 0x9e37_79b9u32;
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let mut file = sidx(x % 50, &[x % 300 + 1]);
            file.truncate(len % (file.len() + 1));
            file.extend(bytes);
            let _ = sidx_ranges(&file);
        }
    }

    #[test]
    fn references_follow_the_box_with_their_times() {
        let b = sidx(0, &[100, 50]);
        let s = parse_sidx(&b, 800).unwrap();
        assert_eq!(s.timescale, 90_000);
        let end = 800 + b.len() as u64;
        let got: Vec<(u64, u64, u64, u64)> = s
            .references
            .iter()
            .map(|r| (r.offset, r.length, r.start, r.duration))
            .collect();
        assert_eq!(got, [(end, 100, 0, 1800), (end + 100, 50, 1800, 1800)]);
    }

    #[test]
    fn bad_boxes_are_errors_not_panics() {
        let b = sidx(0, &[100]);
        for cut in 0..b.len() {
            assert!(parse_sidx(&b[..cut], 0).is_err(), "cut at {cut}");
        }
        let mut moov = b.clone();
        moov[4..8].copy_from_slice(b"moov");
        assert!(parse_sidx(&moov, 0).is_err());
        let mut zero = b.clone();
        zero[16..20].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(parse_sidx(&zero, 0), Err(SidxError("timescale 0")));
    }
}
