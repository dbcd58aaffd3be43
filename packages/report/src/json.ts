/**
 * report.json: written with a stable key order (the schema's order, then any other key alphabetically;
 * free-form objects such as fault params alphabetically), so two runs diff cleanly; read back with
 * validation whose messages name the exact field path.
 */
import { INCIDENT_KINDS, SEVERITIES } from "@gm/runbook/incident";
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
    steps: { keys: ["id", "title", "runbookAction", "phase", "mutates", "startedAt", "seconds", "ok", "finding", "output"] },
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

type Check = (v: unknown, path: string) => void;

const fail = (path: string, expected: string): never => {
  throw new ReportFormatError(path, expected);
};
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str: Check = (v, p) => {
  if (typeof v !== "string") fail(p, "a string");
};
const time: Check = (v, p) => {
  if (typeof v !== "string" || Number.isNaN(Date.parse(v))) fail(p, "an ISO 8601 time");
};
const num: Check = (v, p) => {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(p, "a number");
};
const count: Check = (v, p) => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(p, "a non-negative integer");
};
const bool: Check = (v, p) => {
  if (typeof v !== "boolean") fail(p, "a boolean");
};
const nullable =
  (c: Check, what: string): Check =>
  (v, p) => {
    if (v === null) return;
    try {
      c(v, p);
    } catch (e) {
      if (e instanceof ReportFormatError && e.path === p) fail(p, `${what} or null`);
      throw e;
    }
  };
const numOrNull = nullable(num, "a number");
const oneOf =
  (values: readonly string[]): Check =>
  (v, p) => {
    if (typeof v !== "string" || !values.includes(v)) fail(p, `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`);
  };
const arrayOf =
  (c: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) return fail(p, "an array");
    v.forEach((item, i) => {
      c(item, `${p}[${i}]`);
    });
  };
/** Fields added after v1 was first written: absent in older reports, checked when present. */
const optionalChecks = new WeakSet<Check>();
const optional = (c: Check): Check => {
  const o: Check = (v, p) => c(v, p);
  optionalChecks.add(o);
  return o;
};
const obj =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (!isObj(v)) return fail(p, "an object");
    for (const [k, c] of Object.entries(fields)) {
      if (!(k in v) && optionalChecks.has(c)) continue;
      if (!(k in v)) fail(`${p}.${k}`, "a value (required field missing)");
      c(v[k], `${p}.${k}`);
    }
  };
const anyObj: Check = (v, p) => {
  if (!isObj(v)) fail(p, "an object");
};
const observed: Check = (v, p) => {
  if (typeof v !== "string" && typeof v !== "boolean" && (typeof v !== "number" || !Number.isFinite(v)))
    fail(p, "a number, string or boolean");
};

const kind = oneOf(INCIDENT_KINDS);
const severity = oneOf(SEVERITIES);
const PHASES = ["steady-state", "load", "inject", "detect", "mitigate", "recover", "integrity", "cleanup"] as const;

const validateReport = obj({
  schemaVersion: () => {},
  drill: obj({
    scenario: str,
    file: str,
    hypothesis: str,
    fault: obj({ type: str, params: anyObj, description: str }),
    expected: obj({ kind, severity }),
    target: obj({ kind: oneOf(["testcontainers", "kubernetes"]), name: str }),
  }),
  startedAt: time,
  finishedAt: time,
  outcome: oneOf(["passed", "failed", "aborted"]),
  reasons: arrayOf(str),
  timings: obj({
    detectSeconds: numOrNull,
    pageSeconds: optional(numOrNull),
    mitigateSeconds: numOrNull,
    recoverSeconds: numOrNull,
    responseMinutes: num,
    deadlines: obj({ detectSeconds: num, recoverSeconds: num }),
  }),
  detected: nullable(obj({ kind, severity, evidence: arrayOf(obj({ signal: str, observed, threshold: str })) }), "an object"),
  incidentsSeen: arrayOf(obj({ kind, severity, subject: str, firstSeenAt: time })),
  observer: optional(
    obj({
      source: str,
      intervalSeconds: num,
      timeoutMs: num,
      windowSeconds: num,
      resolveAfterRounds: count,
      alertmanager: nullable(str, "a string"),
    }),
  ),
  incidentsOpen: optional(
    arrayOf(
      obj({
        kind,
        severity,
        subject: str,
        firstSeenAt: time,
        page: oneOf(["page", "ticket-and-notify", "ticket"]),
        verdict: oneOf(["expected", "collateral", "worse", "unexpected"]),
        reason: str,
      }),
    ),
  ),
  worstSeverity: optional(nullable(severity, "a severity")),
  hypothesisChecks: optional(
    arrayOf(obj({ claim: str, signal: str, during: oneOf(["fault", "after"]), max: num, observed: numOrNull, ok: bool, detail: str })),
  ),
  steps: arrayOf(
    obj({
      id: str,
      title: str,
      runbookAction: str,
      phase: oneOf(["triage", "mitigation", "verification"]),
      mutates: bool,
      startedAt: time,
      seconds: num,
      ok: bool,
      finding: optional(oneOf(["problem", "healthy", "acted", "not-needed"])),
      output: arrayOf(str),
    }),
  ),
  integrity: nullable(
    obj({
      acknowledged: count,
      found: count,
      lost: count,
      duplicates: count,
      lostSample: arrayOf(str),
      altered: optional(count),
      alteredSample: optional(arrayOf(str)),
    }),
    "an object",
  ),
  cleanup: obj({ ok: bool, leftovers: arrayOf(str) }),
  checks: arrayOf(obj({ name: str, ok: bool, detail: str })),
  timeline: arrayOf(obj({ at: time, phase: oneOf(PHASES), message: str })),
  signals: arrayOf(
    obj({
      at: time,
      errorRate: numOrNull,
      lag: numOrNull,
      poolUsage: numOrNull,
      healthy: count,
      services: count,
      incidents: arrayOf(str),
    }),
  ),
});

/**
 * Validates a parsed value as a DrillReport v1 and returns it (unknown extra fields are kept).
 * Throws ReportFormatError naming the first bad field, e.g. `report.timings.detectSeconds: expected a number or null`.
 */
export function validateReportValue(value: unknown): DrillReport {
  if (!isObj(value)) fail("report", "an object");
  const v = value as Record<string, unknown>;
  if (v["schemaVersion"] !== REPORT_SCHEMA_VERSION) {
    fail(
      "report.schemaVersion",
      `${REPORT_SCHEMA_VERSION} (this reader understands DrillReport v${REPORT_SCHEMA_VERSION}), got ${JSON.stringify(v["schemaVersion"]) ?? "nothing"}`,
    );
  }
  validateReport(v, "report");
  return v as unknown as DrillReport;
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
