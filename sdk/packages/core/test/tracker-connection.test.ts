import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TrackerConnection } from "../src/tracker/tracker-connection.js";
import { Logger } from "../src/logger.js";

/** A scripted WebSocket: tests decide which URLs accept connections. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  static reachable = new Set<string>();
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
    setTimeout(() => {
      if (FakeSocket.reachable.has(url)) {
        this.readyState = 1;
        this.onopen?.();
      } else {
        this.readyState = 3;
        this.onerror?.();
        this.onclose?.({ code: 1006 });
      }
    }, 10);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code: 1000 });
  }
  /** The server goes away. */
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
}

const H = "h".repeat(20);
const P = "p".repeat(20);

describe("TrackerConnection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.instances = [];
    FakeSocket.reachable = new Set();
    (globalThis as unknown as { WebSocket: unknown }).WebSocket = FakeSocket;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fails over from main to backup, announces there with offers, and returns to main later", async () => {
    FakeSocket.reachable.add("ws://backup");
    const events: string[] = [];
    const conn = new TrackerConnection(["ws://main", "ws://backup"], new Logger("none"), {
      connected: (u) => events.push(`up ${u}`),
      disconnected: (u, r) => events.push(`down ${u} ${r}`),
      failure: () => {},
    });
    conn.join({
      infoHash: H,
      peerId: P,
      makeOffers: async () => [{ offer_id: "o".repeat(20), offer: { type: "offer", sdp: "v=0" } }],
      onOffer: () => {},
      onAnswer: () => {},
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(events[0]).toBe("down ws://main connection failed");
    expect(events).toContain("up ws://backup");
    const backup = FakeSocket.instances.find((s) => s.url === "ws://backup")!;
    const first = JSON.parse(backup.sent[0]!);
    expect(first).toMatchObject({ action: "announce", info_hash: H, peer_id: P, event: "started", numwant: 1 });
    expect(first.offers).toHaveLength(1);
    // The backup dies while main is back: next attempt goes to main.
    FakeSocket.reachable.add("ws://main");
    backup.drop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(events.at(-1)).toBe("up ws://main");
    expect(conn.url).toBe("ws://main");
    conn.destroy();
  });

  it("routes relayed offers by info hash and re-announces on the tracker's interval", async () => {
    FakeSocket.reachable.add("ws://t");
    const offers: string[] = [];
    const conn = new TrackerConnection(["ws://t"], new Logger("none"), { connected: () => {}, disconnected: () => {}, failure: () => {} });
    conn.join({ infoHash: H, peerId: P, makeOffers: async () => [], onOffer: (peer, id, sdp) => offers.push(`${peer}/${id}/${sdp}`), onAnswer: () => {} });
    await vi.advanceTimersByTimeAsync(100);
    const ws = FakeSocket.instances[0]!;
    ws.onmessage?.({ data: JSON.stringify({ action: "announce", info_hash: H, interval: 15 }) });
    ws.onmessage?.({ data: JSON.stringify({ action: "announce", info_hash: H, peer_id: "q".repeat(20), offer_id: "x".repeat(20), offer: { type: "offer", sdp: "s" } }) });
    ws.onmessage?.({ data: JSON.stringify({ action: "announce", info_hash: "z".repeat(20), peer_id: "q".repeat(20), offer_id: "x".repeat(20), offer: { type: "offer", sdp: "s" } }) });
    expect(offers).toEqual([`${"q".repeat(20)}/${"x".repeat(20)}/s`]);
    const before = ws.sent.length;
    await vi.advanceTimersByTimeAsync(15_500);
    expect(ws.sent.length).toBe(before + 1);
    expect(JSON.parse(ws.sent.at(-1)!).event).toBeUndefined();
    conn.destroy();
  });
});
