import { describe, expect, it } from "vitest";
import { exactNumber, InexactNumber, parseJson, validateBatch } from "./events.js";

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
    expect(validateBatch([{ ...good(1), payload: { big: "x".repeat(5000) } }], 10)).toMatchObject({
      ok: false,
      problems: [{ path: "[0].payload" }],
    });
  });

  describe("refuses what PostgreSQL cannot store, naming each field (a poison event would block its partition)", () => {
    const paths = (body: unknown) => {
      const r = validateBatch(body, 10);
      if (r.ok) throw new Error(`accepted: ${JSON.stringify(body)}`);
      return r.problems.map((p) => p.path);
    };

    it("NUL in id, playerId, type, payload values and payload keys, at any depth", () => {
      const r = validateBatch(
        [
          {
            ...good(1),
            id: "e-\u0000",
            playerId: "p\u0000",
            type: "\u0000t",
            payload: { a: "x\u0000", ["k\u0000"]: 1, list: [1, { deep: "\u0000" }] },
          },
        ],
        10,
      );
      expect(r).toMatchObject({ ok: false, tooLarge: false });
      if (r.ok) return;
      expect(r.problems).toEqual([
        { path: "[0].id", message: "contains a NUL character (\\u0000) at index 2, which PostgreSQL cannot store" },
        { path: "[0].playerId", message: "contains a NUL character (\\u0000) at index 1, which PostgreSQL cannot store" },
        { path: "[0].type", message: "contains a NUL character (\\u0000) at index 0, which PostgreSQL cannot store" },
        { path: '[0].payload["k\\u0000"]', message: "key contains a NUL character (\\u0000) at index 1, which PostgreSQL cannot store" },
        { path: "[0].payload.a", message: "contains a NUL character (\\u0000) at index 1, which PostgreSQL cannot store" },
        { path: "[0].payload.list[1].deep", message: "contains a NUL character (\\u0000) at index 0, which PostgreSQL cannot store" },
      ]);
    });

    it("lone UTF-16 surrogates (two ids differing only there would be stored as one), but not a surrogate pair", () => {
      expect(
        paths([
          { ...good(1), id: "e-\ud800" },
          { ...good(2), id: "e-\udfff" },
        ]),
      ).toEqual(["[0].id", "[1].id"]);
      expect(validateBatch([{ ...good(1), id: "e-\ud800" }], 10)).toMatchObject({
        problems: [{ message: "contains a lone UTF-16 surrogate (\\ud800) at index 2: not valid Unicode, cannot be stored" }],
      });
      expect(paths([{ ...good(1), playerId: "\udc00p", type: "t\ud83d", payload: { ["\ud800"]: "x", s: ["ok", "\udead"] } }])).toEqual([
        "[0].playerId",
        "[0].type",
        '[0].payload["\\ud800"]',
        "[0].payload.s[1]",
      ]);
      expect(validateBatch([{ ...good(1), id: "e-\ud83d\ude00", payload: { smile: "\ud83d\ude00" } }], 10).ok).toBe(true);
    });

    it("timestamps timestamptz refuses: year 0000, days that do not exist, offsets past ±15:59", () => {
      const ts = (value: string) => validateBatch([{ ...good(1), ts: value }], 10);
      expect(ts("0000-01-01T00:00:00Z")).toMatchObject({
        ok: false,
        problems: [{ path: "[0].ts", message: "year 0000 is out of range: expected 0001 to 9999" }],
      });
      expect(ts("2026-02-30T10:00:00Z")).toMatchObject({
        ok: false,
        problems: [{ path: "[0].ts", message: "day 30 does not exist in 2026-02" }],
      });
      expect(ts("2026-04-31T10:00:00Z")).toMatchObject({ ok: false, problems: [{ path: "[0].ts" }] });
      expect(ts("2100-02-29T10:00:00Z")).toMatchObject({ ok: false, problems: [{ path: "[0].ts" }] });
      expect(ts("2026-01-01T24:00:00Z")).toMatchObject({ ok: false, problems: [{ path: "[0].ts" }] });
      expect(ts("2026-01-01T10:00:00+16:00")).toMatchObject({
        ok: false,
        problems: [{ path: "[0].ts", message: "time zone offset +16:00 is out of range: expected at most ±15:59 (PostgreSQL's limit)" }],
      });
      expect(ts("2026-01-01T10:00:00-14:60")).toMatchObject({ ok: false, problems: [{ path: "[0].ts" }] });
      for (const ok of ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-15:59", "2000-02-29T00:00:00+15:59", "2024-02-29T23:59:59Z"])
        expect(ts(ok).ok, ok).toBe(true);
    });

    it("a payload nested past 32 levels, with 400 and the path, not a stack overflow (10,000 levels)", () => {
      const nest = (levels: number): Record<string, unknown> => {
        let v: Record<string, unknown> = { leaf: 1 };
        for (let i = 1; i < levels; i++) v = { a: v };
        return v;
      };
      expect(validateBatch([{ ...good(1), payload: nest(32) }], 10).ok).toBe(true);
      expect(validateBatch([{ ...good(1), payload: nest(33) }], 10)).toMatchObject({
        ok: false,
        tooLarge: false,
        problems: [
          {
            path: `[0].payload${".a".repeat(32)}`,
            message: "expected at most 32 levels of nested objects and arrays in payload, got more",
          },
        ],
      });
      const deep = JSON.parse(`{"p":${"[".repeat(10_000)}${"]".repeat(10_000)}}`) as Record<string, unknown>;
      const r = validateBatch(
        [
          { ...good(1), payload: deep },
          { ...good(2), payload: nest(10_000) },
        ],
        10,
      );
      expect(r).toMatchObject({ ok: false, tooLarge: false });
      if (!r.ok) expect(r.problems.map((p) => p.path)).toEqual([`[0].payload.p${"[0]".repeat(31)}`, `[1].payload${".a".repeat(32)}`]);
    });

    it("names at most 10 unstorable strings of one payload, and how many more there were", () => {
      const payload = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, "\u0000"]));
      const r = validateBatch([{ ...good(1), payload }], 10);
      if (r.ok) throw new Error("accepted");
      expect(r.problems).toHaveLength(11);
      expect(r.problems[10]).toEqual({ path: "[0].payload", message: "5 more unstorable key(s) or string(s) not listed" });
    });
  });
});

describe("parseJson: numbers that would not survive as sent", () => {
  it("marks a number JSON.parse would change: past 2^53, past the double's range, more digits than it holds", () => {
    for (const text of [
      "12345678901234567890",
      "9007199254740993",
      "1e400",
      "-1e400",
      "1e-400",
      "0.1000000000000000000001",
      "3.14159265358979323846264338327950288",
    ]) {
      expect(parseJson(`{"n":${text}}`), text).toEqual({ n: new InexactNumber(text) });
    }
  });

  it("lets through every number a client's JSON.stringify writes, and the same value written otherwise", () => {
    const doubles = [0, 0.1, 1 / 3, -2.5e-7, 1e21, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, -Number.MAX_VALUE, 123456.789];
    for (let i = 0; i < 2_000; i++) doubles.push((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20));
    for (const x of doubles) expect(parseJson(JSON.stringify({ x })), String(x)).toEqual({ x });
    for (const [text, value] of [
      ["1.0", 1],
      ["1E2", 100],
      ["100e-2", 1],
      ["0.000", 0],
      ["-0.0e5", -0],
      ["000.5e1", 5],
    ] as const)
      expect(exactNumber(text, value), text).toBe(true);
  });

  it("parses a body nested 10,000 deep (the reviver alone overflows the stack), which validation then refuses for its depth", () => {
    const deep = `[{"id":"e-1","playerId":"p","type":"t","ts":"2026-11-27T10:00:00Z","payload":${'{"a":'.repeat(10_000)}1e999${"}".repeat(10_000)}}]`;
    const r = validateBatch(parseJson(deep), 10);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems).toEqual([
        { path: `[0].payload${".a".repeat(32)}`, message: "expected at most 32 levels of nested objects and arrays in payload, got more" },
      ]);
  });

  it("refuses a marked number in a payload with its path, and anywhere else as a number", () => {
    const body = parseJson(
      `[{"id":"e-1","playerId":"p-1","type":"kill","ts":"2026-11-27T10:00:00Z","payload":{"a":[{"b":1e999}]}},{"id":1e999,"playerId":"p","type":"t","ts":"2026-11-27T10:00:00Z","payload":{}}]`,
    );
    const r = validateBatch(body, 10);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems).toEqual([
        {
          path: "[0].payload.a[0].b",
          message:
            "number 1e999 cannot be stored exactly (a double holds about 17 significant digits, magnitudes from 5e-324 to 1.8e308): send it as a string",
        },
        { path: "[1].id", message: "expected a string, got a number" },
      ]);
  });
});
