//! Typed items of a command body: the item type sits in the high nibble of the first byte.
//!
//! - Int: `0x0L` then L bytes of big-endian sign-magnitude (sign = top bit of the first byte).
//! - SimilarIntArray: `0x10`, group count, then per group `Int(common | count)` and `count`
//!   low bytes, where `common = n & !0xff`.
//! - String: `0x2H LL` (12-bit length) then UTF-8 bytes. No current command uses it.

use super::DecodeError;

pub(crate) const TYPE_INT: u8 = 0;
pub(crate) const TYPE_SIMILAR_INT_ARRAY: u8 = 1;
pub(crate) const TYPE_STRING: u8 = 2;

/// Largest number of entries in one SimilarIntArray group: the count shares the low byte of
/// the group header with nothing else, and P2P Media Loader truncates 256 to 0.
pub const MAX_GROUP_LEN: usize = 255;
/// Largest number of groups in one SimilarIntArray: the group count is one byte.
pub const MAX_GROUPS: usize = 255;

/// Appends an Int item: the shortest sign-magnitude form, as P2P Media Loader writes it.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    let magnitude = n.unsigned_abs();
    // JS: bits of |n| plus one sign bit for n >= 0; for n < 0 `toString(2)` counts the '-'.
    let bits = (64 - magnitude.leading_zeros()).max(1) as usize + 1;
    let len = bits.div_ceil(8);
    out.push((TYPE_INT << 4) | len as u8);
    let start = out.len();
    for i in (0..len).rev() {
        let shift = 8 * i;
        out.push(if shift >= 64 {
            0
        } else {
            (magnitude >> shift) as u8
        });
    }
    if n < 0 {
        out[start] |= 0x80;
    }
}

/// Reads an Int item at the start of `bytes`; returns the value and the bytes consumed.
pub fn read_int(bytes: &[u8]) -> Result<(i64, usize), DecodeError> {
    let (&head, rest) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    if head >> 4 != TYPE_INT {
        return Err(DecodeError::WrongItemType(head >> 4));
    }
    let len = (head & 0x0f) as usize;
    let digits = rest.get(..len).ok_or(DecodeError::Truncated)?;
    let mut magnitude: u64 = 0;
    for (i, &b) in digits.iter().enumerate() {
        let b = if i == 0 { b & 0x7f } else { b };
        if magnitude >> 56 != 0 {
            return Err(DecodeError::IntOutOfRange);
        }
        magnitude = (magnitude << 8) | u64::from(b);
    }
    // JS numbers are exact up to 2^53; anything larger is not a real id or size.
    if magnitude > (1 << 53) {
        return Err(DecodeError::IntOutOfRange);
    }
    let value = magnitude as i64;
    let negative = digits.first().is_some_and(|b| b & 0x80 != 0);
    Ok((if negative { -value } else { value }, 1 + len))
}

/// Appends a SimilarIntArray item.
///
/// Groups come in order of first occurrence, as in P2P Media Loader, but a group never holds
/// more than [`MAX_GROUP_LEN`] entries: a longer run is split into several groups with the
/// same common part, which P2P Media Loader's decoder accepts. At most [`MAX_GROUPS`] groups
/// are written; ids that would need more are left out and returned.
pub fn write_similar_int_array(out: &mut Vec<u8>, numbers: &[i64]) -> Vec<i64> {
    let mut groups: Vec<(i64, Vec<u8>)> = Vec::new();
    for &n in numbers {
        let common = n & !0xff;
        let low = (n & 0xff) as u8;
        match groups.iter_mut().find(|(c, _)| *c == common) {
            Some((_, lows)) => lows.push(low),
            None => groups.push((common, vec![low])),
        }
    }
    let mut pieces: Vec<(i64, &[u8])> = Vec::new();
    for (common, lows) in &groups {
        for piece in lows.chunks(MAX_GROUP_LEN) {
            pieces.push((*common, piece));
        }
    }
    let left_out = pieces
        .iter()
        .skip(MAX_GROUPS)
        .flat_map(|(c, lows)| lows.iter().map(move |&l| c | i64::from(l)))
        .collect();
    pieces.truncate(MAX_GROUPS);
    out.push(TYPE_SIMILAR_INT_ARRAY << 4);
    out.push(pieces.len() as u8);
    for (common, lows) in pieces {
        write_int(out, common | lows.len() as i64);
        out.extend_from_slice(lows);
    }
    left_out
}

/// Reads a SimilarIntArray item; returns the numbers and the bytes consumed.
pub fn read_similar_int_array(bytes: &[u8]) -> Result<(Vec<i64>, usize), DecodeError> {
    let [head, group_count, ..] = *bytes else {
        return Err(DecodeError::Truncated);
    };
    if head >> 4 != TYPE_SIMILAR_INT_ARRAY {
        return Err(DecodeError::WrongItemType(head >> 4));
    }
    let mut offset = 2;
    let mut numbers = Vec::new();
    for _ in 0..group_count {
        let (common_with_len, used) = read_int(&bytes[offset..])?;
        offset += used;
        let len = (common_with_len & 0xff) as usize;
        let common = common_with_len & !0xff;
        let lows = bytes
            .get(offset..offset + len)
            .ok_or(DecodeError::Truncated)?;
        numbers.extend(lows.iter().map(|&l| common | i64::from(l)));
        offset += len;
    }
    Ok((numbers, offset))
}

/// Reads a String item; returns it and the bytes consumed. The length counts UTF-16 units in
/// P2P Media Loader, which equals bytes only for ASCII; we read it as bytes, like its decoder.
pub fn read_string(bytes: &[u8]) -> Result<(String, usize), DecodeError> {
    let [head, low, ..] = *bytes else {
        return Err(DecodeError::Truncated);
    };
    if head >> 4 != TYPE_STRING {
        return Err(DecodeError::WrongItemType(head >> 4));
    }
    let len = (usize::from(head & 0x0f) << 8) | usize::from(low);
    let text = bytes.get(2..2 + len).ok_or(DecodeError::Truncated)?;
    Ok((String::from_utf8_lossy(text).into_owned(), 2 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_int(&mut out, n);
        out
    }

    #[test]
    fn ints_use_the_shortest_sign_magnitude_form() {
        assert_eq!(int(0), [0x01, 0x00]);
        assert_eq!(int(42), [0x01, 0x2a]);
        assert_eq!(int(127), [0x01, 0x7f]);
        assert_eq!(int(128), [0x02, 0x00, 0x80]);
        assert_eq!(int(70000), [0x03, 0x01, 0x11, 0x70]);
        assert_eq!(int(-1), [0x01, 0x81]);
        // JS counts the '-' of "-1111111" as a bit: 8 bits, one byte, sign bit set on top.
        assert_eq!(int(-127), [0x01, 0xff]);
        assert_eq!(int(-128), [0x02, 0x80, 0x80]);
        for n in [0, 1, -1, 255, 256, -256, 1 << 40, -(1 << 52), 1 << 53] {
            assert_eq!(read_int(&int(n)).unwrap(), (n, int(n).len()));
        }
    }

    #[test]
    fn similar_int_arrays_group_by_high_bits() {
        let mut out = Vec::new();
        write_similar_int_array(&mut out, &[1, 2, 3, 300, 301]);
        assert_eq!(
            out,
            [0x10, 2, 0x01, 3, 1, 2, 3, 0x02, 0x01, 0x02, 0x2c, 0x2d]
        );
        assert_eq!(read_similar_int_array(&out).unwrap().0, [1, 2, 3, 300, 301]);
    }

    #[test]
    fn groups_of_256_ids_are_split() {
        let ids: Vec<i64> = (0..256).collect();
        let mut out = Vec::new();
        assert!(write_similar_int_array(&mut out, &ids).is_empty());
        assert_eq!(&out[..5], [0x10, 2, 0x02, 0x00, 0xff]);
        assert_eq!(read_similar_int_array(&out).unwrap().0, ids);
    }

    #[test]
    fn more_than_255_groups_leave_the_rest_out() {
        let ids: Vec<i64> = (0..300).map(|g| g << 8).collect();
        let mut out = Vec::new();
        let left_out = write_similar_int_array(&mut out, &ids);
        assert_eq!(out[1], 255);
        assert_eq!(left_out, ids[255..]);
        assert_eq!(read_similar_int_array(&out).unwrap().0, ids[..255]);
    }

    #[test]
    fn truncated_items_are_errors() {
        assert_eq!(read_int(&[0x03, 1]), Err(DecodeError::Truncated));
        assert_eq!(read_int(&[]), Err(DecodeError::Truncated));
        assert_eq!(
            read_similar_int_array(&[0x10, 1, 0x01]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            read_similar_int_array(&[0x10, 1, 0x01, 2, 7]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(read_int(&[0x1f]), Err(DecodeError::WrongItemType(1)));
        assert_eq!(
            read_int(&[0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::IntOutOfRange)
        );
    }
}
