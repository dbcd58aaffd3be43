/**
 * Drill files (scenarios/*.yaml): typed, validated once at the edge by a zod schema (the types below
 * are inferred from it; `gm-chaos schema drill` prints it as JSON Schema), one clear message per problem.
 * Rules between fields (a count of brokers the stack has, the deadlines the severity allows, steps the
 * incident runs) are checked in `crossCheck`, in the same run, so one run names every problem.
 */
import { CATALOG } from "@gm/runbook/catalog";
import { INCIDENT_KINDS, type IncidentKind, SEVERITIES, type Severity } from "@gm/runbook/incident";
import { check, describeValue, jsonSchemaOf, obj } from "@gm/runbook/schema-problems";
import { parseYamlText, showKey } from "@gm/runbook/yaml-text";
import { z } from "zod";

export const FAULT_TYPES = ["kill-broker", "hold-connections", "lock-table", "pause-consumers", "memory-limit", "bad-deployment"] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

/** Signals a hypothesis tolerance can be measured on. */
export const TOLERANCE_SIGNALS = ["5xx-share", "error-rate", "lag"] as const;
export type ToleranceSignal = (typeof TOLERANCE_SIGNALS)[number];
/** "fault": from injection until recovery is verified; "after": the hold after recovery (load still running). */
export const TOLERANCE_WINDOWS = ["fault", "after"] as const;

/** What a fault parameter may be, beyond its type: counts are whole, a service is one of the platform's. */
const FAULT_SERVICES = ["ingest-api", "event-processor-service", "stats-api"] as const;
/** The mistakes a bad deployment makes: a database password that is wrong, or a pool of one connection. */
export const DEPLOY_MISTAKES = ["wrong-database-password", "pool-size-1"] as const;
export type DeployMistake = (typeof DEPLOY_MISTAKES)[number];

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
/** A plain SQL identifier, optionally schema-qualified (`events`, `public.events`): nothing to quote away. */
export const isTableName = (v: string): boolean => TABLE_NAME.test(v);

/** A number in a range, every failure told with the same "expected" phrase. */
const num = (min: number, max: number, integer: boolean, expected?: string) => {
  const e = { error: expected ?? `${integer ? "an integer" : "a number"} from ${min} to ${max}` };
  return (integer ? z.number(e).int(e) : z.number(e)).min(min, e).max(max, e);
};
// not blank; the value is kept as written (a subject is matched as is)
const text = z.string({ error: "a non-empty string" }).regex(/\S/, { error: "a non-empty string" });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `one of ${values.join(", ")}` });
const incidentKind = oneOf(INCIDENT_KINDS);
const severity = oneOf(SEVERITIES);

const count = num(1, 10_000, true, "a whole number from 1 to 10000");
// The table name reaches SQL run as the superuser: only a plain identifier (or schema.identifier)
// passes, and faults.ts quotes it as well. 63: PostgreSQL truncates longer names (NAMEDATALEN − 1).
const tableError = { error: "a table name ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified, at most 63 characters each)" };
const faultSchema = z.discriminatedUnion(
  "type",
  [
    obj({ type: z.literal("kill-broker"), params: obj({ count }).optional() }),
    obj({ type: z.literal("hold-connections"), params: obj({ count }).optional() }),
    obj({ type: z.literal("lock-table"), params: obj({ table: z.string(tableError).regex(TABLE_NAME, tableError) }).optional() }),
    obj({ type: z.literal("pause-consumers"), params: obj({}).optional() }),
    obj({
      type: z.literal("memory-limit"),
      params: obj({
        service: oneOf(FAULT_SERVICES),
        bytes: num(1, 2 ** 40, true, "a whole number of bytes from 1 to 1099511627776 (1 TiB)"),
      })
        .partial()
        .optional(),
    }),
    obj({
      type: z.literal("bad-deployment"),
      params: obj({
        service: oneOf(["stats-api", "event-processor-service"] as const).describe("the service a new revision is deployed of"),
        mistake: oneOf(DEPLOY_MISTAKES).describe("what the new revision gets wrong"),
      })
        .partial()
        .optional(),
    }).describe(
      "a new revision of a service with a realistic mistake (gm-chaos stack deploy); undone by rolling back to the revision before",
    ),
  ],
  { error: `one of ${FAULT_TYPES.join(", ")}` },
);

const collateralSchema = obj({
  kind: incidentKind,
  severity: severity.describe("the worst severity it may reach"),
  subject: text,
  reason: text,
}).describe("An incident the fault is known to cause besides the expected one: shown as collateral, with its page.");

const mayFailSchema = obj({ step: text, reason: text });

const toleranceSchema = obj({
  claim: text,
  signal: oneOf(TOLERANCE_SIGNALS),
  service: text.optional(),
  during: oneOf(TOLERANCE_WINDOWS).default("fault"),
  max: num(0, 1e12, false, "the most the signal may reach: a number from 0 to 1 (to 1000000000000 for lag)"),
}).describe(
  "A measurable claim of the hypothesis: `5xx-share` = share of the drill load's requests to `service` answered 5xx or not at all; " +
    "`error-rate` = the prober's error rate of `service` (worst round); `lag` = the prober's total consumer lag (worst round).",
);

const expectSchema = obj({ kind: incidentKind, severity });

/** What a drill file holds, as written (deadlines default to the expected severity's response time, after). */
export const drillFileSchema = obj({
  name: text.regex(/^[a-z0-9][a-z0-9-]*$/, { error: "lower-case words joined by dashes" }),
  incident: incidentKind.describe("the runbook incident this drill exercises"),
  hypothesis: text,
  stack: obj({
    brokers: z.literal([1, 3], { error: "1 or 3" }).default(3),
    processorReplicas: num(1, 8, true).default(1),
    pgPoolMax: num(1, 200, true).default(10),
    maxConnections: num(10, 1000, true).default(100),
  }).prefault({}),
  fault: faultSchema,
  expect: expectSchema,
  alsoExpected: z
    .array(collateralSchema)
    .default([])
    .describe("incidents besides the expected one that the fault causes by design; any other fails the drill"),
  tolerances: z.array(toleranceSchema).default([]).describe("the hypothesis's measurable claims"),
  mayFail: z.array(mayFailSchema).default([]).describe("steps allowed to end NOT ok in this drill, each with why"),
  remediation: z
    .enum(["runbook", "none"], { error: "one of runbook, none" })
    .default("runbook")
    .describe('"runbook": the catalog\'s steps for the expected incident; "none": a drill that proves the checks fail'),
  load: obj({
    rate: num(1, 500, false).default(10),
    batch: num(1, 1000, true).default(50),
    reads: num(0, 500, false).default(5),
  })
    .prefault({})
    .describe("batches/s of `batch` events to ingest-api, and player-stats reads/s against stats-api"),
  deadlines: obj({
    detectSeconds: num(1, 86_400, true).optional(),
    recoverSeconds: num(1, 86_400, true).optional(),
    drillSeconds: num(30, 86_400, true).default(900),
  }).prefault({}),
  kubernetes: obj({
    expect: expectSchema.optional(),
    alsoExpected: z.array(collateralSchema).optional(),
    mayFail: z.array(mayFailSchema).optional(),
  })
    .optional()
    .describe("what a drill against a Kubernetes namespace expects instead, where the platform makes it differ"),
});

type DrillFile = z.output<typeof drillFileSchema>;

/** The drill file's JSON Schema (`gm-chaos schema drill`; schemas/drill.schema.json). */
export function drillJsonSchema(): string {
  return jsonSchemaOf(drillFileSchema, {
    title: "GameMetrics game-day drill",
    description:
      "A drill file (scenarios/*.yaml) for gm-chaos drill. Rules between fields (a broker count within the stack's brokers, deadlines within the expected severity's response time, mayFail steps of the expected incident) are checked by gm-chaos plan.",
  });
}

export interface FaultSpec {
  type: FaultType;
  params: Record<string, number | string | boolean>;
}
/** A measurable claim of the hypothesis (Chaos Toolkit's steady-state probe with a tolerance). */
export type Tolerance = z.output<typeof toleranceSchema>;
/** An incident the fault is known to cause besides the expected one: shown as collateral, with its page. */
export type ExpectedCollateral = z.output<typeof collateralSchema>;

/** A drill, as the runner reads it: the file's fields with every default filled in. */
export type Scenario = Omit<DrillFile, "fault" | "deadlines" | "kubernetes"> & {
  file: string;
  fault: FaultSpec;
  deadlines: { detectSeconds: number; recoverSeconds: number; drillSeconds: number };
  kubernetes?: {
    expect?: { kind: IncidentKind; severity: Severity };
    alsoExpected?: ExpectedCollateral[];
    mayFail?: { step: string; reason: string }[];
  };
};

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid drill:\n  - ${problems.join("\n  - ")}`);
    this.name = "ScenarioError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const TOP_KEYS = Object.keys(drillFileSchema.shape);

/**
 * Rules between fields, on the file as written (each rule only where its fields are individually
 * valid, so one run names every problem without a second message for the same field).
 */
function crossCheck(raw: Obj, responseMinutes: (s: Severity) => number, problems: string[]): void {
  const at = (o: unknown, k: string): unknown => (isObj(o) ? o[k] : undefined);
  const brokers = at(raw["stack"], "brokers") ?? 3;
  const fault = raw["fault"];
  const faultCount = at(at(fault, "params"), "count");
  if (
    at(fault, "type") === "kill-broker" &&
    (brokers === 1 || brokers === 3) &&
    typeof faultCount === "number" &&
    Number.isInteger(faultCount) &&
    faultCount >= 1 &&
    faultCount <= 10_000 &&
    faultCount > brokers
  )
    problems.push(`fault.params.count: expected 1 to ${brokers} (the stack's brokers), got ${faultCount}`);
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  list(raw["tolerances"]).forEach((t, i) => {
    const signal = at(t, "signal");
    const max = at(t, "max");
    if ((signal === "5xx-share" || signal === "error-rate") && at(t, "service") === undefined)
      problems.push(`tolerances[${i}].service: required for signal ${signal} (the service whose requests are measured)`);
    if (signal !== "lag" && typeof max === "number" && max > 1 && max <= 1e12)
      problems.push(`tolerances[${i}].max: expected a number from 0 to 1, got ${max}`);
  });
  // a step that may fail must be one the drill runs: the expected incident's (on that target)
  const kindOf = (e: unknown): IncidentKind | undefined => {
    const k = at(e, "kind");
    return (INCIDENT_KINDS as readonly unknown[]).includes(k) ? (k as IncidentKind) : undefined;
  };
  const checkSteps = (ms: unknown, kind: IncidentKind | undefined, path: string) => {
    if (!kind) return;
    const ids = CATALOG[kind].steps.map((x) => x.id);
    list(ms).forEach((m, i) => {
      const step = at(m, "step");
      if (typeof step === "string" && step.trim() !== "" && !ids.includes(step))
        problems.push(`${path}[${i}].step: expected one of the ${kind} steps (${ids.join(", ")}), got ${describeValue(step)}`);
    });
  };
  const expectKind = kindOf(raw["expect"]);
  checkSteps(raw["mayFail"], expectKind, "mayFail");
  const k = raw["kubernetes"];
  checkSteps(at(k, "mayFail"), kindOf(at(k, "expect")) ?? (at(k, "expect") === undefined ? expectKind : undefined), "kubernetes.mayFail");
  // The runbook's response time is the loosest a drill may be; a file can only tighten it.
  const sev = at(raw["expect"], "severity");
  if ((SEVERITIES as readonly unknown[]).includes(sev)) {
    const limit = responseMinutes(sev as Severity) * 60;
    for (const d of ["detectSeconds", "recoverSeconds"]) {
      const v = at(raw["deadlines"], d);
      if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 86_400 && v > limit)
        problems.push(`deadlines.${d}: expected at most ${limit} (the ${sev} response time), got ${v}`);
    }
  }
}

/** Parses one drill file; `responseMinutes` bounds the deadlines (the runbook's response time of the severity). */
export function parseScenario(text: string, file: string, responseMinutes: (s: Severity) => number): Scenario {
  // alias bombs and duplicate keys refused quickly, with a message (packages/runbook/src/yaml-text.ts)
  const parsed = parseYamlText(text);
  if (!parsed.ok) throw new ScenarioError(file, [`(file): ${parsed.problem}`]);
  const raw: unknown = parsed.value;
  if (!isObj(raw)) throw new ScenarioError(file, ["(file): expected a mapping"]);
  // a file that is not a drill (gm-chaos plan /etc/shadow): its lines are never quoted as keys
  if (!Object.keys(raw).some((k) => TOP_KEYS.includes(k)) && Object.keys(raw).some((k) => showKey(k) !== `"${k}"`))
    throw new ScenarioError(file, [`(file): not a drill file: none of its keys is ${TOP_KEYS.join(", ")}`]);
  // Every field is checked before anything is refused, so one run names every problem.
  const checked = check(drillFileSchema, raw);
  const problems = checked.ok ? [] : [...checked.problems];
  crossCheck(raw, responseMinutes, problems);
  if (!checked.ok || problems.length) throw new ScenarioError(file, problems);
  const d = checked.value;
  const limit = responseMinutes(d.expect.severity) * 60;
  const params: FaultSpec["params"] = {};
  for (const [k, v] of Object.entries(d.fault.params ?? {})) if (v !== undefined) params[k] = v;
  const { kubernetes, ...rest } = d;
  const k8s = kubernetes && (kubernetes.expect || kubernetes.alsoExpected || kubernetes.mayFail) ? kubernetes : undefined;
  return {
    ...rest,
    file,
    fault: { type: d.fault.type, params },
    deadlines: {
      detectSeconds: d.deadlines.detectSeconds ?? limit,
      recoverSeconds: d.deadlines.recoverSeconds ?? limit,
      drillSeconds: d.deadlines.drillSeconds,
    },
    ...(k8s ? { kubernetes: k8s } : {}),
  };
}
