//! Just enough ISO BMFF (MP4) to find the segments of a single-file fragmented MP4: the byte
//! ranges its top-level `sidx` box lists, which are what a DASH `SegmentBase` player requests.
//! Sans-IO and total: any bytes give ranges or `None`, never a panic.

use crate::integrity::ByteRange;

/// The media segments a top-level `sidx` box of `file` lists, as inclusive byte ranges, or
/// `None` when there is no usable one (none, truncated, references to other indexes).
pub fn sidx_ranges(file: &[u8]) -> Option<Vec<ByteRange>> {
    let mut at = 0usize;
    while at < file.len() {
        let (size, kind, header) = box_header(&file[at..])?;
        let end = at.checked_add(size)?;
        if kind == *b"sidx" {
            let body = file.get(at + header..end)?;
            return parse_sidx(body, end as u64);
        }
        if size == 0 {
            return None; // the box runs to the end of the file
        }
        at = end;
    }
    None
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

fn parse_sidx(body: &[u8], sidx_end: u64) -> Option<Vec<ByteRange>> {
    let mut r = Reader { b: body, at: 0 };
    let version = r.u8()?;
    r.skip(3 + 4 + 4)?; // flags, reference_ID, timescale
    let first_offset = if version == 0 {
        r.skip(4)?;
        u64::from(r.u32()?)
    } else {
        r.skip(8)?;
        r.u64()?
    };
    r.skip(2)?;
    let count = r.u16()?;
    let mut offset = sidx_end.checked_add(first_offset)?;
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let reference = r.u32()?;
        r.skip(8)?; // subsegment_duration, SAP fields
        if reference >> 31 == 1 {
            return None; // a reference to another sidx: not a flat segment list
        }
        let size = u64::from(reference & 0x7fff_ffff);
        if size == 0 {
            return None;
        }
        out.push((offset, offset.checked_add(size - 1)?));
        offset = offset.checked_add(size)?;
    }
    Some(out)
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
            body.extend_from_slice(&[0; 8]);
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
}
