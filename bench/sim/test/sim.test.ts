// The simulator on a small audience: a seed replays a run exactly, and the swarm's origin
// traffic behaves as it must (peers take load off the origin, never more copies than viewers).
import { describe, expect, it } from "vitest";
import { internetScenario } from "../src/model.js";
import { simulate } from "../src/sim.js";

const small = (opts = {}) => internetScenario(30, { rampS: 10, durationS: 40, meanSessionS: 300, ...opts });
/** Viewers whose uplinks carry the stream many times over. */
const ample = { population: { kind: "uniform" as const, upMbps: 100, downMbps: 200, accessMs: 10, loss: 0.0005 } };

describe("simulator", () => {
  it("gives the same figures for the same seed, other figures for another", async () => {
    const a = await simulate(small({ seed: 7 }));
    const b = await simulate(small({ seed: 7 }));
    const c = await simulate(small({ seed: 8 }));
    const figures = (r: typeof a) => ({ ...r, wallSeconds: 0, scenario: undefined });
    expect(figures(b)).toEqual(figures(a));
    expect(figures(c)).not.toEqual(figures(a));
  });

  it("takes most of a live audience's bytes from peers, and never more origin copies than viewers", async () => {
    const http = await simulate(small({ ...ample, p2p: false }));
    const p2p = await simulate(small(ample));
    expect(http.p2pShare).toBe(0);
    expect(p2p.p2pShare).toBeGreaterThan(0.5);
    expect(p2p.originBytes).toBeLessThan(http.originBytes / 2);
    expect(p2p.originCopiesPerSegment).toBeLessThanOrEqual(p2p.sessions);
    expect(p2p.startupMedianMs).toBeGreaterThan(0);
    // In steady state, by HTTP alone every viewer fetches each segment once: copies ≈ the audience.
    expect(http.steadyCopiesPerSegment).toBeGreaterThan(25);
    expect(http.steadyCopiesPerSegment).toBeLessThanOrEqual(http.sessions);
    expect(p2p.steadyCopiesPerSegment).toBeLessThan((http.steadyCopiesPerSegment as number) / 2);
  });

  it("relays live segments while they arrive, and relays nothing with relay off; VOD has no steady-state figure", async () => {
    const on = await simulate(small(ample));
    const off = await simulate(small({ ...ample, relay: false }));
    expect(on.relayedBytes).toBeGreaterThan(0);
    expect(on.relayedBytes).toBeLessThanOrEqual(on.uploadedBytes);
    expect(off.relayedBytes).toBe(0);
    expect(off.uploadedBytes).toBeGreaterThan(0);
    const vod = await simulate(small({ ...ample, live: false }));
    expect(vod.steadyCopiesPerSegment).toBeUndefined();
  });

  it("serves part of a VOD audience from peers and a super peer", async () => {
    // 90 s: a VOD swarm's share grows as its viewers collect segments; over 40 s it was one
    // seed's luck (0.14 to 0.30 across seeds 1 to 4), over 90 s it is 0.25 to 0.37.
    const r = await simulate(small({ ...ample, live: false, superPeers: 1, durationS: 90 }));
    expect(r.segmentsServed).toBeGreaterThan(30);
    expect(r.p2pShare).toBeGreaterThan(0.2);
  });
});
