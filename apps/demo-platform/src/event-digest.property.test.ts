import { eventDigest } from "@gm/stack/event-digest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { storedEventDigest } from "./event-digest.js";

describe("stats-api's event digest", () => {
  it("is the digest the drills and the canary compute over what they sent (packages/stack/src/event-digest.ts)", () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value")),
        fc.dictionary(fc.string(), tie("value")),
      ),
    })).value;
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.date({ noInvalidDate: true, min: new Date(0), max: new Date("2100-01-01") }),
        fc.dictionary(fc.string(), json),
        (id, playerId, type, ts, payload) => {
          // what stats-api reads: the payload as jsonb gives it back (parsed from its text), ts as a Date
          const stored = { id, playerId, type, ts, payload: JSON.parse(JSON.stringify(payload)) as unknown };
          expect(storedEventDigest(stored)).toBe(eventDigest({ id, playerId, type, ts: ts.toISOString(), payload }));
        },
      ),
    );
  });

  it("changes when the stored payload does", () => {
    const e = { id: "e", playerId: "p", type: "t", ts: new Date("2026-11-27T10:00:00Z"), payload: { a: 1 } };
    expect(storedEventDigest({ ...e, payload: { a: 2 } })).not.toBe(storedEventDigest(e));
  });
});
