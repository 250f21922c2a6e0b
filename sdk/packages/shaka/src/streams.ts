/**
 * Pure mapping from what Shaka Player parsed to the engine's streams and segments, with the
 * ids P2P Media Loader's Shaka integration gives them, so our viewers and its viewers meet in
 * the same swarms and ask each other for the same segment numbers:
 *
 * - streams (P2P Media Loader 2.2 rules, those of the published p2p-media-loader-shaka 2.2.2):
 *   walking the manifest's variants in order, each new video stream is `main` number 0, 1, ...
 *   and each new audio stream `secondary` number 0, 1, ... (`main` when the variant has no
 *   video); the swarm is `v2-<manifest URL>-<type>-<number>`, hashed with MD5;
 * - DASH segments: id `trunc(start time / 0.5 s)`;
 * - every segment is keyed by its URL and byte range (`url|first-last`), as the loader sees it.
 */
import type { SegmentInfo, StreamType } from "@swarmcast/core";

/** What this module reads of a Shaka stream (shaka.extern.Stream). */
export type ShakaStreamLike = { id: number; type: string };
/** ... of a Shaka variant (shaka.extern.Variant). */
export type ShakaVariantLike = { video: ShakaStreamLike | null; audio: ShakaStreamLike | null };
/** ... of a Shaka segment reference (shaka.media.SegmentReference). */
export type SegmentReferenceLike = {
  getUris(): string[];
  getStartTime(): number;
  getEndTime(): number;
  getStartByte(): number;
  getEndByte(): number | null;
};

export type StreamDecl = { shakaId: number; type: StreamType; shortId: string };

/** P2P Media Loader's Shaka integration numbers segments in half seconds of start time. */
export const SEGMENT_ID_RESOLUTION_S = 0.5;

/** The streams of a manifest, in P2P Media Loader 2.2's order and numbering. */
export function streamsOfVariants(variants: readonly ShakaVariantLike[]): StreamDecl[] {
  const out: StreamDecl[] = [];
  const seen = new Set<number>();
  let video = 0;
  let audio = 0;
  for (const v of variants) {
    if (v.video && !seen.has(v.video.id)) {
      seen.add(v.video.id);
      out.push({ shakaId: v.video.id, type: "main", shortId: String(video++) });
    }
    if (v.audio && !seen.has(v.audio.id)) {
      seen.add(v.audio.id);
      out.push({ shakaId: v.audio.id, type: v.video ? "secondary" : "main", shortId: String(audio++) });
    }
  }
  return out;
}

/** Key of a segment request: its URL and byte range (inclusive), as P2P Media Loader forms it. */
export function runtimeKey(url: string, range?: { start: number; end: number }): string {
  return range ? `${url}|${range.start}-${range.end}` : url;
}

/** `Range: bytes=a-b` as `{start, end}` (inclusive); undefined for anything else. */
export function rangeFromHeader(header: string | undefined): { start: number; end: number } | undefined {
  const m = header ? /^bytes=(\d+)-(\d+)$/.exec(header.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}

/** Segments of a DASH stream from its references, with their lookup keys. */
export function dashSegments(refs: Iterable<SegmentReferenceLike | null>): { segments: SegmentInfo[]; keys: string[] } {
  const segments: SegmentInfo[] = [];
  const keys: string[] = [];
  const ids = new Set<number>();
  for (const ref of refs) {
    if (!ref) continue;
    const url = ref.getUris()[0];
    if (!url) continue;
    const startTime = ref.getStartTime();
    const id = Math.trunc(startTime / SEGMENT_ID_RESOLUTION_S);
    // Two segments within half a second of each other would share an id: keep the first.
    if (ids.has(id)) continue;
    ids.add(id);
    const endByte = ref.getEndByte();
    const byteRange = endByte !== null ? { start: ref.getStartByte(), end: endByte } : undefined;
    segments.push({ id, url, byteRange, startTime, endTime: ref.getEndTime() });
    keys.push(runtimeKey(url, byteRange));
  }
  return { segments, keys };
}
