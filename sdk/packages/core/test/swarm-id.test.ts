import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { sha1, base64 } from "../src/sha1.js";
import { generatePeerId, hlsVideoShortId, infoHash, streamShortId, streamSwarmId, swarmBase } from "../src/swarm-id.js";
import { pmlPeer, pmlStream } from "./pml.js";

describe("sha1", () => {
  it("matches node crypto for many lengths", () => {
    for (let n = 0; n < 200; n += 7) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(Buffer.from(sha1(data)).toString("hex")).toBe(createHash("sha1").update(data).digest("hex"));
    }
  });
  it("base64 matches Buffer", () => {
    for (let n = 0; n < 8; n++) {
      const d = new Uint8Array(n).map((_, i) => i * 77);
      expect(base64(d)).toBe(Buffer.from(d).toString("base64"));
    }
  });
});

describe("swarm ids (PML 2.3 rules)", () => {
  it("reference vector", () => {
    expect(infoHash("v2-https://example.com/live/master.m3u8-main-EDSJuhWcg4AyVz2Iky/BJ8hVmjA=")).toBe("LF5ru/aNcTeuFIVnksyB");
  });
  it("short ids and info hashes equal PML's", async () => {
    const pml = await pmlStream();
    const peer = await pmlPeer();
    const cases = [
      { bitrate: 0 },
      { bitrate: 800000, codecs: "avc1.66.30,mp4a.40.2", width: 640, height: 360, frameRate: "30.000" },
      { bitrate: 2500000, codecs: "AVC1.64001F", width: 1280, height: 720, videoRange: "sdr" },
      { bitrate: 0, codecs: "mp4a.40.2", language: "eng", channels: "2/1", name: " English " },
    ];
    for (const c of cases) {
      const ours = streamShortId(c);
      expect(ours).toBe(pml.generateStreamShortId(c));
      const swarm = streamSwarmId("http://127.0.0.1:8080/hls/master.m3u8", "main", ours);
      expect(swarm).toBe(pml.getStreamSwarmId("http://127.0.0.1:8080/hls/master.m3u8", { type: "main", index: ours }));
      expect(infoHash(swarm)).toBe(peer.getStreamHash(swarm));
      expect(infoHash(swarm)).toHaveLength(20);
    }
  });
  it("hls.js levels: maxBitrate wins, missing bitrate drops metadata", () => {
    expect(hlsVideoShortId({ bitrate: 0, videoCodec: "avc1.64001f", width: 1, height: 2 })).toBe(streamShortId({ bitrate: 0 }));
    expect(hlsVideoShortId({ bitrate: 5, maxBitrate: 9, videoCodec: "avc1.64001f" })).toBe(
      streamShortId({ bitrate: 9, codecs: "avc1.64001f" }),
    );
  });
  it("swarm base drops the query", () => {
    expect(swarmBase("http://h/a.m3u8?token=1?x")).toBe("http://h/a.m3u8");
  });
  it("peer ids are 20 ASCII chars", () => {
    const id = generatePeerId("-SC0001-");
    expect(id).toMatch(/^-SC0001-[A-Za-z0-9]{12}$/);
  });
});
