// Segment digest manifests (PeerTube's segments-sha256.json format) and their lookup, and the
// manifest cache: absent manifests, live refetches, one fetch at a time.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import crypto from "node:crypto";
import { expectedDigest, manifestKey, parseDigestManifest, sha256Hex } from "../src/integrity.js";
import { DigestManifests } from "../src/digests.js";
import { Logger } from "../src/logger.js";

const H = (c: string) => c.repeat(64);

describe("digest manifests", () => {
  it("reads whole-file digests and byte-range digests, as PeerTube publishes them", () => {
    const m = parseDigestManifest({
      "seg_000.ts": H("a"),
      "video-720.mp4": { "0-999": H("b"), "1000-1999": H("C") },
    });
    expect(expectedDigest(m, "https://cdn/x/seg_000.ts?seq=40")).toBe(H("a"));
    expect(expectedDigest(m, "https://cdn/x/video-720.mp4", { start: 1000, end: 1999 })).toBe(H("c"));
    expect(expectedDigest(m, "https://cdn/x/video-720.mp4", { start: 0, end: 1999 })).toBeUndefined();
    expect(expectedDigest(m, "https://cdn/x/video-720.mp4")).toBeUndefined();
    expect(expectedDigest(m, "https://cdn/x/seg_000.ts", { start: 0, end: 9 })).toBeUndefined();
    expect(expectedDigest(m, "https://cdn/x/seg_001.ts")).toBeUndefined();
  });

  it("knows a segment by its decoded file name, without query or fragment", () => {
    expect(manifestKey("https://cdn/a/b/seg%20one.ts?x=1#t")).toBe("seg one.ts");
    expect(manifestKey("/live/seg_3.ts?seq=3")).toBe("seg_3.ts");
  });

  it("refuses what is not a manifest, saying why", () => {
    expect(() => parseDigestManifest([])).toThrow(/JSON object/);
    expect(() => parseDigestManifest({ a: "xyz" })).toThrow(/not a SHA-256/);
    expect(() => parseDigestManifest({ a: { "9-1": H("a") } })).toThrow(/byte range/);
    expect(() => parseDigestManifest({ a: { "0-1": 5 } })).toThrow(/not a string/);
    expect(() => parseDigestManifest({ a: 7 })).toThrow(/expected a digest/);
  });

  it("property: any JSON either parses or throws an Error, never anything else", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseDigestManifest(v);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("hashes as SHA-256 does", async () => {
    const data = new Uint8Array(100_000).map((_, i) => i * 13);
    expect(await sha256Hex(data)).toBe(crypto.createHash("sha256").update(data).digest("hex"));
  });
});

describe("DigestManifests", () => {
  function setUp(responses: (() => unknown)[]) {
    let now = 0;
    const fetched: string[] = [];
    const m = new DigestManifests(
      new Logger("none"),
      async (url) => {
        fetched.push(url);
        const r = responses.shift();
        if (!r) throw new Error("HTTP 404");
        return r();
      },
      () => now,
    );
    return { m, fetched, advance: (ms: number) => (now += ms) };
  }

  it("no manifest: nothing to check, and it is asked for again only after a while", async () => {
    const { m, fetched, advance } = setUp([]);
    expect(await m.lookup("http://o/s.json", "http://o/a.ts")).toEqual({ kind: "none" });
    expect(await m.lookup("http://o/s.json", "http://o/b.ts")).toEqual({ kind: "none" });
    expect(fetched.length).toBe(1);
    advance(31_000);
    await m.lookup("http://o/s.json", "http://o/a.ts");
    expect(fetched.length).toBe(2);
  });

  it("a live segment the manifest does not list yet makes one refetch, at most one a second", async () => {
    const { m, fetched, advance } = setUp([() => ({ "a.ts": H("a") }), () => ({ "a.ts": H("a"), "b.ts": H("b") })]);
    expect(await m.lookup("u", "a.ts")).toEqual({ kind: "digest", sha256: H("a") });
    expect(await m.lookup("u", "b.ts")).toEqual({ kind: "unlisted" }); // fetched just now: no refetch
    advance(1000);
    expect(await m.lookup("u", "b.ts")).toEqual({ kind: "digest", sha256: H("b") });
    expect(fetched.length).toBe(2);
  });

  it("lookups at the same moment share one fetch", async () => {
    const { m, fetched } = setUp([() => ({ "a.ts": H("a") })]);
    const all = await Promise.all([1, 2, 3].map(() => m.lookup("u", "a.ts")));
    expect(all.every((r) => r.kind === "digest")).toBe(true);
    expect(fetched.length).toBe(1);
  });

  it("a manifest that becomes unreadable keeps the last good one", async () => {
    const { m, advance } = setUp([() => ({ "a.ts": H("a") }), () => "garbage"]);
    await m.lookup("u", "a.ts");
    advance(2000);
    expect(await m.lookup("u", "z.ts")).toEqual({ kind: "unlisted" });
    expect(await m.lookup("u", "a.ts")).toEqual({ kind: "digest", sha256: H("a") });
  });
});
