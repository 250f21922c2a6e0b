/**
 * PML v2 message framing: a command is `cstr body cend`, or when longer than the max message
 * size, `cstr..dend`, `dstr..dend`*, `dstr..cend` chunks of equal size. Anything else on the
 * channel is raw segment bytes.
 */
import { concat } from "./serialization.js";

const FRAME = 4;
const CSTR = [0x63, 0x73, 0x74, 0x72];
const CEND = [0x63, 0x65, 0x6e, 0x64];
const DSTR = [0x64, 0x73, 0x74, 0x72];
const DEND = [0x64, 0x65, 0x6e, 0x64];

export const DEFAULT_MAX_MESSAGE_SIZE = 65535;

function matchAt(buf: Uint8Array, at: number, tag: readonly number[]): boolean {
  if (at < 0 || at + FRAME > buf.length) return false;
  for (let i = 0; i < FRAME; i++) if (buf[at + i] !== tag[i]) return false;
  return true;
}

/** PML's heuristic: starts with cstr|dstr and ends with cend|dend. */
export function isCommandChunk(buf: Uint8Array): boolean {
  if (buf.length < 2 * FRAME) return false;
  const end = buf.length - FRAME;
  return (matchAt(buf, 0, CSTR) || matchAt(buf, 0, DSTR)) && (matchAt(buf, end, CEND) || matchAt(buf, end, DEND));
}

function frame(body: Uint8Array, start: readonly number[], end: readonly number[]): Uint8Array {
  return concat([Uint8Array.from(start), body, Uint8Array.from(end)]);
}

/** Splits a command body into framed messages exactly as PML's BinaryCommandCreator does. */
export function frameCommand(body: Uint8Array, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE): Uint8Array[] {
  if (body.length + 2 * FRAME <= maxMessageSize) return [frame(body, CSTR, CEND)];
  let count = Math.ceil(body.length / maxMessageSize);
  if (Math.ceil(body.length / count) + 2 * FRAME > maxMessageSize) count++;
  const size = Math.ceil(body.length / count);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = body.subarray(i * size, Math.min(body.length, (i + 1) * size));
    const start = i === 0 ? CSTR : DSTR;
    const end = i === count - 1 ? CEND : DEND;
    out.push(frame(chunk, start, end));
  }
  return out;
}

export type JoinResult = { kind: "partial" } | { kind: "complete"; body: Uint8Array } | { kind: "error"; reason: "no-first-chunk" | "incomplete-joining" };

/** Reassembles chunked commands. Feed only messages for which isCommandChunk() is true. */
export class CommandJoiner {
  private parts: Uint8Array[] = [];

  push(chunk: Uint8Array): JoinResult {
    const first = matchAt(chunk, 0, CSTR);
    if (!this.parts.length && !first) return { kind: "error", reason: "no-first-chunk" };
    if (this.parts.length && first) {
      this.parts = [];
      return { kind: "error", reason: "incomplete-joining" };
    }
    this.parts.push(chunk.subarray(FRAME, chunk.length - FRAME));
    if (!matchAt(chunk, chunk.length - FRAME, CEND)) return { kind: "partial" };
    const body = concat(this.parts);
    this.parts = [];
    return { kind: "complete", body };
  }
}
