import { describe, expect, it } from "vitest";
import { DbUnavailable } from "./db.js";
import { parseMessage, refusedContent, restartBackoff } from "./processor.js";

const event = { id: "e-1", playerId: "p-1", type: "match_end", ts: "2026-11-27T10:00:00.000Z", payload: { score: 1 } };
const msg = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

describe("parseMessage: what the processor reads from Kafka is checked like ingest-api's input", () => {
  it("takes an event", () => {
    expect(parseMessage(msg(event))).toEqual({ event });
  });

  it("dead-letters a number that would be stored as another one (another producer wrote 12345678901234567890)", () => {
    expect(
      parseMessage(msg('{"id":"e-1","playerId":"p-1","type":"kill","ts":"2026-11-27T10:00:00Z","payload":{"big":12345678901234567890}}')),
    ).toEqual({
      kind: "invalid",
      reason:
        "invalid event: $.payload.big: number 12345678901234567890 cannot be stored exactly (a double holds about 17 significant digits, magnitudes from 5e-324 to 1.8e308): send it as a string",
    });
  });

  it("says why a message is poison: no value, not JSON, not an event, or content PostgreSQL cannot store", () => {
    expect(parseMessage(null)).toEqual({ kind: "unparseable", reason: "message has no value" });
    expect(parseMessage(msg("{nope"))).toMatchObject({ kind: "unparseable", reason: expect.stringMatching(/^not valid JSON: /) });
    expect(parseMessage(msg({ ...event, payload: undefined }))).toEqual({ kind: "invalid", reason: "invalid event: $.payload: required" });
    expect(parseMessage(msg({ ...event, id: "e-\u0000" }))).toEqual({
      kind: "invalid",
      reason: "invalid event: $.id: contains a NUL character (\\u0000) at index 2, which PostgreSQL cannot store",
    });
    expect(parseMessage(msg({ ...event, ts: "0000-01-01T00:00:00Z", payload: { ["k\ud800"]: 1 } }))).toEqual({
      kind: "invalid",
      reason:
        'invalid event: $.ts: year 0000 is out of range: expected 0001 to 9999; $.payload["k\\ud800"]: key contains a lone UTF-16 surrogate (\\ud800) at index 1: not valid Unicode, cannot be stored',
    });
  });
});

describe("refusedContent: poison (PostgreSQL refuses the row) versus infrastructure (retry)", () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it("names the SQLSTATE of a refused row: class 22 and the value checks", () => {
    expect(refusedContent(pgError("22P05", "unsupported Unicode escape sequence"))).toBe(
      "PostgreSQL refused the row: SQLSTATE 22P05 untranslatable_character: unsupported Unicode escape sequence",
    );
    for (const code of ["22021", "22007", "22008", "22009", "22P02", "23502", "22023"])
      expect(refusedContent(pgError(code, "x")), code).toMatch(`SQLSTATE ${code} `);
  });

  it("leaves every other failure to redelivery", () => {
    for (const err of [
      pgError("57014", "canceling statement due to statement timeout"),
      pgError("57P01", "terminating connection due to administrator command"),
      pgError("08006", "connection failure"),
      pgError("40P01", "deadlock detected"),
      new DbUnavailable("database unavailable: timeout exceeded when trying to connect"),
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      new Error("Connection terminated unexpectedly"),
      undefined,
    ]) {
      expect(refusedContent(err), String(err)).toBeUndefined();
    }
  });
});

describe("restartBackoff: only a crash loop grows the wait before the consumer is rebuilt", () => {
  const max = 10_000;
  it("doubles from 250 ms to its cap while runs never join their group", () => {
    const waits: number[] = [];
    let w = 0;
    for (let i = 0; i < 8; i++) {
      w = restartBackoff(w, { joined: false, ranMs: 5_000 }, max);
      waits.push(w);
    }
    expect(waits).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it("starts again at 250 ms after a run that joined its group, however short (a broker restarted every 20 s)", () => {
    expect(restartBackoff(10_000, { joined: true, ranMs: 15_000 }, max)).toBe(250);
    expect(restartBackoff(10_000, { joined: false, ranMs: 60_001 }, max)).toBe(250);
    expect(restartBackoff(10_000, { joined: false, ranMs: 60_000 }, max)).toBe(10_000);
  });
});
