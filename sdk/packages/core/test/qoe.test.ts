import { describe, expect, it } from "vitest";
import { QoeMeter, cleanTag, qoeGroup, qoeJson, viewerDraw, type PlayerSample } from "../src/qoe.js";
import { statsBeaconUrl, statsMessage } from "../src/tracker/messages.js";

function memoryStore(): Pick<Storage, "getItem" | "setItem"> & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe("control group", () => {
  it("follows the ratio: 0 never, 1 always, otherwise the draw below the ratio", () => {
    for (const draw of [0, 0.3, 0.999]) {
      expect(qoeGroup(0, draw)).toBe("p2p");
      expect(qoeGroup(undefined, draw)).toBe("p2p");
      expect(qoeGroup(1, draw)).toBe("control");
    }
    expect(qoeGroup(0.25, 0.2)).toBe("control");
    expect(qoeGroup(0.25, 0.3)).toBe("p2p");
    expect(qoeGroup(Number.NaN, 0)).toBe("p2p");
    expect(qoeGroup(7, 0.9)).toBe("control");
  });

  it("puts about the ratio's share of viewers in the control group", () => {
    let seed = 1;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const n = 10_000;
    let control = 0;
    for (let i = 0; i < n; i++) if (qoeGroup(0.1, random()) === "control") control++;
    expect(control / n).toBeGreaterThan(0.09);
    expect(control / n).toBeLessThan(0.11);
  });

  it("keeps a viewer's draw in storage, so a reload stays in its group", () => {
    const store = memoryStore();
    store.setItem("swarmcast-qoe-draw", "0.05");
    expect(viewerDraw(store, () => 0.9)).toBe(0.05);
    const fresh = memoryStore();
    const first = viewerDraw(fresh, () => 0.42);
    expect(fresh.data.get("swarmcast-qoe-draw")).toBe(String(first));
    expect(viewerDraw(fresh, () => 0.7)).toBe(first);
    // A broken stored value is replaced by a valid one.
    const broken = memoryStore();
    broken.setItem("swarmcast-qoe-draw", "x");
    const d = viewerDraw(broken, () => 0.5);
    expect(d >= 0 && d < 1).toBe(true);
    expect(broken.data.get("swarmcast-qoe-draw")).toBe(String(d));
  });

  it("cleans the tag to what the tracker accepts", () => {
    expect(cleanTag(undefined)).toBe("");
    expect(cleanTag("a\nb\u0007c")).toBe("abc");
    expect(cleanTag("x".repeat(30))).toBe("x".repeat(20));
  });
});

describe("QoE meter", () => {
  it("integrates play time and bitrate from samples, and reports startup and rebuffering", () => {
    const meter = new QoeMeter({ controlGroupRatio: 1, tag: "beta" }, 0.5);
    let sample: PlayerSample = { quality: { rebuffers: 0, rebufferMs: 0, playing: false }, playing: false };
    meter.watch(() => sample);
    meter.sample(0);
    meter.sample(1000); // not playing yet: no play time
    sample = { quality: { startupMs: 812.4, rebuffers: 0, rebufferMs: 0, playing: true }, playing: true, bitrateKbps: 2000 };
    meter.sample(2000);
    meter.sample(3000);
    sample = { quality: { startupMs: 812.4, rebuffers: 1, rebufferMs: 500, playing: true }, playing: false, bitrateKbps: 2000 };
    meter.sample(4000); // stalled
    sample = { ...sample, playing: true, bitrateKbps: 1000 };
    meter.sample(5000);
    const r = meter.report();
    expect(r).toEqual({ group: "control", tag: "beta", startupMs: 812, playMs: 3000, rebufferMs: 500, rebuffers: 1, playedKbit: 5000 });
    expect(qoeJson(r)).toEqual({ group: "control", tag: "beta", startup_ms: 812, play_ms: 3000, rebuffer_ms: 500, played_kbit: 5000 });
  });

  it("leaves startup out until playback started, and the tag out when empty", () => {
    const meter = new QoeMeter({}, 0.5);
    expect(meter.group).toBe("p2p");
    expect(qoeJson(meter.report())).toEqual({ group: "p2p", play_ms: 0, rebuffer_ms: 0, played_kbit: 0 });
  });

  it("rides in the stats message, and the POST URL keeps the tracker token", () => {
    const json = JSON.parse(
      statsMessage({ infoHash: "h", peerId: "p", channel: "c", httpDown: 1, p2pDown: 0, p2pUp: 0, peers: 0, rebuffers: 0, qoe: qoeJson(new QoeMeter({ controlGroupRatio: 1 }, 0).report()) }),
    );
    expect(json.qoe.group).toBe("control");
    expect(statsBeaconUrl("ws://127.0.0.1:8000/announce?token=a%20b")).toBe("http://127.0.0.1:8000/stats?token=a%20b");
  });
});
