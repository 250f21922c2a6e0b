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
 *
 * With the P2P Media Loader 2.3 rules (`streamsOfVariants(variants, "pml-2.3")`) a stream is
 * named by a short id of its attributes instead, as P2P Media Loader's hls.js integration 2.3
 * (and our hls.js engine) name HLS variants: the swarm a Shaka viewer of an HLS stream then
 * joins is the hls.js viewers' one when both players read the same attributes.
 */
import { streamShortId, type IdRules, type SegmentInfo, type StreamType } from "@swarmcast/core";

/** What this module reads of a Shaka stream (shaka.extern.Stream). */
export type ShakaStreamLike = {
  id: number;
  type: string;
  codecs?: string;
  width?: number;
  height?: number;
  frameRate?: number;
  hdr?: string;
  language?: string;
  channelsCount?: number | null;
  label?: string | null;
  originalId?: string | null;
};
/** ... of a Shaka variant (shaka.extern.Variant). */
export type ShakaVariantLike = { bandwidth?: number; video: ShakaStreamLike | null; audio: ShakaStreamLike | null };
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

const AUDIO_CODECS = ["mp4a", "ac-3", "ec-3", "ec+3", "opus", "vorb", "flac", "alac", "mp3"];

/** Video codecs only: Shaka lists a muxed stream's audio codec with its video codec. */
function videoCodecs(codecs: string | undefined): string | undefined {
  const list = (codecs ?? "").split(",").map((c) => c.trim()).filter((c) => c && !AUDIO_CODECS.some((a) => c.toLowerCase().startsWith(a)));
  return list.length ? list.join(",") : undefined;
}

/** P2P Media Loader 2.3's short id of a video stream first seen in `variant`. */
function videoShortId(variant: ShakaVariantLike, video: ShakaStreamLike): string {
  const bitrate = variant.bandwidth ?? 0;
  if (!bitrate) return streamShortId({ bitrate: 0 });
  return streamShortId({ bitrate, codecs: videoCodecs(video.codecs), width: video.width, height: video.height, frameRate: video.frameRate, videoRange: video.hdr });
}

/** ... of an audio stream (`main` when the variant has no video). */
function audioShortId(variant: ShakaVariantLike, audio: ShakaStreamLike, main: boolean): string {
  if (main) return streamShortId({ bitrate: variant.bandwidth ?? 0 });
  return streamShortId({ bitrate: 0, codecs: audio.codecs, language: audio.language, channels: audio.channelsCount ?? undefined, name: audio.label ?? audio.originalId ?? undefined });
}

/**
 * The streams of a manifest in the order P2P Media Loader walks them: each new video stream of
 * the variants is `main`, each new audio stream `secondary` (`main` without video), named by
 * position (`"pml-2.2"`, the default) or by short id (`"pml-2.3"`).
 */
export function streamsOfVariants(variants: readonly ShakaVariantLike[], rules: IdRules = "pml-2.2"): StreamDecl[] {
  const out: StreamDecl[] = [];
  const seen = new Set<number>();
  let video = 0;
  let audio = 0;
  for (const v of variants) {
    if (v.video && !seen.has(v.video.id)) {
      seen.add(v.video.id);
      out.push({ shakaId: v.video.id, type: "main", shortId: rules === "pml-2.2" ? String(video++) : videoShortId(v, v.video) });
    }
    if (v.audio && !seen.has(v.audio.id)) {
      seen.add(v.audio.id);
      const type = v.video ? "secondary" : "main";
      out.push({ shakaId: v.audio.id, type, shortId: rules === "pml-2.2" ? String(audio++) : audioShortId(v, v.audio, !v.video) });
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

/**
 * HLS segment ids through Shaka, as P2P Media Loader's Shaka integration numbers them: by media
 * sequence, read from Shaka's map of media sequence to start time (`lastMediaSequence` = its
 * first key + its size − 1). The first time, the references listed end at that number; later,
 * references not seen before are numbered backwards from it. One per stream.
 */
export class HlsSequenceIds {
  private readonly ids = new Map<string, number>();

  /** Ids of `refs` (in order); references it cannot number yet are left out. */
  update(refs: readonly SegmentReferenceLike[], lastMediaSequence: number | undefined): { segments: SegmentInfo[]; keys: string[] } {
    const keyOf = (ref: SegmentReferenceLike) => runtimeKey(ref.getUris()[0] ?? "", rangeOf(ref));
    if (this.ids.size === 0) {
      const first = lastMediaSequence === undefined ? 0 : lastMediaSequence - refs.length + 1;
      refs.forEach((ref, i) => this.ids.set(keyOf(ref), first + i));
    } else if (lastMediaSequence) {
      let sequence = lastMediaSequence;
      for (let i = refs.length - 1; i >= 0; i--) {
        const key = keyOf(refs[i] as SegmentReferenceLike);
        if (this.ids.has(key)) break;
        this.ids.set(key, sequence--);
      }
    }
    const segments: SegmentInfo[] = [];
    const keys: string[] = [];
    const current = new Set<string>();
    for (const ref of refs) {
      const key = keyOf(ref);
      const id = this.ids.get(key);
      current.add(key);
      if (id === undefined) continue;
      segments.push({ id, url: ref.getUris()[0] as string, byteRange: rangeOf(ref), startTime: ref.getStartTime(), endTime: ref.getEndTime() });
      keys.push(key);
    }
    // Forget what left the playlist.
    for (const key of this.ids.keys()) if (!current.has(key)) this.ids.delete(key);
    return { segments, keys };
  }
}

function rangeOf(ref: SegmentReferenceLike): { start: number; end: number } | undefined {
  const end = ref.getEndByte();
  return end !== null ? { start: ref.getStartByte(), end } : undefined;
}

/** The last media sequence number of Shaka's map of media sequence to start time. */
export function lastMediaSequence(map: ReadonlyMap<number, number> | undefined): number | undefined {
  const first = map?.keys().next().value;
  return first === undefined || !map ? undefined : first + map.size - 1;
}
