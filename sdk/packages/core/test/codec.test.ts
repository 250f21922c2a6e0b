import { describe, expect, it } from "vitest";
import {
  CommandJoiner,
  decodeCommandBody,
  decodeSimilarIntArray,
  encodeCommand,
  encodeCommandBody,
  encodeInt,
  decodeInt,
  encodeSimilarIntArray,
  frameCommand,
  isCommandChunk,
  type PeerCommand,
} from "../src/protocol/index.js";
import { pmlCommands, pmlVersion } from "./pml.js";

const hex = (parts: Uint8Array[]) => parts.map((p) => Buffer.from(p).toString("hex")).join("|");
const ascii = (s: string) => Buffer.from(s, "ascii").toString("hex");
const vec = (s: string) => s.replace(/cstr/g, ascii("cstr")).replace(/cend/g, ascii("cend")).replace(/\s/g, "");

describe("codec: reference vectors", () => {
  it("empty announcement", () => {
    expect(hex(encodeCommand({ c: 0 }))).toBe("6373747200" + "63656e64");
  });
  it("announcement with loaded and loading ids", () => {
    expect(hex(encodeCommand({ c: 0, l: [1, 2, 3, 300, 301], p: [5] }))).toBe(
      vec("cstr 00 6c 10 02 0103 010203 020102 2c2d 70 10 01 0101 05 cend"),
    );
  });
  it("segment request", () => {
    expect(hex(encodeCommand({ c: 1, i: 42, r: 7 }))).toBe(vec("cstr 01 69 012a 72 0107 cend"));
    expect(hex(encodeCommand({ c: 1, i: 42, r: 7, b: 70000 }))).toBe(vec("cstr 01 69 012a 72 0107 62 03011170 cend"));
  });
  it("segment data", () => {
    expect(hex(encodeCommand({ c: 2, i: 42, r: 7, s: 1234567 }))).toBe(vec("cstr 02 69 012a 73 0312d687 72 0107 cend"));
  });
  it("ints: zero, sign bit, negatives round-trip", () => {
    expect(Buffer.from(encodeInt(0)).toString("hex")).toBe("0100");
    expect(Buffer.from(encodeInt(127)).toString("hex")).toBe("017f");
    expect(Buffer.from(encodeInt(128)).toString("hex")).toBe("020080");
    for (const n of [0, 1, -1, 255, -256, 65535, 2 ** 40 + 3, -(2 ** 31)]) {
      expect(decodeInt(encodeInt(n), 0).value).toBe(n);
    }
  });
});

describe("codec: against P2P Media Loader's serializer", () => {
  const commands: PeerCommand[] = [
    { c: 0 },
    { c: 0, l: [0, 1, 2, 255, 256, 1000, 70000], p: [3, 4] },
    { c: 0, p: [9] },
    { c: 1, i: 0, r: 0 },
    { c: 1, i: 123456789, r: 999, b: 65536 },
    { c: 2, i: 5, s: 3_000_000, r: 17 },
    { c: 3, i: 5, r: 17 },
    { c: 4, i: 77, r: 1 },
    { c: 5, i: 2 ** 33, r: 500 },
  ];
  it(`uses PML ${pmlVersion}`, () => expect(pmlVersion).toBe("2.3.1"));
  it("produces identical bytes and decodes PML's bytes", async () => {
    const pml = await pmlCommands();
    for (const cmd of commands) {
      const ours = encodeCommand(cmd);
      const theirs = pml.serializePeerCommand(cmd, 65535);
      expect(hex(ours)).toBe(hex(theirs));
      expect(pml.isCommandChunk(ours[0]!)).toBe(true);
      const back = pml.deserializeCommand(ours[0]!.subarray(4, ours[0]!.length - 4));
      expect(back).toEqual(cmd.c === 0 ? { c: 0, ...cmd } : cmd);
      expect(decodeCommandBody(theirs[0]!.subarray(4, theirs[0]!.length - 4))).toEqual(cmd);
    }
  });
  it("our extension's command and fields decode in PML without error (it ignores them) and round-trip in ours", async () => {
    const pml = await pmlCommands();
    const cmds: PeerCommand[] = [
      { c: 32, f: 15 },
      { c: 1, i: 7, r: 3, b: 100, e: 5000 },
      { c: 1, i: 7, r: 3, b: 100, e: 5000, q: 1 },
      { c: 2, i: 7, s: 4900, r: 3, t: 9000 },
      { c: 2, i: 7, s: 4900, r: 3, t: 9000, g: 1 },
      { c: 2, i: 7, s: 9000, r: 3, g: 1 },
      { c: 4, i: 7, r: 3, b: 1 },
      { c: 33, i: 7 },
      { c: 0, l: [5, 6, 7], g: [7] },
    ];
    for (const cmd of cmds) {
      const body = encodeCommandBody(cmd);
      expect(() => pml.deserializeCommand(body)).not.toThrow();
      expect(decodeCommandBody(body)).toEqual(cmd);
    }
    // A retraction names its segment; without one it is malformed.
    expect(() => decodeCommandBody(Uint8Array.of(33))).toThrow(/missing i/);
    // An end at or before the start is no part: dropped, the request is PML's own.
    expect(decodeCommandBody(encodeCommandBody({ c: 1, i: 7, r: 3, b: 100, e: 100 }))).toEqual({ c: 1, i: 7, r: 3, b: 100 });
  });
  it("chunks large commands like PML and PML joins ours", async () => {
    const pml = await pmlCommands();
    const ids = Array.from({ length: 5000 }, (_, k) => k * 3);
    const cmd: PeerCommand = { c: 0, l: ids };
    for (const max of [200, 1000, 4096]) {
      const ours = encodeCommand(cmd, max);
      expect(ours.length).toBeGreaterThan(1);
      expect(hex(ours)).toBe(hex(pml.serializePeerCommand(cmd, max)));
      for (const m of ours) expect(m.length).toBeLessThanOrEqual(max);
      let joined: Uint8Array | undefined;
      const joiner = new pml.BinaryCommandChunksJoiner((b) => (joined = b));
      for (const m of ours) joiner.addCommandChunk(m);
      expect(pml.deserializeCommand(joined!)).toEqual(cmd);
      // PML's own chunks join in ours
      const ourJoiner = new CommandJoiner();
      let result;
      for (const m of ours) {
        expect(isCommandChunk(m)).toBe(true);
        result = ourJoiner.push(m);
      }
      expect(result!.kind).toBe("complete");
      if (result!.kind === "complete") expect(decodeCommandBody(result.body)).toEqual(cmd);
    }
  });
  it("never emits more than 255 ids per group, and PML decodes all of them", async () => {
    const pml = await pmlCommands();
    const ids = Array.from({ length: 600 }, (_, k) => k); // 0..255 share id>>8 == 0
    const body = encodeCommandBody({ c: 0, l: ids });
    expect(pml.deserializeCommand(body)).toEqual({ c: 0, l: ids });
    // PML's own encoder breaks here: 256 ids in one group lose their count.
    const theirs = pml.serializePeerCommand({ c: 0, l: ids }, 65535)[0]!;
    expect(() => {
      const d = pml.deserializeCommand(theirs.subarray(4, theirs.length - 4)) as { l: number[] };
      if (d.l.length !== ids.length) throw new Error("lost ids");
    }).toThrow();
    const arr = encodeSimilarIntArray(Array.from({ length: 256 }, (_, k) => k));
    expect(arr[1]).toBe(2); // two groups
    expect(decodeSimilarIntArray(arr, 0).value).toHaveLength(256);
  });
});

describe("framing", () => {
  it("joiner reports a chunk without its first part", () => {
    const parts = frameCommand(new Uint8Array(300).fill(1), 100);
    const j = new CommandJoiner();
    expect(j.push(parts[1]!)).toEqual({ kind: "error", reason: "no-first-chunk" });
    expect(j.push(parts[0]!).kind).toBe("partial");
    expect(j.push(parts[0]!)).toEqual({ kind: "error", reason: "incomplete-joining" });
  });
  it("segment payload is not a command", () => {
    expect(isCommandChunk(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBe(false);
  });
  it("rejects malformed bodies", () => {
    expect(() => decodeCommandBody(Uint8Array.of(1, 0x69, 0x05, 1))).toThrow();
    expect(() => decodeCommandBody(Uint8Array.of(1, 0x69, 0x01, 1))).toThrow(/missing r/);
    expect(() => decodeCommandBody(Uint8Array.of(1, 0x69, 0x30))).toThrow();
    expect(decodeCommandBody(Uint8Array.of(9, 0x78, 0x01, 0x05))).toEqual({ c: 9, unknown: true, fields: { x: 5 } });
  });
});
