/**
 * report.json: written with a stable key order (the schema's order, then any other key alphabetically;
 * free-form objects such as fault params alphabetically), so two runs diff cleanly; read back with
 * a zod schema (`reportSchema`) whose message names the exact field path, what was expected and what was found.
 */
import { INCIDENT_KINDS, SEVERITIES } from "@gm/runbook/incident";
import { problemListOf, safeParse } from "@gm/runbook/schema-problems";
import { z } from "zod";
import { type DrillReport, REPORT_SCHEMA_VERSION } from "./schema.js";

/** Key order of an object and the shapes of its object/array-of-object fields. */
interface Shape {
  keys: readonly string[];
  fields?: Record<string, Shape>;
}

const EVIDENCE: Shape = { keys: ["signal", "observed", "threshold"] };
const REPORT_SHAPE: Shape = {
  keys: [
    "schemaVersion",
    "incident",
    "drill",
    "startedAt",
    "finishedAt",
    "outcome",
    "reasons",
    "timings",
    "detected",
    "incidentsSeen",
    "observer",
    "incidentsOpen",
    "worstSeverity",
    "hypothesisChecks",
    "steps",
    "integrity",
    "cleanup",
    "checks",
    "timeline",
    "signals",
  ],
  fields: {
    incident: {
      keys: ["id", "kind", "subject", "severity", "openedAt", "resolvedAt", "onsetAt", "onsetSource", "changes", "rootCause", "journal"],
      fields: { changes: { keys: ["at", "from", "to"] } },
    },
    drill: {
      keys: ["scenario", "file", "hypothesis", "fault", "expected", "target"],
      fields: {
        fault: { keys: ["type", "params", "description"] },
        expected: { keys: ["kind", "severity"] },
        target: { keys: ["kind", "name"] },
      },
    },
    timings: {
      keys: ["detectSeconds", "pageSeconds", "firstPage", "mitigateSeconds", "recoverSeconds", "responseMinutes", "deadlines"],
      fields: { deadlines: { keys: ["detectSeconds", "recoverSeconds"] } },
    },
    detected: { keys: ["kind", "severity", "evidence"], fields: { evidence: EVIDENCE } },
    incidentsSeen: { keys: ["kind", "severity", "subject", "firstSeenAt"] },
    observer: { keys: ["source", "intervalSeconds", "timeoutMs", "windowSeconds", "resolveAfterRounds", "alertmanager"] },
    incidentsOpen: { keys: ["kind", "severity", "subject", "firstSeenAt", "page", "verdict", "reason"] },
    hypothesisChecks: { keys: ["claim", "signal", "service", "during", "max", "observed", "ok", "detail"] },
    steps: { keys: ["id", "title", "runbookAction", "phase", "mutates", "effect", "startedAt", "seconds", "ok", "finding", "output"] },
    integrity: { keys: ["acknowledged", "found", "lost", "duplicates", "lostSample", "altered", "alteredSample"] },
    cleanup: { keys: ["ok", "leftovers"] },
    checks: { keys: ["name", "ok", "detail"] },
    timeline: { keys: ["at", "phase", "message"] },
    signals: { keys: ["at", "startedAt", "errorRate", "lag", "poolUsage", "healthy", "services", "incidents"] },
  },
};

function ordered(value: unknown, shape: Shape | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v, shape));
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const known = shape?.keys ?? [];
  const rest = Object.keys(obj)
    .filter((k) => !known.includes(k))
    .sort();
  // Object.fromEntries defines own properties, so a key such as "__proto__" (legal in fault params)
  // stays a key instead of becoming the object's prototype.
  return Object.fromEntries(
    [...known, ...rest].filter((k) => Object.hasOwn(obj, k) && obj[k] !== undefined).map((k) => [k, ordered(obj[k], shape?.fields?.[k])]),
  );
}

/** report.json's text: 2-space indented, stable key order, trailing newline. */
export function toJson(report: DrillReport): string {
  return JSON.stringify(ordered(report, REPORT_SHAPE), null, 2) + "\n";
}

/** JSON with stable key order (objects alphabetically), 2-space, trailing newline: for any other document. */
export function stableJson(value: unknown): string {
  return JSON.stringify(ordered(value, undefined), null, 2) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A report.json that is not a valid DrillReport v1; `path` is the offending field, e.g. `report.timings.detectSeconds`. */
export class ReportFormatError extends Error {
  override readonly name = "ReportFormatError";
  constructor(
    readonly path: string,
    readonly expected: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: expected ${expected}`, options);
  }
}

// The reader's schema (zod). Loose objects: report.json is written by the tool, and a newer writer's extra
// fields are kept for it rather than refused; fields added after v1 was first written are optional.
const e = (expected: string) => ({ error: expected });
const str = z.string(e("a string"));
const time = z
  .string(e("an ISO 8601 time"))
  .refine((v) => !Number.isNaN(Date.parse(v)), { error: "an ISO 8601 time", params: { expected: true } });
const num = z.number(e("a number"));
const count = z.number(e("a non-negative integer")).int(e("a non-negative integer")).min(0, e("a non-negative integer"));
const bool = z.boolean(e("a boolean"));
const numOrNull = z.number(e("a number or null")).nullable();
const quoted = (values: readonly string[]) => `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, expected = quoted(values)) => z.enum(values, e(expected));
const obj = <S extends z.core.$ZodLooseShape>(shape: S, expected = "an object") => z.looseObject(shape, e(expected));
const list = <T extends z.ZodType>(item: T) => z.array(item, e("an array"));
const observed = z.union([z.number(), z.string(), z.boolean()], e("a number, string or boolean"));

const kind = oneOf(INCIDENT_KINDS);
const severity = oneOf(SEVERITIES);
const PHASES = ["steady-state", "load", "inject", "detect", "mitigate", "recover", "integrity", "cleanup"] as const;

/** DrillReport v1 as it is read back (schemaVersion is checked first, on its own). */
export const reportSchema = obj({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  incident: obj({
    id: str,
    kind,
    subject: str,
    severity,
    openedAt: time,
    resolvedAt: time.nullable(),
    onsetAt: time,
    onsetSource: oneOf(["last-clear-round", "given", "opened"]),
    changes: list(obj({ at: time, from: severity, to: severity })),
    rootCause: z.string(e("a string or null")).nullable(),
    journal: str,
  }).optional(),
  drill: obj({
    scenario: str,
    file: str,
    hypothesis: str,
    fault: obj({ type: str, params: z.record(z.string(), z.unknown(), e("an object")), description: str }),
    expected: obj({ kind, severity }),
    target: obj({ kind: oneOf(["testcontainers", "kubernetes"]), name: str }),
  }),
  startedAt: time,
  finishedAt: time,
  outcome: oneOf(["passed", "failed", "aborted"]),
  reasons: list(str),
  timings: obj({
    detectSeconds: numOrNull,
    pageSeconds: numOrNull.optional(),
    mitigateSeconds: numOrNull,
    recoverSeconds: numOrNull,
    responseMinutes: num,
    deadlines: obj({ detectSeconds: num, recoverSeconds: num }),
  }),
  detected: obj({ kind, severity, evidence: list(obj({ signal: str, observed, threshold: str })) }, "an object or null").nullable(),
  incidentsSeen: list(obj({ kind, severity, subject: str, firstSeenAt: time })),
  observer: obj({
    source: str,
    intervalSeconds: num,
    timeoutMs: num,
    windowSeconds: num,
    resolveAfterRounds: count,
    alertmanager: z.string(e("a string or null")).nullable(),
  }).optional(),
  incidentsOpen: list(
    obj({
      kind,
      severity,
      subject: str,
      firstSeenAt: time,
      page: oneOf(["page", "ticket-and-notify", "ticket"]),
      verdict: oneOf(["expected", "collateral", "worse", "unexpected"]),
      reason: str,
    }),
  ).optional(),
  worstSeverity: oneOf(SEVERITIES, "a severity or null").nullable().optional(),
  hypothesisChecks: list(
    obj({ claim: str, signal: str, during: oneOf(["fault", "after"]), max: num, observed: numOrNull, ok: bool, detail: str }),
  ).optional(),
  steps: list(
    obj({
      id: str,
      title: str,
      runbookAction: str,
      phase: oneOf(["triage", "mitigation", "verification"]),
      mutates: bool,
      effect: oneOf(["read-only", "reversible", "irreversible"]).optional(),
      startedAt: time,
      seconds: num,
      ok: bool,
      finding: oneOf(["problem", "healthy", "acted", "not-needed"]).optional(),
      output: list(str),
    }),
  ),
  integrity: obj(
    {
      acknowledged: count,
      found: count,
      lost: count,
      duplicates: count,
      lostSample: list(str),
      altered: count.optional(),
      alteredSample: list(str).optional(),
    },
    "an object or null",
  ).nullable(),
  cleanup: obj({ ok: bool, leftovers: list(str) }),
  checks: list(obj({ name: str, ok: bool, detail: str })),
  timeline: list(obj({ at: time, phase: oneOf(PHASES), message: str })),
  signals: list(
    obj({
      at: time,
      errorRate: numOrNull,
      lag: numOrNull,
      poolUsage: numOrNull,
      healthy: count,
      services: count,
      incidents: list(str),
    }),
  ),
});

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Validates a parsed value as a DrillReport v1 and returns it (unknown extra fields are kept).
 * Throws ReportFormatError naming the first bad field, e.g. `report.timings.detectSeconds: expected a number or null, got "12"`.
 */
export function validateReportValue(value: unknown): DrillReport {
  if (!isObj(value)) throw new ReportFormatError("report", "an object");
  if (value["schemaVersion"] !== REPORT_SCHEMA_VERSION) {
    throw new ReportFormatError(
      "report.schemaVersion",
      `${REPORT_SCHEMA_VERSION} (this reader understands DrillReport v${REPORT_SCHEMA_VERSION}), got ${JSON.stringify(value["schemaVersion"]) ?? "nothing"}`,
    );
  }
  const r = safeParse(reportSchema, value);
  if (r.success) return value as unknown as DrillReport;
  const first = problemListOf(r.error)[0]!;
  // paths under `report`: `report.timings.detectSeconds`, `report.steps[1].ok`
  const path = first.path === "(root)" ? "report" : first.path.startsWith("[") ? `report${first.path}` : `report.${first.path}`;
  const expected =
    first.expected === undefined
      ? first.message.slice(first.path.length + 2)
      : first.got === undefined
        ? `${first.expected} (required field missing)`
        : `${first.expected}, got ${first.got}`;
  throw new ReportFormatError(path, expected);
}

/** Parses report.json's text; throws ReportFormatError (path `report`) for bad JSON and for any invalid field. */
export function parseReport(text: string): DrillReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError("report", `JSON (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  return validateReportValue(value);
}
