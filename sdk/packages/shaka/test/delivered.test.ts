import { describe, expect, it } from "vitest";
import { DeliveredSegments } from "../src/delivered.js";

describe("delivered segments", () => {
  it("find the segment a Shaka error's data names", () => {
    const d = new DeliveredSegments(2);
    d.add("http://o/a.m4s", "s:1", 10);
    d.add("http://o/b.m4s", "s:1", 14);
    // MEDIA_SOURCE_OPERATION_FAILED: [code, uri]; ..._THREW: [exception, element error, uri].
    expect(d.namedBy([4, "http://o/b.m4s"])).toEqual({ stream: "s:1", id: 14 });
    expect(d.namedBy([new Error("x"), "No error in the media element", "http://o/a.m4s"])).toEqual({ stream: "s:1", id: 10 });
    expect(d.namedBy([4, "http://o/c.m4s"])).toBeUndefined();
    expect(d.namedBy(undefined)).toBeUndefined();
  });

  it("keep only the newest deliveries", () => {
    const d = new DeliveredSegments(2);
    d.add("u1", "s", 1);
    d.add("u2", "s", 2);
    d.add("u1", "s", 3); // again: now the newest
    d.add("u3", "s", 4);
    expect(d.namedBy(["u2"])).toBeUndefined();
    expect(d.namedBy(["u1"])).toEqual({ stream: "s", id: 3 });
    expect(d.namedBy(["u3"])).toEqual({ stream: "s", id: 4 });
  });
});
