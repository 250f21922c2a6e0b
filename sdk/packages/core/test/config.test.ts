import { describe, expect, it } from "vitest";
import { resolveConfig, rtcConfigProblems } from "../src/config.js";

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
