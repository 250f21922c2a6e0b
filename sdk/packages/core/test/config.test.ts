import { describe, expect, it } from "vitest";
import { resolveConfig, rtcConfigProblems, schedulerProblems } from "../src/config.js";
import { DEFAULT_SCHEDULER } from "../src/scheduler.js";

const turn: RTCIceServer = { urls: "turn:turn.example.com:3478?transport=udp", username: "u", credential: "p" };

describe("webRTCConfig", () => {
  it("reaches the peer connections as given, relay-only policy included", () => {
    const webRTCConfig: RTCConfiguration = { iceServers: [turn], iceTransportPolicy: "relay" };
    const rtc = resolveConfig({ webRTCConfig }).rtcConfig;
    expect(rtc.iceTransportPolicy).toBe("relay");
    expect(rtc.iceServers).toEqual([turn]);
    expect(rtcConfigProblems(rtc)).toEqual([]);
  });

  it("says when relay-only cannot connect", () => {
    const stunOnly = resolveConfig({ webRTCConfig: { iceServers: [{ urls: ["stun:stun.example.com"] }], iceTransportPolicy: "relay" } }).rtcConfig;
    expect(rtcConfigProblems(stunOnly)[0]).toMatch(/no turn: or turns: URL/);
    expect(rtcConfigProblems({ iceServers: [{ urls: ["turns:t.example.com:443"] }], iceTransportPolicy: "relay" })[0]).toMatch(/without username and credential/);
    expect(rtcConfigProblems(resolveConfig({}).rtcConfig)).toEqual([]);
  });
});

describe("disk cache and connection controls", () => {
  it("sizes the disk cache from a number or per device kind, and turns it off", () => {
    expect(resolveConfig({}).diskLimitBytes).toBe(2500 * 1024 * 1024); // Node has no mobile user agent
    expect(resolveConfig({ diskCacheLimit: 1234 }).diskLimitBytes).toBe(1234);
    expect(resolveConfig({ diskCacheLimit: { pc: 5, mobile: 3 } }).diskLimitBytes).toBe(5);
    expect(resolveConfig({ diskCacheLimit: 1234, useDiskCache: false }).diskLimitBytes).toBe(0);
  });

  it("reads minPeers as a count", () => {
    expect(resolveConfig({}).minPeers).toBe(0);
    expect(resolveConfig({ minPeers: 2.7 }).minPeers).toBe(2);
    expect(resolveConfig({ minPeers: -1 }).minPeers).toBe(0);
    expect(resolveConfig({ minPeers: Number.NaN }).minPeers).toBe(0);
  });
});

describe("scheduler settings", () => {
  it("take the page's numbers over the defaults; a value that is no setting keeps the default and is named", () => {
    const scheduler = { minPartBytes: 262_144, safetyMarginS: 0, p2pStallTimeoutMs: Number.NaN, minPeerMeasureBytes: -1, nonsense: 3 } as never;
    const s = resolveConfig({ scheduler }).schedulerConfig;
    expect(s.minPartBytes).toBe(262_144);
    expect(s.safetyMarginS).toBe(0);
    expect(s.p2pStallTimeoutMs).toBe(DEFAULT_SCHEDULER.p2pStallTimeoutMs);
    expect(s.minPeerMeasureBytes).toBe(DEFAULT_SCHEDULER.minPeerMeasureBytes);
    expect("nonsense" in s).toBe(false);
    const problems = schedulerProblems(scheduler);
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/p2pStallTimeoutMs is NaN.*default, 1500/);
    expect(problems.join("\n")).toMatch(/nonsense is not a setting/);
    expect(schedulerProblems(undefined)).toEqual([]);
  });
});
