/**
 * A fourth service, described only in the prober's file (issue 9 §3): the stack starts `leaderboard-api`
 * — the image's stats-api program under a name of its own, with its own container, pool, /health and
 * /metrics — and the prober's configuration gives it roles. The real collectors (HTTP health, the
 * service's metrics, the Docker driver's instances) see it; stopping its container raises service-down on
 * `leaderboard-api`, whose runbook steps check, restart and verify `leaderboard-api` through the Docker
 * driver; the prober then resolves it. Its memory limit lowered below its use, the kernel's OOM kill is
 * service-oom on `leaderboard-api`. No code names the service.
 */
import { CATALOG } from "@gm/runbook/catalog";
import { defaultPolicy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import type { StepResult } from "@gm/runbook/steps";
import { createDockerPlatform } from "@gm/platform/docker";
import { startStack, type Stack } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProberConfig, type ProberConfig } from "./config.js";
import { createProber, type Round } from "./prober.js";

describe("a fourth service described in the prober's file only", { timeout: 300_000 }, () => {
  let stack: Stack;
  let prober: ReturnType<typeof createProber>;
  let config: ProberConfig;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    stack = await startStack({
      brokers: 1,
      id: `t-topo-${Date.now().toString(36)}`,
      pgPoolMax: 4,
      extraServices: [{ name: "leaderboard-api", program: "stats-api" }],
    });
    const e = stack.endpoints;
    config = parseProberConfig(`
intervalSeconds: 1
timeoutMs: 1500
windowSeconds: 10
services:
  ingest-api: [${e.services["ingest-api"]}]
  event-processor-service: [${e.services["event-processor-service"].join(", ")}]
  stats-api: [${e.services["stats-api"]}]
  leaderboard-api:
    urls: [${e.extraServices?.["leaderboard-api"]?.url}]
    health: /health
    metrics: /metrics
    roles: { postgresPool: true, stateless: true, scalable: true }
kafka: { brokers: [${e.kafkaBootstrapServers.join(", ")}], topic: ${e.topic} }
postgres: { url: "${e.proberPostgresUrl}" }
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

  it("the description gives the fourth service its roles, and its lag group defaults from the roles", () => {
    expect(config.topology.services.map((s) => s.name)).toEqual(["ingest-api", "event-processor-service", "stats-api", "leaderboard-api"]);
    expect(config.kafka?.groups).toEqual(["event-processor-service"]);
  });

  it("the real collectors see leaderboard-api: health, its error rate, its pool and its container", async () => {
    const r = await roundsUntil(
      "a healthy round with leaderboard-api's pool",
      (x) => x.incidents.length === 0 && (x.snapshot.postgres?.pools ?? []).some((p) => p.service === "leaderboard-api"),
    );
    const s = r.snapshot;
    expect(s.services.find((h) => h.service === "leaderboard-api")?.instances).toEqual([
      expect.objectContaining({ ok: true, status: 200 }),
    ]);
    expect(s.errorRates.map((e) => e.service)).toContain("leaderboard-api");
    expect(s.postgres?.pools.find((p) => p.service === "leaderboard-api")).toMatchObject({ max: 4 });
    expect(s.instances.filter((i) => i.service === "leaderboard-api")).toEqual([
      expect.objectContaining({ instance: "leaderboard-api", running: true, memoryLimitBytes: 512 * 1024 ** 2 }),
    ]);
    console.log(
      `leaderboard-api: health ${JSON.stringify(s.services.find((h) => h.service === "leaderboard-api")?.instances[0])}; pool ${JSON.stringify(s.postgres?.pools.find((p) => p.service === "leaderboard-api"))}`,
    );
  });

  it("its container stopped: service-down P0 on leaderboard-api, and the runbook's steps act on leaderboard-api", async () => {
    await stack.stopContainer("leaderboard-api");
    const down = await roundsUntil("service-down on leaderboard-api", (x) =>
      x.active.some((i) => i.kind === "service-down" && i.subject === "leaderboard-api"),
    );
    const incident = down.active.find((i) => i.kind === "service-down" && i.subject === "leaderboard-api")!;
    expect(incident.severity).toBe("P0");
    // the other services are not down: the incident is the fourth service's alone
    expect(down.active.filter((i) => i.kind === "service-down").map((i) => i.subject)).toEqual(["leaderboard-api"]);
    console.log(`detected: ${incident.kind} ${incident.severity} ${incident.subject}: ${incident.summary}`);

    const unused = () => {
      throw new Error("not used by the service-down steps");
    };
    const ports: Ports = {
      platform: createDockerPlatform({ stackId: stack.options.id }),
      kafka: new Proxy({}, { get: () => unused }) as Ports["kafka"],
      database: new Proxy({}, { get: () => unused }) as Ports["database"],
      observe: { snapshot: async () => (await prober.round()).snapshot },
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    const results: Record<string, StepResult> = {};
    for (const step of CATALOG["service-down"].steps) {
      results[step.id] = await step.run(ports, { incident, policy: defaultPolicy, topology: config.topology });
      console.log(`step ${step.id}: ${results[step.id]!.ok ? "ok" : "NOT OK"}\n  ${results[step.id]!.output.join("\n  ")}`);
    }
    expect(results["check-health-endpoints"]).toMatchObject({ ok: true, finding: "problem" });
    expect(results["check-health-endpoints"]!.output.join("\n")).toMatch(/^leaderboard-api http:\/\/\S+: FAIL/);
    expect(results["restart-failing-instances"]).toMatchObject({ ok: true, finding: "acted", data: { restarted: ["leaderboard-api"] } });
    expect(results["verify-service-healthy"]).toMatchObject({ ok: true });
    expect(results["verify-service-healthy"]!.output[0]).toMatch(/^leaderboard-api healthy: yes after .*leaderboard-api 1\/1 ok$/);

    await roundsUntil("service-down on leaderboard-api resolved", (x) => !x.active.some((i) => i.kind === "service-down"));
    expect(logs.some((l) => l["event"] === "incident_resolved" && l["subject"] === "leaderboard-api")).toBe(true);
  });

  it("its memory limit below its use: service-oom P1 on leaderboard-api, and the OOM triage reads leaderboard-api's limits", async () => {
    const platform = createDockerPlatform({ stackId: stack.options.id });
    // the kernel OOM-kills it (exit 137, confirmed by the engine's oom event), as the service-oom drill does to stats-api
    await platform.setMemoryLimit("leaderboard-api", 8 * 1024 * 1024);
    const r = await roundsUntil("service-oom on leaderboard-api", (x) =>
      x.incidents.some((i) => i.kind === "service-oom" && i.subject === "leaderboard-api"),
    );
    const oom = r.incidents.find((i) => i.kind === "service-oom")!;
    expect(oom.severity).toBe("P1");
    expect(r.incidents.filter((i) => i.kind === "service-oom").map((i) => i.subject)).toEqual(["leaderboard-api"]);
    expect(r.snapshot.instances.find((i) => i.instance === "leaderboard-api")).toMatchObject({
      running: false,
      exitCode: 137,
      oomKilled: true,
    });
    console.log(`detected: ${oom.kind} ${oom.severity} ${oom.subject}: ${oom.summary}`);
    const ports = { platform, observe: { snapshot: async () => r.snapshot } } as unknown as Ports;
    const triage = await CATALOG["service-oom"].steps[0]!.run(ports, { incident: oom, policy: defaultPolicy, topology: config.topology });
    console.log(`step oom-check-memory-limits:\n  ${triage.output.join("\n  ")}`);
    expect(triage).toMatchObject({ ok: true, finding: "problem" });
    expect(triage.output).toEqual([expect.stringMatching(/^leaderboard-api: limit 8 MiB, .*oomKilled true/)]);

    await platform.setMemoryLimit("leaderboard-api", 512 * 1024 * 1024);
    await platform.restart("leaderboard-api");
    await roundsUntil("leaderboard-api healthy again", (x) => !x.incidents.some((i) => i.subject === "leaderboard-api"));
  });
});
