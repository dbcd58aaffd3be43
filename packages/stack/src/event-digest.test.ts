import { describe, expect, it } from "vitest";
import { canonicalJson, eventDigest } from "./event-digest.js";
import { compareStored, makeEvents } from "./load-generator.js";

const sent = {
  id: "e-1",
  playerId: "p-1",
  type: "kill",
  ts: "2026-11-27T10:00:00.123Z",
  payload: { seq: 1, score: 7, tags: ["a", "b"], nested: { z: 1, a: 2 } },
};

/** What PostgreSQL hands back for the same event: jsonb's key order (by length, then bytes), its number text, ts as a Date. */
function asStored(e: typeof sent) {
  const text = '{"seq": 1.0, "tags": ["a", "b"], "score": 7e0, "nested": {"a": 2, "z": 1}}';
  return { id: e.id, playerId: e.playerId, type: e.type, ts: new Date(e.ts), payload: JSON.parse(text) as unknown };
}

describe("eventDigest: the same content whatever the path through Kafka and jsonb", () => {
  it("a genuine event read back from PostgreSQL has the digest of what was sent", () => {
    expect(eventDigest(asStored(sent))).toBe(eventDigest(sent));
    // the same instant written with an offset
    expect(eventDigest({ ...sent, ts: "2026-11-27T11:00:00.123+01:00" })).toBe(eventDigest(sent));
  });

  it("keys are sorted at every depth, arrays keep their order", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
  });

  it("any change of content changes the digest: a payload value, a key, an array's order, the type, the player, the time", () => {
    const base = eventDigest(sent);
    const variants = [
      { ...sent, payload: { ...sent.payload, score: 8 } },
      { ...sent, payload: { ...sent.payload, extra: true } },
      { ...sent, payload: { ...sent.payload, tags: ["b", "a"] } },
      { ...sent, payload: { ...sent.payload, score: "7" } },
      { ...sent, type: "death" },
      { ...sent, playerId: "p-2" },
      { ...sent, ts: "2026-11-27T10:00:00.124Z" },
    ];
    for (const v of variants) expect(eventDigest(v), JSON.stringify(v)).not.toBe(base);
  });
});

describe("compareStored: lost, duplicated and altered are three counts", () => {
  const events = makeEvents("cmp", 6);
  const ids = events.map((e) => e.id);
  const digests = new Map(events.map((e) => [e.id, eventDigest(e)]));
  const row = (e: (typeof events)[number]) => ({ id: e.id, digest: eventDigest(e) });

  it("everything stored as sent: nothing lost, twice or altered, every row compared", () => {
    expect(compareStored(ids, events.map(row), digests)).toEqual({
      expected: 6,
      found: 6,
      lost: [],
      duplicates: 0,
      altered: [],
      compared: 6,
    });
  });

  it("names the altered ids, in the order they were acknowledged, beside the lost and the duplicated", () => {
    const [e0, e1, e2, e3, e4] = events as [
      (typeof events)[number],
      (typeof events)[number],
      (typeof events)[number],
      (typeof events)[number],
      (typeof events)[number],
    ];
    const rows = [
      row(e0),
      { id: e3.id, digest: eventDigest({ ...e3, payload: { ...e3.payload, score: -1 } }) },
      { id: e1.id, digest: eventDigest({ ...e1, type: "tampered" }) },
      row(e2),
      row(e2),
      row(e4),
    ];
    expect(compareStored(ids, rows, digests)).toEqual({
      expected: 6,
      found: 5,
      lost: ["cmp-5"],
      duplicates: 1,
      altered: ["cmp-1", "cmp-3"],
      compared: 6,
    });
  });

  it("without digests it compares ids only and says so (compared 0)", () => {
    expect(
      compareStored(
        ids,
        ids.map((id) => ({ id })),
      ),
    ).toMatchObject({ lost: [], altered: [], compared: 0 });
  });
});
