import { describe, expect, it } from "vitest";
import { CATALOG } from "./catalog.js";
import { classify } from "./classify.js";
import { unsettledWindows } from "./rules.js";
import type { Incident, IncidentKind } from "./incident.js";
import { defaultPolicy, parsePolicy } from "./policy.js";
import type { ErrorRateSignal, InstanceSignal, ServiceName, Snapshot } from "./snapshot.js";

const AT = "2025-01-01T12:00:00.000Z";

/** A healthy platform: nothing to report. */
function healthy(): Snapshot {
  const svc = (service: ServiceName) => ({ service, instances: [{ url: `http://${service}:1`, ok: true, status: 200, latencyMs: 3 }] });
  return {
    at: AT,
    services: [svc("ingest-api"), svc("event-processor-service"), svc("stats-api")],
    errorRates: [rate("ingest-api", 0, 100)],
    users: { total: 10, failing: 0 },
    kafka: {
      brokersExpected: 3,
      brokers: [1, 2, 3].map((nodeId) => ({ nodeId, address: `kafka-${nodeId}:9092`, up: true })),
      underReplicatedPartitions: 0,
      offlinePartitions: 0,
      minInsyncReplicas: 2,
      groups: [{ group: "event-processor-service", topic: "events", totalLag: 0, partitions: [], trendPerSecond: 0, lagSeconds: null }],
    },
    postgres: { maxConnections: 100, reservedConnections: 3, byState: { idle: 5 }, totalConnections: 5, usage: 5 / 97, pools: [] },
    instances: [inst("ingest-api-1", "ingest-api")],
    consumers: [{ group: "event-processor-service", status: "ok", secondsSinceCommitMoved: 1, lagGrowing: false }],
    security: { checks: [{ endpoint: "/admin", expectation: "401 without a token", ok: true, observed: "401" }], leakedSecrets: [] },
    canary: { sent: 10, lost: 0, lastRoundTripMs: 200, freshnessSeconds: 2 },
    externalAlerts: [],
    collectionErrors: [],
  };
}

function rate(
  service: ErrorRateSignal["service"],
  errors: number,
  requests: number,
  source: ErrorRateSignal["source"] = "metrics",
): ErrorRateSignal {
  return { service, source, windowSeconds: 60, requests, errors, rate: requests === 0 ? null : errors / requests };
}

function inst(instance: string, service: InstanceSignal["service"], over: Partial<InstanceSignal> = {}): InstanceSignal {
  return {
    service,
    instance,
    running: true,
    restarts: 0,
    exitCode: null,
    oomKilled: false,
    oomKilledAt: null,
    memoryUsageBytes: 100,
    memoryLimitBytes: 1000,
    ...over,
  };
}

const only = (s: Snapshot, kind: IncidentKind): Incident[] => classify(s, defaultPolicy).filter((i) => i.kind === kind);
const sevOf = (s: Snapshot, kind: IncidentKind): string[] => only(s, kind).map((i) => `${i.subject}:${i.severity}`);

describe("classify", () => {
  it("reports nothing for a healthy platform", () => {
    expect(classify(healthy(), defaultPolicy)).toEqual([]);
  });

  it("uses the default policy when none is given", () => {
    const s = healthy();
    s.canary = { sent: 1, lost: 1, lastRoundTripMs: null, freshnessSeconds: null };
    expect(classify(s)).toHaveLength(1);
  });

  it("a canary read back altered is P0 data-loss (corruption) with evidence naming the ids; lost and altered are one incident", () => {
    const s = healthy();
    s.canary = { sent: 5, lost: 0, lastRoundTripMs: 200, freshnessSeconds: 2, altered: 2, alteredIds: ["gm-canary-r-3", "gm-canary-r-4"] };
    const [i, ...rest] = classify(s, defaultPolicy);
    expect(rest).toEqual([]);
    expect(i).toMatchObject({ kind: "data-loss", severity: "P0", subject: "event-pipeline" });
    expect(i!.summary).toContain("2 canary event(s) read back altered: gm-canary-r-3, gm-canary-r-4");
    expect(i!.evidence).toContainEqual({
      signal: "canary.altered",
      observed: "2 (gm-canary-r-3, gm-canary-r-4)",
      threshold: "> 0: stored content differs from what was sent",
    });
    s.canary = { ...s.canary, lost: 1 };
    expect(classify(s, defaultPolicy)[0]!.evidence.map((e) => e.signal)).toEqual(["canary.lost", "canary.altered"]);
    s.canary = { ...s.canary, lost: 0, altered: 0, alteredIds: [] };
    expect(classify(s, defaultPolicy)).toEqual([]);
  });

  it("rejects a snapshot without a valid time", () => {
    expect(() => classify({ ...healthy(), at: "yesterday" })).toThrow('snapshot.at: expected an ISO 8601 time, got "yesterday"');
  });

  describe("error rate boundaries", () => {
    const withRate = (errors: number, requests: number) => ({ ...healthy(), errorRates: [rate("stats-api", errors, requests)] });
    it.each([
      ["exactly 10% is P2", 100, 1000, ["stats-api:P2"]],
      ["10.0001% is P1", 100_001, 1_000_000, ["stats-api:P1"]],
      ["exactly 5% is P2", 50, 1000, ["stats-api:P2"]],
      ["4.99% is nothing", 499, 10_000, []],
      ["0% is nothing", 0, 1000, []],
      ["100% is P1", 10, 10, ["stats-api:P1"]],
    ])("%s", (_, errors, requests, expected) => {
      expect(sevOf(withRate(errors, requests), "high-error-rate")).toEqual(expected);
    });

    it("ignores a window without requests (rate null)", () => {
      expect(sevOf(withRate(0, 0), "high-error-rate")).toEqual([]);
    });

    describe("over two windows (multiwindow): the prober's window and its last round", () => {
      const twoWindows = (errors: number, requests: number, recentErrors: number, recentRequests: number) => ({
        ...healthy(),
        errorRates: [
          {
            ...rate("stats-api", errors, requests),
            recent: {
              windowSeconds: 5,
              requests: recentRequests,
              errors: recentErrors,
              rate: recentRequests > 0 ? recentErrors / recentRequests : null,
            },
          },
        ],
      });
      it.each([
        ["both above 10% is P1", 30, 100, 3, 10, ["stats-api:P1"]],
        ["the errors stopped in the last round: nothing, though the window still averages 30%", 30, 100, 0, 10, []],
        ["the last round at 7% lowers a 30% window to P2", 30, 100, 7, 100, ["stats-api:P2"]],
        ["a burst in the last round alone does not page: the window is at 3%", 3, 100, 3, 3, []],
        ["no request in the last round: the window judges alone", 30, 100, 0, 0, ["stats-api:P1"]],
      ])("%s", (_, errors, requests, recentErrors, recentRequests, expected) => {
        expect(sevOf(twoWindows(errors, requests, recentErrors, recentRequests), "high-error-rate")).toEqual(expected);
      });
      it("shows both windows as evidence", () => {
        expect(only(twoWindows(30, 100, 5, 10), "high-error-rate")[0]?.evidence).toEqual([
          { signal: "errorRates[stats-api/metrics].rate", observed: 0.3, threshold: "> 0.1" },
          { signal: "errorRates[stats-api/metrics].rate.recent", observed: 0.5, threshold: "> 0.1 (the last 5 s too)" },
        ]);
      });
      it("sets a pool incident's severity by the judged rate", () => {
        const s = twoWindows(30, 100, 0, 10);
        s.postgres!.usage = 0.95;
        expect(sevOf(s, "db-pool-exhausted")).toEqual(["postgres:P3"]);
      });
    });

    it("keeps the worst source per service and merges the evidence", () => {
      const s = {
        ...healthy(),
        errorRates: [
          rate("ingest-api", 6, 100, "metrics"),
          rate("ingest-api", 20, 100, "synthetic"),
          rate("ingest-api", 1, 100, "prometheus"),
        ],
      };
      const [i] = only(s, "high-error-rate");
      expect(i?.severity).toBe("P1");
      expect(i?.evidence).toEqual([
        { signal: "errorRates[ingest-api/metrics].rate", observed: 0.06, threshold: ">= 0.05 and <= 0.1" },
        { signal: "errorRates[ingest-api/synthetic].rate", observed: 0.2, threshold: "> 0.1" },
      ]);
      expect(i?.summary.startsWith("ingest-api: error rate 20%")).toBe(true);
    });

    it("raises one incident per service", () => {
      const s = { ...healthy(), errorRates: [rate("stats-api", 6, 100), rate("ingest-api", 11, 100), rate("all", 8, 100)] };
      expect(sevOf(s, "high-error-rate")).toEqual(["ingest-api:P1", "all:P2", "stats-api:P2"]);
    });
  });

  describe("users affected boundaries", () => {
    const withUsers = (failing: number, total: number) => ({ ...healthy(), users: { total, failing } });
    it.each([
      ["exactly 50% is P2", 500, 1000, ["all:P2"]],
      ["50.1% is P1", 501, 1000, ["all:P1"]],
      ["one user is P2", 1, 1000, ["all:P2"]],
      ["nobody failing is nothing", 0, 1000, []],
      ["no users is nothing", 0, 0, []],
    ])("%s", (_, failing, total, expected) => {
      expect(sevOf(withUsers(failing, total), "high-error-rate")).toEqual(expected);
    });

    describe("over the window too (multiwindow): one round of every player failing is a blip, not > 50% of users", () => {
      const withWindow = (failing: number, total: number, failed: number, journeys: number) => ({
        ...healthy(),
        users: { total, failing, window: { windowSeconds: 60, journeys, failed } },
      });
      it.each([
        ["every player failing in the last round, 4 of 48 journeys over the window: P2", 4, 4, 4, 48, ["all:P2"]],
        ["more than half failing now and over the window: P1", 3, 4, 25, 48, ["all:P1"]],
        ["exactly half of the window's journeys is not above: P2", 4, 4, 24, 48, ["all:P2"]],
        ["the window above but nobody failing now: nothing", 0, 4, 30, 48, []],
        ["an empty window: the round judges alone", 3, 4, 0, 0, ["all:P1"]],
      ])("%s", (_, failing, total, failed, journeys, expected) => {
        expect(sevOf(withWindow(failing, total, failed, journeys), "high-error-rate")).toEqual(expected);
      });
      it("shows the window's share as evidence", () => {
        expect(only(withWindow(4, 4, 4, 48), "high-error-rate")[0]?.evidence).toEqual([
          { signal: "users.failing/users.total", observed: 1, threshold: "> 0.5" },
          { signal: "users.window.failed/users.window.journeys", observed: 4 / 48, threshold: "> 0.5 over 60 s too → P1" },
        ]);
      });
    });

    it("merges with the 'all' error rate and the worst wins", () => {
      const s = { ...withUsers(600, 1000), errorRates: [rate("all", 6, 100)] };
      const [i] = only(s, "high-error-rate");
      expect(i?.severity).toBe("P1");
      expect(i?.evidence.map((e) => e.signal)).toEqual(["errorRates[all/metrics].rate", "users.failing/users.total"]);
      expect(i?.evidence[1]).toEqual({ signal: "users.failing/users.total", observed: 0.6, threshold: "> 0.5" });
    });
  });

  describe("consumer lag boundaries", () => {
    const withLag = (totalLag: number, status: "ok" | "stalled" | "stopped" | "unknown" = "ok") => {
      const s = healthy();
      s.kafka!.groups[0]!.totalLag = totalLag;
      s.consumers[0]!.status = status;
      return s;
    };
    it("10,000 is fine", () => expect(sevOf(withLag(10_000), "high-consumer-lag")).toEqual([]));
    it("10,001 is P2", () => expect(sevOf(withLag(10_001), "high-consumer-lag")).toEqual(["event-processor-service:P2"]));
    it("stalled consumers make it P1", () =>
      expect(sevOf(withLag(10_001, "stalled"), "high-consumer-lag")).toEqual(["event-processor-service:P1"]));
    it("stopped consumers make it P1", () =>
      expect(sevOf(withLag(50_000, "stopped"), "high-consumer-lag")).toEqual(["event-processor-service:P1"]));
    it("unknown status stays P2", () =>
      expect(sevOf(withLag(50_000, "unknown"), "high-consumer-lag")).toEqual(["event-processor-service:P2"]));
    it("a stalled group without lag above the threshold is nothing", () =>
      expect(sevOf(withLag(10, "stalled"), "high-consumer-lag")).toEqual([]));
    it("records lag and status evidence", () => {
      expect(only(withLag(10_001, "stalled"), "high-consumer-lag")[0]?.evidence).toEqual([
        { signal: "kafka.groups[event-processor-service].totalLag", observed: 10_001, threshold: "> 10000" },
        { signal: "consumers[event-processor-service].status", observed: "stalled", threshold: "stalled or stopped → P1" },
      ]);
    });
  });

  describe("kafka broker down", () => {
    const withBrokers = (up: boolean[], over: { offline?: number; expected?: number } = {}) => {
      const s = healthy();
      s.kafka!.brokers = up.map((u, i) => ({ nodeId: i + 1, address: `kafka-${i + 1}:9092`, up: u }));
      s.kafka!.offlinePartitions = over.offline ?? 0;
      if (over.expected !== undefined) s.kafka!.brokersExpected = over.expected;
      return s;
    };
    it("one of three down, min.insync 2 still met: P2", () =>
      expect(sevOf(withBrokers([true, true, false]), "kafka-broker-down")).toEqual(["kafka:P2"]));
    it("two of three down, below min.insync: P1", () =>
      expect(sevOf(withBrokers([true, false, false]), "kafka-broker-down")).toEqual(["kafka:P1"]));
    it("offline partitions: P1", () =>
      expect(sevOf(withBrokers([true, true, false], { offline: 1 }), "kafka-broker-down")).toEqual(["kafka:P1"]));
    it("none up: P0", () => expect(sevOf(withBrokers([false, false, false]), "kafka-broker-down")).toEqual(["kafka:P0"]));
    it("a broker missing from the metadata counts", () =>
      expect(sevOf(withBrokers([true, true]), "kafka-broker-down")).toEqual(["kafka:P2"]));
    it("all expected up: nothing", () => expect(sevOf(withBrokers([true, true, true]), "kafka-broker-down")).toEqual([]));
    it("Kafka not observed: nothing, even with a collection error", () => {
      const s = { ...healthy(), kafka: null, collectionErrors: [{ collector: "kafka", error: "timeout" }] };
      expect(classify(s)).toEqual([]);
    });
    it("records the down broker and the counts", () => {
      expect(only(withBrokers([true, true, false]), "kafka-broker-down")[0]?.evidence).toEqual([
        { signal: "kafka.brokers[up]", observed: 2, threshold: ">= 3 (brokersExpected)" },
        { signal: "kafka.brokers[3].up", observed: false, threshold: "true" },
        { signal: "kafka.minInsyncReplicas", observed: 2, threshold: "<= 2 brokers up, else P1" },
        { signal: "kafka.offlinePartitions", observed: 0, threshold: "0, else P1" },
      ]);
    });
  });

  describe("db pool exhausted", () => {
    const withPg = (
      usage: number,
      pool: { waiting: number; timeoutsPerSecond: number; recentTimeoutsPerSecond?: number; total?: number } | null,
      errors = 0,
    ) => {
      const s = healthy();
      s.postgres!.usage = usage;
      s.postgres!.pools = pool ? [{ service: "stats-api", instance: "stats-api-1", max: 10, total: 10, idle: 0, ...pool }] : [];
      s.errorRates = [rate("stats-api", errors, 100)];
      return s;
    };
    it("usage 89% is nothing", () => expect(sevOf(withPg(0.89, null), "db-pool-exhausted")).toEqual([]));
    it("usage exactly 90% without errors is P3", () => expect(sevOf(withPg(0.9, null), "db-pool-exhausted")).toEqual(["postgres:P3"]));
    it("waiting with timeouts is an incident", () =>
      expect(sevOf(withPg(0.5, { waiting: 3, timeoutsPerSecond: 0.2 }), "db-pool-exhausted")).toEqual(["postgres:P3"]));
    it("a full pool with a queue is an incident, without timeouts", () =>
      expect(sevOf(withPg(0.5, { waiting: 3, timeoutsPerSecond: 0 }), "db-pool-exhausted")).toEqual(["postgres:P3"]));
    it("a queue while connections are still free is nothing", () =>
      expect(sevOf(withPg(0.5, { waiting: 3, timeoutsPerSecond: 0, total: 9 }), "db-pool-exhausted")).toEqual([]));
    it("connection timeouts alone are an incident", () =>
      expect(sevOf(withPg(0.5, { waiting: 0, timeoutsPerSecond: 1 }), "db-pool-exhausted")).toEqual(["postgres:P3"]));
    it("connection timeouts still happening in the last round are an incident", () =>
      expect(sevOf(withPg(0.5, { waiting: 0, timeoutsPerSecond: 1, recentTimeoutsPerSecond: 0.4 }), "db-pool-exhausted")).toEqual([
        "postgres:P3",
      ]));
    it("connection timeouts that stopped in the last round are not, though the window still averages them in", () =>
      expect(sevOf(withPg(0.5, { waiting: 0, timeoutsPerSecond: 1, recentTimeoutsPerSecond: 0 }), "db-pool-exhausted")).toEqual([]));
    it("no queue and no timeouts is nothing", () =>
      expect(sevOf(withPg(0.5, { waiting: 0, timeoutsPerSecond: 0 }), "db-pool-exhausted")).toEqual([]));
    it("5% errors make it P2", () => expect(sevOf(withPg(0.95, null, 5), "db-pool-exhausted")).toEqual(["postgres:P2"]));
    it("exactly 10% errors is P2", () => expect(sevOf(withPg(0.95, null, 10), "db-pool-exhausted")).toEqual(["postgres:P2"]));
    it("11% errors make it P1", () => expect(sevOf(withPg(0.95, null, 11), "db-pool-exhausted")).toEqual(["postgres:P1"]));
    it("records usage, pool and the error rate that set the severity", () => {
      expect(only(withPg(0.95, { waiting: 4, timeoutsPerSecond: 1.5 }, 11), "db-pool-exhausted")[0]?.evidence).toEqual([
        { signal: "postgres.usage", observed: 0.95, threshold: ">= 0.9" },
        { signal: "postgres.pools[stats-api-1].waiting", observed: 4, threshold: "> 0 with all 10 connections in use" },
        { signal: "postgres.pools[stats-api-1].timeoutsPerSecond", observed: 1.5, threshold: "> 0" },
        { signal: "errorRates[stats-api/metrics].rate", observed: 0.11, threshold: "> 0.1 → P1" },
      ]);
    });
  });

  describe("service down", () => {
    it("every instance failing is P0", () => {
      const s = healthy();
      s.services[2] = {
        service: "stats-api",
        instances: [
          { url: "http://a", ok: false, status: 503, latencyMs: 4 },
          { url: "http://b", ok: false, status: null, latencyMs: null, error: "ECONNREFUSED" },
        ],
      };
      const [i] = only(s, "service-down");
      expect(i?.severity).toBe("P0");
      expect(i?.subject).toBe("stats-api");
      expect(i?.evidence[1]).toEqual({
        signal: "services[stats-api].instances[http://b].ok",
        observed: "false (status none: ECONNREFUSED)",
        threshold: "every instance not ok",
      });
    });
    it("one healthy instance left is not down", () => {
      const s = healthy();
      s.services[2]!.instances.push({ url: "http://b", ok: false, status: 500, latencyMs: 1 });
      expect(only(s, "service-down")).toEqual([]);
    });
    it("zero probed instances is unknown, not down", () => {
      const s = healthy();
      s.services[2]!.instances = [];
      expect(only(s, "service-down")).toEqual([]);
    });
  });

  describe("data loss and security", () => {
    it("a lost canary is P0 data loss", () => {
      const s = { ...healthy(), canary: { sent: 10, lost: 1, lastRoundTripMs: null, freshnessSeconds: 30 } };
      expect(only(s, "data-loss")).toMatchObject([
        { severity: "P0", subject: "event-pipeline", evidence: [{ signal: "canary.lost", observed: 1, threshold: "> 0 after 120 s" }] },
      ]);
    });
    it.each([
      [
        "a failed check",
        (s: Snapshot) => {
          s.security!.checks[0]!.ok = false;
        },
      ],
      [
        "a leaked secret",
        (s: Snapshot) => {
          s.security!.leakedSecrets.push({ endpoint: "/debug", secret: "PG_PASSWORD" });
        },
      ],
      [
        "a security alert",
        (s: Snapshot) => {
          s.externalAlerts.push({ name: "WafBlock", labels: {}, security: true });
        },
      ],
    ])("%s is a P0 security exposure", (_, mutate) => {
      const s = healthy();
      mutate(s);
      expect(sevOf(s, "security-exposure")).toEqual(["security:P0"]);
    });
    it("a non-security alert is not", () => {
      const s = healthy();
      s.externalAlerts.push({ name: "HighCpu", labels: {}, security: false });
      expect(sevOf(s, "security-exposure")).toEqual([]);
    });
  });

  describe("non-critical external alerts (P3)", () => {
    it("an external alert that is not a security alert is a P3 incident named after it, its labels kept, ticketed", () => {
      const s = healthy();
      s.externalAlerts.push({
        name: "HighCpu",
        labels: { alertname: "HighCpu", team: "infra", instance: "node-3", severity: "warning" },
        security: false,
      });
      const found = classify(s);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        kind: "external-alert",
        severity: "P3",
        subject: "HighCpu",
        escalation: "ticket",
        summary: 'external alert HighCpu firing: {alertname="HighCpu", instance="node-3", severity="warning", team="infra"}',
        evidence: [
          {
            signal: "externalAlerts[HighCpu].labels",
            observed: '{alertname="HighCpu", instance="node-3", severity="warning", team="infra"}',
            threshold: "no non-security alert firing",
          },
        ],
        steps: ["review-external-alerts", "check-health-endpoints"],
      });
    });

    it("one incident per alert name (each instance's labels as evidence); a security alert is P0 only, never also P3", () => {
      const s = healthy();
      s.externalAlerts.push(
        { name: "DiskFilling", labels: { instance: "a" }, security: false },
        { name: "DiskFilling", labels: { instance: "b" }, security: false },
        { name: "CertExpiring", labels: {}, security: false },
        { name: "WafBlock", labels: { incident: "security" }, security: true },
      );
      expect(sevOf(s, "external-alert")).toEqual(["CertExpiring:P3", "DiskFilling:P3"]);
      expect(sevOf(s, "security-exposure")).toEqual(["security:P0"]);
      const disk = classify(s).find((i) => i.subject === "DiskFilling");
      expect(disk?.evidence.map((e) => e.observed)).toEqual(['{instance="a"}', '{instance="b"}']);
      expect(disk?.summary).toBe('external alert DiskFilling firing (2 instances): {instance="a"}');
    });
  });

  describe("service OOM", () => {
    it("one of two instances killed is P2", () => {
      const s = {
        ...healthy(),
        instances: [inst("stats-1", "stats-api", { oomKilled: true, running: false }), inst("stats-2", "stats-api")],
      };
      expect(sevOf(s, "service-oom")).toEqual(["stats-api:P2"]);
    });
    it("every instance killed or not running is P1", () => {
      const s = {
        ...healthy(),
        instances: [inst("stats-1", "stats-api", { oomKilled: true }), inst("stats-2", "stats-api", { running: false })],
      };
      expect(sevOf(s, "service-oom")).toEqual(["stats-api:P1"]);
    });
    it("memory at exactly 90% of the limit is P3, 89.9% nothing", () => {
      expect(sevOf({ ...healthy(), instances: [inst("k", "kafka", { memoryUsageBytes: 900 })] }, "service-oom")).toEqual(["kafka:P3"]);
      expect(sevOf({ ...healthy(), instances: [inst("k", "kafka", { memoryUsageBytes: 899 })] }, "service-oom")).toEqual([]);
    });
    it("a kill and high usage in one service merge, the kill wins", () => {
      const s = {
        ...healthy(),
        instances: [inst("s1", "stats-api", { oomKilled: true }), inst("s2", "stats-api", { memoryUsageBytes: 950 })],
      };
      const [i] = only(s, "service-oom");
      expect(i?.severity).toBe("P2");
      expect(i?.evidence.map((e) => e.signal)).toEqual([
        "instances[s1].oomKilled",
        "instances[stats-api].running",
        "instances[s2].memoryUsageBytes/memoryLimitBytes",
      ]);
    });
    it("a fully killed service is P1 OOM and P0 down at once", () => {
      const s = healthy();
      s.instances = [inst("stats-1", "stats-api", { oomKilled: true, running: false })];
      s.services[2]!.instances[0]!.ok = false;
      expect(classify(s).map((i) => `${i.kind}:${i.severity}`)).toEqual(["service-down:P0", "service-oom:P1"]);
    });
  });

  describe("incidents", () => {
    it("fills response time, respondBy, escalation and steps from the policy and catalog", () => {
      const s = healthy();
      s.kafka!.groups[0]!.totalLag = 20_000;
      const [i] = classify(s);
      expect(i).toMatchObject({
        kind: "high-consumer-lag",
        severity: "P2",
        responseMinutes: 60,
        respondBy: "2025-01-01T13:00:00.000Z",
        escalation: "ticket-and-notify",
      });
      expect(i?.steps).toEqual(CATALOG["high-consumer-lag"].steps.map((x) => x.id));
    });

    it.each([
      ["P0", 5, "2025-01-01T12:05:00.000Z", "page"],
      ["P1", 15, "2025-01-01T12:15:00.000Z", "page"],
      ["P3", 240, "2025-01-01T16:00:00.000Z", "ticket"],
    ])("%s: respond in %i min by %s, %s", (sev, minutes, by, escalation) => {
      const s = healthy();
      if (sev === "P0") s.canary!.lost = 1;
      if (sev === "P1") s.errorRates = [rate("ingest-api", 50, 100)];
      if (sev === "P3") s.postgres!.usage = 0.99;
      expect(classify(s)[0]).toMatchObject({ severity: sev, responseMinutes: minutes, respondBy: by, escalation });
    });

    it("respondBy crosses midnight", () => {
      const s = {
        ...healthy(),
        at: "2025-12-31T23:58:30.000Z",
        canary: { sent: 1, lost: 1, lastRoundTripMs: null, freshnessSeconds: null },
      };
      expect(classify(s)[0]?.respondBy).toBe("2026-01-01T00:03:30.000Z");
    });

    it("reports several incidents at once, ordered by severity, kind, subject", () => {
      const s = healthy();
      s.kafka!.brokers[2]!.up = false;
      s.kafka!.groups[0]!.totalLag = 12_000;
      s.errorRates = [rate("stats-api", 6, 100), rate("ingest-api", 30, 100)];
      s.canary!.lost = 2;
      s.postgres!.usage = 0.92;
      s.instances = [inst("stats-1", "stats-api", { oomKilled: true }), inst("stats-2", "stats-api")];
      expect(classify(s).map((i) => `${i.severity} ${i.kind} ${i.subject}`)).toEqual([
        "P0 data-loss event-pipeline",
        "P1 high-error-rate ingest-api",
        "P1 db-pool-exhausted postgres",
        "P2 high-error-rate stats-api",
        "P2 kafka-broker-down kafka",
        "P2 high-consumer-lag event-processor-service",
        "P2 service-oom stats-api",
      ]);
    });

    it("collection errors alone raise nothing, but show as evidence where relevant", () => {
      const s = healthy();
      s.collectionErrors = [
        { collector: "kafka", error: "broker timeout" },
        { collector: "postgres", error: "auth failed" },
      ];
      expect(classify(s)).toEqual([]);
      s.kafka!.groups[0]!.totalLag = 10_001;
      const [i] = classify(s);
      expect(i?.evidence.at(-1)).toEqual({
        signal: "collectionErrors[kafka]",
        observed: "broker timeout",
        threshold: "collector succeeds (this signal may be incomplete)",
      });
      expect(i?.evidence.some((e) => e.signal === "collectionErrors[postgres]")).toBe(false);
    });
  });

  describe("policy overrides", () => {
    it("a lower P1 error-rate threshold makes 8% a P1", () => {
      const r = parsePolicy("thresholds:\n  errorRate:\n    p1Above: 0.07\n");
      if (!r.ok) throw new Error(r.problems.join("\n"));
      const s = { ...healthy(), errorRates: [rate("stats-api", 8, 100)] };
      expect(classify(s, defaultPolicy)[0]?.severity).toBe("P2");
      expect(classify(s, r.policy)[0]?.severity).toBe("P1");
    });
    it("a higher lag threshold and a different response time apply", () => {
      const r = parsePolicy("thresholds: { consumerLag: { above: 50000 } }\nseverities: { P2: { responseMinutes: 30 } }\n");
      if (!r.ok) throw new Error(r.problems.join("\n"));
      const s = healthy();
      s.kafka!.groups[0]!.totalLag = 20_000;
      expect(classify(s, r.policy)).toEqual([]);
      s.kafka!.groups[0]!.totalLag = 50_001;
      expect(classify(s, r.policy)[0]).toMatchObject({ severity: "P2", responseMinutes: 30, respondBy: "2025-01-01T12:30:00.000Z" });
    });
  });
});

describe("unsettledWindows", () => {
  it("names what the long windows still hold after the errors stopped, and nothing once they drained", () => {
    const s = healthy();
    s.errorRates = [{ ...rate("all", 20, 96, "synthetic"), recent: { windowSeconds: 5, requests: 8, errors: 0, rate: 0 } }];
    s.postgres!.pools = [
      {
        service: "stats-api",
        instance: "stats-api-1",
        max: 10,
        total: 2,
        idle: 2,
        waiting: 0,
        timeoutsPerSecond: 0.5,
        recentTimeoutsPerSecond: 0,
      },
    ];
    s.users = { total: 4, failing: 0, window: { windowSeconds: 60, journeys: 48, failed: 30 } };
    // none of it is an incident any more (judged over both windows) ...
    expect(classify(s).filter((i) => i.kind === "high-error-rate" || i.kind === "db-pool-exhausted")).toEqual([]);
    // ... but a new fault's first round would add to it
    expect(unsettledWindows(s, defaultPolicy)).toEqual([
      "errorRates[all/synthetic].rate 20.83% over 60 s",
      "postgres.pools[stats-api-1].timeoutsPerSecond 0.50/s over the window",
      "users.window 62.5% of journeys failed over 60 s",
    ]);
    s.errorRates = [rate("all", 4, 96, "synthetic")];
    s.postgres!.pools = [];
    s.users = { total: 4, failing: 0, window: { windowSeconds: 60, journeys: 48, failed: 4 } };
    expect(unsettledWindows(s, defaultPolicy)).toEqual([]);
  });
});
