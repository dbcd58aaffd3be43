/**
 * The platform's description (topology.ts) with a fourth service, `leaderboard-api`, that no code names:
 * its parsing from the prober's `services:` section, the classification of its health, error rate, pool
 * and OOM signals, and the runbook's steps, which find it by its roles.
 */
import { describe, expect, it } from "vitest";
import { classify } from "./classify.js";
import type { Incident, IncidentKind } from "./incident.js";
import { defaultPolicy } from "./policy.js";
import type { InstanceInfo, Ports } from "./ports.js";
import { emptySnapshot, type InstanceSignal, type Snapshot } from "./snapshot.js";
import { STEPS } from "./steps.js";
import {
  consumersOf,
  DEFAULT_ROLES,
  DEFAULT_TOPOLOGY,
  groupsOf,
  instanceRoles,
  parseServicesSection,
  poolServices,
  scalableServices,
  serviceNames,
  type Topology,
  topicsOf,
} from "./topology.js";

const AT = "2025-01-01T12:00:00.000Z";

/** GameMetrics Pro plus leaderboard-api: reads scores from its own group, holds a pool, stateless and scalable. */
function fourServices(): Topology {
  const r = parseServicesSection({
    "ingest-api": ["http://ingest:8080"],
    "event-processor-service": ["http://proc:8080"],
    "stats-api": ["http://stats:8080"],
    "leaderboard-api": {
      urls: ["http://leaderboard:8080/"],
      health: "/healthz",
      roles: { consumes: { group: "leaderboard-scores", topic: "game-events" }, postgresPool: true },
    },
  });
  if (!r.ok) throw new Error(r.problems.join("; "));
  return r.topology;
}

describe("the description in the prober's services: section", () => {
  it("takes a fourth service with its roles; GameMetrics Pro's names keep their default roles in the short form", () => {
    const t = fourServices();
    expect(serviceNames(t)).toEqual(["ingest-api", "event-processor-service", "stats-api", "leaderboard-api"]);
    expect(t.services[3]).toEqual({
      name: "leaderboard-api",
      urls: ["http://leaderboard:8080"],
      health: "/healthz",
      metrics: "/metrics",
      roles: {
        produces: [],
        consumes: { group: "leaderboard-scores", topic: "game-events" },
        postgresPool: true,
        stateless: true,
        scalable: true,
      },
    });
    expect(t.services[1]?.roles).toEqual(DEFAULT_ROLES["event-processor-service"]);
    expect(poolServices(t)).toEqual(["event-processor-service", "stats-api", "leaderboard-api"]);
    expect(consumersOf(t, "leaderboard-scores")).toEqual(["leaderboard-api"]);
    expect(consumersOf(t, "event-processor-service")).toEqual(["event-processor-service"]);
    expect(groupsOf(t)).toEqual(["event-processor-service", "leaderboard-scores"]);
    expect(topicsOf(t)).toEqual(["game-events"]);
    expect(instanceRoles(t)).toEqual(["ingest-api", "event-processor-service", "stats-api", "leaderboard-api", "kafka", "postgres"]);
  });

  it("names every bad field with its path and value, and asks for the roles of a service it does not know", () => {
    const r = parseServicesSection({
      "leaderboard-api": { urls: ["ftp://x"], roles: { postgresPool: "yes", owner: "team-a" } },
      billing: ["http://billing:8080"],
      "stats-api": { urls: ["http://stats:8080"], colour: "blue" },
    });
    expect(r).toEqual({
      ok: false,
      problems: [
        'services.leaderboard-api.urls[0]: expected a URL (http or https), got "ftp://x"',
        'services.leaderboard-api.roles.postgresPool: expected boolean, got "yes"',
        "services.leaderboard-api.roles.owner: unknown key (expected one of produces, consumes, postgresPool, stateless, scalable)",
        "services.billing.roles: required for billing, a service GameMetrics Pro does not define (roles are known only for ingest-api, event-processor-service, stats-api): write `billing: { urls: [...], roles: { produces, consumes, postgresPool, stateless, scalable } }`",
        "services.stats-api.colour: unknown key (expected one of urls, health, metrics, roles)",
      ],
    });
    expect(parseServicesSection({})).toEqual({
      ok: false,
      problems: ["services: expected at least one service with a list of base URLs, got none"],
    });
  });
});

// ------------------------------------------------------------------ classification

const svcHealth = (service: string, ok: boolean) => ({
  service,
  instances: [{ url: `http://${service}:8080`, ok, status: ok ? 200 : null, latencyMs: ok ? 3 : null }],
});
const inst = (service: string, over: Partial<InstanceSignal> = {}): InstanceSignal => ({
  service,
  instance: service,
  running: true,
  restarts: 0,
  exitCode: null,
  oomKilled: false,
  oomKilledAt: null,
  memoryUsageBytes: 100,
  memoryLimitBytes: 1000,
  ...over,
});

function fourServiceSnapshot(over: Partial<Snapshot> = {}): Snapshot {
  const t = fourServices();
  return {
    ...emptySnapshot(AT),
    topology: t,
    services: serviceNames(t).map((s) => svcHealth(s, true)),
    instances: serviceNames(t).map((s) => inst(s)),
    ...over,
  };
}
const kinds = (s: Snapshot) => classify(s, defaultPolicy).map((i) => `${i.kind} ${i.severity} ${i.subject}`);

describe("classification over a four-service description", () => {
  it("a healthy snapshot of four services raises nothing", () => {
    expect(kinds(fourServiceSnapshot())).toEqual([]);
  });

  it("service-down: leaderboard-api's only instance fails its health check", () => {
    const s = fourServiceSnapshot();
    s.services = s.services.map((h) => (h.service === "leaderboard-api" ? svcHealth("leaderboard-api", false) : h));
    expect(kinds(s)).toEqual(["service-down P0 leaderboard-api"]);
  });

  it("high-error-rate: leaderboard-api's own error rate, P1 above the policy's threshold", () => {
    const s = fourServiceSnapshot({
      errorRates: [{ service: "leaderboard-api", source: "metrics", windowSeconds: 60, requests: 100, errors: 20, rate: 0.2 }],
    });
    expect(kinds(s)).toEqual(["high-error-rate P1 leaderboard-api"]);
  });

  it("db-pool-exhausted: leaderboard-api's pool queueing with every connection out", () => {
    const s = fourServiceSnapshot({
      postgres: {
        maxConnections: 100,
        reservedConnections: 3,
        byState: { active: 10 },
        totalConnections: 10,
        usage: 0.1,
        pools: [
          { service: "leaderboard-api", instance: "http://leaderboard:8080", max: 4, total: 4, idle: 0, waiting: 6, timeoutsPerSecond: 0 },
        ],
      },
    });
    const [pool] = classify(s, defaultPolicy);
    expect(pool).toMatchObject({ kind: "db-pool-exhausted", subject: "postgres" });
    expect(pool?.evidence[0]).toMatchObject({ signal: "postgres.pools[http://leaderboard:8080].waiting", observed: 6 });
  });

  it("service-oom: leaderboard-api's only instance OOM-killed is P1", () => {
    const s = fourServiceSnapshot();
    s.instances = s.instances.map((i) =>
      i.service === "leaderboard-api" ? inst("leaderboard-api", { oomKilled: true, running: false, exitCode: 137 }) : i,
    );
    expect(kinds(s)).toEqual(["service-oom P1 leaderboard-api"]);
  });

  it("high-consumer-lag names the group's service by its consumes role", () => {
    const s = fourServiceSnapshot({
      kafka: {
        brokersExpected: 1,
        brokers: [{ nodeId: 1, address: "k:9092", up: true }],
        underReplicatedPartitions: 0,
        offlinePartitions: 0,
        minInsyncReplicas: 1,
        groups: [
          { group: "leaderboard-scores", topic: "game-events", totalLag: 50_000, partitions: [], trendPerSecond: null, lagSeconds: null },
        ],
      },
    });
    const [lag] = classify(s, defaultPolicy);
    expect(lag).toMatchObject({ kind: "high-consumer-lag", subject: "leaderboard-scores" });
    expect(lag?.summary).toMatch(/, consumed by leaderboard-api$/);
  });
});

// ------------------------------------------------------------------ steps, by role

function ports(instances: InstanceInfo[], snapshot: Snapshot): Ports & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    now: () => Date.parse(AT),
    sleep: async () => {},
    platform: {
      listInstances: async (service) => instances.filter((i) => i.service === service),
      logs: async () => [],
      restart: async (name) => void calls.push(`restart ${name}`),
      memoryLimit: async () => null,
      setMemoryLimit: async (service, bytes) => void calls.push(`setMemoryLimit ${service} ${bytes}`),
      replicas: async () => 1,
      scale: async (service, n) => void calls.push(`scale ${service} ${n}`),
      setPoolSize: async (service, size) => void calls.push(`setPoolSize ${service} ${size}`),
      poolSize: async () => 4,
    },
    kafka: { brokers: async () => [], underReplicatedPartitions: async () => 0, groupLag: async () => 0, groupMembers: async () => 0 },
    database: { connections: async () => [], maxConnections: async () => ({ max: 100, reserved: 3 }), terminateIdle: async () => [] },
    observe: { snapshot: async () => snapshot },
  };
}
const info = (name: string, service: string, over: Partial<InstanceInfo> = {}): InstanceInfo => ({
  name,
  service,
  running: true,
  restarts: 0,
  exitCode: null,
  oomKilled: false,
  memoryLimitBytes: 512 * 1024 ** 2,
  memoryUsageBytes: null,
  startedAt: null,
  ...over,
});
const incident = (kind: IncidentKind, subject: string): Incident => ({
  kind,
  subject,
  severity: "P0",
  summary: "",
  evidence: [],
  responseMinutes: 15,
  respondBy: AT,
  escalation: "page",
  steps: [],
});

describe("the runbook's steps find the fourth service by the description", () => {
  const all = () => ["ingest-api", "event-processor-service", "stats-api", "leaderboard-api"].map((s) => info(s, s));

  it("service-down on leaderboard-api: its health is checked and its stopped instance restarted", async () => {
    const s = fourServiceSnapshot();
    s.services = s.services.map((h) => (h.service === "leaderboard-api" ? svcHealth("leaderboard-api", false) : h));
    const p = ports(
      [...all().filter((i) => i.service !== "leaderboard-api"), info("leaderboard-api", "leaderboard-api", { running: false })],
      s,
    );
    const ctx = { incident: incident("service-down", "leaderboard-api"), policy: defaultPolicy };
    const check = await STEPS.checkHealthEndpoints.run(p, ctx);
    expect(check).toMatchObject({ ok: true, finding: "problem", data: { failing: ["http://leaderboard-api:8080"] } });
    expect(check.output).toEqual(["leaderboard-api http://leaderboard-api:8080: FAIL (status none)"]);
    expect(await STEPS.restartFailingInstances.run(p, ctx)).toMatchObject({ finding: "acted", data: { restarted: ["leaderboard-api"] } });
    expect(p.calls).toEqual(["restart leaderboard-api"]);
  });

  it("an incident on every service (subject all) covers the fourth one too", async () => {
    const p = ports(all(), fourServiceSnapshot());
    const r = await STEPS.checkHealthEndpoints.run(p, { incident: incident("high-error-rate", "all"), policy: defaultPolicy });
    expect(r.output.map((l) => l.split(" ")[0])).toEqual(["ingest-api", "event-processor-service", "stats-api", "leaderboard-api"]);
  });

  it("pool exhaustion: the services with a pool by role (none observed) get their pools raised, leaderboard-api among them", async () => {
    const p = ports(all(), fourServiceSnapshot());
    const r = await STEPS.dbIncreasePoolSize.run(p, { incident: incident("db-pool-exhausted", "postgres"), policy: defaultPolicy });
    expect(r).toMatchObject({ ok: true, finding: "acted" });
    expect(p.calls).toEqual(["setPoolSize event-processor-service 8", "setPoolSize stats-api 8", "setPoolSize leaderboard-api 8"]);
  });

  it("consumer lag on leaderboard-scores: the group's service by its consumes role is checked and scaled", async () => {
    const p = ports(all(), fourServiceSnapshot());
    const ctx = { incident: incident("high-consumer-lag", "leaderboard-scores"), policy: defaultPolicy };
    const status = await STEPS.lagCheckConsumerStatus.run(p, ctx);
    expect(status.output[0]).toBe("leaderboard-api: running, restarts 0");
    await STEPS.lagScaleUpConsumers.run(p, ctx);
    expect(p.calls).toEqual(["scale leaderboard-api 2"]);
  });

  it("service-oom on leaderboard-api: its limit is raised, and it is scaled only when its roles allow", async () => {
    const killed = [info("leaderboard-api", "leaderboard-api", { oomKilled: true, running: false })];
    const ctx = { incident: incident("service-oom", "leaderboard-api"), policy: defaultPolicy };
    const p = ports(killed, fourServiceSnapshot());
    expect(await STEPS.oomIncreaseMemoryLimits.run(p, ctx)).toMatchObject({ ok: true });
    expect(await STEPS.oomScaleHorizontally.run(p, { ...ctx, topology: fourServices() })).toMatchObject({ ok: true });
    expect(p.calls).toEqual([expect.stringMatching(/^setMemoryLimit leaderboard-api \d+$/), "scale leaderboard-api 2"]);
    // the same service described as stateful: not scaled
    const stateful = fourServices();
    stateful.services[3]!.roles.stateless = false;
    const q = ports(killed, fourServiceSnapshot());
    expect(await STEPS.oomScaleHorizontally.run(q, { ...ctx, topology: stateful })).toMatchObject({ ok: true, data: { skipped: true } });
    expect(q.calls).toEqual([]);
  });

  it("without a description, GameMetrics Pro's is used", () => {
    expect(serviceNames(DEFAULT_TOPOLOGY)).toEqual(["ingest-api", "event-processor-service", "stats-api"]);
    expect(scalableServices(DEFAULT_TOPOLOGY)).toEqual(["ingest-api", "event-processor-service", "stats-api"]);
  });
});
