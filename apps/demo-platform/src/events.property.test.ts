/**
 * Property-based tests of ingest-api's event validation (fast-check): no body makes validateBatch
 * throw; every problem has the path of its field; generated valid events are accepted unchanged; and
 * whatever is accepted is storable as sent — no NUL, no lone surrogate in any string or key, a
 * timestamp PostgreSQL takes as it is, ids unique, payload within its bounds.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type GameEvent, LIMITS, validateBatch } from "./events.js";

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
const tsArb = fc
  .record({
    y: fc.integer({ min: 1, max: 9999 }),
    mo: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    off: fc.option(fc.tuple(fc.constantFrom("+", "-"), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 59 })), {
      nil: undefined,
    }),
  })
  .map(
    (t) =>
      `${pad(t.y, 4)}-${pad(t.mo)}-${pad(t.d)}T${pad(t.h)}:${pad(t.mi)}:${pad(t.s)}${t.off ? `${t.off[0]}${pad(t.off[1])}:${pad(t.off[2])}` : "Z"}`,
  );
const text = (max: number) =>
  fc.string({ minLength: 1, maxLength: max, unit: "grapheme" }).filter((s) => s.trim() !== "" && !s.includes("\u0000") && s.length <= max);
const payloadArb = fc.dictionary(
  fc.string({ maxLength: 10 }).filter((k) => !k.includes("\u0000")),
  fc.oneof(fc.integer(), fc.boolean(), text(20), fc.constant(null)),
  { maxKeys: 5 },
);
const eventArb: fc.Arbitrary<GameEvent> = fc.record({
  id: text(LIMITS.idLength),
  playerId: text(LIMITS.playerIdLength),
  type: text(LIMITS.typeLength),
  ts: tsArb,
  payload: payloadArb,
});

/** Every string and key in a value, to check what was accepted. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  }
  return out;
}
const depth = (v: unknown): number => (v !== null && typeof v === "object" ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0);

describe("validateBatch, over generated bodies", { timeout: 120_000 }, () => {
  it("accepts generated valid events unchanged", () => {
    fc.assert(
      fc.property(fc.uniqueArray(eventArb, { minLength: 1, maxLength: 20, selector: (e) => e.id }), (events) => {
        expect(validateBatch(JSON.parse(JSON.stringify(events)), 1000)).toEqual({ ok: true, events });
      }),
      { numRuns: 300 },
    );
  });

  it("never throws; every problem has a path; what it accepts is storable as sent", () => {
    const anyString = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom(
        "\u0000",
        "a\ud800",
        "\udc00b",
        "0000-01-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-01-01T10:00:00+16:00",
        "2026-01-01T24:00:00Z",
        " ",
        "",
      ),
    );
    const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        anyString,
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(anyString, tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    const eventish = fc.record(
      { id: anyString, playerId: anyString, type: anyString, ts: fc.oneof(tsArb, anyString), payload: fc.oneof(payloadArb, anyValue) },
      { requiredKeys: [] },
    );
    const body = fc.oneof(anyValue, fc.array(fc.oneof(eventish, eventArb, anyValue), { maxLength: 5 }));
    fc.assert(
      fc.property(body, (b) => {
        const r = validateBatch(b, 3);
        if (!r.ok) {
          expect(r.problems.length).toBeGreaterThan(0);
          for (const p of r.problems) expect(p.path).toMatch(/^(\$|\[\d+\])/);
          return;
        }
        const ids = r.events.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const e of r.events) {
          for (const s of strings(e)) {
            expect(s.includes("\u0000")).toBe(false);
            expect(/\p{Cs}/u.test(s)).toBe(false); // no lone surrogate (a pair is one code point)
          }
          expect(Number.isNaN(Date.parse(e.ts))).toBe(false);
          expect(Number(e.ts.slice(0, 4))).toBeGreaterThanOrEqual(1);
          expect(depth(e.payload)).toBeLessThanOrEqual(LIMITS.payloadDepth);
          expect(Buffer.byteLength(JSON.stringify(e.payload))).toBeLessThanOrEqual(LIMITS.payloadBytes);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
