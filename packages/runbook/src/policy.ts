/**
 * The severity policy as data: the runbook's response times, escalations and thresholds, plus the
 * parameters of the automated steps. `parsePolicy` merges a user's YAML override onto the defaults and
 * validates the result with one message per problem, naming the field path.
 * Quotes in comments are from runbook.md (GameMetrics Pro incident runbook), section › line.
 */
import { parseYamlText, showKey } from "./yaml-text.js";
import { type Escalation, SEVERITIES, type Severity } from "./incident.js";

/** Response time and escalation of one severity. */
export interface SeverityPolicy {
  /** respond within this many minutes of detection */
  responseMinutes: number;
  escalation: Escalation;
}

/** Every number `classify` compares a signal with, and the parameters the collectors judge by. */
export interface Thresholds {
  /** errors / requests over the window, 0..1 */
  errorRate: { p1Above: number; p2AtLeast: number };
  /** share of synthetic players whose journey failed, 0..1 */
  usersAffected: { p1Above: number };
  /** total lag of a consumer group, messages */
  consumerLag: { above: number };
  /** postgres usage = connections / (max_connections − reserved); a pool queue with timeouts */
  dbPool: { usageAtLeast: number; waitingAbove: number; timeoutsPerSecondAbove: number };
  /** memory usage / memory limit of an instance, 0..1 */
  memory: { usageAtLeast: number };
  /** used by the collectors (packages/signals) to call a group "stalled"; classify reads their verdict */
  consumerStall: { seconds: number };
  /** used by the canary collector: an acknowledged canary not readable after this long is "lost" */
  canary: { lossDeadlineSeconds: number };
}

/** Parameters of the automated steps (bounds, so no step can run away). */
export interface ActionPolicy {
  /** lines of log tailed by the log-reading steps */
  logTail: number;
  /** verification steps poll every `pollSeconds` until recovered or `timeoutSeconds` passed */
  verify: { timeoutSeconds: number; pollSeconds: number };
  /** the OOM verification watches this long for a new OOM kill */
  oomWindowSeconds: number;
  /** `terminateIdle`: sessions idle at least this long; application names never terminated */
  killIdle: { minIdleSeconds: number; protect: string[] };
  /** pool size is multiplied by `factor`, bounded by the usable connections */
  poolSize: { factor: number };
  /** memory limit is multiplied by `factor`, never above `maxBytes` */
  memory: { factor: number; maxBytes: number };
  /** scaling adds `step` replicas, never above `maxReplicas` (nor above the partitions, for consumers) */
  scale: { step: number; maxReplicas: number };
  /** an instance started this recently counts as a recent deployment (rollback candidate) */
  recentDeploySeconds: number;
}

/** The whole policy: what `classify`, the steps and the rendered runbook read. */
export interface Policy {
  severities: Record<Severity, SeverityPolicy>;
  thresholds: Thresholds;
  actions: ActionPolicy;
}

/** The runbook's criteria for each severity, verbatim (documentation; the rules are in catalog.ts). */
export const SEVERITY_CRITERIA: Record<Severity, { title: string; criteria: string[] }> = {
  P0: { title: "Critical", criteria: ["Service completely down", "Data loss or corruption", "Security breach"] },
  P1: { title: "High", criteria: ["Service degradation affecting > 50% users", "High error rates (> 10%)"] },
  P2: { title: "Medium", criteria: ["Service degradation affecting < 50% users", "Moderate error rates (5-10%)"] },
  P3: { title: "Low", criteria: ["Minor issues", "Non-critical alerts"] },
};

/** The runbook's defaults. */
export const defaultPolicy: Policy = {
  severities: {
    // "P0 - Critical › Response Time: Immediate (< 5 minutes)"; "Escalation › P0/P1: Page on-call engineer immediately"
    P0: { responseMinutes: 5, escalation: "page" },
    // "P1 - High › Response Time: < 15 minutes"; "Escalation › P0/P1: Page on-call engineer immediately"
    P1: { responseMinutes: 15, escalation: "page" },
    // "P2 - Medium › Response Time: < 1 hour"; "Escalation › P2: Create ticket, notify team"
    P2: { responseMinutes: 60, escalation: "ticket-and-notify" },
    // "P3 - Low › Response Time: < 4 hours"; "Escalation › P3: Create ticket, handle during business hours"
    P3: { responseMinutes: 240, escalation: "ticket" },
  },
  thresholds: {
    // "P1 - High › High error rates (> 10%)" and "P2 - Medium › Moderate error rates (5-10%)":
    // 10% itself is in "5-10%", so P2; anything above is P1; 5% itself is P2; below 5% is no incident.
    errorRate: { p1Above: 0.1, p2AtLeast: 0.05 },
    // "P1 - High › Service degradation affecting > 50% users"; "P2 - Medium › … affecting < 50% users".
    // The runbook leaves exactly 50% open: it is not "> 50%", so P2. Any failing share > 0 up to 50% is P2.
    usersAffected: { p1Above: 0.5 },
    // "High Consumer Lag › Symptoms: Lag > 10k messages": 10,000 is fine, 10,001 is an incident.
    consumerLag: { above: 10_000 },
    // "Database Connection Pool Exhausted › Symptoms: High error rates, connection timeouts". The runbook
    // gives no number: 90% of the usable connections leaves too little headroom for a burst (and for the
    // superuser-reserved slots' owners); a queue that times out is the "connection timeouts" symptom itself.
    dbPool: { usageAtLeast: 0.9, waitingAbove: 0, timeoutsPerSecondAbove: 0 },
    // "Service Out of Memory › Symptoms: OOMKilled pods, high memory usage": "high" taken as ≥ 90% of the limit.
    memory: { usageAtLeast: 0.9 },
    // Not in the runbook; Burrow's judgement ("committed offsets frozen while lag grows") needs a time.
    // A minute is several commit intervals of kafkajs (autoCommitInterval 5 s) yet well inside P1's 15 minutes.
    consumerStall: { seconds: 60 },
    // Not in the runbook ("P0 › Data loss"); the pipeline ingest → Kafka → processor → stats normally
    // round-trips in seconds, so a canary still missing after 2 minutes is lost, not late.
    canary: { lossDeadlineSeconds: 120 },
  },
  actions: {
    // "Check logs: `kubectl logs -n kafka <broker-pod>`", "Check for processing errors in logs": enough lines
    // to cover a crash loop's last start, few enough to print.
    logTail: 200,
    // "Resolution › Verify resolution": five minutes is a third of P1's response time.
    verify: { timeoutSeconds: 300, pollSeconds: 5 },
    // "Resolution › Verify resolution" for OOM: a leak that killed a pod usually does so again within minutes.
    oomWindowSeconds: 120,
    // "Database Connection Pool Exhausted › Kill idle connections if necessary": the prober's own session
    // must survive, or the verification that follows could not observe recovery.
    killIdle: { minIdleSeconds: 30, protect: ["gm-prober"] },
    // "Increase connection pool size in services"
    poolSize: { factor: 2 },
    // "Service Out of Memory › Increase memory limits if needed": 2× once, capped at 4 GiB.
    memory: { factor: 2, maxBytes: 4 * 1024 ** 3 },
    // "High Consumer Lag › Scale up consumers: Increase HPA min replicas"; "Mitigation › Scale up services if needed"
    scale: { step: 1, maxReplicas: 6 },
    // "Mitigation › Rollback deployment if recent change"
    recentDeploySeconds: 3600,
  },
};

// ---------------------------------------------------------------------------------------------
// Validation: a small schema, because the override is partial and every message must name its path.

type Spec =
  | { type: "number"; expected: string; ok: (n: number) => boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "strings" }
  | { type: "object"; fields: Record<string, Spec> };

const ratio: Spec = { type: "number", expected: "a number between 0 and 1", ok: (n) => n >= 0 && n <= 1 };
const count: Spec = { type: "number", expected: "an integer ≥ 0", ok: (n) => Number.isInteger(n) && n >= 0 };
const positiveInt: Spec = { type: "number", expected: "an integer ≥ 1", ok: (n) => Number.isInteger(n) && n >= 1 };
const rate: Spec = { type: "number", expected: "a number ≥ 0", ok: (n) => n >= 0 };
// Durations are bounded by a week: a response time of 2e11 minutes is a typo, and a date that far
// away cannot even be represented (classify's respondBy threw a RangeError).
const WEEK_SECONDS = 7 * 24 * 3600;
const seconds: Spec = {
  type: "number",
  expected: `a duration in seconds from 0 to ${WEEK_SECONDS} (a week)`,
  ok: (n) => n >= 0 && n <= WEEK_SECONDS,
};
const positiveSeconds: Spec = {
  type: "number",
  expected: `a duration in seconds > 0 and at most ${WEEK_SECONDS} (a week)`,
  ok: (n) => n > 0 && n <= WEEK_SECONDS,
};
const minutes: Spec = {
  type: "number",
  expected: `a duration in minutes > 0 and at most ${WEEK_SECONDS / 60} (a week)`,
  ok: (n) => n > 0 && n <= WEEK_SECONDS / 60,
};
const factor: Spec = { type: "number", expected: "a factor ≥ 1", ok: (n) => n >= 1 };
const obj = (fields: Record<string, Spec>): Spec => ({ type: "object", fields });
const severity: Spec = obj({
  responseMinutes: minutes,
  escalation: { type: "enum", values: ["page", "ticket-and-notify", "ticket"] satisfies Escalation[] },
});

const POLICY_SPEC = obj({
  severities: obj({ P0: severity, P1: severity, P2: severity, P3: severity } satisfies Record<Severity, Spec>),
  thresholds: obj({
    errorRate: obj({ p1Above: ratio, p2AtLeast: ratio }),
    usersAffected: obj({ p1Above: ratio }),
    consumerLag: obj({ above: count }),
    dbPool: obj({ usageAtLeast: ratio, waitingAbove: count, timeoutsPerSecondAbove: rate }),
    memory: obj({ usageAtLeast: ratio }),
    consumerStall: obj({ seconds: positiveSeconds }),
    canary: obj({ lossDeadlineSeconds: positiveSeconds }),
  }),
  actions: obj({
    logTail: positiveInt,
    verify: obj({ timeoutSeconds: seconds, pollSeconds: positiveSeconds }),
    oomWindowSeconds: seconds,
    killIdle: obj({ minIdleSeconds: seconds, protect: { type: "strings" } }),
    poolSize: obj({ factor }),
    memory: obj({ factor, maxBytes: positiveInt }),
    scale: obj({ step: positiveInt, maxReplicas: positiveInt }),
    recentDeploySeconds: seconds,
  }),
});

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  // a short word is quoted (a misspelt escalation); longer text may be a file's content, not a value
  if (typeof v === "string") return /^[\w .:-]{0,40}$/.test(v) ? JSON.stringify(v) : `a string of ${v.length} characters`;
  return String(v);
}

/** Checks `value` against `spec` and merges it onto `base`; pushes a message per problem. */
function merge(base: unknown, value: unknown, spec: Spec, path: string, problems: string[]): unknown {
  const at = path === "" ? "(root)" : path;
  switch (spec.type) {
    case "number":
      if (typeof value === "number" && Number.isFinite(value) && spec.ok(value)) return value;
      problems.push(`${at}: expected ${spec.expected}, got ${describe(value)}`);
      return base;
    case "enum":
      if (typeof value === "string" && spec.values.includes(value)) return value;
      problems.push(`${at}: expected one of ${spec.values.join(", ")}, got ${describe(value)}`);
      return base;
    case "strings":
      if (Array.isArray(value) && value.every((s) => typeof s === "string")) return [...value];
      problems.push(`${at}: expected a list of strings, got ${describe(value)}`);
      return base;
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${at}: expected a mapping, got ${describe(value)}`);
        return base;
      }
      const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
      for (const [key, v] of Object.entries(value)) {
        // own keys only: "constructor" or "__proto__" would find Object.prototype's and pass unchecked
        const field = Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
        const p = path === "" ? key : `${path}.${key}`;
        if (!field) {
          const shown = showKey(key) === `"${key}"` ? p : `${path === "" ? "" : `${path}.`}${showKey(key)}`;
          problems.push(`${shown}: unknown key (expected one of ${Object.keys(spec.fields).join(", ")})`);
          continue;
        }
        out[key] = merge(out[key], v, field, p, problems);
      }
      return out;
    }
  }
}

/** Cross-field rules, on the merged policy (so an override is checked against the defaults it keeps). */
function crossCheck(p: Policy, problems: string[]): void {
  const e = p.thresholds.errorRate;
  if (e.p2AtLeast >= e.p1Above) {
    problems.push(`thresholds.errorRate.p2AtLeast: must be below thresholds.errorRate.p1Above (${e.p1Above}), got ${e.p2AtLeast}`);
  }
  // A more severe incident must never have longer to respond than a less severe one.
  for (let i = 1; i < SEVERITIES.length; i++) {
    const prev = SEVERITIES[i - 1]!;
    const cur = SEVERITIES[i]!;
    const a = p.severities[prev].responseMinutes;
    const b = p.severities[cur].responseMinutes;
    if (b <= a)
      problems.push(`severities.${cur}.responseMinutes: must be greater than severities.${prev}.responseMinutes (${a}), got ${b}`);
  }
  const v = p.actions.verify;
  if (v.timeoutSeconds > 0 && v.pollSeconds > v.timeoutSeconds) {
    problems.push(`actions.verify.pollSeconds: must not exceed actions.verify.timeoutSeconds (${v.timeoutSeconds}), got ${v.pollSeconds}`);
  }
}

/** Result of `parsePolicy`: the merged policy, or every problem found. */
export type ParsedPolicy = { ok: true; policy: Policy } | { ok: false; problems: string[] };

/** Parses a YAML override (any subset of `Policy`) and merges it onto `defaultPolicy`. Empty text = defaults. */
export function parsePolicy(yamlText: string): ParsedPolicy {
  const parsed = parseYamlText(yamlText);
  if (!parsed.ok) return { ok: false, problems: [`(yaml): ${parsed.problem}`] };
  const value: unknown = parsed.value;
  if (value === null || value === undefined) return { ok: true, policy: structuredClone(defaultPolicy) };
  const problems: string[] = [];
  // A file that is not a policy at all (someone's /etc/shadow): one message, none of its lines.
  const fields = (POLICY_SPEC as { fields: Record<string, Spec> }).fields;
  const keys = typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length > 0 && !keys.some((k) => Object.hasOwn(fields, k)) && keys.some((k) => showKey(k) !== `"${k}"`)) {
    return { ok: false, problems: [`(root): not a policy file: none of its keys is ${Object.keys(fields).join(", ")}`] };
  }
  const merged = merge(structuredClone(defaultPolicy), value, POLICY_SPEC, "", problems) as Policy;
  // Cross-field rules only make sense once every field is individually valid.
  if (problems.length === 0) crossCheck(merged, problems);
  return problems.length === 0 ? { ok: true, policy: merged } : { ok: false, problems };
}
