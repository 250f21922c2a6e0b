//! The segment index box (`sidx`, ISO/IEC 14496-12 8.16.3) that a DASH `SegmentBase` points
//! at with its `indexRange`: where each segment's bytes are in the file and how long it plays.

use crate::ManifestError;

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

fn err(why: &str) -> ManifestError {
    ManifestError::Sidx(why.to_owned())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ManifestError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| err("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u64, ManifestError> {
        let b = self.take(4)?;
        Ok(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }
    fn u64(&mut self) -> Result<u64, ManifestError> {
        Ok((self.u32()? << 32) | self.u32()?)
    }
}

/// Parses the sidx box at the start of `bytes`, which were read from `file_offset` of the
/// media file (the start of `indexRange`).
pub fn parse(bytes: &[u8], file_offset: u64) -> Result<Sidx, ManifestError> {
    let mut r = Reader { bytes, at: 0 };
    let size = r.u32()?;
    if r.take(4)? != b"sidx" {
        return Err(err("the index range does not start with a sidx box"));
    }
    let box_size = match size {
        1 => r.u64()?,
        0 => bytes.len() as u64,
        n => n,
    };
    let version = r.take(4)?[0];
    let _reference_id = r.u32()?;
    let timescale = r.u32()?;
    if timescale == 0 {
        return Err(err("timescale 0"));
    }
    let (earliest, first_offset) = if version == 0 {
        (r.u32()?, r.u32()?)
    } else {
        (r.u64()?, r.u64()?)
    };
    let _reserved = r.take(2)?;
    let count = r.take(2)?;
    let count = u16::from_be_bytes([count[0], count[1]]);
    let mut offset = file_offset
        .checked_add(box_size)
        .and_then(|o| o.checked_add(first_offset))
        .ok_or_else(|| err("offset overflow"))?;
    let mut start = earliest;
    let mut references = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let word = r.u32()?;
        if word & 0x8000_0000 != 0 {
            return Err(err(
                "hierarchical indexes (a sidx pointing at sidx) are not supported",
            ));
        }
        let length = word & 0x7fff_ffff;
        let duration = r.u32()?;
        let _sap = r.u32()?;
        references.push(SidxReference {
            offset,
            length,
            start,
            duration,
        });
        offset += length;
        start += duration;
    }
    Ok(Sidx {
        timescale,
        references,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A version-0 sidx box with the given (length, duration) references.
    pub fn sidx_box(
        timescale: u32,
        earliest: u32,
        first_offset: u32,
        refs: &[(u32, u32)],
    ) -> Vec<u8> {
        let mut body = vec![0u8; 4]; // version 0, flags
        body.extend(1u32.to_be_bytes());
        body.extend(timescale.to_be_bytes());
        body.extend(earliest.to_be_bytes());
        body.extend(first_offset.to_be_bytes());
        body.extend([0, 0]);
        body.extend((refs.len() as u16).to_be_bytes());
        for (len, dur) in refs {
            body.extend(len.to_be_bytes());
            body.extend(dur.to_be_bytes());
            body.extend(0x9000_0000u32.to_be_bytes());
        }
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend(b"sidx");
        out.extend(body);
        out
    }

    #[test]
    fn references_follow_the_box() {
        let b = sidx_box(1000, 0, 0, &[(100, 2000), (50, 1500)]);
        let s = parse(&b, 800).unwrap();
        assert_eq!(s.timescale, 1000);
        let end = 800 + b.len() as u64;
        assert_eq!(
            s.references,
            [
                SidxReference {
                    offset: end,
                    length: 100,
                    start: 0,
                    duration: 2000
                },
                SidxReference {
                    offset: end + 100,
                    length: 50,
                    start: 2000,
                    duration: 1500
                },
            ]
        );
    }

    #[test]
    fn bad_boxes_are_errors_not_panics() {
        let b = sidx_box(1000, 0, 0, &[(100, 2000)]);
        for cut in 0..b.len() {
            assert!(parse(&b[..cut], 0).is_err(), "cut at {cut}");
        }
        let mut moov = b.clone();
        moov[4..8].copy_from_slice(b"moov");
        assert!(parse(&moov, 0).is_err());
        let mut zero = b.clone();
        zero[16..20].copy_from_slice(&[0, 0, 0, 0]);
        assert!(parse(&zero, 0).is_err());
    }
}
