/**
 * The prober against a real stack: healthy steady state, high consumer lag with the consumer stopped,
 * a database whose connections are exhausted (the prober keeps reading through its own long-lived,
 * read-only connection), and an OOM kill confirmed through the Docker engine.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPolicy } from "@gm/runbook/policy";
import { createDockerPlatform } from "@gm/platform/docker";
import { makeEvents, postEvents } from "@gm/stack/load-generator";
import { startStack, type Stack } from "@gm/stack/stack";
import { parseProberConfig } from "./config.js";
import { createProber, type Round } from "./prober.js";

describe("the prober against a real stack", { timeout: 240_000 }, () => {
  let stack: Stack;
  let prober: ReturnType<typeof createProber>;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    stack = await startStack({ brokers: 1, id: `t-prb-${Date.now().toString(36)}`, postgres: { maxConnections: 40 }, pgPoolMax: 5 });
    const e = stack.endpoints;
    const config = parseProberConfig(`
intervalSeconds: 1
timeoutMs: 1500
windowSeconds: 10
services:
  ingest-api: [${e.services["ingest-api"]}]
  event-processor-service: [${e.services["event-processor-service"].join(", ")}]
  stats-api: [${e.services["stats-api"]}]
kafka: { brokers: [${e.kafkaBootstrapServers.join(", ")}], topic: ${e.topic}, groups: [${e.consumerGroup}] }
postgres: { url: "${e.proberPostgresUrl}" }
synthetic: { players: 4 }
security:
  protected: [{ method: DELETE, url: "${e.services["stats-api"]}/admin/players/none" }]
  public: ["${e.services["stats-api"]}/metrics"]
  secrets: { ADMIN_TOKEN: "${e.adminToken}" }
platform: { driver: docker, stackId: ${stack.options.id} }
hysteresis: { resolveAfter: 2 }
`);
    prober = createProber({
      config,
      policy: defaultPolicy,
      platform: createDockerPlatform({ stackId: stack.options.id }),
      log: (r) => void logs.push(r),
    });
  }, 300_000);

  afterAll(async () => {
    await prober?.close();
    await stack?.stop();
  }, 60_000);

  /** Rounds until `done(round)` holds, or fail with the last round's incidents. */
  async function roundsUntil(what: string, done: (r: Round) => boolean, timeoutMs = 90_000): Promise<Round> {
    const deadline = Date.now() + timeoutMs;
    let r: Round | undefined;
    while (Date.now() < deadline) {
      r = await prober.round();
      if (done(r)) return r;
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new Error(
      `timed out waiting for ${what}; last incidents: ${JSON.stringify(r?.incidents.map((i) => [i.kind, i.severity, i.subject]))}; errors: ${JSON.stringify(r?.snapshot.collectionErrors)}`,
    );
  }

  it("classifies the fresh stack as healthy and exposes every signal", async () => {
    const r = await roundsUntil("a healthy round", (x) => x.incidents.length === 0 && x.snapshot.canary?.lastRoundTripMs !== null);
    expect(r.snapshot.collectionErrors).toEqual([]);
    expect(r.snapshot.kafka).toMatchObject({ brokersExpected: 1, underReplicatedPartitions: 0 });
    expect(r.snapshot.postgres!.maxConnections).toBe(40);
    expect(r.snapshot.security!.checks).toEqual([expect.objectContaining({ ok: true, observed: "HTTP 401" })]);
    expect(r.snapshot.instances.map((i) => i.service).sort()).toEqual([
      "event-processor-service",
      "ingest-api",
      "kafka",
      "postgres",
      "stats-api",
    ]);
    const metrics = await prober.registry.metrics();
    expect(metrics).toContain(`probe_success{service="ingest-api",target="${stack.endpoints.services["ingest-api"]}"} 1`);
    expect(metrics).toMatch(/gm_kafka_consumer_lag\{group="event-processor-service",topic="game-events"\} \d+/);
  });

  it("detects high consumer lag (> 10,000) with the consumer stopped as P1, and its resolution", async () => {
    await stack.stopContainer("event-processor-service");
    const sent = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`lag-${Date.now().toString(36)}`, 12_000));
    expect(sent.acknowledged).toHaveLength(12_000);
    const r = await roundsUntil("high-consumer-lag P1", (x) =>
      x.incidents.some((i) => i.kind === "high-consumer-lag" && i.severity === "P1"),
    );
    const lag = r.incidents.find((i) => i.kind === "high-consumer-lag")!;
    expect(lag.subject).toBe("event-processor-service");
    expect(lag.evidence).toContainEqual(expect.objectContaining({ threshold: "> 10000" }));
    expect(logs).toContainEqual(expect.objectContaining({ event: "incident_opened", kind: "high-consumer-lag" }));
    expect(await prober.registry.metrics()).toMatch(
      /incident_active\{kind="high-consumer-lag",severity="P1",subject="event-processor-service"\} 1/,
    );

    await stack.startContainer("event-processor-service");
    await roundsUntil(
      "lag resolved",
      (x) => x.transitions.some((t) => t.type === "resolved" && t.incident.kind === "high-consumer-lag"),
      120_000,
    );
  });

  it("keeps reading PostgreSQL through its own connection while every connection is taken, and reports the exhaustion", async () => {
    await prober.round(); // the prober's connection exists before the exhaustion starts
    const held: pg.Client[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const c = new pg.Client({ connectionString: stack.endpoints.postgresUrl, connectionTimeoutMillis: 3_000 });
        try {
          await c.connect();
          held.push(c);
        } catch {
          break; // max_connections reached (superuser slots included: this is the services' own user)
        }
      }
      expect(held.length).toBeGreaterThan(25);
      const r = await roundsUntil("db-pool-exhausted", (x) => x.incidents.some((i) => i.kind === "db-pool-exhausted"));
      expect(r.snapshot.postgres!.usage).toBeGreaterThanOrEqual(0.9);
      expect(r.snapshot.collectionErrors.filter((e) => e.collector === "postgres")).toEqual([]);
    } finally {
      await Promise.all(held.map((c) => c.end().catch(() => undefined)));
    }
    await roundsUntil("pool incident resolved", (x) => !x.active.some((i) => i.kind === "db-pool-exhausted"), 120_000);
  });

  it("confirms an OOM kill through the engine and classifies it with the service down", async () => {
    const platform = createDockerPlatform({ stackId: stack.options.id });
    // A limit below the service's use: the kernel OOM-kills it (exit 137, confirmed by the engine's oom event).
    await platform.setMemoryLimit("stats-api", 8 * 1024 * 1024);
    const r = await roundsUntil("service-oom", (x) => x.incidents.some((i) => i.kind === "service-oom"));
    const kinds = Object.fromEntries(r.incidents.map((i) => [i.kind, i.severity]));
    expect(kinds["service-oom"]).toBe("P1"); // every instance of stats-api is OOM-killed
    expect(kinds["service-down"]).toBe("P0");
    expect(r.snapshot.instances.find((i) => i.instance === "stats-api")).toMatchObject({ running: false, exitCode: 137, oomKilled: true });

    await platform.setMemoryLimit("stats-api", 512 * 1024 * 1024);
    await platform.restart("stats-api");
    await roundsUntil("stats-api healthy again", (x) => !x.incidents.some((i) => i.subject === "stats-api"));
  });
});
