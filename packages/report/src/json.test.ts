import { describe, expect, it } from "vitest";
import { parseReport, ReportFormatError, stableJson, toJson } from "./json.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

describe("toJson", () => {
  it("round-trips through parseReport", () => {
    const r = dbPoolExhaustedFailed();
    expect(parseReport(toJson(r))).toEqual(r);
  });

  it("writes the schema's key order whatever the object's, 2-space indented, params alphabetically", () => {
    const r = kafkaBrokerDownPassed();
    const shuffled = Object.fromEntries(Object.entries(r).reverse()) as typeof r;
    shuffled.drill.fault.params = { signal: "SIGKILL", container: "kafka-2" };
    const text = toJson(shuffled);
    expect(text).toBe(toJson(kafkaBrokerDownPassed()));
    expect(text.startsWith('{\n  "schemaVersion": 1,\n  "drill": {\n    "scenario": "kafka-broker-down",')).toBe(true);
    expect(text).toContain('"params": {\n        "container": "kafka-2",\n        "signal": "SIGKILL"\n      }');
    expect(text.endsWith("}\n")).toBe(true);
  });

  it("keeps unknown (optional, added later) fields, after the known ones, alphabetically", () => {
    const r = { ...kafkaBrokerDownPassed(), zeta: 1, alpha: 2 };
    const keys = Object.keys(JSON.parse(toJson(r)));
    expect(keys.slice(-3)).toEqual(["signals", "alpha", "zeta"]);
  });

  it("stableJson sorts keys recursively", () => {
    expect(stableJson({ b: 1, a: { d: 1, c: [{ f: 1, e: 2 }] } })).toBe(
      '{\n  "a": {\n    "c": [\n      {\n        "e": 2,\n        "f": 1\n      }\n    ],\n    "d": 1\n  },\n  "b": 1\n}\n',
    );
  });
});

describe("parseReport", () => {
  const DELETE = Symbol("delete");
  /** The message parseReport gives for the fixture with the value at `path` replaced (or deleted). */
  const bad = (path: (string | number)[], value: unknown): string => {
    const r: unknown = kafkaBrokerDownPassed();
    let parent = r as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const last = path.at(-1) ?? "";
    if (value === DELETE) delete parent[last];
    else parent[last] = value;
    try {
      parseReport(JSON.stringify(r));
    } catch (e) {
      expect(e).toBeInstanceOf(ReportFormatError);
      return (e as Error).message;
    }
    throw new Error("parseReport accepted an invalid report");
  };

  it("names the field path and what was expected", () => {
    expect(bad(["timings", "detectSeconds"], "12")).toBe('report.timings.detectSeconds: expected a number or null, got "12"');
    expect(bad(["steps", 1, "ok"], "yes")).toBe('report.steps[1].ok: expected a boolean, got "yes"');
    expect(bad(["drill", "hypothesis"], DELETE)).toBe("report.drill.hypothesis: expected a string (required field missing)");
    expect(bad(["detected", "severity"], "P5")).toBe('report.detected.severity: expected one of "P0", "P1", "P2", "P3", got "P5"');
    expect(bad(["signals", 3, "at"], "yesterday")).toBe('report.signals[3].at: expected an ISO 8601 time, got "yesterday"');
    expect(bad(["integrity"], 5)).toBe("report.integrity: expected an object or null, got 5");
    expect(bad(["integrity", "lost"], -1)).toBe("report.integrity.lost: expected a non-negative integer, got -1");
    expect(bad(["drill", "fault", "params"], [])).toBe("report.drill.fault.params: expected an object, got an empty list");
  });

  it("checks the schema version first", () => {
    expect(bad(["schemaVersion"], 2)).toMatch(/^report\.schemaVersion: expected 1 .*got 2$/);
    expect(bad(["schemaVersion"], DELETE)).toMatch(/^report\.schemaVersion: expected 1 .*got nothing$/);
  });

  it("accepts null detected/integrity and null samples", () => {
    const r = dbPoolExhaustedFailed();
    r.detected = null;
    r.integrity = null;
    expect(parseReport(JSON.stringify(r)).detected).toBeNull();
  });

  it("reports bad JSON as such", () => {
    expect(() => parseReport("{ nope")).toThrow(/^report: expected JSON \(/);
    expect(() => parseReport("[]")).toThrow("report: expected an object");
  });
});

describe("report.json: the verdict's fields", () => {
  it("are optional for older reports, and checked with the field's path when present", () => {
    const r = JSON.parse(toJson(kafkaBrokerDownPassed())) as Record<string, unknown>;
    expect(() => parseReport(JSON.stringify(r))).not.toThrow();
    const withVerdict = {
      ...r,
      worstSeverity: "P0",
      incidentsOpen: [
        {
          kind: "service-down",
          severity: "P0",
          subject: "stats-api",
          firstSeenAt: "2026-01-01T00:00:00Z",
          page: "pager",
          verdict: "collateral",
          reason: "r",
        },
      ],
    };
    expect(() => parseReport(JSON.stringify(withVerdict))).toThrow(
      'report.incidentsOpen[0].page: expected one of "page", "ticket-and-notify", "ticket"',
    );
    expect(() => parseReport(JSON.stringify({ ...r, worstSeverity: "P9" }))).toThrow("report.worstSeverity: expected a severity or null");
  });
});

describe("parseReport: integrity's altered count (issue 10 §2)", () => {
  it("reads a report written before content was compared (no altered, no alteredSample)", () => {
    const old = JSON.parse(toJson(dbPoolExhaustedFailed())) as { integrity: Record<string, unknown> };
    expect(Object.keys(old.integrity)).not.toContain("altered");
    expect(parseReport(JSON.stringify(old)).integrity).toEqual(dbPoolExhaustedFailed().integrity);
  });

  it("round-trips altered and alteredSample after lostSample, and checks them when present", () => {
    const r = dbPoolExhaustedFailed();
    r.integrity = { ...r.integrity!, altered: 2, alteredSample: ["evt-000007", "evt-000008"] };
    const text = toJson(r);
    expect(parseReport(text)).toEqual(r);
    expect(Object.keys((JSON.parse(text) as { integrity: object }).integrity).slice(-3)).toEqual([
      "lostSample",
      "altered",
      "alteredSample",
    ]);
    const bad = JSON.parse(text) as { integrity: Record<string, unknown> };
    bad.integrity["altered"] = -2;
    expect(() => parseReport(JSON.stringify(bad))).toThrow("report.integrity.altered: expected a non-negative integer");
    bad.integrity["altered"] = 2;
    bad.integrity["alteredSample"] = [7];
    expect(() => parseReport(JSON.stringify(bad))).toThrow("report.integrity.alteredSample[0]: expected a string");
  });
});
