import { describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULER, decideSource, designatedSeeder, planPrefetch, seedsFromOrigin, shouldAbandon, type SourceInput } from "../src/scheduler.js";

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
    expect(decideSource({ ...base, swarmMayBring: true })).toEqual({ kind: "wait" });
    expect(decideSource({ ...base, swarmMayBring: true, timeUntilNeededS: 1 })).toEqual({ kind: "http" });
    expect(decideSource(base)).toEqual({ kind: "http" });
  });
  it("peers too slow alone but fast enough together, when they send parts, are used together", () => {
    // 500 kB, 4.35 s of budget: 5 s from one peer at 100 kB/s, 2.5 s from two.
    const slow = (peerId: string, byteRanges: boolean) => ({ peerId, busy: false, throughputBps: 100_000, byteRanges });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [slow("a", true), slow("b", true)] })).toEqual({ kind: "p2p", peerId: "a" });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [slow("a", false), slow("b", false)] })).toEqual({ kind: "wait" });
  });
  it("asks the fastest idle holder that sends parts when it would bring half of the segment before the budget is spent", () => {
    // 500 kB from one peer at 100 kB/s takes 5 s; a budget of 4.35 s brings 435 kB, 2.35 s 235 kB.
    const holder = (peerId: string, throughputBps: number, busy = false) => ({ peerId, busy, throughputBps, byteRanges: true });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [holder("a", 100_000), holder("b", 200_000, true)] })).toEqual({ kind: "p2p", peerId: "a" });
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [holder("a", 60_000), holder("b", 100_000)] })).toEqual({ kind: "p2p", peerId: "b" });
    // Under half: its uplink is worth more to others, and HTTP would fetch most of it anyway.
    expect(decideSource({ ...base, timeUntilNeededS: 4, holders: [holder("a", 100_000)] })).toEqual({ kind: "wait" });
    // As for peers together, only holders that send parts: our own peers, measured so.
    expect(decideSource({ ...base, timeUntilNeededS: 6, holders: [{ peerId: "a", busy: false, throughputBps: 100_000 }] })).toEqual({ kind: "wait" });
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
  it("in a large swarm about `swarmSeeders` neighbourhood seeders fetch a fresh segment at once, the others wait", () => {
    // 1 000 viewers in neighbourhoods of 10 (0 and 1–9, 10 and 11–19, ...): 100 neighbourhood seeders per segment.
    const ids = Array.from({ length: 1000 }, (_, i) => `-SC0001-${String(i).padStart(12, "0")}`);
    const cfg = { swarmSeeders: 3, seedDelayS: 2, seedReserveS: 6 };
    const segments = 60;
    let atOnce = 0;
    let seeders = 0;
    let wrong = 0;
    for (let s = 0; s < segments; s++) {
      for (let i = 0; i < ids.length; i++) {
        const group = Math.floor(i / 10) * 10;
        const electorate = ids.slice(group, group + 10).filter((_, j) => group + j !== i);
        const base = { selfId: ids[i]!, electorate, segmentKey: `swarm|${s}`, swarmSize: ids.length };
        const now = seedsFromOrigin({ ...base, budgetS: 10, knownForS: 0 }, cfg);
        const local = designatedSeeder(ids[i]!, electorate, `swarm|${s}`) === ids[i];
        if (local) seeders++;
        if (now) atOnce++;
        if (now && !local) wrong++; // only a neighbourhood's own seeder ever fetches
        // Every neighbourhood seeder fetches once it has waited, or once its budget runs low.
        if (seedsFromOrigin({ ...base, budgetS: 10, knownForS: 2 }, cfg) !== local) wrong++;
        if (seedsFromOrigin({ ...base, budgetS: 6, knownForS: 0 }, cfg) !== local) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(seeders).toBe(100 * segments);
    expect(atOnce / segments).toBeGreaterThan(2);
    expect(atOnce / segments).toBeLessThan(4);
  });
  it("a swarm of a few neighbourhoods, or of unknown size, or swarmSeeders 0: each neighbourhood's seeder fetches at once", () => {
    const electorate = Array.from({ length: 9 }, (_, i) => `p${i}`);
    const cfg = { swarmSeeders: 2, seedDelayS: 2, seedReserveS: 6 };
    for (let s = 0; s < 100; s++) {
      const key = `k${s}`;
      const local = designatedSeeder("me", electorate, key) === "me";
      const at = (swarmSize: number | undefined, c = cfg) => seedsFromOrigin({ selfId: "me", electorate, segmentKey: key, swarmSize, budgetS: 20, knownForS: 0 }, c);
      expect(at(20)).toBe(local);
      expect(at(undefined)).toBe(local);
      expect(at(10_000, { ...cfg, swarmSeeders: 0 })).toBe(local);
    }
  });
  it("prefetch leaves a fresh segment to the swarm's seeders until it has waited", () => {
    const electorate = ["p1", "p2"];
    const key = Array.from({ length: 1000 }, (_, i) => `k${i}`).find((k) => designatedSeeder("me", electorate, k) === "me" && !seedsFromOrigin({ selfId: "me", electorate, segmentKey: k, swarmSize: 10_000, budgetS: 20, knownForS: 0 }, DEFAULT_SCHEDULER))!;
    const plan = (knownForS: number) =>
      planPrefetch({
        candidates: [{ id: 1, key, budgetS: 20, knownForS }],
        peers: electorate.map((peerId) => ({ peerId, busy: false, loaded: new Set<number>() })),
        selfId: "me",
        freeP2PSlots: 3,
        freeHttpSlots: 1,
        electorate,
        swarmSize: 10_000,
        seeding: DEFAULT_SCHEDULER,
      });
    expect(plan(0).http).toEqual([]);
    expect(plan(DEFAULT_SCHEDULER.seedDelayS).http).toEqual([1]);
  });
  it("no HTTP prefetch without peers", () => {
    const plan = planPrefetch({ candidates: [{ id: 1, key: "k" }], peers: [], selfId: "me", freeP2PSlots: 3, freeHttpSlots: 2, electorate: [] });
    expect(plan).toEqual({ p2p: [], http: [] });
  });
});
