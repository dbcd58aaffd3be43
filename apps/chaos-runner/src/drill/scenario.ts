/**
 * Drill files (scenarios/*.yaml): typed, validated once at the edge, one clear message per problem.
 */
import { parse } from "yaml";
import { INCIDENT_KINDS, SEVERITIES, type IncidentKind, type Severity } from "@gm/runbook/incident";

export const FAULT_TYPES = ["kill-broker", "hold-connections", "lock-table", "pause-consumers", "memory-limit"] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export interface FaultSpec {
  type: FaultType;
  params: Record<string, number | string | boolean>;
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
  /** what a drill against a Kubernetes namespace expects instead, where the platform makes it differ */
  kubernetes?: { expect: { kind: IncidentKind; severity: Severity } };
}

const FAULT_PARAMS: Record<FaultType, Record<string, "number" | "string">> = {
  "kill-broker": { count: "number" },
  "hold-connections": { count: "number" },
  "lock-table": { table: "string" },
  "pause-consumers": {},
  "memory-limit": { service: "string", bytes: "number" },
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
const show = (v: unknown) => JSON.stringify(v);

/** Parses one drill file; `responseMinutes` bounds the deadlines (the runbook's response time of the severity). */
export function parseScenario(text: string, file: string, responseMinutes: (s: Severity) => number): Scenario {
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ScenarioError(file, [`(file): not valid YAML: ${(err as Error).message.split("\n")[0]}`]);
  }
  if (!isObj(raw)) throw new ScenarioError(file, ["(file): expected a mapping"]);
  const known = ["name", "incident", "hypothesis", "stack", "fault", "expect", "remediation", "load", "deadlines", "kubernetes"];
  for (const k of Object.keys(raw)) if (!known.includes(k)) problems.push(`${k}: unknown key (expected one of ${known.join(", ")})`);
  const str = (v: unknown, path: string): string => {
    if (typeof v !== "string" || v.trim() === "") {
      problems.push(`${path}: expected a non-empty string, got ${show(v)}`);
      return "";
    }
    return v;
  };
  const num = (v: unknown, path: string, def: number, min: number, max: number, integer = true): number => {
    if (v === undefined) return def;
    if (typeof v !== "number" || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(`${path}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${show(v)}`);
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
  const obj = (v: unknown, path: string, keys: string[], required: boolean): Obj => {
    if (v === undefined) {
      if (required) problems.push(`${path}: required`);
      return {};
    }
    if (!isObj(v)) {
      problems.push(`${path}: expected a mapping, got ${show(v)}`);
      return {};
    }
    for (const k of Object.keys(v)) if (!keys.includes(k)) problems.push(`${path}.${k}: unknown key (expected one of ${keys.join(", ")})`);
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
    else params[k] = v as number | string;
  }
  if (type === "kill-broker" && typeof params["count"] === "number" && (params["count"] < 1 || params["count"] > brokers)) {
    problems.push(`fault.params.count: expected 1 to ${brokers} (the stack's brokers), got ${params["count"]}`);
  }
  const e = obj(raw["expect"], "expect", ["kind", "severity"], true);
  const expect = { kind: oneOf(e["kind"], "expect.kind", INCIDENT_KINDS), severity: oneOf(e["severity"], "expect.severity", SEVERITIES) };
  const k = obj(raw["kubernetes"], "kubernetes", ["expect"], false);
  const ke = k["expect"] === undefined ? undefined : obj(k["expect"], "kubernetes.expect", ["kind", "severity"], true);
  const kubernetes = ke ? { expect: { kind: oneOf(ke["kind"], "kubernetes.expect.kind", INCIDENT_KINDS), severity: oneOf(ke["severity"], "kubernetes.expect.severity", SEVERITIES) } } : undefined;
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
  if (deadlines.detectSeconds > limit) problems.push(`deadlines.detectSeconds: expected at most ${limit} (the ${expect.severity} response time), got ${deadlines.detectSeconds}`);
  if (deadlines.recoverSeconds > limit) problems.push(`deadlines.recoverSeconds: expected at most ${limit} (the ${expect.severity} response time), got ${deadlines.recoverSeconds}`);
  if (problems.length) throw new ScenarioError(file, problems);
  return {
    name,
    file,
    incident,
    hypothesis,
    stack: {
      brokers: brokers as 1 | 3,
      processorReplicas: num(st["processorReplicas"], "stack.processorReplicas", 1, 1, 8),
      pgPoolMax: num(st["pgPoolMax"], "stack.pgPoolMax", 10, 1, 200),
      maxConnections: num(st["maxConnections"], "stack.maxConnections", 100, 10, 1000),
    },
    fault: { type, params },
    expect,
    remediation,
    load: { rate: num(l["rate"], "load.rate", 10, 1, 500, false), batch: num(l["batch"], "load.batch", 50, 1, 1000), reads: num(l["reads"], "load.reads", 5, 0, 500, false) },
    deadlines,
    ...(kubernetes ? { kubernetes } : {}),
  };
}
