/**
 * "Review logs in Loki", end to end against a real stack: the demo services' JSON log lines are read
 * through the Docker engine and pushed to Loki's push API by the feeder; the Docker driver wrapped by
 * `withLokiLogs` then reads them back through query_range, and the runbook's own log steps (taken from
 * the catalog) say that their lines came from Loki.
 *
 * The Loki end is the loopback test double (loki-test-double.ts), not Grafana Loki: no Grafana Loki
 * binary can be installed here (Debian's `loki` package is an unrelated genetics program, and Loki's
 * source is not to be built from the Go module proxy). The double speaks Loki's HTTP API for pushes and
 * for selector-and-line-filter queries; LogQL beyond that is not exercised here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOG } from "@gm/runbook/catalog";
import type { Incident, IncidentKind } from "@gm/runbook/incident";
import { defaultPolicy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import { DEFAULT_TOPOLOGY } from "@gm/runbook/topology";
import { startStack, type Stack, waitFor } from "@gm/stack/stack";
import { createDockerPlatform } from "./docker.js";
import { feedDockerLogsToLoki, startDockerLogFeed } from "./loki-feed.js";
import { type LokiTestDouble, startLokiTestDouble } from "./loki-test-double.js";
import { createLokiLogs, withLokiLogs } from "./loki.js";

const unused = () => {
  throw new Error("not used by the log steps");
};

function portsWith(platform: Ports["platform"]): Ports {
  return {
    platform,
    kafka: { brokers: unused, underReplicatedPartitions: unused, groupLag: unused, groupMembers: unused },
    database: { connections: unused, maxConnections: unused, terminateIdle: unused },
    observe: { snapshot: unused },
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

function step(kind: IncidentKind, id: string) {
  const s = CATALOG[kind].steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in the ${kind} runbook`);
  return s;
}

const incident = (kind: IncidentKind, subject: string): Incident => ({
  kind,
  subject,
  severity: "P2",
  summary: "",
  evidence: [],
  responseMinutes: 60,
  respondBy: "",
  escalation: "ticket",
  steps: [],
});

describe("logs from Loki for a real stack", { timeout: 240_000 }, () => {
  let stack: Stack;
  let loki: LokiTestDouble;

  beforeAll(async () => {
    [stack, loki] = await Promise.all([startStack({ brokers: 1, id: `t-loki-${Date.now().toString(36)}` }), startLokiTestDouble()]);
  }, 300_000);

  afterAll(async () => {
    await loki?.close();
    await stack?.stop();
  }, 60_000);

  it("feeds the containers' JSON lines to Loki, labelled, and reads the newest ones back through the platform port", async () => {
    const stackId = stack.options.id;
    const client = createLokiLogs({ url: loki.url, timeoutMs: 5_000 });
    const fed = await feedDockerLogsToLoki({ stackId, loki: client });
    expect(fed.lines["ingest-api"]).toBeGreaterThan(0);
    expect(fed.lines["kafka-1"]).toBeGreaterThan(0);

    // Labels: instance (what the platform port calls it), container, service, stack, and the JSON level.
    const labels = (await client.query('{instance="ingest-api"}', { limit: 1000 })).map((e) => e.labels);
    expect(labels.length).toBe(fed.lines["ingest-api"]);
    for (const l of labels)
      expect(l).toMatchObject({ instance: "ingest-api", container: `gm-${stackId}-ingest-api`, service: "ingest-api", stack: stackId });
    expect(new Set(labels.map((l) => l.level))).toContain("info");

    const docker = createDockerPlatform({ stackId });
    const viaLoki = withLokiLogs(docker, client);
    const lines = await viaLoki.logs("ingest-api", 20);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(20);
    const parsed = lines.map((l) => JSON.parse(l) as { service: string; msg: string; ts: string });
    expect(parsed.every((p) => p.service === "ingest-api")).toBe(true);
    expect(parsed.map((p) => p.msg)).toContain("listening");
    // The same lines, in the same order, as the engine's own newest ones at the time of the feed.
    const fromDocker = await docker.logs("ingest-api", 1000);
    expect(fromDocker.slice(0, fed.lines["ingest-api"]).slice(-lines.length)).toEqual(lines);
    expect(parsed.map((p) => p.ts)).toEqual([...parsed.map((p) => p.ts)].sort());
  });

  it("runs the runbook's check-logs steps against Loki and says so", async () => {
    const stackId = stack.options.id;
    const client = createLokiLogs({ url: loki.url });
    const docker = createDockerPlatform({ stackId });
    const consumer = (await docker.listInstances("event-processor-service"))[0]!.name;
    // A line only Loki has: proof that the step read Loki, not the container.
    const marker = JSON.stringify({
      ts: new Date().toISOString(),
      level: "error",
      service: "event-processor-service",
      msg: "unparseable message skipped (only in Loki)",
    });
    await client.push([
      {
        stream: { instance: consumer, service: "event-processor-service", stack: stackId, level: "error" },
        values: [[(BigInt(Date.now()) * 1_000_000n).toString(), marker]],
      },
    ]);

    const errors = step("high-consumer-lag", "lag-check-processing-errors");
    // the description comes with the context, as a drill passes the one it detected with (the prober is not asked)
    const ctx = {
      incident: incident("high-consumer-lag", stack.endpoints.consumerGroup),
      policy: defaultPolicy,
      topology: DEFAULT_TOPOLOGY,
    };
    const fromLoki = await errors.run(portsWith(withLokiLogs(docker, client)), ctx);
    expect(fromLoki.data).toMatchObject({ source: "loki" });
    expect(fromLoki.output[0]).toMatch(
      new RegExp(`^${consumer}: \\d+ error line\\(s\\) in the last ${defaultPolicy.actions.logTail}, from loki$`),
    );
    expect(fromLoki.output).toContain(marker);
    expect(fromLoki).toMatchObject({ ok: true, finding: "problem" });

    const fromDocker = await errors.run(portsWith(docker), ctx);
    expect(fromDocker.data).toMatchObject({ source: "docker" });
    expect(fromDocker.output).not.toContain(marker);

    // Kafka's lines are plain text (no level label): the broker-logs step reads them from Loki too.
    const brokerLogs = await step("kafka-broker-down", "kafka-check-broker-logs").run(portsWith(withLokiLogs(docker, client)), {
      incident: incident("kafka-broker-down", "kafka"),
      policy: defaultPolicy,
      topology: DEFAULT_TOPOLOGY,
    });
    expect(brokerLogs.data).toMatchObject({ source: "loki" });
    expect(brokerLogs.output[0]).toMatch(/^== kafka-1 \(last \d+ of \d+ lines, from loki\)$/);
    expect(brokerLogs.output[1]).toMatch(/^\[[\d-]+ [\d:,]+\] (INFO|WARN|ERROR) /);
  });

  it("keeps feeding on an interval, each line once", async () => {
    const stackId = stack.options.id;
    const client = createLokiLogs({ url: loki.url });
    const since = new Date();
    const feed = startDockerLogFeed({ stackId, loki: client, intervalMs: 500, since });
    let stored = 0;
    try {
      // A restart makes stats-api log its shutdown and a second "listening".
      await stack.stopContainer("stats-api");
      await stack.startContainer("stats-api");
      await waitFor(
        "stats-api's restart lines in Loki",
        async () =>
          (await client.query('{instance="stats-api"} |= "listening"', { start: since, limit: 10 })).length >= 1 ? true : undefined,
        60_000,
        500,
      );
    } finally {
      const totals = await feed.stop();
      expect(feed.lastError).toBeUndefined();
      stored = (await client.query('{instance="stats-api"}', { start: since, limit: 5000 })).length;
      // Loki keeps one copy of an identical entry: pushing a line twice would make the totals larger.
      expect(totals.lines["stats-api"]).toBe(stored);
    }
    expect(stored).toBeGreaterThanOrEqual(2);
  });
});
