/**
 * Property-based tests of `classify` (fast-check): over generated snapshots and valid policies, a worse
 * signal never lowers a severity (more errors, more lag, fewer brokers, more pool use), and every
 * threshold of the policy flips the severity exactly where docs/runbook.md says, with the policy's own
 * comparison (`>` for "above", `>=` for "at least").
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify } from "./classify.js";
import { INCIDENT_KINDS, type IncidentKind, SEVERITIES } from "./incident.js";
import { defaultPolicy, parsePolicy, type Policy } from "./policy.js";
import type { ErrorRateSignal, ServiceName, Snapshot } from "./snapshot.js";
import { emptySnapshot } from "./snapshot.js";

const AT = "2026-01-01T00:00:00.000Z";
const SERVICES: ServiceName[] = ["ingest-api", "event-processor-service", "stats-api"];

// The next double above / below x: a value "just" past a threshold, with nothing representable between.
const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  i64[0]! += x > 0 ? 1n : -1n;
  return f64[0]!;
}
function nextDown(x: number): number {
  return -nextUp(-x);
}

/** The rank of the worst severity among `kinds` (0 = P0 … 3 = P3, 4 = nothing open). */
function worstRank(s: Snapshot, p: Policy, kinds: readonly IncidentKind[] = INCIDENT_KINDS): number {
  return Math.min(
    4,
    ...classify(s, p)
      .filter((i) => kinds.includes(i.kind))
      .map((i) => SEVERITIES.indexOf(i.severity)),
  );
}
/** The worst rank of every kind: a worse signal may raise any of them and lower none. */
const ranks = (s: Snapshot, p: Policy) => INCIDENT_KINDS.map((k) => worstRank(s, p, [k]));
const notLower = (before: number[], after: number[]) => after.every((r, i) => r <= before[i]!);

const ratio = fc.double({ min: 0, max: 1, noNaN: true });

/** Valid policies: the defaults with generated thresholds, kept as parsePolicy would accept them. */
const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    p2: fc.double({ min: 0, max: 0.999, noNaN: true }),
    gap: fc.double({ min: 1e-6, max: 1, noNaN: true }),
    users: ratio,
    lag: fc.nat({ max: 1_000_000 }),
    usage: ratio,
    waiting: fc.nat({ max: 20 }),
    timeouts: fc.double({ min: 0, max: 10, noNaN: true }),
    memory: ratio,
  })
  .map(({ p2, gap, users, lag, usage, waiting, timeouts, memory }) => {
    const p = structuredClone(defaultPolicy);
    p.thresholds.errorRate = { p2AtLeast: p2, p1Above: Math.min(1, p2 + gap) };
    p.thresholds.usersAffected = { p1Above: users };
    p.thresholds.consumerLag = { above: lag };
    p.thresholds.dbPool = { usageAtLeast: usage, waitingAbove: waiting, timeoutsPerSecondAbove: timeouts };
    p.thresholds.memory = { usageAtLeast: memory };
    return p;
  })
  .filter((p) => p.thresholds.errorRate.p2AtLeast < p.thresholds.errorRate.p1Above);

const errorRateArb: fc.Arbitrary<ErrorRateSignal> = fc
  .record({
    service: fc.constantFrom<ErrorRateSignal["service"]>(...SERVICES, "all"),
    source: fc.constantFrom<ErrorRateSignal["source"]>("metrics", "prometheus", "synthetic"),
    requests: fc.integer({ min: 1, max: 100_000 }),
    errShare: ratio,
    recent: fc.option(fc.record({ requests: fc.integer({ min: 1, max: 1000 }), errShare: ratio }), { nil: undefined }),
  })
  .map(({ service, source, requests, errShare, recent }) => {
    const errors = Math.round(requests * errShare);
    const e: ErrorRateSignal = { service, source, windowSeconds: 60, requests, errors, rate: errors / requests };
    if (recent) {
      const re = Math.round(recent.requests * recent.errShare);
      e.recent = { windowSeconds: 5, requests: recent.requests, errors: re, rate: re / recent.requests };
    }
    return e;
  });

/** Snapshots with every signal classify reads, in any state. */
const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .record({
    health: fc.array(fc.tuple(fc.constantFrom(...SERVICES), fc.array(fc.boolean(), { minLength: 0, maxLength: 3 })), { maxLength: 3 }),
    errorRates: fc.array(errorRateArb, { maxLength: 4 }),
    users: fc.option(
      fc
        .integer({ min: 1, max: 20 })
        .chain((total) => fc.record({ total: fc.constant(total), failing: fc.integer({ min: 0, max: total }) })),
      { nil: null },
    ),
    kafka: fc.option(
      fc.record({
        expected: fc.integer({ min: 1, max: 5 }),
        up: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        minIsr: fc.integer({ min: 1, max: 3 }),
        offline: fc.nat({ max: 3 }),
        lags: fc.array(
          fc.tuple(
            fc.nat({ max: 50_000 }),
            fc.constantFrom("ok", "stalled", "stopped", "unknown") as fc.Arbitrary<"ok" | "stalled" | "stopped" | "unknown">,
          ),
          { maxLength: 3 },
        ),
      }),
      { nil: null },
    ),
    postgres: fc.option(
      fc.record({
        usage: fc.double({ min: 0, max: 1.5, noNaN: true }),
        pools: fc.array(
          fc.record({
            max: fc.integer({ min: 1, max: 20 }),
            used: ratio,
            waiting: fc.nat({ max: 10 }),
            timeouts: fc.double({ min: 0, max: 5, noNaN: true }),
          }),
          { maxLength: 3 },
        ),
      }),
      { nil: null },
    ),
    memory: fc.array(fc.tuple(fc.constantFrom(...SERVICES), fc.integer({ min: 1, max: 1 << 30 }), ratio, fc.boolean()), { maxLength: 3 }),
  })
  .map((g) => {
    const s = emptySnapshot(AT);
    s.services = g.health.map(([service, oks], i) => ({
      service,
      instances: oks.map((ok, j) => ({ url: `http://${service}-${i}-${j}:8080`, ok, status: ok ? 200 : 503, latencyMs: 1 })),
    }));
    s.errorRates = g.errorRates;
    s.users = g.users;
    if (g.kafka) {
      s.kafka = {
        brokersExpected: g.kafka.expected,
        brokers: g.kafka.up.map((up, i) => ({ nodeId: i + 1, address: `kafka-${i + 1}:9092`, up })),
        underReplicatedPartitions: 0,
        offlinePartitions: g.kafka.offline,
        minInsyncReplicas: g.kafka.minIsr,
        groups: g.kafka.lags.map(([lag], i) => ({
          group: `g${i}`,
          topic: "game-events",
          totalLag: lag,
          partitions: [],
          trendPerSecond: null,
          lagSeconds: null,
        })),
      };
      s.consumers = g.kafka.lags.map(([, status], i) => ({ group: `g${i}`, status, secondsSinceCommitMoved: null, lagGrowing: false }));
    }
    if (g.postgres) {
      s.postgres = {
        maxConnections: 100,
        reservedConnections: 3,
        byState: {},
        totalConnections: Math.round(g.postgres.usage * 97),
        usage: g.postgres.usage,
        pools: g.postgres.pools.map((p, i) => ({
          service: "stats-api",
          instance: `stats-api-${i}`,
          max: p.max,
          total: Math.round(p.used * p.max),
          idle: 0,
          waiting: p.waiting,
          timeoutsPerSecond: p.timeouts,
        })),
      };
    }
    s.instances = g.memory.map(([service, limit, share, oom], i) => ({
      service,
      instance: `${service}-${i}`,
      running: true,
      restarts: 0,
      exitCode: null,
      oomKilled: oom,
      oomKilledAt: null,
      memoryUsageBytes: Math.round(limit * share),
      memoryLimitBytes: limit,
    }));
    return s;
  });

describe("classify: a worse signal never lowers a severity", { timeout: 120_000 }, () => {
  it("the generated policies are ones parsePolicy accepts", () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const r = parsePolicy(JSON.stringify({ thresholds: p.thresholds }));
        expect(r).toEqual({ ok: true, policy: p });
      }),
    );
  });

  it("more errors (in the window and in the last round) never lower any kind's worst severity", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, fc.nat(), ratio, ratio, (s, p, pick, more, moreRecent) => {
        fc.pre(s.errorRates.length > 0);
        const before = ranks(s, p);
        const worse = structuredClone(s);
        const e = worse.errorRates[pick % worse.errorRates.length]!;
        e.errors += Math.round((e.requests - e.errors) * more);
        e.rate = e.errors / e.requests;
        if (e.recent) {
          e.recent.errors += Math.round((e.recent.requests - e.recent.errors) * moreRecent);
          e.recent.rate = e.recent.errors / e.recent.requests;
        }
        expect(notLower(before, ranks(worse, p))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("more failing synthetic users never lower any kind's worst severity", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, fc.nat({ max: 20 }), (s, p, more) => {
        fc.pre(s.users !== null);
        const worse = structuredClone(s);
        worse.users!.failing = Math.min(worse.users!.total, worse.users!.failing + more);
        expect(notLower(ranks(s, p), ranks(worse, p))).toBe(true);
      }),
    );
  });

  it("more consumer lag never lowers any kind's worst severity", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, fc.nat(), fc.nat({ max: 1_000_000 }), (s, p, pick, more) => {
        fc.pre((s.kafka?.groups.length ?? 0) > 0);
        const worse = structuredClone(s);
        worse.kafka!.groups[pick % worse.kafka!.groups.length]!.totalLag += more;
        expect(notLower(ranks(s, p), ranks(worse, p))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("one broker fewer never lowers any kind's worst severity", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, fc.nat(), (s, p, pick) => {
        const up = s.kafka?.brokers.filter((b) => b.up) ?? [];
        fc.pre(up.length > 0);
        const worse = structuredClone(s);
        const target = up[pick % up.length]!.nodeId;
        worse.kafka!.brokers.find((b) => b.nodeId === target)!.up = false;
        expect(notLower(ranks(s, p), ranks(worse, p))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("more pool usage (PostgreSQL's share, a pool's connections, queue or timeouts) never lowers any kind's worst severity", () => {
    fc.assert(
      fc.property(
        snapshotArb,
        policyArb,
        ratio,
        fc.nat(),
        fc.nat({ max: 5 }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (s, p, more, pick, waiting, timeouts) => {
          fc.pre(s.postgres !== null);
          const worse = structuredClone(s);
          const pg = worse.postgres!;
          pg.usage += more;
          const pool = pg.pools[pick % Math.max(1, pg.pools.length)];
          if (pool) {
            pool.total = pool.max;
            pool.waiting += waiting;
            pool.timeoutsPerSecond += timeouts;
          }
          expect(notLower(ranks(s, p), ranks(worse, p))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("more memory use, or an instance OOM-killed, never lowers any kind's worst severity", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, fc.nat(), ratio, fc.boolean(), (s, p, pick, more, kill) => {
        fc.pre(s.instances.length > 0);
        const worse = structuredClone(s);
        const i = worse.instances[pick % worse.instances.length]!;
        i.memoryUsageBytes = Math.min(
          i.memoryLimitBytes!,
          i.memoryUsageBytes! + Math.round((i.memoryLimitBytes! - i.memoryUsageBytes!) * more),
        );
        if (kill) i.oomKilled = true;
        expect(notLower(ranks(s, p), ranks(worse, p))).toBe(true);
      }),
    );
  });
});

/** One signal alone in an otherwise empty snapshot: the severity of `kind`, or null when none. */
function severityOf(kind: IncidentKind, p: Policy, fill: (s: Snapshot) => void): string | null {
  const s = emptySnapshot(AT);
  fill(s);
  const found = classify(s, p).filter((i) => i.kind === kind);
  return found.length === 0 ? null : found.map((i) => i.severity).sort()[0]!;
}
const rateSignal = (rate: number): ErrorRateSignal => ({
  service: "ingest-api",
  source: "metrics",
  windowSeconds: 60,
  requests: 1000,
  errors: Math.round(rate * 1000),
  rate,
});
const pgWith = (
  usage: number,
  pool?: { total: number; max: number; waiting: number; timeoutsPerSecond: number },
): Snapshot["postgres"] => ({
  maxConnections: 100,
  reservedConnections: 0,
  byState: {},
  totalConnections: 0,
  usage,
  pools: pool ? [{ service: "stats-api", instance: "stats-api-1", idle: 0, ...pool }] : [],
});

describe("classify: every threshold of the policy is exact", { timeout: 120_000 }, () => {
  it("error rate: P1 only above p1Above (> 10% in the runbook), P2 from p2AtLeast (5% itself is P2) up to p1Above itself", () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const { p1Above, p2AtLeast } = p.thresholds.errorRate;
        const at = (rate: number) => severityOf("high-error-rate", p, (s) => s.errorRates.push(rateSignal(rate)));
        expect(at(p1Above)).toBe("P2");
        if (p1Above < 1) expect(at(nextUp(p1Above))).toBe("P1");
        expect(at(p2AtLeast)).toBe("P2");
        if (p2AtLeast > 0) expect(at(nextDown(p2AtLeast))).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it("users affected: P1 only when the failing share is above p1Above (> 50%), P2 at it (50% itself is P2)", () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 50 }), fc.nat(), (p, total, f) => {
        const failing = 1 + (f % total);
        // the threshold set exactly at this share: at it P2, one more failing user P1
        const exact = structuredClone(p);
        exact.thresholds.usersAffected.p1Above = failing / total;
        const at = (n: number) => severityOf("high-error-rate", exact, (s) => (s.users = { total, failing: n }));
        expect(at(failing)).toBe("P2");
        if (failing < total) expect(at(failing + 1)).toBe("P1");
        expect(at(0)).toBeNull();
      }),
    );
  });

  it("consumer lag: an incident only above `above` (10,000 is fine, 10,001 is not)", () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const above = p.thresholds.consumerLag.above;
        const at = (lag: number) =>
          severityOf("high-consumer-lag", p, (s) => {
            s.kafka = {
              brokersExpected: 1,
              brokers: [{ nodeId: 1, address: "k:9092", up: true }],
              underReplicatedPartitions: 0,
              offlinePartitions: 0,
              minInsyncReplicas: 1,
              groups: [{ group: "g", topic: "t", totalLag: lag, partitions: [], trendPerSecond: null, lagSeconds: null }],
            };
          });
        expect(at(above)).toBeNull();
        expect(at(above + 1)).toBe("P2");
      }),
    );
  });

  it("PostgreSQL usage: an incident from usageAtLeast itself (>=), none just below", () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const u = p.thresholds.dbPool.usageAtLeast;
        const at = (usage: number) => severityOf("db-pool-exhausted", p, (s) => (s.postgres = pgWith(usage)));
        expect(at(u)).toBe("P3");
        if (u > 0) expect(at(nextDown(u))).toBeNull();
      }),
    );
  });

  it("a pool: exhausted with all connections out and more than waitingAbove waiting, or above timeoutsPerSecondAbove", () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 50 }), (p, max) => {
        fc.pre(p.thresholds.dbPool.usageAtLeast > 0);
        const { waitingAbove, timeoutsPerSecondAbove } = p.thresholds.dbPool;
        const at = (pool: { total: number; waiting: number; timeoutsPerSecond: number }) =>
          severityOf("db-pool-exhausted", p, (s) => (s.postgres = pgWith(0, { max, ...pool })));
        expect(at({ total: max, waiting: waitingAbove, timeoutsPerSecond: 0 })).toBeNull();
        expect(at({ total: max, waiting: waitingAbove + 1, timeoutsPerSecond: 0 })).toBe("P3");
        expect(at({ total: max - 1, waiting: waitingAbove + 1, timeoutsPerSecond: 0 })).toBeNull();
        expect(at({ total: 0, waiting: 0, timeoutsPerSecond: timeoutsPerSecondAbove })).toBeNull();
        expect(at({ total: 0, waiting: 0, timeoutsPerSecond: nextUp(timeoutsPerSecondAbove) })).toBe("P3");
      }),
    );
  });

  it("a pool's severity follows the worst error rate at its thresholds (P3 below p2AtLeast, P2 at it, P1 above p1Above)", () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        fc.pre(p.thresholds.dbPool.usageAtLeast <= 1);
        const { p1Above, p2AtLeast } = p.thresholds.errorRate;
        const at = (rate: number) =>
          severityOf("db-pool-exhausted", p, (s) => {
            s.postgres = pgWith(1);
            s.errorRates.push(rateSignal(rate));
          });
        expect(at(p2AtLeast)).toBe("P2");
        if (p2AtLeast > 0) expect(at(nextDown(p2AtLeast))).toBe("P3");
        expect(at(p1Above)).toBe("P2");
        if (p1Above < 1) expect(at(nextUp(p1Above))).toBe("P1");
      }),
    );
  });

  it("memory: P3 from usageAtLeast of the limit itself (>=), none below", () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 1 << 30 }), fc.nat(), (p, limit, u) => {
        const used = u % (limit + 1);
        // the threshold set exactly at this usage: P3 at it; one byte less is below it
        const exact = structuredClone(p);
        exact.thresholds.memory.usageAtLeast = used / limit;
        const at = (bytes: number) =>
          severityOf("service-oom", exact, (s) => {
            s.instances = [
              {
                service: "stats-api",
                instance: "stats-api-1",
                running: true,
                restarts: 0,
                exitCode: null,
                oomKilled: false,
                oomKilledAt: null,
                memoryUsageBytes: bytes,
                memoryLimitBytes: limit,
              },
            ];
          });
        expect(at(used)).toBe("P3");
        if (used > 0) expect(at(used - 1)).toBeNull();
      }),
    );
  });

  it("brokers: P0 with none up, P1 below min.insync.replicas or with offline partitions, P2 otherwise", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.nat(), fc.integer({ min: 1, max: 7 }), fc.nat({ max: 2 }), (n, d, minIsr, offline) => {
        const down = d % (n + 1);
        const sev = severityOf("kafka-broker-down", defaultPolicy, (s) => {
          s.kafka = {
            brokersExpected: n,
            brokers: Array.from({ length: n }, (_, i) => ({ nodeId: i, address: `k${i}:9092`, up: i >= down })),
            underReplicatedPartitions: 0,
            offlinePartitions: offline,
            minInsyncReplicas: minIsr,
            groups: [],
          };
        });
        const up = n - down;
        expect(sev).toBe(down === 0 ? null : up === 0 ? "P0" : up < minIsr || offline > 0 ? "P1" : "P2");
      }),
    );
  });

  it("the runbook's own numbers with the default policy (docs/runbook.md)", () => {
    const p = defaultPolicy;
    const rate = (r: number) => severityOf("high-error-rate", p, (s) => s.errorRates.push(rateSignal(r)));
    expect([rate(0.1), rate(nextUp(0.1)), rate(0.05), rate(nextDown(0.05))]).toEqual(["P2", "P1", "P2", null]);
    const users = (failing: number) => severityOf("high-error-rate", p, (s) => (s.users = { total: 4, failing }));
    expect([users(2), users(3)]).toEqual(["P2", "P1"]);
    const lag = (n: number) =>
      severityOf(
        "high-consumer-lag",
        p,
        (s) =>
          (s.kafka = {
            brokersExpected: 1,
            brokers: [{ nodeId: 1, address: "k:9092", up: true }],
            underReplicatedPartitions: 0,
            offlinePartitions: 0,
            minInsyncReplicas: 1,
            groups: [{ group: "g", topic: "t", totalLag: n, partitions: [], trendPerSecond: null, lagSeconds: null }],
          }),
      );
    expect([lag(10_000), lag(10_001)]).toEqual([null, "P2"]);
    const usage = (u: number) => severityOf("db-pool-exhausted", p, (s) => (s.postgres = pgWith(u)));
    expect([usage(0.9), usage(nextDown(0.9))]).toEqual(["P3", null]);
  });
});
