/**
 * Every threshold and deadline docs/runbook.md states is the number that runs. The numbers are not
 * copied here: the collectors' numbers are read from what createProber actually hands the Kafka and
 * canary collectors (captured at their factories), the classification's from the policy the prober is
 * built with; then the classification and the collectors are run at each stated number and just past
 * it, so a rule that stopped reading the policy fails as well.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { classify } from "@gm/runbook/classify";
import type { IncidentKind } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { ServiceName, Snapshot } from "@gm/runbook/snapshot";
import type { KafkaCollectorOptions } from "@gm/signals/kafka-signals";
import { judgeProgress } from "@gm/signals/progress";
import type { SyntheticOptions } from "@gm/signals/synthetic";
import { ConfigError, parseProberConfig } from "./config.js";
import { loadProberConfigText } from "./build-prober.js";
import { createProber } from "./prober.js";

// What createSignals (inside createProber) passes to the collectors that judge by a number.
const seen = vi.hoisted(() => ({ kafka: [] as KafkaCollectorOptions[], synthetic: [] as SyntheticOptions[] }));
vi.mock("@gm/signals/kafka-signals", async (importOriginal) => {
  const real = await importOriginal<typeof import("@gm/signals/kafka-signals")>();
  const wrapped = (o: KafkaCollectorOptions) => {
    seen.kafka.push(o);
    return real.createKafkaCollector(o);
  };
  return { ...real, createKafkaCollector: wrapped };
});
vi.mock("@gm/signals/synthetic", async (importOriginal) => {
  const real = await importOriginal<typeof import("@gm/signals/synthetic")>();
  const wrapped = (o: SyntheticOptions) => {
    seen.synthetic.push(o);
    return real.createSynthetic(o);
  };
  return { ...real, createSynthetic: wrapped };
});

const root = new URL("../../../", import.meta.url);
const doc = readFileSync(new URL("docs/runbook.md", root), "utf8");
const readme = readFileSync(new URL("README.md", root), "utf8");

interface Num {
  n: number;
  unit: string;
}
/** The numbers of a text with their unit; "P1", "5xx" or "min.insync.replicas" are not numbers. */
const numbers = (s: string): Num[] =>
  [...s.matchAll(/(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?:\s?(%|\/s|s|messages))?(?![\w])/g)].map((m) => ({
    n: Number(m[1]!.replace(/,/g, "")),
    unit: m[2] ?? "",
  }));
const pct = (r: number): Num => ({ n: Math.round(r * 10_000) / 100, unit: "%" });
const key = (x: Num) => `${x.n}${x.unit}`;

/** The "### Thresholds" table: first cell → the numbers of the second. */
function thresholdRows(): Record<string, Num[]> {
  const section = doc.split("### Thresholds")[1]?.split("\n### ")[0] ?? "";
  const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Signal"));
  return Object.fromEntries(rows.map((l) => l.split("|").map((c) => c.trim())).map((c) => [c[1]!.replace(/ \(.*\)$/, ""), numbers(c[2]!)]));
}

/** The prober as gm-prober builds it from a configuration text (and the policy file it names). */
function proberFrom(text: string, baseDir: string) {
  const { config, policy } = loadProberConfigText(text, "(test)", baseDir, {
    PROBER_PG_PASSWORD: "unused",
    ADMIN_TOKEN: "unused",
    POSTGRES_PASSWORD: "unused",
  });
  const k = seen.kafka.length;
  const s = seen.synthetic.length;
  const prober = createProber({ config, policy, log: () => undefined });
  probers.push(prober);
  expect(seen.kafka.length, "createProber built one Kafka collector").toBe(k + 1);
  expect(seen.synthetic.length, "createProber built one canary collector").toBe(s + 1);
  return { policy, kafka: seen.kafka.at(-1)!, synthetic: seen.synthetic.at(-1)! };
}
const probers: { close(): Promise<unknown> }[] = [];
const tmp = mkdtempSync(join(tmpdir(), "gm-docs-numbers-"));
afterAll(async () => {
  await Promise.all(probers.map((p) => p.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/** A healthy platform to put one signal at a boundary on. */
function healthy(): Snapshot {
  const svc = (service: ServiceName) => ({ service, instances: [{ url: `http://${service}:1`, ok: true, status: 200, latencyMs: 3 }] });
  return {
    at: "2026-01-01T00:00:00.000Z",
    services: [svc("ingest-api"), svc("event-processor-service"), svc("stats-api")],
    errorRates: [],
    users: { total: 1000, failing: 0 },
    kafka: {
      brokersExpected: 3,
      brokers: [1, 2, 3].map((nodeId) => ({ nodeId, address: `kafka-${nodeId}:9092`, up: true })),
      underReplicatedPartitions: 0,
      offlinePartitions: 0,
      minInsyncReplicas: 2,
      groups: [{ group: "event-processor-service", topic: "game-events", totalLag: 0, partitions: [], trendPerSecond: 0, lagSeconds: 0 }],
    },
    postgres: { maxConnections: 10_003, reservedConnections: 3, byState: { idle: 5 }, totalConnections: 5, usage: 5 / 10_000, pools: [] },
    instances: [],
    consumers: [{ group: "event-processor-service", status: "ok", secondsSinceCommitMoved: 1, lagGrowing: false }],
    security: null,
    canary: null,
    externalAlerts: [],
    collectionErrors: [],
  };
}
const severities = (policy: Policy, kind: IncidentKind, change: (s: Snapshot) => void) => {
  const s = healthy();
  change(s);
  return classify(s, policy)
    .filter((i) => i.kind === kind)
    .map((i) => i.severity);
};
const errorRate = (rate: number) => (s: Snapshot) => {
  s.errorRates = [
    { service: "stats-api", source: "metrics", windowSeconds: 60, requests: 1_000_000, errors: Math.round(rate * 1_000_000), rate },
  ];
};
const EPS = 1e-6;

describe("docs/runbook.md states the numbers the prober runs with", () => {
  // The cluster's own configuration, as deployed (deploy/prober/prober.yaml), with the runbook's policy.
  const deployed = proberFrom(readFileSync(new URL("deploy/prober/prober.yaml", root), "utf8"), tmp);
  const t = deployed.policy.thresholds;
  const rows = thresholdRows();
  const stall = rows["Consumer stalled"]?.[0];
  const deadline = rows["Canary loss deadline"]?.[0];

  it("every row of the thresholds table is the policy's and the collectors' numbers, and no row goes unchecked", () => {
    expect(rows).toEqual({
      "Error rate": [pct(t.errorRate.p1Above), pct(t.errorRate.p2AtLeast), pct(t.errorRate.p1Above), pct(t.errorRate.p2AtLeast)],
      "Users affected": [pct(t.usersAffected.p1Above), pct(t.usersAffected.p1Above)],
      "Consumer group lag": [{ n: t.consumerLag.above, unit: "messages" }],
      // what the Kafka collector judges "stalled" by, as createProber handed it over
      "Consumer stalled": [{ n: deployed.kafka.stallSeconds, unit: "s" }],
      "PostgreSQL connections": [
        pct(t.dbPool.usageAtLeast),
        { n: t.dbPool.waitingAbove, unit: "" },
        { n: t.dbPool.timeoutsPerSecondAbove, unit: "/s" },
      ],
      Memory: [pct(t.memory.usageAtLeast)],
      // after how long the canary collector calls an acknowledged canary lost, as createProber handed it over
      "Canary loss deadline": [{ n: deployed.synthetic.lossDeadlineSeconds, unit: "s" }],
    });
  });

  it("every number in an incident's detection rule and severity mapping is one of the table's", () => {
    // Numbers that are facts, not thresholds: nothing to keep in step with the policy.
    const facts = ["137"]; // "not exit 137 alone": the exit status of a SIGKILL
    const table = new Set([...Object.values(rows).flat().map(key), ...facts]);
    const stated = doc
      .split("\n")
      .filter((l) => l.startsWith("**Detection**") || l.startsWith("**Severity**"))
      .flatMap((l) => numbers(l).map((x) => ({ line: l.slice(0, 60), number: key(x) })));
    expect(stated.length).toBeGreaterThan(10);
    expect(stated.filter((x) => !table.has(x.number))).toEqual([]);
  });

  it("the README's incident table states the same numbers", () => {
    const table = new Set(Object.values(rows).flat().map(key));
    const section = readme.split("| incident | severity |")[1]?.split("\n\n")[0] ?? "";
    const stated = numbers(section)
      .filter((x) => x.unit !== "")
      .map(key);
    expect(stated.length).toBeGreaterThan(5);
    expect(stated.filter((x) => !table.has(x))).toEqual([]);
  });

  it("the classification changes severity exactly at the stated error-rate, users, lag, pool and memory numbers", () => {
    const p = deployed.policy;
    const [p1, p2] = [rows["Error rate"]![0]!.n / 100, rows["Error rate"]![1]!.n / 100];
    expect(severities(p, "high-error-rate", errorRate(p1 + EPS))).toEqual(["P1"]);
    expect(severities(p, "high-error-rate", errorRate(p1))).toEqual(["P2"]);
    expect(severities(p, "high-error-rate", errorRate(p2))).toEqual(["P2"]);
    expect(severities(p, "high-error-rate", errorRate(p2 - EPS))).toEqual([]);

    const users = rows["Users affected"]![0]!.n / 100;
    const failing = (n: number) => (s: Snapshot) => {
      s.users = { total: 1000, failing: n };
    };
    expect(severities(p, "high-error-rate", failing(users * 1000 + 1))).toEqual(["P1"]);
    expect(severities(p, "high-error-rate", failing(users * 1000))).toEqual(["P2"]);

    const lag = rows["Consumer group lag"]![0]!.n;
    const lagOf = (n: number) => (s: Snapshot) => {
      s.kafka!.groups[0]!.totalLag = n;
    };
    expect(severities(p, "high-consumer-lag", lagOf(lag + 1))).toEqual(["P2"]);
    expect(severities(p, "high-consumer-lag", lagOf(lag))).toEqual([]);

    const [usage, waiting, timeouts] = rows["PostgreSQL connections"]!.map((x) => x.n);
    const pg =
      (u: number, pools: NonNullable<Snapshot["postgres"]>["pools"] = []) =>
      (s: Snapshot) =>
        void Object.assign(s.postgres!, { usage: u, pools });
    const pool = (w: number, tps: number) => ({
      service: "stats-api" as const,
      instance: "stats-api-1",
      max: 10,
      total: 10,
      idle: 0,
      waiting: w,
      timeoutsPerSecond: tps,
    });
    expect(severities(p, "db-pool-exhausted", pg(usage! / 100))).toEqual(["P3"]);
    expect(severities(p, "db-pool-exhausted", pg(usage! / 100 - EPS))).toEqual([]);
    expect(severities(p, "db-pool-exhausted", pg(0, [pool(waiting! + 1, 0)]))).toEqual(["P3"]);
    expect(severities(p, "db-pool-exhausted", pg(0, [pool(waiting!, timeouts!)]))).toEqual([]);
    expect(severities(p, "db-pool-exhausted", pg(0, [pool(0, timeouts! + EPS)]))).toEqual(["P3"]);

    const memory = rows.Memory![0]!.n / 100;
    const mem = (used: number) => (s: Snapshot) =>
      void s.instances.push({
        service: "stats-api",
        instance: "stats-api-1",
        running: true,
        restarts: 0,
        exitCode: null,
        oomKilled: false,
        oomKilledAt: null,
        memoryUsageBytes: used,
        memoryLimitBytes: 1_000_000,
      });
    expect(severities(p, "service-oom", mem(memory * 1_000_000))).toEqual(["P3"]);
    expect(severities(p, "service-oom", mem(memory * 1_000_000 - 1))).toEqual([]);
  });

  it("the Kafka collector, as createProber configured it, calls a group stalled at the stated seconds", () => {
    expect(stall?.unit).toBe("s");
    const at = (seconds: number) =>
      judgeProgress({
        group: "g",
        members: 1,
        committed: [
          { t: 0, v: 5 },
          { t: 1000, v: 5 },
        ],
        totalLag: 10,
        lagTrend: 1,
        stallSeconds: deployed.kafka.stallSeconds,
        now: seconds * 1000,
      }).status;
    expect(at(stall!.n)).toBe("stalled");
    expect(at(stall!.n - 0.001)).toBe("ok");
  });

  it("the canary collector, as createProber configured it, calls an unread canary lost after the stated deadline", async () => {
    expect(deadline?.unit).toBe("s");
    const { createSynthetic } = await vi.importActual<typeof import("@gm/signals/synthetic")>("@gm/signals/synthetic");
    // ingest-api acknowledges, stats-api never finds the canary; a short read-back wait keeps the test quick.
    const unread = (async (_u: string | URL, init?: RequestInit) =>
      new Response("{}", { status: init?.method === "POST" ? 202 : 404 })) as typeof fetch;
    const canary = createSynthetic({ ...deployed.synthetic, players: 1, timeoutMs: 50, fetch: unread });
    await canary.round(0);
    expect((await canary.round(deadline!.n * 1000)).canary.lost).toBe(0);
    expect((await canary.round(deadline!.n * 1000 + 1)).canary.lost).toBe(1);
  });

  it("a policy file is the one way to change them, and the collectors follow it", () => {
    writeFileSync(join(tmp, "policy.yaml"), "thresholds: { consumerStall: { seconds: 45 }, canary: { lossDeadlineSeconds: 300 } }\n");
    const own = proberFrom(
      "policy: ./policy.yaml\nservices: { ingest-api: [http://i:1], stats-api: [http://s:1] }\nkafka: { brokers: [k:9092] }\nsynthetic: { players: 2 }\n",
      tmp,
    );
    expect(own.kafka.stallSeconds).toBe(45);
    expect(own.synthetic.lossDeadlineSeconds).toBe(300);
  });

  it("the prober's file cannot set them: it names the policy field instead", () => {
    const problems = (() => {
      try {
        parseProberConfig(
          "services: { ingest-api: [http://a] }\nkafka: { brokers: [k:9092], stallSeconds: 30 }\nsynthetic: { players: 2, lossDeadlineSeconds: 60 }\n",
        );
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      "kafka.stallSeconds: not a prober setting; the policy's thresholds.consumerStall.seconds is the single source of this number (set it in the policy file the configuration names with `policy:`)",
      "synthetic.lossDeadlineSeconds: not a prober setting; the policy's thresholds.canary.lossDeadlineSeconds is the single source of this number (set it in the policy file the configuration names with `policy:`)",
    ]);
  });
});
