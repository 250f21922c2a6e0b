import { describe, expect, it } from "vitest";
import { BlameLedger, MAX_EXCUSED } from "../src/blame.js";

const none = new Set<string>();
const bans = (l: BlameLedger, o: Parameters<BlameLedger["offence"]>[0]) => l.offence(o).filter((v) => v.ban).map((v) => v.peerId);

describe("BlameLedger", () => {
  it("bans a sole sender at once, a sender that shared the segment at the second time, a proven part's sender at once", () => {
    const l = new BlameLedger();
    expect(bans(l, { key: "s|1", senders: ["a"], proven: false, relayed: none })).toEqual(["a"]);
    expect(bans(l, { key: "s|2", senders: ["b", "c"], proven: false, relayed: none })).toEqual([]);
    expect(bans(l, { key: "s|3", senders: ["b", "d"], proven: false, relayed: none })).toEqual(["b"]);
    expect(bans(l, { key: "s|4", senders: ["e", "f"], proven: true, relayed: none })).toEqual(["e", "f"]);
  });

  it("a relay alone is blamed as one that shared the segment: banned at the second unretracted one", () => {
    const l = new BlameLedger();
    const r = new Set(["r"]);
    expect(bans(l, { key: "s|1", senders: ["r"], proven: false, relayed: r })).toEqual([]);
    expect(bans(l, { key: "s|2", senders: ["r"], proven: false, relayed: r })).toEqual(["r"]);
    // A relayed part proven wrong may be its sender's fault: not a ban at once either.
    const m = new BlameLedger();
    expect(bans(m, { key: "s|1", senders: ["r", "x"], proven: true, relayed: r })).toEqual(["x"]);
    expect(bans(m, { key: "s|2", senders: ["r", "x"], proven: true, relayed: r })).toEqual(["r", "x"]);
  });

  it("a retraction excuses the relayed segment, whether it comes before or after the failure", () => {
    const l = new BlameLedger();
    const r = new Set(["r"]);
    // after: the offence counted is taken back
    expect(bans(l, { key: "s|1", senders: ["r"], proven: false, relayed: r })).toEqual([]);
    expect(l.retraction("r", "s|1")).toBe(true);
    // before: the failure is excused when it shows
    expect(l.retraction("r", "s|2")).toBe(false);
    expect(l.offence({ key: "s|2", senders: ["r"], proven: false, relayed: r })).toEqual([{ peerId: "r", ban: false, excused: true }]);
    // neither counted: one more unretracted bad segment does not ban it yet
    expect(bans(l, { key: "s|3", senders: ["r"], proven: false, relayed: r })).toEqual([]);
  });

  it("a retraction excuses only a segment the peer relayed: one it sent whole still bans", () => {
    const l = new BlameLedger();
    l.retraction("a", "s|1");
    expect(bans(l, { key: "s|1", senders: ["a"], proven: false, relayed: none })).toEqual(["a"]);
  });

  it(`retractions excuse at most ${MAX_EXCUSED} segments: a peer cannot send bad bytes and retract them for ever`, () => {
    const l = new BlameLedger();
    const r = new Set(["r"]);
    let banned = false;
    for (let k = 0; k < MAX_EXCUSED + 2 && !banned; k++) {
      l.retraction("r", `s|${k}`);
      banned = bans(l, { key: `s|${k}`, senders: ["r"], proven: false, relayed: r }).length > 0;
    }
    expect(banned).toBe(true);
  });
});
