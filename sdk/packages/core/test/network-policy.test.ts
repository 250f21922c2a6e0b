import { describe, expect, it } from "vitest";
import { networkPolicy } from "../src/network-policy.js";
import { peerToReplace, type PeerRate } from "../src/peer-replacement.js";

const defaults = { wifiOnly: false, uploadOnCellular: false };

describe("networkPolicy", () => {
  it("uploads everywhere but on metered connections by default", () => {
    expect(networkPolicy(undefined, false, defaults)).toEqual({ p2p: true, upload: true });
    expect(networkPolicy({ type: "wifi" }, true, defaults)).toEqual({ p2p: true, upload: true });
    expect(networkPolicy({ type: "cellular" }, true, defaults)).toMatchObject({ p2p: true, upload: false });
    expect(networkPolicy({ type: "wifi", saveData: true }, false, defaults)).toMatchObject({ p2p: true, upload: false });
    expect(networkPolicy({ type: "cellular" }, true, { ...defaults, uploadOnCellular: true })).toEqual({ p2p: true, upload: true });
  });

  it("with wifiOnly, runs P2P on wifi, ethernet and unknown desktop connections only", () => {
    const o = { ...defaults, wifiOnly: true };
    expect(networkPolicy({ type: "wifi" }, true, o).p2p).toBe(true);
    expect(networkPolicy({ type: "ethernet" }, false, o).p2p).toBe(true);
    expect(networkPolicy(undefined, false, o).p2p).toBe(true);
    expect(networkPolicy({ type: "unknown" }, false, o).p2p).toBe(true);
    expect(networkPolicy(undefined, true, o)).toMatchObject({ p2p: false, upload: false });
    expect(networkPolicy({ type: "unknown" }, true, o).p2p).toBe(false);
    for (const type of ["cellular", "bluetooth", "wimax", "other", "none"]) expect(networkPolicy({ type }, false, o).p2p).toBe(false);
    // saveData on wifi: P2P, download only.
    expect(networkPolicy({ type: "wifi", saveData: true }, false, o)).toMatchObject({ p2p: true, upload: false });
  });
});

describe("peerToReplace", () => {
  const peer = (peerId: string, throughputBps: number | undefined, over: Partial<PeerRate> = {}): PeerRate => ({ peerId, connectedAtMs: 0, throughputBps, busy: false, server: false, ...over });
  const now = 60_000;

  it("picks the slowest measured peer when it is well below the others' median", () => {
    expect(peerToReplace([peer("a", 1_000_000), peer("b", 900_000), peer("c", 100_000), peer("d", undefined)], now, undefined)).toBe("c");
  });

  it("keeps a peer that is only somewhat slower (hysteresis)", () => {
    expect(peerToReplace([peer("a", 1_000_000), peer("b", 900_000), peer("c", 600_000)], now, undefined)).toBeUndefined();
  });

  it("never replaces young, unmeasured, busy or server peers, nor twice within the cooldown", () => {
    const fast = [peer("a", 1_000_000), peer("b", 1_000_000)];
    expect(peerToReplace([...fast, peer("c", 10_000, { connectedAtMs: now - 5_000 })], now, undefined)).toBeUndefined();
    expect(peerToReplace([...fast, peer("c", undefined)], now, undefined)).toBeUndefined();
    expect(peerToReplace([...fast, peer("c", 10_000, { busy: true })], now, undefined)).toBeUndefined();
    expect(peerToReplace([...fast, peer("c", 10_000, { server: true })], now, undefined)).toBeUndefined();
    expect(peerToReplace([...fast, peer("c", 10_000)], now, now - 10_000)).toBeUndefined();
    expect(peerToReplace([...fast, peer("c", 10_000)], now, now - 40_000)).toBe("c");
  });

  it("needs two measured peers to compare", () => {
    expect(peerToReplace([peer("c", 10)], now, undefined)).toBeUndefined();
  });
});
