import { describe, expect, it } from "vitest";
import type { Incident, IncidentKind } from "./incident.js";
import { defaultPolicy, type Policy } from "./policy.js";
import { type ConnectionRow, type InstanceInfo, PortUnavailableError, type Ports, type Rollout } from "./ports.js";
import { emptySnapshot, type ServiceName, type Snapshot } from "./snapshot.js";
import { applyUndo, describeUndo, parseUndoAction, STEPS, type Step, type StepResult } from "./steps.js";

// ------------------------------------------------------------------ in-memory fake ports

const T0 = Date.parse("2025-01-01T12:00:00.000Z");

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return { ...emptySnapshot(new Date(T0).toISOString()), ...over };
}

function instance(name: string, service: InstanceInfo["service"], over: Partial<InstanceInfo> = {}): InstanceInfo {
  return {
    name,
    service,
    running: true,
    restarts: 0,
    exitCode: null,
    oomKilled: false,
    memoryLimitBytes: null,
    memoryUsageBytes: null,
    startedAt: null,
    ...over,
  };
}

interface FakeState {
  instances: InstanceInfo[];
  logs: Record<string, string[]>;
  brokers: { nodeId: number; address: string; up: boolean }[];
  /** under-replicated partitions per call; the last value repeats */
  urp: (number | Error)[];
  members: number;
  replicas: Partial<Record<ServiceName, number>>;
  poolSizes: Partial<Record<ServiceName, number>>;
  connections: ConnectionRow[];
  max: { max: number; reserved: number };
  terminated: number[];
  /** snapshots per call; the last one repeats */
  snapshots: Snapshot[];
  /** revisions per service, as the driver's rollouts() gives them; absent: the driver keeps none */
  rollouts?: Partial<Record<ServiceName, Rollout[]>>;
}

type Fake = Ports & { calls: string[]; clock: number; sleeps: number[] };

function fake(init: Partial<FakeState> = {}): Fake {
  const st: FakeState = {
    instances: [],
    logs: {},
    brokers: [],
    urp: [0],
    members: 1,
    replicas: {},
    poolSizes: {},
    connections: [],
    max: { max: 100, reserved: 3 },
    terminated: [],
    snapshots: [snap()],
    ...init,
  };
  const next = <T>(list: T[]): T => (list.length > 1 ? list.shift()! : list[0]!);
  const f: Fake = {
    calls: [],
    clock: T0,
    sleeps: [],
    now: () => f.clock,
    async sleep(ms) {
      f.sleeps.push(ms);
      f.clock += ms;
    },
    platform: {
      listInstances: async (service) => st.instances.filter((i) => i.service === service).map((i) => ({ ...i })),
      logs: async (name, tail, o) => {
        f.calls.push(`logs ${name} ${tail}${o?.previous ? " --previous" : ""}`);
        return (st.logs[name] ?? []).slice(-tail);
      },
      restart: async (name) => {
        f.calls.push(`restart ${name}`);
      },
      memoryLimit: async (name) => st.instances.find((i) => i.name === name)?.memoryLimitBytes ?? null,
      setMemoryLimit: async (service, bytes) => {
        f.calls.push(`setMemoryLimit ${service} ${bytes}`);
      },
      replicas: async (service) => st.replicas[service] ?? 1,
      scale: async (service, n) => {
        f.calls.push(`scale ${service} ${n}`);
      },
      setPoolSize: async (service, size) => {
        f.calls.push(`setPoolSize ${service} ${size}`);
      },
      poolSize: async (service) => st.poolSizes[service] ?? 10,
      ...(st.rollouts
        ? {
            rollouts: async (service: ServiceName) => (st.rollouts?.[service] ?? []).map((r) => ({ ...r })),
            rollback: async (service: ServiceName, toRevision?: number) => {
              f.calls.push(`rollback ${service}${toRevision === undefined ? "" : ` to ${toRevision}`}`);
              const list = st.rollouts?.[service] ?? [];
              return list.find((r) => !r.current)?.revision ?? 0;
            },
          }
        : {}),
    },
    kafka: {
      brokers: async () => st.brokers,
      underReplicatedPartitions: async () => {
        const v = next(st.urp);
        if (v instanceof Error) throw v;
        return v;
      },
      groupLag: async () => 0,
      groupMembers: async () => st.members,
    },
    database: {
      connections: async () => st.connections,
      maxConnections: async () => st.max,
      terminateIdle: async (opts) => {
        f.calls.push(`terminateIdle ${JSON.stringify(opts)}`);
        return st.terminated;
      },
    },
    observe: { snapshot: async () => next(st.snapshots) },
  };
  return f;
}

function incident(kind: IncidentKind, subject: string): Incident {
  return {
    kind,
    subject,
    severity: "P2",
    summary: "",
    evidence: [],
    responseMinutes: 60,
    respondBy: "",
    escalation: "ticket-and-notify",
    steps: [],
  };
}

const run = (step: Step, ports: Ports, kind: IncidentKind, subject: string, policy: Policy = defaultPolicy): Promise<StepResult> =>
  step.run(ports, { incident: incident(kind, subject), policy });

/** Runs a step as the on-call mode does, its recorded undos among the port calls (so their order shows). */
const runRecording = (step: Step, ports: Fake, kind: IncidentKind, subject: string): Promise<StepResult> =>
  step.run(ports, {
    incident: incident(kind, subject),
    policy: defaultPolicy,
    recordUndo: async (u) => void ports.calls.push(`undo: ${describeUndo(u)}`),
  });

const row = (pid: number, state: string, application: string): ConnectionRow => ({
  pid,
  state,
  application,
  user: "app",
  superuser: false,
  stateSeconds: 100,
});
const brokers = (...up: boolean[]) => up.map((u, i) => ({ nodeId: i + 1, address: `kafka-${i + 1}:9092`, up: u }));
const MiB = 1024 ** 2;

// ------------------------------------------------------------------ Kafka broker down

describe("Kafka broker down steps", () => {
  const kafkaInstances = [
    instance("kafka-1", "kafka"),
    instance("kafka-2", "kafka", { running: false, exitCode: 137 }),
    instance("kafka-3", "kafka"),
  ];

  it("check broker status reports the down broker and the stopped instance", async () => {
    const p = fake({ brokers: brokers(true, false, true), instances: kafkaInstances });
    const r = await run(STEPS.kafkaCheckBrokerStatus, p, "kafka-broker-down", "kafka");
    expect(r).toMatchObject({ ok: true, finding: "problem" });
    expect(r.data).toEqual({ down: [2], notRunning: ["kafka-2"] });
    expect(r.output).toContain("broker 2 kafka-2:9092: DOWN");
    expect(r.output).toContain("kafka-2: not running (exit 137), restarts 0");
  });

  it("check broker status finds nothing wrong when every broker is up and running", async () => {
    const p = fake({ brokers: brokers(true, true), instances: [instance("kafka-1", "kafka"), instance("kafka-2", "kafka")] });
    expect(await run(STEPS.kafkaCheckBrokerStatus, p, "kafka-broker-down", "kafka")).toMatchObject({ ok: true, finding: "healthy" });
  });

  it("check broker status still does its job when the cluster answers no metadata (a majority down)", async () => {
    const p = fake({ instances: kafkaInstances });
    p.kafka.brokers = async () => {
      throw new Error("Connection error: connect ECONNREFUSED 127.0.0.1:41231");
    };
    const r = await run(STEPS.kafkaCheckBrokerStatus, p, "kafka-broker-down", "kafka");
    expect(r).toMatchObject({ ok: true, finding: "problem", data: { down: [], notRunning: ["kafka-2"] } });
    expect(r.output[0]).toBe("Kafka metadata unavailable: Connection error: connect ECONNREFUSED 127.0.0.1:41231");
    // nothing to look at, on either side: the step could not do its job
    const none = fake({ instances: [] });
    none.kafka.brokers = p.kafka.brokers;
    expect(await run(STEPS.kafkaCheckBrokerStatus, none, "kafka-broker-down", "kafka")).toMatchObject({ ok: false });
  });

  it("check logs tails only the stopped brokers, with the policy's tail", async () => {
    const p = fake({ instances: kafkaInstances, logs: { "kafka-2": ["a", "b", "ERROR disk full"] } });
    const r = await run(STEPS.kafkaCheckBrokerLogs, p, "kafka-broker-down", "kafka");
    expect(p.calls).toEqual(["logs kafka-2 200"]);
    expect(r.output).toEqual(["== kafka-2 (last 3 of 3 lines)", "a", "b", "ERROR disk full"]);
  });

  it("check logs reads every broker when none is stopped", async () => {
    const p = fake({ instances: [instance("kafka-1", "kafka"), instance("kafka-2", "kafka")] });
    await run(STEPS.kafkaCheckBrokerLogs, p, "kafka-broker-down", "kafka");
    expect(p.calls).toEqual(["logs kafka-1 200", "logs kafka-2 200"]);
  });

  it("restart targets only the brokers that are not running", async () => {
    const p = fake({
      instances: [
        ...kafkaInstances,
        instance("kafka-4", "kafka", { running: false }),
        instance("stats-1", "stats-api", { running: false }),
      ],
    });
    const r = await run(STEPS.kafkaRestartBroker, p, "kafka-broker-down", "kafka");
    expect(STEPS.kafkaRestartBroker.effect.type).toBe("irreversible");
    expect(p.calls).toEqual(["restart kafka-2", "restart kafka-4"]);
    expect(r).toEqual({
      ok: true,
      finding: "acted",
      output: ["restarted kafka-2", "restarted kafka-4"],
      data: { restarted: ["kafka-2", "kafka-4"] },
    });
  });

  it("restart does nothing when every broker runs (idempotent)", async () => {
    const p = fake({ instances: [instance("kafka-1", "kafka")] });
    const r = await run(STEPS.kafkaRestartBroker, p, "kafka-broker-down", "kafka");
    expect(p.calls).toEqual([]);
    expect(r.output).toEqual(["every broker instance is running; nothing restarted"]);
  });

  it("verify replication waits with the injected clock until no partition is under-replicated", async () => {
    const p = fake({ brokers: brokers(true, true, true), urp: [4, new Error("broker not available"), 1, 0] });
    const r = await run(STEPS.kafkaVerifyReplication, p, "kafka-broker-down", "kafka");
    expect(r.ok).toBe(true);
    expect(p.sleeps).toEqual([5000, 5000, 5000]);
    expect(p.clock - T0).toBe(15_000);
    expect(r.output).toEqual([
      "all brokers up and 0 under-replicated partitions: yes after 15 s (4 check(s)): 3/3 broker(s) up, 0 under-replicated partition(s)",
    ]);
  });

  it("verify replication fails at its deadline, never sleeping past it", async () => {
    const policy: Policy = { ...defaultPolicy, actions: { ...defaultPolicy.actions, verify: { timeoutSeconds: 12, pollSeconds: 5 } } };
    const p = fake({ brokers: brokers(true, true, true), urp: [2] });
    const r = await run(STEPS.kafkaVerifyReplication, p, "kafka-broker-down", "kafka", policy);
    expect(r.ok).toBe(false);
    expect(p.sleeps).toEqual([5000, 5000, 2000]);
    expect(p.clock - T0).toBe(12_000);
    expect(r.output).toEqual([
      "all brokers up and 0 under-replicated partitions: not within 12 s (4 check(s))",
      "first: 3/3 broker(s) up, 2 under-replicated partition(s)",
      "last: 3/3 broker(s) up, 2 under-replicated partition(s)",
    ]);
  });

  it("verify replication stops at once when Kafka cannot be asked at all (a namespace drill), saying so", async () => {
    const p = fake({
      brokers: brokers(true, true, true),
      urp: [new PortUnavailableError("Kafka is not reachable through the Kubernetes API")],
    });
    const r = await run(STEPS.kafkaVerifyReplication, p, "kafka-broker-down", "kafka");
    expect(r.ok).toBe(false);
    expect(p.sleeps).toEqual([]);
    expect(r.output).toEqual([
      "all brokers up and 0 under-replicated partitions: cannot be checked: Kafka is not reachable through the Kubernetes API",
    ]);
  });

  it("verify replication also requires every broker up", async () => {
    const policy: Policy = { ...defaultPolicy, actions: { ...defaultPolicy.actions, verify: { timeoutSeconds: 0, pollSeconds: 5 } } };
    const p = fake({ brokers: brokers(true, false), urp: [0] });
    expect((await run(STEPS.kafkaVerifyReplication, p, "kafka-broker-down", "kafka", policy)).ok).toBe(false);
    expect(p.sleeps).toEqual([]);
  });

  const lagSnap = (a: number, b: number) =>
    snap({
      kafka: {
        brokersExpected: 1,
        brokers: brokers(true),
        underReplicatedPartitions: 0,
        offlinePartitions: 0,
        minInsyncReplicas: 1,
        groups: [
          { group: "g1", topic: "t", totalLag: a, partitions: [], trendPerSecond: null, lagSeconds: null },
          { group: "g2", topic: "t", totalLag: b, partitions: [], trendPerSecond: null, lagSeconds: null },
        ],
      },
    });

  it("verify lag drains waits for every group after a broker outage", async () => {
    const p = fake({ snapshots: [snap(), lagSnap(20_000, 5), lagSnap(10_000, 10_001), lagSnap(10_000, 0)] });
    const r = await run(STEPS.verifyLagDrains, p, "kafka-broker-down", "kafka");
    expect(r.ok).toBe(true);
    expect(p.sleeps).toHaveLength(3);
  });

  it("verify lag drains looks only at the incident's group for a lag incident", async () => {
    const p = fake({ snapshots: [lagSnap(10_000, 99_999)] });
    const r = await run(STEPS.verifyLagDrains, p, "high-consumer-lag", "g1");
    expect(r.ok).toBe(true);
    expect(p.sleeps).toEqual([]);
  });
});

// ------------------------------------------------------------------ Database

describe("database pool steps", () => {
  const conns = [
    row(1, "active", "stats-api"),
    row(2, "idle", "stats-api"),
    row(3, "idle", "gm-prober"),
    row(4, "idle in transaction", "psql"),
  ];
  const pgSnap = (usage: number, waiting: number, errors = 0) =>
    snap({
      errorRates: [{ service: "stats-api", source: "metrics", windowSeconds: 60, requests: 100, errors, rate: errors / 100 }],
      postgres: {
        maxConnections: 100,
        reservedConnections: 3,
        byState: {},
        totalConnections: 0,
        usage,
        pools: [
          { service: "stats-api", instance: "stats-1", max: 10, total: 10, idle: 0, waiting, timeoutsPerSecond: waiting > 0 ? 1 : 0 },
          { service: "ingest-api", instance: "ingest-1", max: 10, total: 2, idle: 2, waiting: 0, timeoutsPerSecond: 0 },
        ],
      },
    });

  it("check active connections counts by state and application", async () => {
    const p = fake({ connections: conns });
    const r = await run(STEPS.dbCheckActiveConnections, p, "db-pool-exhausted", "postgres");
    expect(r.ok).toBe(true);
    expect(r.data).toEqual({
      total: 4,
      usable: 97,
      byState: { active: 1, idle: 2, "idle in transaction": 1 },
      byApplication: { "stats-api": 2, "gm-prober": 1, psql: 1 },
    });
    expect(r.output[0]).toBe("4 connection(s) of 97 usable (max_connections 100 − reserved 3): 4%");
  });

  it("check active connections fails at the usage threshold", async () => {
    const p = fake({ connections: conns, max: { max: 5, reserved: 0 } });
    expect((await run(STEPS.dbCheckActiveConnections, p, "db-pool-exhausted", "postgres")).ok).toBe(true);
    const q = fake({ connections: [...conns, row(5, "active", "x")].slice(0, 5), max: { max: 5, reserved: 0 } });
    // 4/5 = 80% ok; 5/5 = 100% not
    expect(await run(STEPS.dbCheckActiveConnections, q, "db-pool-exhausted", "postgres")).toMatchObject({ ok: true, finding: "problem" });
  });

  it("scale up database is advice only: it says what would be needed and changes nothing", async () => {
    const p = fake({
      connections: conns,
      snapshots: [pgSnap(0.95, 3)],
      replicas: { "stats-api": 6, "ingest-api": 4 },
      poolSizes: { "stats-api": 10, "ingest-api": 10 },
    });
    const r = await run(STEPS.dbScaleUpDatabase, p, "db-pool-exhausted", "postgres");
    expect(STEPS.dbScaleUpDatabase.effect.type).toBe("read-only");
    expect(STEPS.dbScaleUpDatabase.advisory).toBe(true);
    expect(p.calls).toEqual([]);
    // pools 60 + 40, other sessions 2 (gm-prober, psql), reserved 3
    expect(r.data).toEqual({ needed: 105, maxConnections: 100, scaleNeeded: true });
    expect(r.output.at(-1)).toBe("would need max_connections >= 105 (a larger instance or a pooler such as PgBouncer)");
  });

  it("increase pool size multiplies by the factor, bounded by the usable connections per instance", async () => {
    const p = fake({
      connections: conns,
      snapshots: [pgSnap(0.5, 3)],
      replicas: { "stats-api": 2, "ingest-api": 1 },
      poolSizes: { "stats-api": 10, "ingest-api": 20 },
    });
    const r = await run(STEPS.dbIncreasePoolSize, p, "db-pool-exhausted", "postgres");
    // bound = floor((97 − 2 other) / 3 instances) = 31: 10 → 20, 20 → min(40, 31) = 31
    expect(p.calls).toEqual(["setPoolSize stats-api 20", "setPoolSize ingest-api 31"]);
    expect(r).toMatchObject({ ok: true, data: { raised: { "stats-api": 20, "ingest-api": 31 }, bound: 31 } });
  });

  it("increase pool size records each pool's undo before it changes it", async () => {
    const p = fake({
      connections: conns,
      snapshots: [pgSnap(0.5, 3)],
      replicas: { "stats-api": 2, "ingest-api": 1 },
      poolSizes: { "stats-api": 10, "ingest-api": 20 },
    });
    await runRecording(STEPS.dbIncreasePoolSize, p, "db-pool-exhausted", "postgres");
    expect(p.calls).toEqual([
      "undo: set the pool size of stats-api back to 10",
      "setPoolSize stats-api 20",
      "undo: set the pool size of ingest-api back to 20",
      "setPoolSize ingest-api 31",
    ]);
  });

  it("increase pool size refuses when the pools already fill the database", async () => {
    const p = fake({
      connections: conns,
      snapshots: [pgSnap(0.95, 3)],
      replicas: { "stats-api": 5, "ingest-api": 5 },
      poolSizes: { "stats-api": 10, "ingest-api": 10 },
    });
    const r = await run(STEPS.dbIncreasePoolSize, p, "db-pool-exhausted", "postgres");
    expect(p.calls).toEqual([]);
    expect(r).toMatchObject({ ok: true, finding: "not-needed" });
    expect(r.output).toContain("stats-api: pool 10 already at the bound; scale up the database instead");
  });

  it("kill idle connections passes protect gm-prober and the policy's minimum idle time", async () => {
    const p = fake({ terminated: [2, 4] });
    const r = await run(STEPS.dbKillIdleConnections, p, "db-pool-exhausted", "postgres");
    expect(p.calls).toEqual([`terminateIdle ${JSON.stringify({ minIdleSeconds: 30, protect: ["gm-prober"] })}`]);
    expect(r).toEqual({
      ok: true,
      finding: "acted",
      output: ["terminated 2 session(s) idle >= 30 s: 2, 4 (protected: gm-prober)"],
      data: { pids: [2, 4] },
    });
  });

  it("kill idle connections keeps gm-prober protected even when the policy's list omits it", async () => {
    const policy: Policy = {
      ...defaultPolicy,
      actions: { ...defaultPolicy.actions, killIdle: { minIdleSeconds: 5, protect: ["backup"] } },
    };
    const p = fake();
    await run(STEPS.dbKillIdleConnections, p, "db-pool-exhausted", "postgres", policy);
    expect(p.calls).toEqual([`terminateIdle ${JSON.stringify({ minIdleSeconds: 5, protect: ["gm-prober", "backup"] })}`]);
  });

  it("verify waits until the pool recovers and the error rate falls back", async () => {
    const p = fake({ snapshots: [pgSnap(0.95, 3, 20), pgSnap(0.5, 0, 7), pgSnap(0.5, 0, 1)] });
    const r = await run(STEPS.dbVerifyErrorRate, p, "db-pool-exhausted", "postgres");
    expect(r.ok).toBe(true);
    expect(p.sleeps).toEqual([5000, 5000]);
  });

  it("verify does not take an unobserved database for recovery", async () => {
    const policy: Policy = { ...defaultPolicy, actions: { ...defaultPolicy.actions, verify: { timeoutSeconds: 10, pollSeconds: 5 } } };
    const p = fake({ snapshots: [snap()] });
    const r = await run(STEPS.dbVerifyErrorRate, p, "db-pool-exhausted", "postgres", policy);
    expect(r.ok).toBe(false);
    expect(r.output.at(-1)).toBe("last: PostgreSQL not observed");
  });
});

// ------------------------------------------------------------------ High consumer lag

describe("consumer lag steps", () => {
  const consumers = [
    instance("ep-1", "event-processor-service"),
    instance("ep-2", "event-processor-service", { running: false, exitCode: 1 }),
  ];
  const partitions = (n: number) =>
    Array.from({ length: n }, (_, partition) => ({ partition, committedOffset: 0, endOffset: 100, lag: 100 }));
  const groupSnap = (n: number) =>
    snap({
      kafka: {
        brokersExpected: 1,
        brokers: brokers(true),
        underReplicatedPartitions: 0,
        offlinePartitions: 0,
        minInsyncReplicas: 1,
        groups: [
          {
            group: "event-processor-service",
            topic: "events",
            totalLag: 20_000,
            partitions: partitions(n),
            trendPerSecond: 10,
            lagSeconds: 60,
          },
        ],
      },
    });

  it("check consumer status lists instances and group members", async () => {
    const p = fake({ instances: consumers, members: 1 });
    const r = await run(STEPS.lagCheckConsumerStatus, p, "high-consumer-lag", "event-processor-service");
    expect(r).toMatchObject({ ok: true, finding: "problem", data: { members: 1, running: 1, instances: 2 } });
    expect(r.output.at(-1)).toBe("group event-processor-service: 1 member(s), 1/2 instance(s) running");
  });

  it("check consumer status fails with no group member", async () => {
    const p = fake({ instances: [instance("ep-1", "event-processor-service")], members: 0 });
    expect(await run(STEPS.lagCheckConsumerStatus, p, "high-consumer-lag", "event-processor-service")).toMatchObject({
      ok: true,
      finding: "problem",
    });
  });

  it("check processing errors counts error lines per consumer", async () => {
    const p = fake({
      instances: consumers,
      logs: {
        "ep-1": ['{"level":"info","msg":"ok"}', '{"level":"error","msg":"unparseable message skipped"}', "processing error: boom"],
        "ep-2": ['{"level":"warn","msg":"database write failed"}'],
      },
    });
    const r = await run(STEPS.lagCheckProcessingErrors, p, "high-consumer-lag", "event-processor-service");
    expect(r).toMatchObject({ ok: true, finding: "problem" });
    expect(r.data).toEqual({ errorLines: { "ep-1": 2, "ep-2": 0 } });
  });

  it("scale up consumers adds replicas up to the partition count", async () => {
    const p = fake({ replicas: { "event-processor-service": 2 }, snapshots: [groupSnap(3)] });
    const r = await run(STEPS.lagScaleUpConsumers, p, "high-consumer-lag", "event-processor-service");
    expect(p.calls).toEqual(["scale event-processor-service 3"]);
    expect(r).toEqual({
      ok: true,
      finding: "acted",
      output: ["event-processor-service: scaled 2 → 3 replica(s)"],
      data: { replicas: 3, bound: 3 },
    });
  });

  it("scale up consumers records the replicas it had before scaling, and nothing when it does not scale", async () => {
    const p = fake({ replicas: { "event-processor-service": 2 }, snapshots: [groupSnap(3)] });
    await runRecording(STEPS.lagScaleUpConsumers, p, "high-consumer-lag", "event-processor-service");
    expect(p.calls).toEqual(["undo: scale event-processor-service back to 2 replica(s)", "scale event-processor-service 3"]);
    const q = fake({ replicas: { "event-processor-service": 3 }, snapshots: [groupSnap(3)] });
    await runRecording(STEPS.lagScaleUpConsumers, q, "high-consumer-lag", "event-processor-service");
    expect(q.calls).toEqual([]);
  });

  it("scale up consumers stops at the partition count", async () => {
    const p = fake({ replicas: { "event-processor-service": 3 }, snapshots: [groupSnap(3)] });
    const r = await run(STEPS.lagScaleUpConsumers, p, "high-consumer-lag", "event-processor-service");
    expect(p.calls).toEqual([]);
    expect(r).toMatchObject({ ok: true, finding: "not-needed" });
    expect(r.output).toEqual(["event-processor-service: already at 3 replica(s), bound 3 (3 partition(s), maxReplicas 6)"]);
  });

  it("scale up consumers falls back to maxReplicas when partitions are unknown", async () => {
    const p = fake({ replicas: { "event-processor-service": 6 }, snapshots: [snap()] });
    expect((await run(STEPS.lagScaleUpConsumers, p, "high-consumer-lag", "event-processor-service")).ok).toBe(false);
    const q = fake({ replicas: { "event-processor-service": 5 }, snapshots: [snap()] });
    await run(STEPS.lagScaleUpConsumers, q, "high-consumer-lag", "event-processor-service");
    expect(q.calls).toEqual(["scale event-processor-service 6"]);
  });

  it("verify broker health waits for every broker", async () => {
    const p = fake({ brokers: brokers(true, true) });
    expect(await run(STEPS.verifyKafkaBrokerHealth, p, "high-consumer-lag", "g")).toMatchObject({ ok: true });
  });
});

// ------------------------------------------------------------------ OOM

describe("service OOM steps", () => {
  const stats = (over: Partial<InstanceInfo> = {}) => [
    instance("stats-1", "stats-api", { memoryLimitBytes: 512 * MiB, memoryUsageBytes: 500 * MiB, oomKilled: true, restarts: 2, ...over }),
    instance("stats-2", "stats-api", { memoryLimitBytes: 512 * MiB, memoryUsageBytes: 100 * MiB }),
  ];

  it("check memory limits reports limit, usage and kills", async () => {
    const r = await run(STEPS.oomCheckMemoryLimits, fake({ instances: stats() }), "service-oom", "stats-api");
    expect(r).toMatchObject({ ok: true, finding: "problem" });
    expect(r.output).toEqual([
      "stats-1: limit 512 MiB, usage 500 MiB (98%), oomKilled true, restarts 2",
      "stats-2: limit 512 MiB, usage 100 MiB (20%), oomKilled false, restarts 0",
    ]);
  });

  it("check memory leaks finds heap errors in the logs", async () => {
    const p = fake({
      instances: stats(),
      logs: { "stats-1": ["FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"] },
    });
    const r = await run(STEPS.oomCheckMemoryLeaks, p, "service-oom", "stats-api");
    expect(r).toMatchObject({ ok: true, finding: "problem", data: { lines: 1 } });
  });

  it("check memory leaks reads an OOM-killed, restarted instance's previous run (kubectl logs --previous), the others' current one", async () => {
    const p = fake({ instances: stats() });
    const r = await run(STEPS.oomCheckMemoryLeaks, p, "service-oom", "stats-api");
    expect(p.calls).toEqual(["logs stats-1 200 --previous", "logs stats-2 200"]);
    expect(r.output[0]).toMatch(/^stats-1: 0 memory-related line\(s\) in the last 200 of the OOM-killed run \(--previous\)/);
  });

  it("increase memory limits doubles the limit", async () => {
    const p = fake({ instances: stats() });
    const r = await run(STEPS.oomIncreaseMemoryLimits, p, "service-oom", "stats-api");
    expect(p.calls).toEqual([`setMemoryLimit stats-api ${1024 * MiB}`]);
    expect(r.output).toEqual(["stats-api: memory limit 512 MiB → 1024 MiB"]);
  });

  it("increase memory limits and scale horizontally record their undo before they act", async () => {
    const p = fake({ instances: stats(), replicas: { "stats-api": 2 } });
    await runRecording(STEPS.oomIncreaseMemoryLimits, p, "service-oom", "stats-api");
    await runRecording(STEPS.oomScaleHorizontally, p, "service-oom", "stats-api");
    expect(p.calls).toEqual([
      "undo: set the memory limit of stats-api back to 512 MiB",
      `setMemoryLimit stats-api ${1024 * MiB}`,
      "undo: scale stats-api back to 2 replica(s)",
      "scale stats-api 3",
    ]);
  });

  it("increase memory limits is capped by the policy's maximum", async () => {
    const p = fake({ instances: stats({ memoryLimitBytes: 3 * 1024 * MiB }) });
    await run(STEPS.oomIncreaseMemoryLimits, p, "service-oom", "stats-api");
    expect(p.calls).toEqual([`setMemoryLimit stats-api ${4 * 1024 * MiB}`]);
    const q = fake({ instances: stats({ memoryLimitBytes: 4 * 1024 * MiB }) });
    const r = await run(STEPS.oomIncreaseMemoryLimits, q, "service-oom", "stats-api");
    expect(q.calls).toEqual([]);
    expect(r.ok).toBe(false);
  });

  it("increase memory limits cannot help without a limit", async () => {
    const p = fake({ instances: [instance("k", "kafka", { oomKilled: true })] });
    const r = await run(STEPS.oomIncreaseMemoryLimits, p, "service-oom", "kafka");
    expect(r.ok).toBe(false);
    expect(p.calls).toEqual([]);
  });

  it("scale horizontally adds a replica to a stateless service and skips Kafka", async () => {
    const p = fake({ replicas: { "stats-api": 2 } });
    await run(STEPS.oomScaleHorizontally, p, "service-oom", "stats-api");
    expect(p.calls).toEqual(["scale stats-api 3"]);
    const q = fake();
    expect(await run(STEPS.oomScaleHorizontally, q, "service-oom", "kafka")).toEqual({
      ok: true,
      output: ["kafka cannot be scaled horizontally; skipped"],
      data: { skipped: true },
    });
    expect(q.calls).toEqual([]);
  });

  it("verify watches the whole window and passes without a new kill", async () => {
    const p = fake({ instances: stats({ running: true }) });
    const r = await run(STEPS.oomVerifyNoOom, p, "service-oom", "stats-api");
    expect(r).toEqual({ ok: true, output: ["stats-api: 2/2 running, no new OOM kill in 120 s"] });
    expect(p.clock - T0).toBe(120_000);
  });

  it("verify waits past the window for instances a rollout is still starting, up to the verification timeout", async () => {
    const st = stats({ running: true });
    st[1]!.running = false; // the raised limit's new pod, still starting when the window ends
    const p = fake({ instances: st });
    const sleep = p.sleep;
    p.sleep = async (ms) => {
      await sleep(ms);
      if (p.clock - T0 >= 135_000) st[1]!.running = true;
    };
    const r = await run(STEPS.oomVerifyNoOom, p, "service-oom", "stats-api");
    expect(r).toEqual({
      ok: true,
      output: ["stats-api: 2/2 running, no new OOM kill in 120 s (every instance running 135 s after the start: a rollout in progress)"],
    });
    // never started: fails once the verification timeout (300 s) has passed, saying how many run
    st[1]!.running = false;
    p.sleep = sleep;
    const q = await run(STEPS.oomVerifyNoOom, p, "service-oom", "stats-api");
    expect(q).toEqual({ ok: false, output: ["stats-api: 1/2 running, no new OOM kill in 120 s"] });
  });

  it("verify fails as soon as an instance is OOM-killed again", async () => {
    const st = stats();
    const p = fake({ instances: st });
    const sleep = p.sleep;
    p.sleep = async (ms) => {
      await sleep(ms);
      if (p.clock - T0 >= 10_000) st[0]!.restarts = 3; // killed again 10 s into the window
    };
    const r = await run(STEPS.oomVerifyNoOom, p, "service-oom", "stats-api");
    expect(r).toEqual({ ok: false, output: ["stats-1: OOM-killed again (restarts 3)"] });
    expect(p.clock - T0).toBe(10_000);
  });
});

// ------------------------------------------------------------------ service down, error rate, data loss, security

describe("general steps", () => {
  const health = (service: ServiceName, ...ok: boolean[]) => ({
    service,
    instances: ok.map((o, i) => ({ url: `http://${service}-${i}`, ok: o, status: o ? 200 : 503, latencyMs: 2 })),
  });

  it("check health endpoints reports each instance of the incident's service", async () => {
    const p = fake({ snapshots: [snap({ services: [health("stats-api", true, false), health("ingest-api", false)] })] });
    const r = await run(STEPS.checkHealthEndpoints, p, "service-down", "stats-api");
    expect(r).toEqual({
      ok: true,
      finding: "problem",
      output: ["stats-api http://stats-api-0: ok (status 200, 2 ms)", "stats-api http://stats-api-1: FAIL (status 503, 2 ms)"],
      data: { failing: ["http://stats-api-1"] },
    });
  });

  it("restart failing instances restarts only stopped instances while some are healthy", async () => {
    const p = fake({
      instances: [instance("stats-1", "stats-api"), instance("stats-2", "stats-api", { running: false })],
      snapshots: [snap({ services: [health("stats-api", true, false)] })],
    });
    await run(STEPS.restartFailingInstances, p, "service-down", "stats-api");
    expect(p.calls).toEqual(["restart stats-2"]);
  });

  it("restart failing instances restarts every instance of a service still completely down", async () => {
    const p = fake({
      instances: [instance("stats-1", "stats-api"), instance("stats-2", "stats-api")],
      snapshots: [snap({ services: [health("stats-api", false, false)] })],
    });
    await run(STEPS.restartFailingInstances, p, "service-down", "stats-api");
    expect(p.calls).toEqual(["restart stats-1", "restart stats-2"]);
    const q = fake({ instances: [instance("stats-1", "stats-api")], snapshots: [snap({ services: [health("stats-api", false)] })] });
    await run(STEPS.restartFailingInstances, q, "high-error-rate", "stats-api");
    expect(q.calls).toEqual([]);
  });

  const rev = (revision: number, minutesBefore: number, over: Partial<Rollout> = {}): Rollout => ({
    service: "stats-api",
    revision,
    createdAt: new Date(T0 - minutesBefore * 60_000).toISOString(),
    images: ["gm/platform:1"],
    changeCause: null,
    current: false,
    ...over,
  });

  it("review recent deployments lists revisions, not restarts: an instance started a minute ago is no deployment", async () => {
    const p = fake({
      instances: [instance("stats-1", "stats-api", { startedAt: new Date(T0 - 60_000).toISOString(), restarts: 3 })],
      rollouts: {
        "stats-api": [rev(2, 5, { current: true, changes: ["PG_POOL_MAX 10 → 1"] }), rev(1, 24 * 60)],
      },
    });
    const r = await run(STEPS.reviewRecentDeployments, p, "high-error-rate", "stats-api");
    expect(r.finding).toBe("problem");
    expect(r.output).toEqual([`stats-api revision 2 (current): created ${new Date(T0 - 300_000).toISOString()}; PG_POOL_MAX 10 → 1`]);
    const quiet = fake({
      instances: [instance("stats-1", "stats-api", { startedAt: new Date(T0 - 60_000).toISOString(), restarts: 3 })],
      rollouts: { "stats-api": [rev(1, 24 * 60, { current: true })] },
    });
    const q = await run(STEPS.reviewRecentDeployments, quiet, "high-error-rate", "stats-api");
    expect(q.finding).toBe("healthy");
    expect(q.output).toEqual(["stats-api: no revision within 3600 s before the incident opened"]);
  });

  it("rollback rolls back the recent current revision and records the roll forward as its undo", async () => {
    const p = fake({ rollouts: { "stats-api": [rev(2, 5, { current: true, changes: ["PG_POOL_MAX 10 → 1"] }), rev(1, 24 * 60)] } });
    const r = await run(STEPS.rollbackIfRecentChange, p, "high-error-rate", "stats-api");
    expect(p.calls).toEqual(["rollback stats-api"]);
    expect(r).toMatchObject({ ok: true, finding: "acted", data: { rolledBack: [{ service: "stats-api", from: 2, to: 1 }] } });
    expect(r.output[1]).toMatch(/^undo: roll forward: rollback stats-api to revision 2/);
  });

  it("in on-call mode the rollback records its roll forward before it rolls back, and the undo is idempotent", async () => {
    const p = fake({ rollouts: { "stats-api": [rev(2, 5, { current: true, changes: ["PG_POOL_MAX 10 → 1"] }), rev(1, 24 * 60)] } });
    await runRecording(STEPS.rollbackIfRecentChange, p, "high-error-rate", "stats-api");
    expect(p.calls).toEqual(["undo: roll stats-api forward again to revision 2", "rollback stats-api"]);
    // recover: the rollback made revision 3 from revision 1's template; rolling forward goes back to 2, once
    const after = fake({ rollouts: { "stats-api": [rev(3, 0, { current: true, rollbackOf: 1 }), rev(2, 5), rev(1, 24 * 60)] } });
    await applyUndo(after.platform, { action: "rollback", service: "stats-api", toRevision: 2 });
    expect(after.calls).toEqual(["rollback stats-api to 2"]);
    const done = fake({ rollouts: { "stats-api": [rev(4, 0, { current: true, rollbackOf: 2 }), rev(3, 1), rev(2, 5)] } });
    await applyUndo(done.platform, { action: "rollback", service: "stats-api", toRevision: 2 });
    expect(done.calls).toEqual([]);
    expect(parseUndoAction({ action: "rollback", service: "stats-api", toRevision: 2 })).toBeDefined();
    expect(parseUndoAction({ action: "rollback", service: "stats-api", toRevision: 0 })).toBeUndefined();
  });

  it("rollback says why not: no revision in the window, incident before the revision, already rolled back", async () => {
    const cases: [Rollout[], RegExp][] = [
      [[rev(2, 120, { current: true }), rev(1, 24 * 60)], /no revision within 3600 s before the incident opened/],
      [[rev(2, -1, { current: true }), rev(1, 24 * 60)], /the incident opened at .* before this revision; it is not the cause/],
      [[rev(3, 1, { current: true, rollbackOf: 2 }), rev(2, 5), rev(1, 24 * 60)], /already a rollback \(it restored revision 2\)/],
    ];
    for (const [list, why] of cases) {
      const p = fake({ rollouts: { "stats-api": list } });
      const r = await run(STEPS.rollbackIfRecentChange, p, "high-error-rate", "stats-api");
      expect(p.calls).toEqual([]);
      expect(r.finding).toBe("not-needed");
      expect(r.output.join("\n")).toMatch(why);
    }
  });

  it("rollback judges against the incident's open time, not the step's clock", async () => {
    const p = fake({ rollouts: { "stats-api": [rev(2, 5, { current: true }), rev(1, 24 * 60)] } });
    const r = await STEPS.rollbackIfRecentChange.run(p, {
      incident: incident("high-error-rate", "stats-api"),
      policy: defaultPolicy,
      openedAt: T0 - 10 * 60_000,
    });
    expect(p.calls).toEqual([]);
    expect(r.output.join("\n")).toMatch(/before this revision; it is not the cause/);
  });

  it("without a rollout history the deployment steps say so and fail rather than guess from start times", async () => {
    const p = fake({ instances: [instance("stats-1", "stats-api", { startedAt: new Date(T0 - 60_000).toISOString() })] });
    expect((await run(STEPS.reviewRecentDeployments, p, "service-down", "stats-api")).ok).toBe(false);
    expect((await run(STEPS.rollbackIfRecentChange, p, "service-down", "stats-api")).ok).toBe(false);
    expect(p.calls).toEqual([]);
  });

  it("identify affected services lists those above the error threshold", async () => {
    const p = fake({
      snapshots: [
        snap({
          errorRates: [
            { service: "stats-api", source: "metrics", windowSeconds: 60, requests: 100, errors: 5, rate: 0.05 },
            { service: "ingest-api", source: "metrics", windowSeconds: 60, requests: 100, errors: 4, rate: 0.04 },
          ],
        }),
      ],
    });
    expect(await run(STEPS.identifyAffectedServices, p, "high-error-rate", "all")).toMatchObject({
      ok: true,
      finding: "problem",
      data: { services: ["stats-api"] },
    });
  });

  it("scale up services scales the services above the threshold for subject all", async () => {
    const p = fake({
      replicas: { "stats-api": 2 },
      snapshots: [
        snap({ errorRates: [{ service: "stats-api", source: "metrics", windowSeconds: 60, requests: 100, errors: 20, rate: 0.2 }] }),
      ],
    });
    await run(STEPS.scaleUpServices, p, "high-error-rate", "all");
    expect(p.calls).toEqual(["scale stats-api 3"]);
    p.calls.length = 0;
    await runRecording(STEPS.scaleUpServices, p, "high-error-rate", "all");
    expect(p.calls).toEqual(["undo: scale stats-api back to 2 replica(s)", "scale stats-api 3"]);
  });

  it("verify error rate waits for the rate to fall below the P2 threshold", async () => {
    const r = (errors: number) =>
      snap({ errorRates: [{ service: "stats-api", source: "metrics", windowSeconds: 60, requests: 100, errors, rate: errors / 100 }] });
    const p = fake({ snapshots: [r(20), r(5), r(4)] });
    expect((await run(STEPS.verifyErrorRateNormal, p, "high-error-rate", "stats-api")).ok).toBe(true);
    expect(p.sleeps).toHaveLength(2);
  });

  it("verify service healthy waits for every instance", async () => {
    const p = fake({
      snapshots: [snap({ services: [health("stats-api", false)] }), snap({ services: [health("stats-api", true, true)] })],
    });
    expect((await run(STEPS.verifyServiceHealthy, p, "service-down", "stats-api")).output[0]).toBe(
      "stats-api healthy: yes after 5 s (2 check(s)): stats-api 2/2 ok",
    );
  });

  it("check canary and check security report their findings", async () => {
    const p = fake({
      snapshots: [
        snap({
          canary: { sent: 10, lost: 2, lastRoundTripMs: 300, freshnessSeconds: 40 },
          security: {
            checks: [{ endpoint: "/admin", expectation: "401 without a token", ok: false, observed: "200" }],
            leakedSecrets: [{ endpoint: "/debug", secret: "PG_PASSWORD" }],
          },
        }),
      ],
    });
    expect(await run(STEPS.checkCanary, p, "data-loss", "event-pipeline")).toMatchObject({ ok: true, finding: "problem" });
    expect(await run(STEPS.checkSecurityExposure, p, "security-exposure", "security")).toEqual({
      ok: true,
      finding: "problem",
      output: ["/admin: expected 401 without a token, observed 200", "/debug: leaks secret PG_PASSWORD"],
    });
  });
});

describe("recorded undos", () => {
  it("applies each through the platform port it names", async () => {
    const p = fake();
    await applyUndo(p.platform, { action: "scale", service: "stats-api", replicas: 1 });
    await applyUndo(p.platform, { action: "set-memory-limit", service: "stats-api", bytes: 512 * 1024 * 1024 });
    await applyUndo(p.platform, { action: "set-pool-size", service: "ingest-api", size: 10 });
    expect(p.calls).toEqual(["scale stats-api 1", `setMemoryLimit stats-api ${512 * 1024 * 1024}`, "setPoolSize ingest-api 10"]);
  });

  it("reads back only what it wrote: an unknown action, a missing service or a bad number is not an undo", () => {
    expect(parseUndoAction({ action: "scale", service: "stats-api", replicas: 0 })).toEqual({
      action: "scale",
      service: "stats-api",
      replicas: 0,
    });
    for (const bad of [
      null,
      "scale",
      { action: "delete", service: "stats-api" },
      { action: "scale", replicas: 1 },
      { action: "scale", service: "stats-api", replicas: -1 },
      { action: "set-pool-size", service: "stats-api", size: 1.5 },
      { action: "set-memory-limit", service: "stats-api", bytes: "1g" },
    ])
      expect(parseUndoAction(bad), JSON.stringify(bad)).toBeUndefined();
  });
});
