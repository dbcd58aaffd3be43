/**
 * Detection rules: pure functions from a Snapshot and a Policy to raw findings. `classify` merges the
 * findings of one (kind, subject) into one incident with the worst severity. A collector that failed
 * leaves its part null: the rules then see nothing and raise nothing (a missing signal is not an
 * incident; `classify` shows the collector's error as evidence on incidents that depend on it).
 */
import type { Evidence, Severity } from "./incident.js";
import type { Policy } from "./policy.js";
import { type ErrorRateSignal, type Snapshot, topologyOf } from "./snapshot.js";
import { DEFAULT_TOPOLOGY, serviceNames } from "./topology.js";

/** One matched rule: `classify` turns findings into incidents. */
export interface Finding {
  severity: Severity;
  /** what is affected: a service, "kafka", "postgres", a consumer group … */
  subject: string;
  summary: string;
  evidence: Evidence[];
}

/** A detection rule. */
export type Rule = (snapshot: Snapshot, policy: Policy) => Finding[];

const pct = (r: number): string => `${Math.round(r * 10_000) / 100}%`;

/** Every service has an instance probed and none answers healthy. Zero probed instances = unknown, not down. */
export const detectServiceDown: Rule = (s) =>
  s.services
    .filter((h) => h.instances.length > 0 && h.instances.every((i) => !i.ok))
    .map((h) => ({
      severity: "P0",
      subject: h.service,
      summary: `${h.service}: all ${h.instances.length} instance(s) fail their health check`,
      evidence: h.instances.map((i) => ({
        signal: `services[${h.service}].instances[${i.url}].ok`,
        observed: i.error ? `false (status ${i.status ?? "none"}: ${i.error})` : `false (status ${i.status ?? "none"})`,
        threshold: "every instance not ok",
      })),
    }));

/**
 * A canary acknowledged by ingest-api was not readable from stats-api by the loss deadline, or was read
 * back altered (its payload or its checksum differ from what was sent): both are "data loss or corruption".
 */
export const detectDataLoss: Rule = (s, p) => {
  const c = s.canary;
  if (!c) return [];
  const altered = c.altered ?? 0;
  const evidence: Evidence[] = [];
  const summary: string[] = [];
  if (c.lost > 0) {
    summary.push(`${c.lost} of ${c.sent} acknowledged canary event(s) never became readable`);
    evidence.push({ signal: "canary.lost", observed: c.lost, threshold: `> 0 after ${p.thresholds.canary.lossDeadlineSeconds} s` });
  }
  if (altered > 0) {
    const ids = c.alteredIds ?? [];
    summary.push(`${altered} canary event(s) read back altered${ids.length > 0 ? `: ${ids.join(", ")}` : ""}`);
    evidence.push({
      signal: "canary.altered",
      observed: ids.length > 0 ? `${altered} (${ids.join(", ")})` : altered,
      threshold: "> 0: stored content differs from what was sent",
    });
  }
  return evidence.length === 0 ? [] : [{ severity: "P0", subject: "event-pipeline", summary: summary.join("; "), evidence }];
};

/** A security check failed, a secret's name appeared in a public response, or an alert is labelled security. */
export const detectSecurityExposure: Rule = (s) => {
  const evidence: Evidence[] = [];
  for (const c of s.security?.checks ?? []) {
    if (!c.ok) evidence.push({ signal: `security.checks[${c.endpoint}]`, observed: c.observed, threshold: c.expectation });
  }
  for (const l of s.security?.leakedSecrets ?? []) {
    evidence.push({ signal: `security.leakedSecrets[${l.endpoint}]`, observed: l.secret, threshold: "no secret in a public response" });
  }
  for (const a of s.externalAlerts) {
    if (a.security) evidence.push({ signal: `externalAlerts[${a.name}].security`, observed: true, threshold: "no security alert firing" });
  }
  return evidence.length === 0
    ? []
    : [{ severity: "P0", subject: "security", summary: `${evidence.length} security finding(s)`, evidence }];
};

/**
 * The rate that judges an error-rate signal: its window's, or the short window's when that saw requests
 * and is lower. Both windows must be above a threshold (multiwindow): the long one keeps a blip from
 * paging, the short one ends the incident as soon as the errors stop instead of a whole window later.
 */
export function judgedRate(e: ErrorRateSignal): number | null {
  if (e.rate === null) return null;
  return e.recent && e.recent.rate !== null ? Math.min(e.rate, e.recent.rate) : e.rate;
}

/** Severity of an error rate by the policy, or null when below the P2 threshold. */
export function errorRateSeverity(rate: number, p: Policy): "P1" | "P2" | null {
  const t = p.thresholds.errorRate;
  if (rate > t.p1Above) return "P1";
  if (rate >= t.p2AtLeast) return "P2";
  return null;
}

const rateSignal = (e: ErrorRateSignal): string => `errorRates[${e.service}/${e.source}].rate`;
const rateThreshold = (sev: "P1" | "P2", p: Policy): string =>
  sev === "P1" ? `> ${p.thresholds.errorRate.p1Above}` : `>= ${p.thresholds.errorRate.p2AtLeast} and <= ${p.thresholds.errorRate.p1Above}`;

/**
 * Error rate per signal (each source is a finding; classify keeps the worst per service; rate null =
 * no requests = ignored) and the share of synthetic users failing (subject "all").
 */
export const detectHighErrorRate: Rule = (s, p) => {
  const out: Finding[] = [];
  for (const e of s.errorRates) {
    const rate = judgedRate(e);
    if (rate === null || e.rate === null) continue;
    const sev = errorRateSeverity(rate, p);
    if (sev === null) continue;
    const evidence: Evidence[] = [{ signal: rateSignal(e), observed: e.rate, threshold: rateThreshold(sev, p) }];
    if (e.recent && e.recent.rate !== null)
      evidence.push({
        signal: `${rateSignal(e)}.recent`,
        observed: e.recent.rate,
        threshold: `${rateThreshold(sev, p)} (the last ${e.recent.windowSeconds} s too)`,
      });
    out.push({
      severity: sev,
      subject: e.service,
      summary: `${e.service}: error rate ${pct(e.rate)} (${e.errors}/${e.requests} over ${e.windowSeconds} s, ${e.source})${e.recent && e.recent.rate !== null ? `, ${pct(e.recent.rate)} over the last ${e.recent.windowSeconds} s` : ""}`,
      evidence,
    });
  }
  const u = s.users;
  if (u && u.total > 0 && u.failing > 0) {
    const share = u.failing / u.total;
    const above = p.thresholds.usersAffected.p1Above;
    // multiwindow, as error rates: P1 only when the window's share of failed journeys is above too
    const windowShare = u.window && u.window.journeys > 0 ? u.window.failed / u.window.journeys : null;
    const sev: Severity = share > above && (windowShare === null || windowShare > above) ? "P1" : "P2";
    const evidence: Evidence[] = [
      { signal: "users.failing/users.total", observed: share, threshold: share > above ? `> ${above}` : `> 0 and <= ${above}` },
    ];
    if (u.window && windowShare !== null) {
      evidence.push({
        signal: "users.window.failed/users.window.journeys",
        observed: windowShare,
        threshold: `> ${above} over ${u.window.windowSeconds} s too → P1`,
      });
    }
    out.push({
      severity: sev,
      subject: "all",
      summary: `${u.failing} of ${u.total} synthetic users (${pct(share)}) failing${windowShare !== null ? `; ${pct(windowShare)} of journeys over ${u.window!.windowSeconds} s` : ""}`,
      evidence,
    });
  }
  return out;
};

/** A broker is down or missing: P0 none up, P1 writes with acks=all fail or partitions offline, else P2. */
export const detectKafkaBrokerDown: Rule = (s) => {
  const k = s.kafka;
  if (!k) return [];
  const up = k.brokers.filter((b) => b.up).length;
  const down = k.brokers.filter((b) => !b.up);
  if (down.length === 0 && up >= k.brokersExpected) return [];
  const severity: Severity = up === 0 ? "P0" : up < k.minInsyncReplicas || k.offlinePartitions > 0 ? "P1" : "P2";
  const evidence: Evidence[] = [
    { signal: "kafka.brokers[up]", observed: up, threshold: `>= ${k.brokersExpected} (brokersExpected)` },
    ...down.map((b) => ({ signal: `kafka.brokers[${b.nodeId}].up`, observed: false, threshold: "true" })),
  ];
  if (severity !== "P0") {
    evidence.push({ signal: "kafka.minInsyncReplicas", observed: k.minInsyncReplicas, threshold: `<= ${up} brokers up, else P1` });
    evidence.push({ signal: "kafka.offlinePartitions", observed: k.offlinePartitions, threshold: "0, else P1" });
  }
  return [
    {
      severity,
      subject: "kafka",
      summary: `${up} of ${k.brokersExpected} Kafka broker(s) up (min.insync.replicas ${k.minInsyncReplicas}, ${k.offlinePartitions} offline partition(s))`,
      evidence,
    },
  ];
};

/** Worst error rate in the snapshot (as judged: see judgedRate), or null when none is known. */
function worstErrorRate(s: Snapshot): { signal: ErrorRateSignal; rate: number } | null {
  let worst: { signal: ErrorRateSignal; rate: number } | null = null;
  for (const e of s.errorRates) {
    const rate = judgedRate(e);
    if (rate !== null && (worst === null || rate > worst.rate)) worst = { signal: e, rate };
  }
  return worst;
}

/** Postgres nearly full or a service pool queueing with timeouts; severity by the concurrent worst error rate. */
export const detectDbPoolExhausted: Rule = (s, p) => {
  const pg = s.postgres;
  if (!pg) return [];
  const t = p.thresholds.dbPool;
  const evidence: Evidence[] = [];
  if (pg.usage >= t.usageAtLeast) {
    evidence.push({ signal: "postgres.usage", observed: pg.usage, threshold: `>= ${t.usageAtLeast}` });
  }
  for (const pool of pg.pools) {
    // A pool is exhausted when every connection is out and requests queue, or when requests gave up
    // waiting for one (connection timeouts); either alone is enough: at a low request rate the queue
    // is rarely caught at the instant of a scrape, while the timeouts counter never misses.
    const saturated = pool.total >= pool.max && pool.waiting > t.waitingAbove;
    // over both windows, as error rates: timeouts that stopped in the last round no longer count
    const timingOut =
      pool.timeoutsPerSecond > t.timeoutsPerSecondAbove &&
      (pool.recentTimeoutsPerSecond === undefined || pool.recentTimeoutsPerSecond > t.timeoutsPerSecondAbove);
    if (saturated) {
      evidence.push({
        signal: `postgres.pools[${pool.instance}].waiting`,
        observed: pool.waiting,
        threshold: `> ${t.waitingAbove} with all ${pool.max} connections in use`,
      });
    }
    if (timingOut) {
      evidence.push({
        signal: `postgres.pools[${pool.instance}].timeoutsPerSecond`,
        observed: pool.timeoutsPerSecond,
        threshold: `> ${t.timeoutsPerSecondAbove}`,
      });
    }
  }
  if (evidence.length === 0) return [];
  const worst = worstErrorRate(s);
  const sev = worst ? errorRateSeverity(worst.rate, p) : null;
  if (worst) {
    evidence.push({
      signal: rateSignal(worst.signal),
      observed: worst.rate,
      threshold: sev ? `${rateThreshold(sev, p)} → ${sev}` : `< ${p.thresholds.errorRate.p2AtLeast} → P3`,
    });
  }
  return [
    {
      severity: sev ?? "P3",
      subject: "postgres",
      summary: `connection pool exhausted: usage ${pct(pg.usage)} of usable connections, ${pg.pools.filter((x) => x.waiting > 0).length} pool(s) queueing`,
      evidence,
    },
  ];
};

/**
 * A group lags more than the threshold: P2, P1 when its consumers are also stalled or stopped. The
 * summary names the group's service(s) by their `consumes` role in the snapshot's description.
 */
export const detectHighConsumerLag: Rule = (s, p) => {
  const above = p.thresholds.consumerLag.above;
  const t = topologyOf(s);
  const consumers = (group: string) => {
    const of = t.services.filter((x) => x.roles.consumes?.group === group).map((x) => x.name);
    return of.length > 0 ? `, consumed by ${of.join(", ")}` : "";
  };
  const out: Finding[] = [];
  for (const g of s.kafka?.groups ?? []) {
    if (g.totalLag <= above) continue;
    const progress = s.consumers.find((c) => c.group === g.group);
    const stuck = progress?.status === "stalled" || progress?.status === "stopped";
    const evidence: Evidence[] = [{ signal: `kafka.groups[${g.group}].totalLag`, observed: g.totalLag, threshold: `> ${above}` }];
    if (progress)
      evidence.push({ signal: `consumers[${g.group}].status`, observed: progress.status, threshold: "stalled or stopped → P1" });
    out.push({
      severity: stuck ? "P1" : "P2",
      subject: g.group,
      summary: `${g.group}: lag ${g.totalLag} on ${g.topic}${progress ? ` (consumers ${progress.status})` : ""}${consumers(g.group)}`,
      evidence,
    });
  }
  return out;
};

/**
 * OOM kills per service: P2; P1 when every instance of the service is OOM-killed or not running;
 * P3 for an instance at ≥ usageAtLeast of its memory limit without a kill.
 */
export const detectServiceOom: Rule = (s, p) => {
  const out: Finding[] = [];
  const services = [...new Set(s.instances.map((i) => i.service))];
  for (const service of services) {
    const all = s.instances.filter((i) => i.service === service);
    const killed = all.filter((i) => i.oomKilled);
    if (killed.length > 0) {
      const allGone = all.every((i) => i.oomKilled || !i.running);
      out.push({
        severity: allGone ? "P1" : "P2",
        subject: service,
        summary: `${service}: ${killed.length} of ${all.length} instance(s) OOM-killed${allGone ? ", none left running" : ""}`,
        evidence: [
          ...killed.map((i) => ({ signal: `instances[${i.instance}].oomKilled`, observed: true, threshold: "false" })),
          {
            signal: `instances[${service}].running`,
            observed: all.filter((i) => i.running && !i.oomKilled).length,
            threshold: "> 0, else P1",
          },
        ],
      });
    }
    for (const i of all) {
      if (i.oomKilled || i.memoryUsageBytes === null || i.memoryLimitBytes === null || i.memoryLimitBytes <= 0) continue;
      const usage = i.memoryUsageBytes / i.memoryLimitBytes;
      if (usage < p.thresholds.memory.usageAtLeast) continue;
      out.push({
        severity: "P3",
        subject: service,
        summary: `${i.instance}: memory at ${pct(usage)} of its limit`,
        evidence: [
          {
            signal: `instances[${i.instance}].memoryUsageBytes/memoryLimitBytes`,
            observed: usage,
            threshold: `>= ${p.thresholds.memory.usageAtLeast}`,
          },
        ],
      });
    }
  }
  return out;
};

/** GameMetrics Pro's services (the default description's names); the platform's own are in the snapshot's topology. */
export const SERVICE_NAMES: readonly string[] = serviceNames(DEFAULT_TOPOLOGY);

/**
 * What the prober's long windows still hold of an earlier fault, though its last round is clean: error
 * rates at or above the P2 threshold, pool timeouts above theirs, more than the P1 share of users' journeys
 * failed. Judged over both windows, none of these is an incident (the errors stopped); but a new fault's
 * first round would combine with them — a drill's steady state waits until this is empty, so its verdict
 * does not depend on the drill before it. Empty = settled.
 */
export function unsettledWindows(s: Snapshot, p: Policy): string[] {
  const out: string[] = [];
  for (const e of s.errorRates) {
    if (e.rate !== null && errorRateSeverity(e.rate, p) !== null) out.push(`${rateSignal(e)} ${pct(e.rate)} over ${e.windowSeconds} s`);
  }
  for (const pool of s.postgres?.pools ?? []) {
    if (pool.timeoutsPerSecond > p.thresholds.dbPool.timeoutsPerSecondAbove)
      out.push(`postgres.pools[${pool.instance}].timeoutsPerSecond ${pool.timeoutsPerSecond.toFixed(2)}/s over the window`);
  }
  const w = s.users?.window;
  if (w && w.journeys > 0 && w.failed / w.journeys > p.thresholds.usersAffected.p1Above)
    out.push(`users.window ${pct(w.failed / w.journeys)} of journeys failed over ${w.windowSeconds} s`);
  return out;
}

/**
 * The runbook's P3 "Non-critical alerts": an alert raised elsewhere and read from Alertmanager that is not
 * a security alert (those are P0 security-exposure) is a P3 incident, one per alert name, its labels kept
 * as evidence, instead of being dropped.
 */
export const detectExternalAlert: Rule = (s) => {
  const byName = new Map<string, Evidence[]>();
  for (const a of s.externalAlerts) {
    if (a.security) continue;
    const labels = Object.entries(a.labels)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(", ");
    const list = byName.get(a.name) ?? [];
    list.push({ signal: `externalAlerts[${a.name}].labels`, observed: `{${labels}}`, threshold: "no non-security alert firing" });
    byName.set(a.name, list);
  }
  return [...byName].map(([name, evidence]) => ({
    severity: "P3",
    subject: name,
    summary: `external alert ${name} firing${evidence.length > 1 ? ` (${evidence.length} instances)` : ""}: ${String(evidence[0]!.observed)}`,
    evidence,
  }));
};
