/**
 * The severity policy as data: the runbook's response times, escalations and thresholds, plus the
 * parameters of the automated steps. `parsePolicy` merges a user's YAML override onto the defaults and
 * validates the result with its zod schema (`policySchema`, types inferred from it): one message per
 * problem, naming the field path.
 * Quotes in comments are from runbook.md (GameMetrics Pro incident runbook), section › line.
 */
import { z } from "zod";
import { type Escalation, SEVERITIES, type Severity } from "./incident.js";
import { check, jsonSchemaOf, obj } from "./schema-problems.js";
import { parseYamlText, showKey } from "./yaml-text.js";

// ---------------------------------------------------------------------------------------------
// The schema: each number's range in the words of its message; the types below are inferred from it.

/** A number in a range, every failure told with the same "expected" phrase. */
function num(expected: string, r: { min?: number; gt?: number; max?: number; int?: boolean }) {
  const e = { error: expected };
  let s = r.int ? z.number(e).int(e) : z.number(e);
  if (r.min !== undefined) s = s.min(r.min, e);
  if (r.gt !== undefined) s = s.gt(r.gt, e);
  if (r.max !== undefined) s = s.max(r.max, e);
  return s;
}

const ratio = num("a number between 0 and 1", { min: 0, max: 1 });
const count = num("an integer ≥ 0", { min: 0, int: true });
const positiveInt = num("an integer ≥ 1", { min: 1, int: true });
const rate = num("a number ≥ 0", { min: 0 });
// Durations are bounded by a week: a response time of 2e11 minutes is a typo, and a date that far
// away cannot even be represented (classify's respondBy threw a RangeError).
const WEEK_SECONDS = 7 * 24 * 3600;
const seconds = num(`a duration in seconds from 0 to ${WEEK_SECONDS} (a week)`, { min: 0, max: WEEK_SECONDS });
const positiveSeconds = num(`a duration in seconds > 0 and at most ${WEEK_SECONDS} (a week)`, { gt: 0, max: WEEK_SECONDS });
const minutes = num(`a duration in minutes > 0 and at most ${WEEK_SECONDS / 60} (a week)`, { gt: 0, max: WEEK_SECONDS / 60 });
const factor = num("a factor ≥ 1", { min: 1 });

const severitySchema = obj({
  /** respond within this many minutes of detection */
  responseMinutes: minutes.describe("respond within this many minutes of detection"),
  escalation: z.enum(["page", "ticket-and-notify", "ticket"] satisfies Escalation[]),
});

const thresholdsSchema = obj({
  errorRate: obj({ p1Above: ratio, p2AtLeast: ratio }).describe("errors / requests over the window, 0..1"),
  usersAffected: obj({ p1Above: ratio }).describe("share of synthetic players whose journey failed, 0..1"),
  consumerLag: obj({ above: count }).describe("total lag of a consumer group, messages"),
  dbPool: obj({ usageAtLeast: ratio, waitingAbove: count, timeoutsPerSecondAbove: rate }).describe(
    "postgres usage = connections / (max_connections − reserved); a pool queue with timeouts",
  ),
  memory: obj({ usageAtLeast: ratio }).describe("memory usage / memory limit of an instance, 0..1"),
  consumerStall: obj({ seconds: positiveSeconds }).describe(
    'used by the collectors (packages/signals) to call a group "stalled"; classify reads their verdict',
  ),
  canary: obj({ lossDeadlineSeconds: positiveSeconds }).describe(
    'used by the canary collector: an acknowledged canary not readable after this long is "lost"',
  ),
});

const actionsSchema = obj({
  logTail: positiveInt.describe("lines of log tailed by the log-reading steps"),
  verify: obj({ timeoutSeconds: seconds, pollSeconds: positiveSeconds }).describe(
    "verification steps poll every `pollSeconds` until recovered or `timeoutSeconds` passed",
  ),
  oomWindowSeconds: seconds.describe("the OOM verification watches this long for a new OOM kill"),
  killIdle: obj({ minIdleSeconds: seconds, protect: z.array(z.string()) }).describe(
    "`terminateIdle`: sessions idle at least this long; application names never terminated",
  ),
  poolSize: obj({ factor }).describe("pool size is multiplied by `factor`, bounded by the usable connections"),
  memory: obj({ factor, maxBytes: positiveInt }).describe("memory limit is multiplied by `factor`, never above `maxBytes`"),
  scale: obj({ step: positiveInt, maxReplicas: positiveInt }).describe(
    "scaling adds `step` replicas, never above `maxReplicas` (nor above the partitions, for consumers)",
  ),
  recentDeploySeconds: seconds.describe(
    "a revision (a deployment, never a restart) created at most this long before the incident opened is a recent change: listed by the review and rolled back when the service still runs it",
  ),
});

const verificationSchema = obj({
  provenWithinDays: num("a number of days > 0 and at most 3650", { gt: 0, max: 3650 }).describe(
    "a step is proven when it passed a drill (a game day's report.json) within this many days; otherwise gm-chaos runbook marks it unverified",
  ),
});

/** The whole policy, every field present: what a merged policy must be. */
export const policySchema = obj({
  severities: obj({ P0: severitySchema, P1: severitySchema, P2: severitySchema, P3: severitySchema } satisfies Record<Severity, unknown>),
  thresholds: thresholdsSchema,
  actions: actionsSchema,
  verification: verificationSchema,
});

/** Response time and escalation of one severity. */
export type SeverityPolicy = z.infer<typeof severitySchema>;
/** Every number `classify` compares a signal with, and the parameters the collectors judge by. */
export type Thresholds = z.infer<typeof thresholdsSchema>;
/** Parameters of the automated steps (bounds, so no step can run away). */
export type ActionPolicy = z.infer<typeof actionsSchema>;
/** How recently a step must have passed a drill to count as proven. */
export type VerificationPolicy = z.infer<typeof verificationSchema>;
/** The whole policy: what `classify`, the steps and the rendered runbook read. */
export type Policy = z.infer<typeof policySchema>;

/**
 * What a policy file may hold: any subset of the policy (every field optional, at every depth),
 * each present field as the full schema says. Used for the JSON Schema editors read; the file itself
 * is checked merged onto the defaults, by `policySchema`, so every message names its path.
 */
export function policyFileSchema(): z.ZodType {
  const partial = (s: z.ZodType): z.ZodType => {
    if (s instanceof z.ZodObject) {
      const shape = Object.fromEntries(Object.entries(s.shape).map(([k, v]) => [k, partial(v as z.ZodType).optional()]));
      const out = obj(shape);
      return s.description ? out.describe(s.description) : out;
    }
    return s;
  };
  return partial(policySchema);
}

/** The policy file's JSON Schema (`gm-chaos schema policy`, `gm-prober schema policy`; schemas/policy.schema.json). */
export function policyJsonSchema(): string {
  return jsonSchemaOf(policyFileSchema(), {
    title: "GameMetrics severity policy override",
    description:
      "Overrides the runbook's default policy field by field (any subset; packages/runbook/src/policy.ts). Cross-field rules (P0 responds faster than P1 …, p2AtLeast below p1Above, pollSeconds within timeoutSeconds) are checked by the tools.",
  });
}

/** The runbook's criteria for each severity, verbatim (documentation; the rules are in catalog.ts). */
export const SEVERITY_CRITERIA: Record<Severity, { title: string; criteria: string[]; responseWord?: string }> = {
  // "Response Time: Immediate (< 5 minutes)": the word is the runbook's, the minutes the policy's.
  P0: { title: "Critical", criteria: ["Service completely down", "Data loss or corruption", "Security breach"], responseWord: "Immediate" },
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
  // Not in the runbook. Game days are weekly (deploy/gameday: Tuesdays); a step that has not passed one in
  // 30 days missed four in a row, and the platform it acts on has changed since: an on-call engineer
  // should know it is unproven before trusting it.
  verification: { provenWithinDays: 30 },
};

/** `override` laid onto `base`: mappings merge field by field, anything else replaces (a list too). */
function mergeOnto(base: unknown, override: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(base) || !isMap(override)) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, v] of Object.entries(override)) {
    // own keys only, defined rather than assigned: "__proto__" stays a key (refused as unknown), not a prototype
    const merged = Object.hasOwn(base, key) ? mergeOnto(base[key], v) : v;
    Object.defineProperty(out, key, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
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
  // A file that is not a policy at all (someone's /etc/shadow): one message, none of its lines.
  const fields = Object.keys(policySchema.shape);
  const keys = typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length > 0 && !keys.some((k) => fields.includes(k)) && keys.some((k) => showKey(k) !== `"${k}"`)) {
    return { ok: false, problems: [`(root): not a policy file: none of its keys is ${fields.join(", ")}`] };
  }
  // Merged first, checked whole: a problem's path is the same in the file and in the merged policy.
  const checked = check(policySchema, mergeOnto(structuredClone(defaultPolicy), value));
  if (!checked.ok) return { ok: false, problems: checked.problems };
  // Cross-field rules only make sense once every field is individually valid.
  const problems: string[] = [];
  crossCheck(checked.value, problems);
  return problems.length === 0 ? { ok: true, policy: checked.value } : { ok: false, problems };
}
