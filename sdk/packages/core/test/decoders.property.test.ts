/**
 * Property tests of the decoders that read bytes and text from outside: P2P Media Loader
 * commands and their framing, tracker messages, segment digest manifests. What they decode
 * round-trips; on garbage they throw only their own error type (or, for tracker messages,
 * never throw). The Rust decoders of the same inputs are fuzzed (docs/testing.md, "Fuzzing").
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import {
  CommandJoiner,
  DecodeError,
  decodeCommandBody,
  encodeCommandBody,
  encodeInt,
  encodeSimilarIntArray,
  encodeString,
  frameCommand,
  isCommandChunk,
  type PeerCommand,
} from "../src/protocol/index.js";
import { answerMessage, announceMessage, parseTrackerMessage, statsMessage } from "../src/tracker/messages.js";
import { ManifestError, expectedDigest, manifestKey, parseDigestManifest } from "../src/integrity.js";

// Thousands of runs each: seconds on a busy 2-core machine, more than the default 5 s limit.
vi.setConfig({ testTimeout: 120_000 });

/** Throws unless `fn` returns, or throws an instance of `type`. */
function onlyThrows(type: new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`threw ${String(err)}, not a ${type.name}`, { cause: err });
  }
}

const safeInt = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const segmentId = fc.integer({ min: 0, max: 2 ** 40 });

/** Ids of an announcement: few of many groups, or many (more than a group holds) of a few. */
const announced = fc.oneof(fc.array(segmentId, { maxLength: 200 }), fc.array(fc.nat(700), { maxLength: 900 }));

const command: fc.Arbitrary<PeerCommand> = fc.oneof(
  fc.record({ c: fc.constant(0 as const), l: announced, p: announced }),
  fc.record({ c: fc.constant(1 as const), i: safeInt, r: safeInt, b: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }) }),
  fc.record({ c: fc.constant(2 as const), i: safeInt, s: safeInt, r: safeInt }),
  fc.record({ c: fc.constantFrom(3 as const, 4 as const, 5 as const), i: safeInt, r: safeInt }),
);

/** What a command decodes to: announced ids come back grouped by their high bits, and empty lists and `b` = 0 are not sent. */
function normal(cmd: PeerCommand): PeerCommand {
  if (cmd.c === 0) {
    const out: PeerCommand = { c: 0 };
    if (cmd.l?.length) out.l = [...cmd.l].sort((a, b) => a - b);
    if (cmd.p?.length) out.p = [...cmd.p].sort((a, b) => a - b);
    return out;
  }
  if (cmd.c === 1 && !cmd.b) return { c: 1, i: cmd.i, r: cmd.r };
  return cmd;
}

/** Bytes that look like a command body: a type, then named items, some valid, some not. */
const commandLike = fc
  .tuple(
    fc.integer({ min: 0, max: 7 }),
    fc.array(
      fc.tuple(
        fc.constantFrom(..."ilprsbx".split("")),
        fc.oneof(
          safeInt.map(encodeInt),
          fc.array(segmentId, { maxLength: 20 }).map(encodeSimilarIntArray),
          fc.string({ maxLength: 20 }).map(encodeString),
          fc.uint8Array({ maxLength: 12 }),
        ),
      ),
      { maxLength: 6 },
    ),
    fc.nat(40),
  )
  .map(([type, items, cut]) => {
    const parts = [Uint8Array.of(type), ...items.flatMap(([n, v]) => [Uint8Array.of(n.charCodeAt(0)), v])];
    const all = Buffer.concat(parts);
    // Sometimes cut short, as a message lost its end.
    return new Uint8Array(cut < 30 ? all : all.subarray(0, all.length - (cut - 30)));
  });

describe("property: P2P Media Loader commands", () => {
  it("every command decodes from its encoding", () => {
    fc.assert(
      fc.property(command, (cmd) => {
        expect(normal(decodeCommandBody(encodeCommandBody(cmd)) as PeerCommand)).toEqual(normal(cmd));
      }),
      { numRuns: 2000 },
    );
  });

  it("garbage and damaged bodies throw DecodeError or decode to well-formed commands", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), commandLike), (body) => {
        onlyThrows(DecodeError, () => {
          const cmd = decodeCommandBody(body);
          if ("unknown" in cmd) return;
          for (const [name, v] of Object.entries(cmd)) {
            if (name === "l" || name === "p") expect(Array.isArray(v)).toBe(true);
            else expect(Number.isSafeInteger(v), `${name} = ${String(v)}`).toBe(true);
          }
          // A known command other than an announcement (whose ids may be any 55-bit number) encodes again.
          if (cmd.c !== 0) expect(decodeCommandBody(encodeCommandBody(cmd))).toEqual(normal(cmd));
        });
      }),
      { numRuns: 5000 },
    );
  });

  // Data channels carry messages of 16 KiB or more; PML splits as we do, which fits every
  // body of up to size × (size − 8) / 8 bytes.
  it("framed commands fit the message size and join back into the body", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 256, max: 4096 }), (body, max) => {
        const messages = frameCommand(body, max);
        const joiner = new CommandJoiner();
        messages.forEach((m, i) => {
          expect(m.length).toBeLessThanOrEqual(max);
          expect(isCommandChunk(m)).toBe(true);
          const r = joiner.push(m);
          if (i < messages.length - 1) expect(r.kind).toBe("partial");
          else expect(r).toEqual({ kind: "complete", body });
        });
      }),
      { numRuns: 500 },
    );
  });

  it("the joiner takes any sequence of chunks without throwing, and recovers for the next command", () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.tuple(fc.constantFrom("cstr", "dstr"), fc.uint8Array({ maxLength: 8 }), fc.constantFrom("cend", "dend")).map(([a, b, c]) =>
        Buffer.concat([Buffer.from(a), b, Buffer.from(c)]),
      ),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }).map((cs) => cs.map((c) => new Uint8Array(c))), fc.uint8Array({ maxLength: 16 }), (chunks, body) => {
        const joiner = new CommandJoiner();
        for (const c of chunks) if (isCommandChunk(c)) joiner.push(c);
        // After any garbage, a whole command is reassembled (at worst after one "incomplete-joining").
        const [whole] = frameCommand(body);
        let r = joiner.push(whole as Uint8Array);
        if (r.kind === "error") r = joiner.push(whole as Uint8Array);
        expect(r).toEqual({ kind: "complete", body });
      }),
      { numRuns: 2000 },
    );
  });
});

const id20 = fc.string({ minLength: 20, maxLength: 20 });

describe("property: tracker messages", () => {
  it("never throw, whatever the text", () => {
    const text = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            action: fc.oneof(fc.constant("announce"), fc.string()),
            info_hash: fc.oneof(id20, fc.jsonValue()),
            peer_id: fc.oneof(id20, fc.jsonValue()),
            offer_id: fc.oneof(fc.string(), fc.jsonValue()),
            offer: fc.oneof(fc.record({ type: fc.constant("offer"), sdp: fc.string() }), fc.jsonValue()),
            answer: fc.jsonValue(),
            interval: fc.jsonValue(),
            "failure reason": fc.jsonValue(),
            "warning message": fc.jsonValue(),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(text, (t) => {
        const ev = parseTrackerMessage(t);
        expect(["announce-response", "offer", "answer", "failure", "ignored"]).toContain(ev.kind);
        if ("infoHash" in ev && ev.infoHash !== undefined) expect(ev.infoHash).toHaveLength(20);
        if (ev.kind === "offer" || ev.kind === "answer") expect(ev.peerId).toHaveLength(20);
      }),
      { numRuns: 1500 },
    );
  });

  it("an answer we send is read back as the same answer", () => {
    fc.assert(
      fc.property(id20, id20, id20, fc.string(), fc.string(), (infoHash, peerId, toPeerId, offerId, sdp) => {
        expect(parseTrackerMessage(answerMessage({ infoHash, peerId, toPeerId, offerId, sdp }))).toEqual({
          kind: "answer",
          infoHash,
          peerId,
          offerId,
          sdp,
        });
      }),
    );
  });

  it("our announces and stats reports are JSON the tracker reads, never a signal to a viewer", () => {
    fc.assert(
      fc.property(id20, id20, fc.array(fc.record({ offer_id: id20, offer: fc.record({ type: fc.constant("offer" as const), sdp: fc.string() }) }), { maxLength: 3 }), (infoHash, peerId, offers) => {
        const announce = JSON.parse(announceMessage({ infoHash, peerId, offers }));
        expect(announce).toMatchObject({ action: "announce", info_hash: infoHash, peer_id: peerId, numwant: offers.length });
        const stats = statsMessage({ infoHash, peerId, channel: "c", httpDown: 1.6, p2pDown: 0, p2pUp: 0, peers: 0, rebuffers: 0 });
        expect(parseTrackerMessage(stats)).toEqual({ kind: "ignored", why: "action stats" });
      }),
      { numRuns: 300 },
    );
  });
});

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const fileName = fc.string({ minLength: 1, maxLength: 24 }).filter((n) => n !== "." && n !== "..");
const range = fc.tuple(fc.nat(1e9), fc.nat(1e6)).map(([first, len]) => ({ start: first, end: first + len }));

describe("property: segment digest manifests", () => {
  it("throw only ManifestError, whatever the JSON", () => {
    const manifestLike = fc.dictionary(
      fc.string(),
      fc.oneof(hex64, fc.dictionary(fc.oneof(fc.string(), range.map((r) => `${r.start}-${r.end}`)), fc.oneof(hex64, fc.jsonValue())), fc.jsonValue()),
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), manifestLike, fc.anything()), (json) => {
        onlyThrows(ManifestError, () => parseDigestManifest(json));
      }),
      { numRuns: 2000 },
    );
  });

  it("a manifest gives each segment's digest by its URL, whole or by byte range", () => {
    const entry = fc.oneof(hex64, fc.array(fc.tuple(range, hex64), { minLength: 1, maxLength: 4 }));
    fc.assert(
      fc.property(fc.dictionary(fileName, entry, { minKeys: 1, maxKeys: 8 }), fc.boolean(), (files, upper) => {
        const json = Object.fromEntries(
          Object.entries(files).map(([name, e]) => [
            name,
            typeof e === "string" ? (upper ? e.toUpperCase() : e) : Object.fromEntries(e.map(([r, d]) => [`${r.start}-${r.end}`, d])),
          ]),
        );
        const manifest = parseDigestManifest(json);
        for (const [name, e] of Object.entries(files)) {
          const url = `https://cdn.example/v/${encodeURIComponent(name)}?token=1#t`;
          expect(manifestKey(url)).toBe(name);
          if (typeof e === "string") {
            expect(expectedDigest(manifest, url)).toBe(e);
            expect(expectedDigest(manifest, url, { start: 0, end: 1 })).toBeUndefined();
          } else {
            // The last digest given for a range is the one that counts, as in JSON.
            const byRange = new Map(e.map(([r, d]) => [`${r.start}-${r.end}`, d]));
            for (const [r] of e) expect(expectedDigest(manifest, url, r)).toBe(byRange.get(`${r.start}-${r.end}`));
            expect(expectedDigest(manifest, url)).toBeUndefined();
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("manifestKey never throws, whatever the URL", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })), (url) => {
        expect(typeof manifestKey(url)).toBe("string");
      }),
      { numRuns: 2000 },
    );
  });
});
