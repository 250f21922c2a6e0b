import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { md5 } from "../src/md5.js";
import { infoHashMd5 } from "../src/swarm-id.js";

describe("md5", () => {
  it("matches node crypto for many lengths", () => {
    for (let n = 0; n < 300; n += 7) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(Buffer.from(md5(data)).toString("hex")).toBe(createHash("md5").update(data).digest("hex"));
    }
  });
  it("info hash vector computed with P2P Media Loader 2.2's nano-md5", () => {
    expect(infoHashMd5("v2-http://127.0.0.1:8080/dash/manifest.mpd-main-0")).toBe("y99c/X3XMrJT7vHdl0Pt");
  });
});
