/**
 * Property-based tests of the report.json loader (fast-check): a report written by toJson reads back
 * equal; no text makes parseReport throw anything but a ReportFormatError naming a field path under
 * `report`; no file makes loadReports throw anything but a ReportLoadError that starts with the file.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseReport, ReportFormatError, toJson } from "./json.js";
import { loadReports, ReportLoadError, type ReportFs } from "./report-files.js";
import type { DrillReport } from "./schema.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
/** Valid reports: the fixtures with generated timings, outcome, reasons and texts. */
const reportArb: fc.Arbitrary<DrillReport> = fc
  .record({
    base: fc.constantFrom(kafkaBrokerDownPassed, dbPoolExhaustedFailed),
    outcome: fc.constantFrom<DrillReport["outcome"]>("passed", "failed", "aborted"),
    reasons: fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
    detect: fc.option(finite, { nil: null }),
    recover: fc.option(finite, { nil: null }),
    hypothesis: fc.string({ maxLength: 80 }),
    params: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean())),
  })
  .map((g) => {
    const r = g.base();
    r.outcome = g.outcome;
    r.reasons = g.reasons;
    r.timings.detectSeconds = g.detect;
    r.timings.recoverSeconds = g.recover;
    r.drill.hypothesis = g.hypothesis;
    r.drill.fault.params = g.params;
    return r;
  });

/** Every (parent, key) of a JSON value, to replace one of them. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string, unknown>, Array.isArray(v) ? Number(k) : k]);
      slots((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

describe("report.json, over generated input", { timeout: 120_000 }, () => {
  it("a report written by toJson reads back equal", () => {
    fc.assert(
      fc.property(reportArb, (r) => {
        expect(parseReport(toJson(r))).toEqual(JSON.parse(JSON.stringify(r)));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a fault param named __proto__ (found by the property above on a CI run)", () => {
    const r = kafkaBrokerDownPassed();
    r.drill.fault.params = JSON.parse('{"__proto__": false}') as Record<string, unknown>;
    const back = parseReport(toJson(r));
    expect(Object.keys(back.drill.fault.params)).toEqual(["__proto__"]);
  });

  it("no text throws anything but a ReportFormatError naming a field path under report", () => {
    const mutated = fc
      .tuple(reportArb, fc.array(fc.tuple(fc.nat(), fc.jsonValue()), { minLength: 1, maxLength: 3 }))
      .map(([r, changes]) => {
        const doc = JSON.parse(toJson(r)) as unknown;
        for (const [at, v] of changes) {
          const s = slots(doc);
          const [parent, key] = s[at % s.length]!;
          (parent as Record<string | number, unknown>)[key] = v;
        }
        return JSON.stringify(doc);
      });
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      mutated,
      mutated,
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          parseReport(t);
        } catch (err) {
          expect(err).toBeInstanceOf(ReportFormatError);
          expect((err as ReportFormatError).path).toMatch(/^report(\.[A-Za-z]+|\[\d+\])*$/);
          expect((err as Error).message).toMatch(/^report[^:]*: expected /);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("no file throws anything but a ReportLoadError that starts with the file", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 100 }), reportArb.map(toJson)), fc.boolean(), async (content, unreadable) => {
        const fs: ReportFs = {
          readFile: async () => {
            if (unreadable) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
            return content;
          },
          readdir: async () => [],
          isDirectory: async () => false,
        };
        try {
          await loadReports(["some/report.json"], fs);
        } catch (err) {
          expect(err).toBeInstanceOf(ReportLoadError);
          expect((err as Error).message.startsWith("some/report.json: ")).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
