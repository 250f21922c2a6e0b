/**
 * A progressive file (MP4, WebM, MP3, ...) as a swarm of pieces: piece `i` is bytes
 * `[i * pieceLength, (i + 1) * pieceLength - 1]` (the last one shorter), and it travels on the
 * wire as the segment with id `i` of the file's swarm, so P2P Media Loader v2 commands and the
 * super peer carry it unchanged. Pure: no I/O.
 */
import { streamShortId, type ByteRange, type SegmentInfo } from "@swarmcast/core";

export const DEFAULT_PIECE_LENGTH = 512 * 1024;

export function pieceCount(fileLength: number, pieceLength: number): number {
  return Math.ceil(fileLength / pieceLength);
}

/** The inclusive byte range of piece `index`. */
export function pieceRange(index: number, fileLength: number, pieceLength: number): ByteRange {
  const start = index * pieceLength;
  return { start, end: Math.min(start + pieceLength, fileLength) - 1 };
}

/** One piece's share of a byte span: bytes [from, to) of piece `index`. */
export type PieceSlice = { index: number; from: number; to: number };

/** The pieces that hold bytes [start, end] (inclusive), in order, with the part of each. */
export function slicesOf(start: number, end: number, pieceLength: number): PieceSlice[] {
  const out: PieceSlice[] = [];
  for (let pos = start; pos <= end; ) {
    const index = Math.floor(pos / pieceLength);
    const base = index * pieceLength;
    const to = Math.min(end + 1, base + pieceLength) - base;
    out.push({ index, from: pos - base, to });
    pos = base + to;
  }
  return out;
}

/**
 * The file's pieces as segments of its swarm. Piece times are its bytes' share of the duration
 * (progressive files are close to constant bitrate once past the header), so the scheduler's
 * deadlines work as for HLS; with no known duration every piece counts as due at once.
 */
export function pieceSegments(url: string, fileLength: number, pieceLength: number, durationS?: number): SegmentInfo[] {
  const d = durationS !== undefined && Number.isFinite(durationS) && durationS > 0 ? durationS : 0;
  const out: SegmentInfo[] = [];
  for (let i = 0; i < pieceCount(fileLength, pieceLength); i++) {
    const byteRange = pieceRange(i, fileLength, pieceLength);
    // The file's length tells a replaced file from the one cached on disk.
    out.push({ id: i, url, byteRange, startTime: (byteRange.start / fileLength) * d, endTime: ((byteRange.end + 1) / fileLength) * d, version: String(fileLength) });
  }
  return out;
}

/**
 * The stream short id of a file's swarm: a stream with no properties, as P2P Media Loader
 * derives it for a media playlist loaded directly, so `v2-<channel>-main-<short id>` names a
 * file as it names a playlist. Another piece length is another swarm (its pieces differ).
 */
export function fileShortId(pieceLength: number): string {
  return streamShortId(pieceLength === DEFAULT_PIECE_LENGTH ? { bitrate: 0 } : { bitrate: 0, name: `pieces-${pieceLength}` });
}
