// The simulated data channel shows the sender what a browser's would: its queue beyond the SCTP
// stack's share of the uplink, in messages no larger than the scaled SDK limit.
import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_SIZE, SEND_HIGH_WATER } from "../../../sdk/packages/core/src/peer/peer-session.js";
import { EventLoop } from "../src/events.js";
import { Net, newHost, pathCapBps, RATE_EDGES_MBPS, SCTP_QUEUE_MAX, SCTP_QUEUE_S } from "../src/net.js";
import { Rng } from "../src/rng.js";

const SCALE = 16;

function channel(upBps: number) {
  const loop = new EventLoop();
  const net = new Net(loop, new Rng(1), SCALE);
  const a = newHost(upBps, 1e9, 5, 0);
  const b = newHost(1e9, 1e9, 5, 0);
  const [ab, ba] = net.channelPair(a, b, 10);
  const arrived: number[] = [];
  ba.onMessage = (d) => arrived.push(d.length);
  return { loop, ab, arrived };
}

describe("simulated channel", () => {
  it("scales the SDK's message size and high-water mark with its bytes", () => {
    const { ab } = channel(100_000);
    expect(ab.maxMessageSize).toBe(Math.floor(MAX_MESSAGE_SIZE / SCALE));
    expect(ab.sendHighWater).toBe(SEND_HIGH_WATER / SCALE);
    expect(() => ab.send(new Uint8Array(ab.maxMessageSize + 1))).toThrow();
  });

  it("hides the SCTP stack's half second of uplink from bufferedAmount, and still carries it", async () => {
    const upBps = 100_000; // simulated bytes/s: 19 Mbit/s real
    const hidden = Math.min(SCTP_QUEUE_S * upBps, SCTP_QUEUE_MAX / SCALE);
    const { loop, ab, arrived } = channel(upBps);
    const message = new Uint8Array(ab.maxMessageSize).fill(1);
    let sent = 0;
    while (ab.bufferedAmount === 0) {
      ab.send(message);
      sent += message.length;
    }
    expect(sent).toBeGreaterThanOrEqual(hidden);
    expect(sent - ab.bufferedAmount).toBeLessThanOrEqual(hidden + message.length);
    await loop.run(10_000);
    expect(ab.bufferedAmount).toBe(0);
    expect(arrived.reduce((n, x) => n + x, 0)).toBe(sent);
  });

  it("tells what paced the bytes sent: the sender's uplink shared between its channels, or the path", async () => {
    const loop = new EventLoop();
    const net = new Net(loop, new Rng(1), SCALE);
    // A 2.4 Mbit/s uplink (real) with two lossless channels busy: each goes at 1.2 Mbit/s, uplink-bound.
    const slow = newHost(2.4e6 / 8 / SCALE, 1e9, 5, 0);
    const pair1 = net.channelPair(slow, newHost(1e9, 1e9, 5, 0), 10);
    const pair2 = net.channelPair(slow, newHost(1e9, 1e9, 5, 0), 10);
    // A 100 Mbit/s uplink on a lossy path: the path's rate is the bound.
    const fast = newHost(100e6 / 8 / SCALE, 1e9, 5, 0);
    const lossy = newHost(1e9, 1e9, 5, 0.01);
    const pair3 = net.channelPair(fast, lossy, 10);
    const message = new Uint8Array(pair1[0].maxMessageSize).fill(1);
    for (let i = 0; i < 8; i++) for (const [ch] of [pair1, pair2, pair3]) ch.send(message);
    await loop.run(60_000);
    const s = net.linkStats;
    expect(s.bytes).toBe(3 * 8 * message.length);
    expect(s.pathLimited).toBe(8 * message.length);
    const bucket = (mbps: number) => RATE_EDGES_MBPS.findLastIndex((edge) => mbps >= edge);
    const pathMbps = (pathCapBps(2 * (5 + 5 + 10), 1 - 0.99) * 8) / 1e6;
    // The two slow channels share the uplink while both have data waiting: 1.2 Mbit/s each.
    expect(s.byRate[bucket(1.2)]).toBeGreaterThanOrEqual(12 * message.length);
    expect(s.byRate[bucket(pathMbps)]).toBeGreaterThanOrEqual(8 * message.length);
  });
});
