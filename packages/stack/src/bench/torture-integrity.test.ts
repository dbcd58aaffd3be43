/** The torture's content comparison and verdict: what counts as altered, lost, duplicated, never in Kafka. */
import { describe, expect, it } from "vitest";
import { canonicalJson, contentHash, epochMicros, judge, type LedgerEntry, sentHash, storedHash, broken } from "./torture-integrity.js";
import { formatTs, makeTortureEvent } from "./torture-load.js";

describe("epochMicros", () => {
  it("is the same instant whatever the offset it is written in", () => {
    expect(epochMicros("2026-11-27T10:00:00.123456Z")).toBe(epochMicros("2026-11-27T15:30:00.123456+05:30"));
    expect(epochMicros("2026-11-27T10:00:00Z")).toBe("1795773600000000");
  });
  it("keeps the microseconds that Date.parse drops and rounds what is finer, as timestamptz does", () => {
    expect(epochMicros("2026-11-27T10:00:00.000001Z")).toBe("1795773600000001");
    expect(epochMicros("2026-11-27T10:00:00.0000015Z")).toBe("1795773600000002");
    expect(epochMicros("2026-11-27T10:00:00.0000014Z")).toBe("1795773600000001");
  });
  it("refuses what is not an RFC 3339 timestamp, naming the field", () => {
    expect(() => epochMicros("yesterday")).toThrow(/^ts: expected an RFC 3339 timestamp/);
  });
});

describe("content hash", () => {
  it("does not depend on key order (jsonb keeps none) but on every value", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    const base = contentHash("p", "kill", "1", { a: 1, b: "x" });
    expect(contentHash("p", "kill", "1", { b: "x", a: 1 })).toBe(base);
    expect(contentHash("p", "kill", "1", { a: 1, b: "y" })).not.toBe(base);
    expect(contentHash("p", "kill", "2", { a: 1, b: "x" })).not.toBe(base);
    expect(contentHash("q", "kill", "1", { a: 1, b: "x" })).not.toBe(base);
    expect(contentHash("p", "death", "1", { a: 1, b: "x" })).not.toBe(base);
  });

  it("of an event as sent equals that of its row as PostgreSQL gives it back (ts as epoch µs, payload as jsonb text)", () => {
    for (let seq = 0; seq < 40; seq++) {
      const e = makeTortureEvent("run", seq);
      // what SELECT … (extract(epoch FROM ts) * 1000000)::bigint, payload::text returns: keys reordered, spaces added
      const payloadText = JSON.stringify(Object.fromEntries(Object.entries(e.payload).reverse()), null, 1);
      expect(storedHash({ id: e.id, player_id: e.playerId, type: e.type, ts_us: epochMicros(e.ts), payload: payloadText })).toBe(
        sentHash(e),
      );
    }
  });
});

describe("formatTs", () => {
  it("writes the same instant in any offset, with microseconds", () => {
    const ms = Date.parse("2026-11-27T23:59:59.250Z");
    expect(formatTs(ms, 7, "Z")).toBe("2026-11-27T23:59:59.250007Z");
    expect(formatTs(ms, 7, "+05:30")).toBe("2026-11-28T05:29:59.250007+05:30");
    expect(formatTs(ms, 0, "-08:00")).toBe("2026-11-27T15:59:59.250-08:00");
    expect(epochMicros(formatTs(ms, 7, "+14:00"))).toBe(epochMicros(formatTs(ms, 7, "Z")));
  });
});

describe("judge", () => {
  const entry = (phase: number, hash: string, acked = true): LedgerEntry => ({ phase, hash, acked });
  const ledger = new Map<string, LedgerEntry>([
    ["ok", entry(1, "h1")],
    ["lost-in-kafka", entry(1, "h2")],
    ["lost-never", entry(1, "h3")],
    ["twice", entry(1, "h4")],
    ["changed", entry(1, "h5")],
    ["retried", entry(1, "h6")],
    ["unacked", entry(1, "h7", false)],
    ["other-phase", entry(2, "h8")],
  ]);
  const rows = new Map([
    ["ok", { rows: 1, hash: "h1" }],
    ["twice", { rows: 2, hash: "h4" }],
    ["changed", { rows: 1, hash: "XX" }],
    ["retried", { rows: 1, hash: "h6" }],
    ["unacked", { rows: 1, hash: "h7" }],
  ]);
  const kafka = new Map([
    ["ok", 1],
    ["lost-in-kafka", 1],
    ["twice", 1],
    ["changed", 1],
    ["retried", 2],
    ["unacked", 1],
  ]);

  it("counts each way an acknowledged event can go wrong, for the phases asked only", () => {
    const r = judge(ledger, new Set([1]), rows, kafka);
    expect({ ...r, examples: undefined }).toEqual({
      acknowledged: 6,
      stored: 4,
      lost: 2,
      duplicated: 1,
      altered: 1,
      ackedNotInKafka: 1,
      kafkaCopiesOverOne: 1,
      unackedStored: 1,
      examples: undefined,
    });
    expect(r.examples).toEqual({
      lost: ["lost-in-kafka", "lost-never"],
      duplicated: ["twice"],
      altered: ["changed"],
      ackedNotInKafka: ["lost-never"],
    });
    expect(broken(r)).toBe(true);
  });

  it("passes a phase whose acknowledged events are all stored once as sent; an unacknowledged one stored is allowed", () => {
    const r = judge(
      new Map([
        ["ok", entry(1, "h1")],
        ["unacked", entry(1, "h7", false)],
        ["retried", entry(1, "h6")],
      ]),
      new Set([1]),
      rows,
      kafka,
    );
    expect(broken(r)).toBe(false);
    expect(r.kafkaCopiesOverOne).toBe(1);
    expect(r.unackedStored).toBe(1);
  });
});
