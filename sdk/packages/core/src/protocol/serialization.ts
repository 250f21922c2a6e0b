/**
 * Typed items of the P2P Media Loader v2 command body: Int, SimilarIntArray, String.
 * The type is the high nibble of an item's first byte.
 */

export const ItemType = { Int: 0, SimilarIntArray: 1, String: 2 } as const;

/** PML packs a group's id count into one byte; we never put more than this in a group. */
export const MAX_IDS_PER_GROUP = 255;
/** The group count is one byte too. */
export const MAX_GROUPS = 255;

export class DecodeError extends Error {
  override name = "DecodeError";
}

/** Bytes needed for |n| plus a sign bit (0 needs one byte), as PML computes it. */
function intByteLength(abs: number): number {
  const bits = abs === 0 ? 1 : Math.floor(Math.log2(abs)) + 1;
  return Math.ceil((bits + 1) / 8);
}

/** `0x0L` then L bytes, big-endian sign-magnitude. Safe for |n| < 2^53. */
export function encodeInt(n: number): Uint8Array {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
  const negative = n < 0;
  let abs = Math.abs(n);
  const len = intByteLength(abs);
  const out = new Uint8Array(1 + len);
  out[0] = (ItemType.Int << 4) | len;
  for (let i = len; i >= 1; i--) {
    out[i] = abs % 256;
    abs = Math.floor(abs / 256);
  }
  if (negative) out[1] = (out[1] as number) | 0x80;
  return out;
}

export function decodeInt(bytes: Uint8Array, offset: number): { value: number; next: number } {
  const head = bytes[offset];
  if (head === undefined || head >> 4 !== ItemType.Int) throw new DecodeError("expected Int item");
  const len = head & 0x0f;
  if (len === 0 || offset + 1 + len > bytes.length) throw new DecodeError("truncated Int item");
  if (len > 7) throw new DecodeError("Int item too long");
  let value = 0;
  for (let i = 0; i < len; i++) {
    const b = bytes[offset + 1 + i] as number;
    value = value * 256 + (i === 0 ? b & 0x7f : b);
  }
  if ((bytes[offset + 1] as number) & 0x80) value = -value;
  return { value, next: offset + 1 + len };
}

/**
 * `0x10, groupCount, (Int(common | count), count low bytes)*`. Ids sharing `id >> 8` form a
 * group in order of first occurrence; groups are split at 255 ids so that PML's one-byte count
 * never overflows (its decoder accepts repeated groups with the same common part). Ids beyond
 * 255 groups are dropped: callers put the ids they most want known first.
 */
export function encodeSimilarIntArray(ids: readonly number[]): Uint8Array {
  const groups = new Map<number, number[]>();
  const order: number[] = [];
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`bad segment id: ${id}`);
    const common = id - (id % 256);
    let g = groups.get(common);
    if (!g) {
      g = [];
      groups.set(common, g);
      order.push(common);
    }
    g.push(id % 256);
  }
  const parts: Uint8Array[] = [];
  let groupCount = 0;
  outer: for (const common of order) {
    const lows = groups.get(common) as number[];
    for (let i = 0; i < lows.length; i += MAX_IDS_PER_GROUP) {
      if (groupCount === MAX_GROUPS) break outer;
      const slice = lows.slice(i, i + MAX_IDS_PER_GROUP);
      parts.push(encodeInt(common + slice.length), Uint8Array.from(slice));
      groupCount++;
    }
  }
  return concat([Uint8Array.of(ItemType.SimilarIntArray << 4, groupCount), ...parts]);
}

export function decodeSimilarIntArray(
  bytes: Uint8Array,
  offset: number,
): { value: number[]; next: number } {
  const head = bytes[offset];
  const groupCount = bytes[offset + 1];
  if (head === undefined || head >> 4 !== ItemType.SimilarIntArray || groupCount === undefined) {
    throw new DecodeError("expected SimilarIntArray item");
  }
  let pos = offset + 2;
  const value: number[] = [];
  for (let g = 0; g < groupCount; g++) {
    const { value: commonWithCount, next } = decodeInt(bytes, pos);
    pos = next;
    const count = commonWithCount & 0xff;
    const common = commonWithCount - count;
    if (pos + count > bytes.length) throw new DecodeError("truncated SimilarIntArray group");
    for (let i = 0; i < count; i++) value.push(common + (bytes[pos + i] as number));
    pos += count;
  }
  return { value, next: pos };
}

/** `0x2H, LL` (12-bit length), UTF-8 bytes. PML counts UTF-16 units; we count bytes (ASCII agrees). */
export function encodeString(s: string): Uint8Array {
  const utf8 = new TextEncoder().encode(s);
  if (utf8.length > 0xfff) throw new RangeError("string too long");
  return concat([Uint8Array.of((ItemType.String << 4) | (utf8.length >> 8), utf8.length & 0xff), utf8]);
}

export function decodeString(bytes: Uint8Array, offset: number): { value: string; next: number } {
  const head = bytes[offset];
  const low = bytes[offset + 1];
  if (head === undefined || head >> 4 !== ItemType.String || low === undefined) {
    throw new DecodeError("expected String item");
  }
  const len = ((head & 0x0f) << 8) | low;
  if (offset + 2 + len > bytes.length) throw new DecodeError("truncated String item");
  return {
    value: new TextDecoder().decode(bytes.subarray(offset + 2, offset + 2 + len)),
    next: offset + 2 + len,
  };
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
