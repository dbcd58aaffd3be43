/**
 * Drill files (scenarios/*.yaml): typed, validated once at the edge, one clear message per problem.
 */
import { parseYamlText, showKey } from "@gm/runbook/yaml-text";
import { CATALOG } from "@gm/runbook/catalog";
import { INCIDENT_KINDS, SEVERITIES, type IncidentKind, type Severity } from "@gm/runbook/incident";

export const FAULT_TYPES = ["kill-broker", "hold-connections", "lock-table", "pause-consumers", "memory-limit"] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export interface FaultSpec {
  type: FaultType;
  params: Record<string, number | string | boolean>;
}

/** Signals a hypothesis tolerance can be measured on. */
export const TOLERANCE_SIGNALS = ["5xx-share", "error-rate", "lag"] as const;
export type ToleranceSignal = (typeof TOLERANCE_SIGNALS)[number];
/** "fault": from injection until recovery is verified; "after": the hold after recovery (load still running). */
export const TOLERANCE_WINDOWS = ["fault", "after"] as const;

/**
 * A measurable claim of the hypothesis (Chaos Toolkit's steady-state probe with a tolerance):
 * `5xx-share` = share of the drill load's requests to `service` answered 5xx or not at all (what users
 * saw); `error-rate` = the prober's error rate of `service` (worst round); `lag` = the prober's total
 * consumer lag (worst round). A claim that does not hold fails the drill with the observed value.
 */
export interface Tolerance {
  claim: string;
  signal: ToleranceSignal;
  service?: string;
  during: (typeof TOLERANCE_WINDOWS)[number];
  max: number;
}

/** An incident the fault is known to cause besides the expected one: shown as collateral, with its page. */
export interface ExpectedCollateral {
  kind: IncidentKind;
  /** the worst severity it may reach */
  severity: Severity;
  subject: string;
  reason: string;
}

export interface Scenario {
  name: string;
  file: string;
  /** the runbook incident this drill exercises */
  incident: IncidentKind;
  hypothesis: string;
  stack: { brokers: 1 | 3; processorReplicas: number; pgPoolMax: number; maxConnections: number };
  fault: FaultSpec;
  expect: { kind: IncidentKind; severity: Severity };
  /** "runbook": the catalog's steps for the expected incident; "none": a drill that proves the checks fail */
  remediation: "runbook" | "none";
  /** batches/s of `batch` events to ingest-api, and player-stats reads/s against stats-api */
  load: { rate: number; batch: number; reads: number };
  deadlines: { detectSeconds: number; recoverSeconds: number; drillSeconds: number };
  /** incidents besides the expected one that the fault causes by design; any other fails the drill */
  alsoExpected: ExpectedCollateral[];
  /** the hypothesis's measurable claims */
  tolerances: Tolerance[];
  /** steps allowed to end NOT ok in this drill, each with why */
  mayFail: { step: string; reason: string }[];
  /** what a drill against a Kubernetes namespace expects instead, where the platform makes it differ */
  kubernetes?: {
    expect?: { kind: IncidentKind; severity: Severity };
    alsoExpected?: ExpectedCollateral[];
    mayFail?: { step: string; reason: string }[];
  };
}

const FAULT_PARAMS: Record<FaultType, Record<string, "number" | "string">> = {
  "kill-broker": { count: "number" },
  "hold-connections": { count: "number" },
  "lock-table": { table: "string" },
  "pause-consumers": {},
  "memory-limit": { service: "string", bytes: "number" },
};

/** What a fault parameter may be, beyond its type: counts are whole, a service is one of the platform's. */
const FAULT_SERVICES = ["ingest-api", "event-processor-service", "stats-api"];
const FAULT_PARAM_RULES: Record<string, { expected: string; ok: (v: number | string) => boolean }> = {
  count: { expected: "a whole number from 1 to 10000", ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 10_000 },
  bytes: {
    expected: "a whole number of bytes from 1 to 1099511627776 (1 TiB)",
    ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 2 ** 40,
  },
  service: { expected: `one of ${FAULT_SERVICES.join(", ")}`, ok: (v) => FAULT_SERVICES.includes(v as string) },
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

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
/** A plain SQL identifier, optionally schema-qualified (`events`, `public.events`): nothing to quote away. */
export const isTableName = (v: string): boolean => TABLE_NAME.test(v);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
// A value quoted in a message: a long text may be a file's content rather than a value, so only its length
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length <= 200 ? s : `${typeof v === "string" ? "a string" : "a value"} of ${s.length} characters`;
};
/** A key of the file as part of a field path: quoted only when it reads as a field name. */
const keyName = (k: string) => (showKey(k) === `"${k}"` ? k : showKey(k));

/** Parses one drill file; `responseMinutes` bounds the deadlines (the runbook's response time of the severity). */
export function parseScenario(text: string, file: string, responseMinutes: (s: Severity) => number): Scenario {
  const problems: string[] = [];
  // alias bombs and duplicate keys refused quickly, with a message (packages/runbook/src/yaml-text.ts)
  const parsed = parseYamlText(text);
  if (!parsed.ok) throw new ScenarioError(file, [`(file): ${parsed.problem}`]);
  const raw: unknown = parsed.value;
  if (!isObj(raw)) throw new ScenarioError(file, ["(file): expected a mapping"]);
  const known = [
    "name",
    "incident",
    "hypothesis",
    "stack",
    "fault",
    "expect",
    "alsoExpected",
    "tolerances",
    "mayFail",
    "remediation",
    "load",
    "deadlines",
    "kubernetes",
  ];
  // a file that is not a drill (gm-chaos plan /etc/shadow): its lines are never quoted as keys
  if (!Object.keys(raw).some((k) => known.includes(k)) && Object.keys(raw).some((k) => showKey(k) !== `"${k}"`))
    throw new ScenarioError(file, [`(file): not a drill file: none of its keys is ${known.join(", ")}`]);
  for (const k of Object.keys(raw))
    if (!known.includes(k)) problems.push(`${keyName(k)}: unknown key (expected one of ${known.join(", ")})`);
  const str = (v: unknown, path: string): string => {
    if (typeof v !== "string" || v.trim() === "") {
      problems.push(`${path}: expected a non-empty string, got ${show(v)}`);
      return "";
    }
    return v;
  };
  const num = (v: unknown, path: string, def: number, min: number, max: number, integer = true): number => {
    if (v === undefined) return def;
    // NaN (`.nan` in YAML) is neither below min nor above max: it must be refused by name
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(
        `${path}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${typeof v === "number" && !Number.isFinite(v) ? String(v) : show(v)}`,
      );
      return def;
    }
    return v;
  };
  const oneOf = <T extends string>(v: unknown, path: string, allowed: readonly T[]): T => {
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      problems.push(`${path}: expected one of ${allowed.join(", ")}, got ${show(v)}`);
      return allowed[0]!;
    }
    return v as T;
  };
  const list = (v: unknown, path: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      problems.push(`${path}: expected a list, got ${show(v)}`);
      return [];
    }
    return v;
  };
  const obj = (v: unknown, path: string, keys: string[], required: boolean): Obj => {
    if (v === undefined) {
      if (required) problems.push(`${path}: required`);
      return {};
    }
    if (!isObj(v)) {
      problems.push(`${path}: expected a mapping, got ${show(v)}`);
      return {};
    }
    for (const k of Object.keys(v))
      if (!keys.includes(k)) problems.push(`${path}.${keyName(k)}: unknown key (expected one of ${keys.join(", ")})`);
    return v;
  };

  const name = str(raw["name"], "name");
  if (name && !/^[a-z0-9][a-z0-9-]*$/.test(name)) problems.push(`name: expected lower-case words joined by dashes, got ${show(name)}`);
  const incident = oneOf(raw["incident"], "incident", INCIDENT_KINDS);
  const hypothesis = str(raw["hypothesis"], "hypothesis");
  const st = obj(raw["stack"], "stack", ["brokers", "processorReplicas", "pgPoolMax", "maxConnections"], false);
  const brokers = num(st["brokers"], "stack.brokers", 3, 1, 3);
  if (brokers !== 1 && brokers !== 3) problems.push(`stack.brokers: expected 1 or 3, got ${brokers}`);
  const f = obj(raw["fault"], "fault", ["type", "params"], true);
  const type = oneOf(f["type"], "fault.type", FAULT_TYPES);
  const p = obj(f["params"], "fault.params", Object.keys(FAULT_PARAMS[type]), false);
  const params: FaultSpec["params"] = {};
  for (const [k, kind] of Object.entries(FAULT_PARAMS[type])) {
    const v = p[k];
    if (v === undefined) continue;
    if (typeof v !== kind) problems.push(`fault.params.${k}: expected a ${kind}, got ${show(v)}`);
    else if (FAULT_PARAM_RULES[k] && !FAULT_PARAM_RULES[k].ok(v as number | string))
      problems.push(`fault.params.${k}: expected ${FAULT_PARAM_RULES[k].expected}, got ${show(v)}`);
    else params[k] = v as number | string;
  }
  // The table name reaches SQL run as the superuser: only a plain identifier (or schema.identifier)
  // passes, and faults.ts quotes it as well. 63: PostgreSQL truncates longer names (NAMEDATALEN − 1).
  if (type === "lock-table" && typeof params["table"] === "string" && !isTableName(params["table"])) {
    problems.push(
      `fault.params.table: expected a table name ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified, at most 63 characters each), got ${show(params["table"])}`,
    );
  }
  if (type === "kill-broker" && typeof params["count"] === "number" && (params["count"] < 1 || params["count"] > brokers)) {
    problems.push(`fault.params.count: expected 1 to ${brokers} (the stack's brokers), got ${params["count"]}`);
  }
  const e = obj(raw["expect"], "expect", ["kind", "severity"], true);
  const expect = { kind: oneOf(e["kind"], "expect.kind", INCIDENT_KINDS), severity: oneOf(e["severity"], "expect.severity", SEVERITIES) };
  const collateral = (v: unknown, path: string): ExpectedCollateral[] =>
    list(v, path).map((x, i) => {
      const c = obj(x, `${path}[${i}]`, ["kind", "severity", "subject", "reason"], true);
      return {
        kind: oneOf(c["kind"], `${path}[${i}].kind`, INCIDENT_KINDS),
        severity: oneOf(c["severity"], `${path}[${i}].severity`, SEVERITIES),
        subject: str(c["subject"], `${path}[${i}].subject`),
        reason: str(c["reason"], `${path}[${i}].reason`),
      };
    });
  const alsoExpected = collateral(raw["alsoExpected"], "alsoExpected");
  const tolerances: Tolerance[] = list(raw["tolerances"], "tolerances").map((x, i) => {
    const path = `tolerances[${i}]`;
    const t = obj(x, path, ["claim", "signal", "service", "during", "max"], true);
    const signal = oneOf(t["signal"], `${path}.signal`, TOLERANCE_SIGNALS);
    const service = t["service"] === undefined ? undefined : str(t["service"], `${path}.service`);
    if (signal !== "lag" && service === undefined && (TOLERANCE_SIGNALS as readonly unknown[]).includes(t["signal"]))
      problems.push(`${path}.service: required for signal ${signal} (the service whose requests are measured)`);
    if (t["max"] === undefined) problems.push(`${path}.max: required (the tolerance: the most the signal may reach)`);
    const max = num(t["max"], `${path}.max`, 0, 0, signal === "lag" ? 1e12 : 1, false);
    return {
      claim: str(t["claim"], `${path}.claim`),
      signal,
      ...(service !== undefined ? { service } : {}),
      during: t["during"] === undefined ? "fault" : oneOf(t["during"], `${path}.during`, TOLERANCE_WINDOWS),
      max,
    };
  });
  const stepsMayFail = (v: unknown, path: string) =>
    list(v, path).map((x, i) => {
      const m = obj(x, `${path}[${i}]`, ["step", "reason"], true);
      return { step: str(m["step"], `${path}[${i}].step`), reason: str(m["reason"], `${path}[${i}].reason`) };
    });
  const mayFail = stepsMayFail(raw["mayFail"], "mayFail");
  const k = obj(raw["kubernetes"], "kubernetes", ["expect", "alsoExpected", "mayFail"], false);
  const ke = k["expect"] === undefined ? undefined : obj(k["expect"], "kubernetes.expect", ["kind", "severity"], true);
  const kExpect = ke
    ? {
        kind: oneOf(ke["kind"], "kubernetes.expect.kind", INCIDENT_KINDS),
        severity: oneOf(ke["severity"], "kubernetes.expect.severity", SEVERITIES),
      }
    : undefined;
  const kAlso = k["alsoExpected"] === undefined ? undefined : collateral(k["alsoExpected"], "kubernetes.alsoExpected");
  const kMayFail = k["mayFail"] === undefined ? undefined : stepsMayFail(k["mayFail"], "kubernetes.mayFail");
  const kubernetes =
    kExpect || kAlso || kMayFail
      ? { ...(kExpect ? { expect: kExpect } : {}), ...(kAlso ? { alsoExpected: kAlso } : {}), ...(kMayFail ? { mayFail: kMayFail } : {}) }
      : undefined;
  // a step that may fail must be one the drill runs: the expected incident's (on that target)
  const checkSteps = (ms: { step: string }[], kind: IncidentKind, path: string) => {
    const ids = CATALOG[kind].steps.map((x) => x.id);
    ms.forEach((m, i) => {
      if (m.step && !ids.includes(m.step))
        problems.push(`${path}[${i}].step: expected one of the ${kind} steps (${ids.join(", ")}), got ${show(m.step)}`);
    });
  };
  checkSteps(mayFail, expect.kind, "mayFail");
  if (kMayFail) checkSteps(kMayFail, kExpect?.kind ?? expect.kind, "kubernetes.mayFail");
  const remediation = raw["remediation"] === undefined ? "runbook" : oneOf(raw["remediation"], "remediation", ["runbook", "none"] as const);
  const l = obj(raw["load"], "load", ["rate", "batch", "reads"], false);
  const d = obj(raw["deadlines"], "deadlines", ["detectSeconds", "recoverSeconds", "drillSeconds"], false);
  const limit = responseMinutes(expect.severity) * 60;
  const deadlines = {
    detectSeconds: num(d["detectSeconds"], "deadlines.detectSeconds", limit, 1, 86_400),
    recoverSeconds: num(d["recoverSeconds"], "deadlines.recoverSeconds", limit, 1, 86_400),
    drillSeconds: num(d["drillSeconds"], "deadlines.drillSeconds", 900, 30, 86_400),
  };
  // The runbook's response time is the loosest a drill may be; a file can only tighten it.
  if (deadlines.detectSeconds > limit)
    problems.push(
      `deadlines.detectSeconds: expected at most ${limit} (the ${expect.severity} response time), got ${deadlines.detectSeconds}`,
    );
  if (deadlines.recoverSeconds > limit)
    problems.push(
      `deadlines.recoverSeconds: expected at most ${limit} (the ${expect.severity} response time), got ${deadlines.recoverSeconds}`,
    );
  // Every field is checked before anything is refused, so one run names every problem.
  const stack = {
    brokers: brokers as 1 | 3,
    processorReplicas: num(st["processorReplicas"], "stack.processorReplicas", 1, 1, 8),
    pgPoolMax: num(st["pgPoolMax"], "stack.pgPoolMax", 10, 1, 200),
    maxConnections: num(st["maxConnections"], "stack.maxConnections", 100, 10, 1000),
  };
  const load = {
    rate: num(l["rate"], "load.rate", 10, 1, 500, false),
    batch: num(l["batch"], "load.batch", 50, 1, 1000),
    reads: num(l["reads"], "load.reads", 5, 0, 500, false),
  };
  if (problems.length) throw new ScenarioError(file, problems);
  return {
    name,
    file,
    incident,
    hypothesis,
    stack,
    fault: { type, params },
    expect,
    alsoExpected,
    tolerances,
    mayFail,
    remediation,
    load,
    deadlines,
    ...(kubernetes ? { kubernetes } : {}),
  };
}
