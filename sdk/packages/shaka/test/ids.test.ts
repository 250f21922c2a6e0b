// Our stream numbering, swarm ids and DASH segment ids against those of the published
// p2p-media-loader-shaka (2.2.2) and its core, run from node_modules on the same inputs.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { infoHashMd5, streamSwarmId } from "@swarmcast/core";
import { dashSegments, HlsSequenceIds, lastMediaSequence, rangeFromHeader, runtimeKey, streamsOfVariants, type SegmentReferenceLike, type ShakaVariantLike } from "../src/streams.js";


/** A package's folder, looked up from `from` upwards as Node does (its exports hide deep paths). */
function findPackage(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed`);
  }
}
const shakaDir = findPackage("p2p-media-loader-shaka", dirname(fileURLToPath(import.meta.url)));
const pmlCoreLib = join(findPackage("p2p-media-loader-core", shakaDir), "lib");

type Recorded = { id: number; type: string; index: number };
type PmlDecorator = { segmentManager?: unknown; processStreams(variants: unknown[]): void };

async function pmlStreams(variants: ShakaVariantLike[]): Promise<Recorded[]> {
  const { ManifestParserDecorator } = (await import(/* @vite-ignore */ join(shakaDir, "lib/manifest-parser-decorator.js"))) as {
    ManifestParserDecorator: new (shaka: unknown, parser: unknown) => PmlDecorator;
  };
  const fakeShaka = { hls: { HlsParser: class {} }, dash: { DashParser: class {} } };
  const d = new ManifestParserDecorator(fakeShaka, {});
  const recorded: Recorded[] = [];
  d.segmentManager = { setStream: (s: { id: number }, type: string, index: number) => recorded.push({ id: s.id, type, index }) };
  // PML hooks each stream's segment index on the way: give it something to hook.
  const withIndex = variants.map((v) => ({
    video: v.video && Object.assign(v.video, { createSegmentIndex: async () => {} }),
    audio: v.audio && Object.assign(v.audio, { createSegmentIndex: async () => {} }),
  }));
  d.processStreams(withIndex);
  return recorded;
}

async function pmlIds(): Promise<{ getStreamSwarmId(base: string, s: { type: string; index: number }): string; getStreamHash(s: string): string }> {
  const stream = await import(/* @vite-ignore */ pathToFileURL(join(pmlCoreLib, "utils/stream.js")).href);
  const peer = await import(/* @vite-ignore */ pathToFileURL(join(pmlCoreLib, "utils/peer.js")).href);
  return { getStreamSwarmId: stream.getStreamSwarmId, getStreamHash: peer.getStreamHash };
}

/** Variants as Shaka builds them: every video with every audio, streams shared by object. */
const variantsArb = fc
  .record({ videos: fc.integer({ min: 0, max: 4 }), audios: fc.integer({ min: 0, max: 3 }), shuffle: fc.array(fc.nat(), { maxLength: 12 }) })
  .filter(({ videos, audios }) => videos + audios > 0)
  .map(({ videos, audios, shuffle }) => {
    let next = 1;
    const v = Array.from({ length: videos }, () => ({ id: next++, type: "video" }));
    const a = Array.from({ length: audios }, () => ({ id: next++, type: "audio" }));
    const variants: ShakaVariantLike[] = [];
    for (const video of v.length ? v : [null]) for (const audio of a.length ? a : [null]) variants.push({ video, audio });
    // Any order of variants (Shaka sorts them by its own rules).
    for (let i = 0; i < shuffle.length && variants.length > 1; i++) {
      const j = (shuffle[i] as number) % variants.length;
      variants.push(...variants.splice(j, 1));
    }
    return variants;
  });

describe("streams and swarm ids (p2p-media-loader-shaka 2.2.2)", () => {
  it("number streams as PML does for any variant list", async () => {
    await fc.assert(
      fc.asyncProperty(variantsArb, async (variants) => {
        const ours = streamsOfVariants(variants).map((s) => ({ id: s.shakaId, type: s.type, index: Number(s.shortId) }));
        expect(ours).toEqual(await pmlStreams(variants));
      }),
      { numRuns: 60 },
    );
  });

  it("swarm ids and MD5 info hashes equal PML's", async () => {
    const pml = await pmlIds();
    for (const base of ["http://127.0.0.1:8080/live/dash/manifest.mpd", "https://cdn.example/é/x.mpd", "channel-7"]) {
      for (const [type, index] of [["main", 0], ["main", 2], ["secondary", 0]] as const) {
        const pmlId = pml.getStreamSwarmId(base, { type, index });
        expect(streamSwarmId(base, type, String(index))).toBe(pmlId);
        expect(infoHashMd5(pmlId)).toBe(pml.getStreamHash(pmlId));
      }
    }
  });
});

type PmlSegment = { externalId: number; runtimeId: string; byteRange?: { start: number; end: number } };

/** PML's segment manager over a fake core that keeps what it is told, like PML's core does. */
async function pmlSegmentManager(protocol: "dash" | "hls") {
  const { SegmentManager } = (await import(/* @vite-ignore */ join(shakaDir, "lib/segment-manager.js"))) as {
    SegmentManager: new (info: unknown, core: unknown) => { setStream(s: unknown, type: string, index: number): void; updateStreamSegments(s: unknown, refs: unknown[]): void };
  };
  const added: PmlSegment[] = [];
  const streams = new Map<string, { runtimeId: string; segments: Map<string, PmlSegment>; shakaStream: unknown }>();
  const core = {
    addStreamIfNoneExists: (s: { runtimeId: string; shakaStream: unknown }) => streams.set(s.runtimeId, { ...s, segments: new Map() }),
    getStream: (id: string) => streams.get(id),
    updateStream: (id: string, segments: PmlSegment[], stale: Iterable<string> = []) => {
      const s = streams.get(id)!;
      for (const r of stale) s.segments.delete(r);
      for (const seg of segments) s.segments.set(seg.runtimeId, seg);
      added.push(...segments);
    },
  };
  const m = new SegmentManager({ protocol }, core);
  const stream: { id: number; segmentIndex: null; mediaSequenceTimeMap?: Map<number, number> } = { id: 1, segmentIndex: null };
  m.setStream(stream, "main", 0);
  return { m, stream, added, current: () => streams.get("1")!.segments };
}

async function pmlDashSegments(refs: SegmentReferenceLike[]): Promise<PmlSegment[]> {
  const { m, stream, added } = await pmlSegmentManager("dash");
  m.updateStreamSegments(stream, refs);
  return added;
}

const refArb = fc.record({
  start: fc.double({ min: 0, max: 1e6, noNaN: true }),
  length: fc.double({ min: 0.6, max: 10, noNaN: true }),
  range: fc.option(fc.tuple(fc.nat(1e7), fc.nat(1e6)), { nil: undefined }),
});

describe("DASH segment ids (p2p-media-loader-shaka 2.2.2)", () => {
  it("equal PML's externalId and runtimeId for any start times and byte ranges", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(refArb, { minLength: 1, maxLength: 20 }), async (specs) => {
        let t = specs[0]!.start;
        const refs: SegmentReferenceLike[] = specs.map((s, i) => {
          const start = t;
          t += s.length;
          return {
            getUris: () => [`http://o/seg-${i}.m4s`],
            getStartTime: () => start,
            getEndTime: () => start + s.length,
            getStartByte: () => s.range?.[0] ?? 0,
            getEndByte: () => (s.range ? s.range[0] + s.range[1] : null),
          };
        });
        const pml = await pmlDashSegments(refs);
        const ours = dashSegments(refs);
        expect(ours.segments.map((s) => s.id)).toEqual(pml.map((s) => s.externalId));
        expect(ours.keys).toEqual(pml.map((s) => s.runtimeId));
      }),
      { numRuns: 60 },
    );
  });

  it("the test media's first segments", () => {
    const ref = (start: number): SegmentReferenceLike => ({ getUris: () => ["u"], getStartTime: () => start, getEndTime: () => start + 2, getStartByte: () => 0, getEndByte: () => null });
    expect(dashSegments([ref(0), ref(2), ref(93184 / 48000 + 60)]).segments.map((s) => s.id)).toEqual([0, 4, 123]);
  });
});

describe("HLS segment ids (p2p-media-loader-shaka 2.2.2)", () => {
  it("equal PML's media sequence numbering over a live window that slides", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1000), fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 }), async (first, window, steps) => {
        const ref = (seq: number): SegmentReferenceLike => ({
          getUris: () => [`http://o/seg${seq}.ts`],
          getStartTime: () => seq * 2,
          getEndTime: () => seq * 2 + 2,
          getStartByte: () => 0,
          getEndByte: () => null,
        });
        const pml = await pmlSegmentManager("hls");
        const ours = new HlsSequenceIds();
        // Shaka keeps every media sequence of the stream in its map, oldest first.
        const map = new Map<number, number>();
        let head = first;
        for (const step of [0, ...steps]) {
          head += step;
          for (let s = first; s <= head; s++) if (!map.has(s)) map.set(s, s * 2);
          const refs = Array.from({ length: Math.min(window, head - first + 1) }, (_, i) => ref(head - Math.min(window, head - first + 1) + 1 + i));
          pml.stream.mediaSequenceTimeMap = map;
          pml.m.updateStreamSegments(pml.stream, refs);
          const got = ours.update(refs, lastMediaSequence(map));
          const want = new Map([...pml.current().values()].map((s) => [s.runtimeId, s.externalId]));
          // PML drops as many old segments as it adds new ones (a full window); where both list
          // a segment, the ids agree.
          got.keys.forEach((k, i) => want.has(k) && expect(got.segments[i]!.id).toBe(want.get(k)));
          expect([...want.keys()].every((k) => got.keys.includes(k))).toBe(true);
          // And each is its media sequence number.
          got.segments.forEach((s) => expect(s.id).toBe(s.startTime / 2));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("request keys", () => {
  it("read Range headers as inclusive byte ranges", () => {
    expect(rangeFromHeader("bytes=10-19")).toEqual({ start: 10, end: 19 });
    expect(rangeFromHeader("bytes=10-")).toBeUndefined();
    expect(rangeFromHeader(undefined)).toBeUndefined();
    expect(runtimeKey("u", { start: 1, end: 2 })).toBe("u|1-2");
  });
});
