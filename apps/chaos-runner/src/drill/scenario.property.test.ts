/**
 * Property-based tests of drill files (fast-check): a generated valid drill round-trips (the parsed
 * Scenario is what the file said, defaults aside); no text makes `parseScenario` throw anything but a
 * ScenarioError whose every problem names a field or the file.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CATALOG } from "@gm/runbook/catalog";
import { INCIDENT_KINDS, type IncidentKind, SEVERITIES, type Severity } from "@gm/runbook/incident";
import { defaultPolicy } from "@gm/runbook/policy";
import { FAULT_TYPES, parseScenario, type Scenario, ScenarioError } from "./scenario.js";

const minutes = (s: Severity) => defaultPolicy.severities[s].responseMinutes;
const words = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== "");
const kind = fc.constantFrom<IncidentKind>(...INCIDENT_KINDS);
const severity = fc.constantFrom<Severity>(...SEVERITIES);
const service = fc.constantFrom("ingest-api", "event-processor-service", "stats-api");
const collateral = fc.record({ kind, severity, subject: words, reason: words });
const table = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}(\.[A-Za-z_][A-Za-z0-9_]{0,20})?$/);

/** A valid drill, as the Scenario it must parse to. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    name: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/),
    incident: kind,
    hypothesis: words,
    brokers: fc.constantFrom<1 | 3>(1, 3),
    processorReplicas: fc.integer({ min: 1, max: 8 }),
    pgPoolMax: fc.integer({ min: 1, max: 200 }),
    maxConnections: fc.integer({ min: 10, max: 1000 }),
    type: fc.constantFrom(...FAULT_TYPES),
    count: fc.integer({ min: 1, max: 10_000 }),
    table,
    service,
    bytes: fc.integer({ min: 1, max: 2 ** 40 }),
    expect: fc.record({ kind, severity }),
    alsoExpected: fc.array(collateral, { maxLength: 2 }),
    tolerances: fc.array(
      fc.oneof(
        fc.record({
          claim: words,
          signal: fc.constantFrom("5xx-share" as const, "error-rate" as const),
          service,
          during: fc.constantFrom("fault" as const, "after" as const),
          max: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.record({
          claim: words,
          signal: fc.constant("lag" as const),
          during: fc.constantFrom("fault" as const, "after" as const),
          max: fc.double({ min: 0, max: 1e12, noNaN: true }),
        }),
      ),
      { maxLength: 3 },
    ),
    mayFailPicks: fc.array(fc.tuple(fc.nat(), words), { maxLength: 2 }),
    remediation: fc.constantFrom<"runbook" | "none">("runbook", "none"),
    load: fc.record({
      rate: fc.double({ min: 1, max: 500, noNaN: true }),
      batch: fc.integer({ min: 1, max: 1000 }),
      reads: fc.double({ min: 0, max: 500, noNaN: true }),
    }),
    detectShare: fc.double({ min: 0, max: 1, noNaN: true }),
    recoverShare: fc.double({ min: 0, max: 1, noNaN: true }),
    drillSeconds: fc.integer({ min: 30, max: 86_400 }),
    kubernetes: fc.option(
      fc.record({ expect: fc.record({ kind, severity }), alsoExpected: fc.array(collateral, { maxLength: 1 }) }, { requiredKeys: [] }),
      { nil: undefined },
    ),
  })
  .map((g) => {
    const limit = minutes(g.expect.severity) * 60;
    const params: Scenario["fault"]["params"] =
      g.type === "kill-broker"
        ? { count: 1 + (g.count % g.brokers) }
        : g.type === "hold-connections"
          ? { count: g.count }
          : g.type === "lock-table"
            ? { table: g.table }
            : g.type === "memory-limit"
              ? { service: g.service, bytes: g.bytes }
              : {};
    const steps = CATALOG[g.expect.kind].steps.map((s) => s.id);
    const kubernetes = g.kubernetes && Object.keys(g.kubernetes).length > 0 ? g.kubernetes : undefined;
    const s: Scenario = {
      name: g.name,
      file: "drill.yaml",
      incident: g.incident,
      hypothesis: g.hypothesis,
      stack: { brokers: g.brokers, processorReplicas: g.processorReplicas, pgPoolMax: g.pgPoolMax, maxConnections: g.maxConnections },
      fault: { type: g.type, params },
      expect: g.expect,
      alsoExpected: g.alsoExpected,
      tolerances: g.tolerances,
      mayFail: g.mayFailPicks.map(([i, reason]) => ({ step: steps[i % steps.length]!, reason })),
      remediation: g.remediation,
      load: g.load,
      deadlines: {
        detectSeconds: Math.max(1, Math.floor(limit * g.detectShare)),
        recoverSeconds: Math.max(1, Math.floor(limit * g.recoverShare)),
        drillSeconds: g.drillSeconds,
      },
      ...(kubernetes ? { kubernetes } : {}),
    };
    return s;
  });

/** The drill file a person would write for `s`. */
const fileOf = (s: Scenario): string => {
  const { file: _file, ...doc } = s;
  return stringify(doc);
};

// a key such as "." reads as a field name and is shown as one (".: unknown key")
const NAMED =
  /^(\(file\)|[A-Za-z0-9_.$-][A-Za-z0-9_.$[\]-]*(\.\(a key that is not a field name; not shown\))?|\(a key that is not a field name; not shown\)): /;

function parseOrProblems(text: string): Scenario | string[] {
  try {
    return parseScenario(text, "drill.yaml", minutes);
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
}

describe("parseScenario, over generated input", { timeout: 120_000 }, () => {
  it("a valid drill round-trips: the parsed drill is what the file said", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(parseScenario(fileOf(s), "drill.yaml", minutes)).toEqual(s);
      }),
      { numRuns: 500 },
    );
  });

  it("a drill that leaves out stack, load, deadlines, remediation gets the defaults", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { file: _f, stack: _s, load: _l, deadlines: _d, remediation: _r, ...rest } = s;
        const limit = minutes(s.expect.severity) * 60;
        const fault = s.fault.type === "kill-broker" ? { ...s.fault, params: { count: 1 } } : s.fault;
        const parsed = parseScenario(stringify({ ...rest, fault }), "drill.yaml", minutes);
        expect(parsed).toEqual({
          ...s,
          fault,
          stack: { brokers: 3, processorReplicas: 1, pgPoolMax: 10, maxConnections: 100 },
          load: { rate: 10, batch: 50, reads: 5 },
          deadlines: { detectSeconds: limit, recoverSeconds: limit, drillSeconds: 900 },
          remediation: "runbook",
        });
      }),
      { numRuns: 200 },
    );
  });

  it("never throws anything but a ScenarioError, and every problem names a field or the file", () => {
    const leaf = fc.oneof(
      fc.jsonValue(),
      fc.integer({ min: 201, max: 5000 }).map((n) => "Z".repeat(n)),
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.constantFrom(".nan", 1.5, -1, "../../etc", "events; DROP TABLE events", 1e300, "", "   "),
    );
    const mutated = fc
      .tuple(scenarioArb, fc.array(fc.tuple(fc.nat(), leaf, fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 4 }))
      .map(([s, changes]) => {
        const doc = JSON.parse(JSON.stringify({ ...s, file: undefined })) as Record<string, unknown>;
        for (const [at, v, key] of changes) {
          const paths: [Record<string, unknown>, string][] = [];
          const walk = (o: unknown) => {
            if (o === null || typeof o !== "object") return;
            for (const k of Object.keys(o)) {
              paths.push([o as Record<string, unknown>, k]);
              walk((o as Record<string, unknown>)[k]);
            }
          };
          walk(doc);
          const [parent, k] = paths[at % paths.length]!;
          // a changed value, or a new key (any text) beside it
          if (at % 5 === 0) parent[key] = v;
          else parent[k] = v;
        }
        return stringify(doc);
      });
    const anyText = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.jsonValue().map((v) => stringify(v)),
      mutated,
      mutated,
      mutated,
    );
    fc.assert(
      fc.property(anyText, (t) => {
        const r = parseOrProblems(t);
        if (Array.isArray(r)) {
          expect(r.length).toBeGreaterThan(0);
          for (const p of r) {
            expect(p).toMatch(NAMED);
            // a value is quoted up to 200 characters, never a whole file
            expect(p.length).toBeLessThan(1200);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});
