import { describe, expect, it } from "vitest";
import { validateBatch } from "./events.js";

const good = (i: number) => ({ id: `e-${i}`, playerId: "p-1", type: "match_end", ts: "2026-11-27T10:00:00.000Z", payload: { score: i } });

describe("validateBatch", () => {
  it("accepts a batch of valid events", () => {
    const r = validateBatch([good(1), good(2)], 10);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.events.map((e) => e.id)).toEqual(["e-1", "e-2"]);
  });

  it("names the path of every bad field", () => {
    const r = validateBatch([good(1), { id: 3, playerId: "", type: "x", ts: "yesterday", payload: [], extra: 1 }], 10);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.tooLarge).toBe(false);
    expect(r.problems.map((p) => p.path).sort()).toEqual(["[1].extra", "[1].id", "[1].payload", "[1].playerId", "[1].ts"]);
  });

  it("refuses a body that is not an array, an empty array, and non-objects", () => {
    expect(validateBatch({ events: [] }, 10)).toMatchObject({ ok: false, problems: [{ path: "$" }] });
    expect(validateBatch([], 10)).toMatchObject({ ok: false, problems: [{ path: "$" }] });
    expect(validateBatch([null], 10)).toMatchObject({ ok: false, problems: [{ path: "[0]" }] });
  });

  it("flags duplicate ids within a batch", () => {
    const r = validateBatch([good(1), good(1)], 10);
    expect(r).toMatchObject({ ok: false, problems: [{ path: "[1].id", message: "duplicate of [0].id in this batch" }] });
  });

  it("marks batches over the limit as too large (413), at the boundary", () => {
    expect(validateBatch([good(1), good(2)], 2).ok).toBe(true);
    expect(validateBatch([good(1), good(2), good(3)], 2)).toMatchObject({ ok: false, tooLarge: true });
  });

  it("requires a time zone in ts and a bounded payload", () => {
    expect(validateBatch([{ ...good(1), ts: "2026-11-27T10:00:00" }], 10).ok).toBe(false);
    expect(validateBatch([{ ...good(1), ts: "2026-11-27T10:00:00+02:00" }], 10).ok).toBe(true);
    expect(validateBatch([{ ...good(1), ts: "2026-13-45T10:00:00Z" }], 10).ok).toBe(false);
    expect(validateBatch([{ ...good(1), payload: { big: "x".repeat(5000) } }], 10)).toMatchObject({ ok: false, problems: [{ path: "[0].payload" }] });
  });
});
