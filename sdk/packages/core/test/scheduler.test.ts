import { describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULER, decideSource, designatedSeeder, planPrefetch, shouldAbandon, type SourceInput } from "../src/scheduler.js";

const base: SourceInput = {
  timeUntilNeededS: 10,
  expectedBytes: 500_000,
  httpBps: 5_000_000,
  httpLatencyS: 0.05,
  holders: [],
  someoneHttpLoading: false,
  designatedElsewhere: false,
  p2pEnabled: true,
  random: () => 0,
};

describe("decideSource", () => {
  it("uses HTTP when the segment is due within the HTTP time plus margin", () => {
    expect(decideSource({ ...base, timeUntilNeededS: 1, holders: [{ peerId: "a", busy: false }] })).toEqual({ kind: "http" });
  });
  it("uses a peer that can deliver in time", () => {
    expect(decideSource({ ...base, holders: [{ peerId: "a", busy: false, throughputBps: 2e6 }] })).toEqual({ kind: "p2p", peerId: "a" });
  });
  it("skips a peer too slow for the budget", () => {
    expect(decideSource({ ...base, timeUntilNeededS: 3, holders: [{ peerId: "slow", busy: false, throughputBps: 100_000 }] })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, timeUntilNeededS: 1.6, holders: [{ peerId: "slow", busy: false, throughputBps: 100_000 }] })).toEqual({ kind: "http" });
  });
  it("waits for a peer that is fetching it or for the designated seeder while there is time", () => {
    expect(decideSource({ ...base, someoneHttpLoading: true })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, designatedElsewhere: true })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, mayArriveSoon: true })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, mayArriveSoon: true, timeUntilNeededS: 1 })).toEqual({ kind: "http" });
    expect(decideSource(base)).toEqual({ kind: "http" });
  });
  it("peers too slow alone but fast enough together, when they send parts, are used together", () => {
    // 500 kB, 4.35 s of budget: 5 s from one peer at 100 kB/s, 2.5 s from two.
    const slow = (peerId: string, byteRanges: boolean) => ({ peerId, busy: false, throughputBps: 100_000, byteRanges });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [slow("a", true), slow("b", true)] })).toEqual({ kind: "p2p", peerId: "a" });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [slow("a", false), slow("b", false)] })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [slow("a", true), { ...slow("b", true), busy: true }] })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, timeUntilNeededS: 4, holders: [slow("a", true), slow("b", true)] })).toEqual({ kind: "wait" });
  });
  it("never uses peers when P2P is off", () => {
    expect(decideSource({ ...base, p2pEnabled: false, holders: [{ peerId: "a", busy: false }] })).toEqual({ kind: "http" });
  });
});

describe("shouldAbandon", () => {
  const p = { nowMs: 10_000, startedAtMs: 9_000, receivedBytes: 100_000, expectedBytes: 1_000_000, mustFinishByMs: Infinity };
  it("abandons a silent peer", () => {
    expect(shouldAbandon({ ...p, lastByteAtMs: 10_000 - DEFAULT_SCHEDULER.p2pStallTimeoutMs - 1 })).toBe(true);
    expect(shouldAbandon({ ...p, lastByteAtMs: 9_900 })).toBe(false);
  });
  it("abandons a peer whose projected finish misses the deadline", () => {
    // 100 kB in 1 s -> 9 s for the rest, deadline in 3 s
    expect(shouldAbandon({ ...p, lastByteAtMs: 9_990, mustFinishByMs: 13_000 })).toBe(true);
    expect(shouldAbandon({ ...p, lastByteAtMs: 9_990, mustFinishByMs: 20_000 })).toBe(false);
  });
  it("abandons at the deadline", () => {
    expect(shouldAbandon({ ...p, lastByteAtMs: 9_990, mustFinishByMs: 10_000 })).toBe(true);
  });
});

describe("seeder election and prefetch", () => {
  it("everyone in a neighbourhood elects the same seeder, spread over segments", () => {
    const ids = ["-SC0001-aaaaaaaaaaaa", "-SC0001-bbbbbbbbbbbb", "-SC0001-cccccccccccc"];
    const counts = new Map<string, number>();
    for (let s = 0; s < 300; s++) {
      const picks = ids.map((me) => designatedSeeder(me, ids.filter((x) => x !== me), `swarm|${s}`));
      expect(new Set(picks).size).toBe(1);
      counts.set(picks[0]!, (counts.get(picks[0]!) ?? 0) + 1);
    }
    for (const id of ids) expect(counts.get(id)).toBeGreaterThan(50);
  });
  it("plans P2P from idle holders and HTTP only for segments we seed", () => {
    const self = "me";
    const plan = planPrefetch({
      candidates: [1, 2, 3, 4].map((id) => ({ id, key: `k${id}` })),
      peers: [
        { peerId: "p1", busy: false, loaded: new Set([1, 2]) },
        { peerId: "p2", busy: true, loaded: new Set([3]) },
      ],
      selfId: self,
      freeP2PSlots: 3,
      freeHttpSlots: 4,
      electorate: [],
      random: () => 0,
    });
    expect(plan.p2p).toEqual([{ id: 1, peerId: "p1" }]);
    expect(plan.http).toEqual([4]); // 2: p1 busy now; 3: held by a busy peer; 4: nobody has it, we are the only elector
  });
  it("no HTTP prefetch of what a peer is fetching, or of a segment on hold", () => {
    const plan = planPrefetch({
      candidates: [{ id: 1, key: "a" }, { id: 2, key: "b", httpHold: true }, { id: 3, key: "c" }],
      peers: [{ peerId: "pml", busy: false, loaded: new Set(), httpLoading: new Set([1]) }],
      selfId: "me",
      freeP2PSlots: 3,
      freeHttpSlots: 3,
      electorate: [],
    });
    expect(plan).toEqual({ p2p: [], http: [3] });
  });
  it("a peer that failed a segment is not its holder any more: the next idle holder or HTTP", () => {
    const plan = planPrefetch({
      candidates: [
        { id: 1, key: "a", failedPeers: new Set(["liar"]) },
        { id: 2, key: "b", failedPeers: new Set(["liar"]) },
      ],
      peers: [
        { peerId: "liar", busy: false, loaded: new Set([1, 2]) },
        { peerId: "good", busy: false, loaded: new Set([1]) },
      ],
      selfId: "me",
      freeP2PSlots: 3,
      freeHttpSlots: 3,
      electorate: [],
    });
    expect(plan).toEqual({ p2p: [{ id: 1, peerId: "good" }], http: [2] });
  });
  it("no HTTP prefetch without peers", () => {
    const plan = planPrefetch({ candidates: [{ id: 1, key: "k" }], peers: [], selfId: "me", freeP2PSlots: 3, freeHttpSlots: 2, electorate: [] });
    expect(plan).toEqual({ p2p: [], http: [] });
  });
});
