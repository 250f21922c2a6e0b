import { describe, expect, it } from "vitest";
import { announceMessage, answerMessage, parseTrackerMessage, reconnectDelay, statsBeaconUrl, statsMessage, randomOfferId } from "../src/tracker/messages.js";
import { MemoryStorage } from "../src/storage.js";
import { trackerGroups } from "../src/config.js";

describe("tracker messages", () => {
  it("announce carries offers and the started event", () => {
    const m = JSON.parse(announceMessage({ infoHash: "h".repeat(20), peerId: "p".repeat(20), offers: [{ offer_id: "o".repeat(20), offer: { type: "offer", sdp: "v=0" } }], event: "started" }));
    expect(m).toMatchObject({ action: "announce", info_hash: "h".repeat(20), peer_id: "p".repeat(20), numwant: 1, event: "started" });
    expect(m.offers[0].offer).toEqual({ type: "offer", sdp: "v=0" });
  });
  it("answer goes to the offering peer with its offer id", () => {
    const m = JSON.parse(answerMessage({ infoHash: "h".repeat(20), peerId: "p".repeat(20), toPeerId: "q".repeat(20), offerId: "o".repeat(20), sdp: "x" }));
    expect(m).toEqual({ action: "announce", info_hash: "h".repeat(20), peer_id: "p".repeat(20), to_peer_id: "q".repeat(20), offer_id: "o".repeat(20), answer: { type: "answer", sdp: "x" } });
  });
  it("parses relayed offers, answers, responses and failures", () => {
    const h = "h".repeat(20), p = "p".repeat(20), o = "\u00ff".repeat(20);
    expect(parseTrackerMessage(JSON.stringify({ action: "announce", info_hash: h, peer_id: p, offer_id: o, offer: { type: "offer", sdp: "s" } }))).toEqual({ kind: "offer", infoHash: h, peerId: p, offerId: o, sdp: "s" });
    expect(parseTrackerMessage(JSON.stringify({ action: "announce", info_hash: h, peer_id: p, offer_id: o, answer: { type: "answer", sdp: "a" } })).kind).toBe("answer");
    expect(parseTrackerMessage(JSON.stringify({ action: "announce", info_hash: h, interval: 120, complete: 1, incomplete: 2 }))).toMatchObject({ kind: "announce-response", interval: 120, complete: 1 });
    expect(parseTrackerMessage(JSON.stringify({ "failure reason": "bad" }))).toMatchObject({ kind: "failure", reason: "bad" });
    expect(parseTrackerMessage("{oops").kind).toBe("ignored");
    expect(parseTrackerMessage(JSON.stringify({ action: "announce", info_hash: "short" })).kind).toBe("ignored");
  });
  it("stats report follows the tracker contract", () => {
    expect(JSON.parse(statsMessage({ infoHash: "h".repeat(20), peerId: "p".repeat(20), channel: "http://o/live/x.m3u8", httpDown: 10.4, p2pDown: 20, p2pUp: 30, peers: 2, rebuffers: 1 }))).toEqual({
      action: "stats", info_hash: "h".repeat(20), peer_id: "p".repeat(20), channel: "http://o/live/x.m3u8", http_down: 10, p2p_down: 20, p2p_up: 30, peers: 2, rebuffers: 1,
      errors_http: 0, errors_peer: 0, errors_superpeer: 0, bad_segments: 0, banned_peers: 0,
    });
    const q = JSON.parse(statsMessage({ infoHash: "h".repeat(20), peerId: "p".repeat(20), channel: "c", httpDown: 0, p2pDown: 0, p2pUp: 0, peers: 0, rebuffers: 0, errorsHttp: 1, errorsPeer: 2, errorsSuperPeer: 3, badSegments: 4, bannedPeers: 5 }));
    expect([q.errors_http, q.errors_peer, q.errors_superpeer, q.bad_segments, q.banned_peers]).toEqual([1, 2, 3, 4, 5]);
    expect(statsBeaconUrl("wss://t.example/announce")).toBe("https://t.example/stats");
    expect(statsBeaconUrl("ws://127.0.0.1:8000")).toBe("http://127.0.0.1:8000/stats");
  });
  it("reconnect backoff grows, is capped and jittered", () => {
    expect(reconnectDelay(0, () => 0)).toBe(500);
    expect(reconnectDelay(0, () => 1)).toBe(1000);
    expect(reconnectDelay(3, () => 0.5)).toBe(6000);
    expect(reconnectDelay(50, () => 1)).toBe(30000);
    expect(randomOfferId()).toMatch(/^[A-Za-z0-9]{20}$/);
  });
  it("tracker groups: signalConfig is one failover group, token appended", () => {
    expect(trackerGroups({ signalConfig: { main: "ws://a", backup: "ws://b" }, announce: ["ws://c"], token: "t 1" })).toEqual([["ws://a?token=t%201", "ws://b?token=t%201"], ["ws://c?token=t%201"]]);
    expect(trackerGroups({ trackerZone: "eu", announceLocations: { eu: "ws://eu" } })).toEqual([["ws://eu"]]);
  });
});

describe("MemoryStorage", () => {
  it("evicts segments behind the playhead first, then least recently used", () => {
    const s = new MemoryStorage(300);
    const seg = (id: number, t: number) => ({ swarmId: "s", id, data: new Uint8Array(100), startTime: t, endTime: t + 2 });
    s.put(seg(1, 0), undefined, 1);
    s.put(seg(2, 2), undefined, 2);
    s.put(seg(3, 4), undefined, 3);
    expect(s.get("s", 1, 4)).toBeDefined(); // 1 is now the most recently used
    const evicted = s.put(seg(4, 6), (x) => x.endTime <= 4, 5);
    expect(evicted.map((x) => x.id)).toEqual([2]);
    const evicted2 = s.put(seg(5, 8), undefined, 6);
    expect(evicted2.map((x) => x.id)).toEqual([3]);
    expect(s.usedBytes).toBe(300);
    expect(s.ids("s")).toEqual([5, 4, 1]);
  });

  it("lists and evicts each swarm's segments apart; its ids follow every change", () => {
    const s = new MemoryStorage(10_000);
    const seg = (swarmId: string, id: number) => ({ swarmId, id, data: new Uint8Array(10), startTime: id * 2, endTime: id * 2 + 2 });
    for (const id of [3, 1, 2]) s.put(seg("a", id));
    s.put(seg("b", 0));
    expect(s.ids("a")).toEqual([3, 2, 1]);
    s.put(seg("a", 7));
    expect(s.ids("a")).toEqual([7, 3, 2, 1]);
    expect(s.evictEndedBefore("a", 6).map((x) => x.id)).toEqual([1]); // 2 ends at 6: kept
    expect(s.evictEndedBefore("a", 6)).toEqual([]);
    expect(s.ids("a")).toEqual([7, 3, 2]);
    expect(s.ids("b")).toEqual([0]); // another swarm's segment ends earlier and stays
    s.delete("a", 3);
    expect(s.ids("a")).toEqual([7, 2]);
    expect(s.usedBytes).toBe(30);
    s.clear();
    expect(s.ids("a")).toEqual([]);
  });
});
