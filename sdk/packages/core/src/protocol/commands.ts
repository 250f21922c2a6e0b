/**
 * The six P2P Media Loader v2 data-channel commands and their body encoding, and our extension:
 * `ExtensionHello`, which P2P Media Loader ignores (unknown command types fall through its
 * switch), says which extensions a peer speaks; only to a peer that said so do we send the
 * extension's fields (`e` and `q` on a request, `t` and `g` on its answer, `b` on an absent, `g`
 * on an announcement) and
 * commands (`SegmentRetracted`), so PML peers never see them.
 */
import {
  DecodeError,
  ItemType,
  concat,
  decodeInt,
  decodeSimilarIntArray,
  decodeString,
  encodeInt,
  encodeSimilarIntArray,
} from "./serialization.js";

export const CommandType = {
  SegmentsAnnouncement: 0,
  SegmentRequest: 1,
  SegmentData: 2,
  SegmentDataSendingCompleted: 3,
  SegmentAbsent: 4,
  CancelSegmentRequest: 5,
  /** Ours: the extensions the sender speaks (`f`, bits of {@link Extension}). */
  ExtensionHello: 32,
  /** Ours ({@link Extension.Relay}): bytes of segment `i` the sender relayed may be wrong. */
  SegmentRetracted: 33,
} as const;

/** Extension bits of `ExtensionHello.f`. */
export const Extension = {
  /** Byte ranges: a request may carry `e` (its end, exclusive) and its answer then carries `t` (the segment's length). */
  ByteRanges: 1,
  /**
   * Busy answers: a request refused because the sender's uplink is spent (not because it lacks
   * the segment) is answered `SegmentAbsent` with `b`, and the requester may ask again shortly.
   */
  Busy: 2,
  /**
   * Relay: the sender's announcements also list segments it is still receiving (once it knows
   * their length), in `l` and again in `g`, and it serves them as their bytes arrive: its
   * `SegmentData` then carries `g`, and it retracts (`SegmentRetracted`) what it relayed of a segment its own copy of
   * which turned out wrong.
   */
  Relay: 4,
  /**
   * Queued requests: a request for a part with `q` does not replace the upload under way on the
   * channel but waits for its end (at most one waits; a later one replaces it), so that the
   * requester's next part follows the current one without a round trip between them.
   */
  Queue: 8,
} as const;

/**
 * `l`: segments held; `p`: segments being fetched by HTTP; `g` (extension, to peers that speak
 * relay): those of `l` still arriving, relayed as their bytes come.
 */
export type Announcement = { c: 0; l?: number[]; p?: number[]; g?: number[] };
/**
 * `b`: from this byte; `e` (extension): up to this byte, exclusive; `q` (extension): 1 to be
 * served after the upload under way rather than instead of it.
 */
export type SegmentRequest = { c: 1; i: number; r: number; b?: number; e?: number; q?: number };
/**
 * `s`: bytes that follow; `t` (extension, in answer to a request with `e`): the segment's length;
 * `g` (extension): 1 when the sender is still receiving the segment and relays its bytes.
 */
export type SegmentData = { c: 2; i: number; s: number; r: number; t?: number; g?: number };
export type SegmentCompleted = { c: 3; i: number; r: number };
/** `b` (extension): 1 when the sender has the segment but no upload to spare now. */
export type SegmentAbsent = { c: 4; i: number; r: number; b?: number };
export type CancelRequest = { c: 5; i: number; r: number };
export type ExtensionHello = { c: 32; f: number };
export type SegmentRetracted = { c: 33; i: number };
export type PeerCommand =
  | Announcement
  | SegmentRequest
  | SegmentData
  | SegmentCompleted
  | SegmentAbsent
  | CancelRequest
  | ExtensionHello
  | SegmentRetracted;

/** A command with a type we don't know (peers may negotiate extensions); fields kept as decoded. */
export type UnknownCommand = { c: number; unknown: true; fields: Record<string, unknown> };

class BodyWriter {
  private readonly parts: Uint8Array[];
  constructor(type: number) {
    this.parts = [Uint8Array.of(type)];
  }
  int(name: string, value: number): this {
    this.parts.push(Uint8Array.of(name.charCodeAt(0)), encodeInt(value));
    return this;
  }
  ids(name: string, value: readonly number[]): this {
    this.parts.push(Uint8Array.of(name.charCodeAt(0)), encodeSimilarIntArray(value));
    return this;
  }
  bytes(): Uint8Array {
    return concat(this.parts);
  }
}

/** Command body (unframed). Field order matches PML's serializer byte for byte. */
export function encodeCommandBody(cmd: PeerCommand): Uint8Array {
  const w = new BodyWriter(cmd.c);
  switch (cmd.c) {
    case 0:
      if (cmd.l?.length) w.ids("l", cmd.l);
      if (cmd.p?.length) w.ids("p", cmd.p);
      if (cmd.g?.length) w.ids("g", cmd.g);
      break;
    case 1:
      w.int("i", cmd.i).int("r", cmd.r);
      if (cmd.b) w.int("b", cmd.b);
      if (cmd.e !== undefined) w.int("e", cmd.e);
      if (cmd.q) w.int("q", 1);
      break;
    case 2:
      w.int("i", cmd.i).int("s", cmd.s).int("r", cmd.r);
      if (cmd.t !== undefined) w.int("t", cmd.t);
      if (cmd.g) w.int("g", 1);
      break;
    case 3:
    case 5:
      w.int("i", cmd.i).int("r", cmd.r);
      break;
    case 4:
      w.int("i", cmd.i).int("r", cmd.r);
      if (cmd.b) w.int("b", cmd.b);
      break;
    case 32:
      w.int("f", cmd.f);
      break;
    case 33:
      w.int("i", cmd.i);
      break;
  }
  return w.bytes();
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

/** Decodes a command body; throws DecodeError on malformed bytes or missing fields. */
export function decodeCommandBody(body: Uint8Array): PeerCommand | UnknownCommand {
  const type = body[0];
  if (type === undefined) throw new DecodeError("empty command");
  const f: Record<string, unknown> = {};
  let pos = 1;
  while (pos < body.length) {
    const name = String.fromCharCode(body[pos] as number);
    pos++;
    const head = body[pos];
    if (head === undefined) throw new DecodeError("field without value");
    switch (head >> 4) {
      case ItemType.Int: {
        const r = decodeInt(body, pos);
        f[name] = r.value;
        pos = r.next;
        break;
      }
      case ItemType.SimilarIntArray: {
        const r = decodeSimilarIntArray(body, pos);
        f[name] = r.value;
        pos = r.next;
        break;
      }
      case ItemType.String: {
        const r = decodeString(body, pos);
        f[name] = r.value;
        pos = r.next;
        break;
      }
      default:
        throw new DecodeError(`unknown item type ${head >> 4}`);
    }
  }
  const need = (...names: string[]) => {
    for (const n of names) if (!isInt(f[n])) throw new DecodeError(`command ${type}: missing ${n}`);
  };
  switch (type) {
    case 0: {
      const cmd: Announcement = { c: 0 };
      if (Array.isArray(f.l)) cmd.l = f.l as number[];
      if (Array.isArray(f.p)) cmd.p = f.p as number[];
      if (Array.isArray(f.g)) cmd.g = f.g as number[];
      return cmd;
    }
    case 1: {
      need("i", "r");
      const cmd: SegmentRequest = { c: 1, i: f.i as number, r: f.r as number };
      if (isInt(f.b) && f.b > 0) cmd.b = f.b;
      if (isInt(f.e) && f.e > (cmd.b ?? 0)) cmd.e = f.e;
      if (isInt(f.q) && f.q > 0) cmd.q = 1;
      return cmd;
    }
    case 2: {
      need("i", "s", "r");
      const cmd: SegmentData = { c: 2, i: f.i as number, s: f.s as number, r: f.r as number };
      if (isInt(f.t) && f.t >= 0) cmd.t = f.t;
      if (isInt(f.g) && f.g > 0) cmd.g = 1;
      return cmd;
    }
    case 3:
    case 5:
      need("i", "r");
      return { c: type, i: f.i as number, r: f.r as number } as SegmentCompleted | CancelRequest;
    case 4: {
      need("i", "r");
      const cmd: SegmentAbsent = { c: 4, i: f.i as number, r: f.r as number };
      if (isInt(f.b) && f.b > 0) cmd.b = 1;
      return cmd;
    }
    case 32:
      return { c: 32, f: isInt(f.f) && f.f >= 0 ? f.f : 0 };
    case 33:
      need("i");
      return { c: 33, i: f.i as number };
    default:
      return { c: type, unknown: true, fields: f };
  }
}
