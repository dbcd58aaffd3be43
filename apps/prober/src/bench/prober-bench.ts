/**
 * `npm run bench:prober` (issue 11 §2, "Cost and scale"): what probing costs and how it grows.
 *
 * 1. Probing cost. gm-prober (`gm-prober run`, the real CLI) and its peer, prometheus-blackbox-exporter
 *    scraped by Prometheus (Debian packages), probe the same N HTTP targets every 5 s, one side after the
 *    other, for 10 / 100 / 1,000 / 10,000 targets. The targets are one node:http server in this process
 *    (its cost not counted) on a few loopback ports, each target a distinct path; it counts the requests
 *    it gets from each side, so a side that probes fewer targets than configured shows. Measured: CPU
 *    seconds (utime+stime of the side's processes and their children, /proc/<pid>/stat) over the same
 *    window after a warm-up, and peak RSS (VmHWM of /proc/<pid>/status, summed over the side's processes).
 * 2. Lag. The prober's lag read (`groupLag` of packages/platform/src/kafka-admin.ts, kafkajs admin)
 *    against one real Kafka broker for 10 / 100 / 1,000 / 5,000 partitions: its median time over several
 *    reads and the Kafka requests one read makes (kafkajs `admin.network.request` events).
 *
 * Prints one table and writes result.json (and cost.svg, a log-log plot) into --out. Asserts nothing: the
 * numbers are for people.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "@gm/docker-engine/net";
import { exitAfterFlush, requireNode24, silenceKafkajsTimeoutWarning } from "@gm/stack/runtime";
import { describeGrowth, logLogSlope, median, readTreeUsage } from "./proc-stats.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PROBER_CLI = resolve(HERE, "../cli.js");
const INTERVAL_SECONDS = 5;
const TIMEOUT_MS = 2000;
/** targets per port at most: probes open a connection each, spread over ports so no 4-tuple space runs short */
const TARGETS_PER_PORT = 500;
const BINARIES = { prometheus: "/usr/bin/prometheus", blackbox: "/usr/bin/prometheus-blackbox-exporter" } as const;

class UsageError extends Error {}

interface Options {
  targets: number[];
  partitions: number[];
  seconds: number;
  warmup: number;
  reads: number;
  /** cost measurements per size and side (the table gives their median and spread) */
  runs: number;
  only: "cost" | "lag" | undefined;
  /** result.json files of earlier runs to print as one table instead of measuring (parts run apart) */
  from: string[];
  out: string;
}

function parseList(v: string | undefined, def: number[], field: string, max: number): number[] {
  if (v === undefined) return def;
  const xs = v.split(",").map((s) => Number(s.trim()));
  const bad = xs.find((x) => !Number.isInteger(x) || x < 1 || x > max);
  if (xs.length === 0 || bad !== undefined)
    throw new UsageError(`--${field}: expected a comma-separated list of whole numbers from 1 to ${max}, got ${JSON.stringify(v)}`);
  return [...new Set(xs)].sort((a, b) => a - b);
}

function parseNumber(v: string | undefined, def: number, field: string, min: number, max: number): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || x > max)
    throw new UsageError(`--${field}: expected a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return x;
}

function parseWhole(v: string | undefined, def: number, field: string, max: number): number {
  if (v === undefined) return def;
  if (!/^[1-9]\d*$/.test(v) || Number(v) > max)
    throw new UsageError(`--${field}: expected a whole number from 1 to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseOptions(args: string[]): Options {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        targets: { type: "string" },
        partitions: { type: "string" },
        seconds: { type: "string" },
        warmup: { type: "string" },
        reads: { type: "string" },
        runs: { type: "string" },
        only: { type: "string" },
        out: { type: "string" },
        from: { type: "string" },
      },
      strict: true,
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new UsageError(
      `${(err as Error).message} (options: --targets, --partitions, --seconds, --warmup, --reads, --runs, --only cost|lag, --out DIR, --from a.json,b.json)`,
    );
  }
  const only = values["only"];
  if (only !== undefined && only !== "cost" && only !== "lag")
    throw new UsageError(`--only: expected cost or lag, got ${JSON.stringify(only)}`);
  return {
    targets: parseList(values["targets"], [10, 100, 1000, 10_000], "targets", 10_000),
    partitions: parseList(values["partitions"], [10, 100, 1000, 5000], "partitions", 10_000),
    seconds: parseNumber(values["seconds"], 60, "seconds", 5, 3600),
    warmup: parseNumber(values["warmup"], 15, "warmup", 0, 600),
    reads: parseNumber(values["reads"], 7, "reads", 1, 100),
    runs: parseWhole(values["runs"], 1, "runs", 100),
    only,
    from: values["from"] ? values["from"].split(",").filter(Boolean) : [],
    out: values["out"] ?? join("reports", "bench-prober", new Date().toISOString().replace(/[:.]/g, "-")),
  };
}

// ---------- the targets ----------

/** One target server: a few loopback ports, every path a target; counts requests by side (the path's first segment). */
interface Targets {
  /** the base URL of target i for a side: http://127.0.0.1:<port>/<side>/<i> */
  url(side: string, i: number): string;
  counts(): Record<string, { health: number; metrics: number; other: number }>;
  reset(): void;
  close(): Promise<void>;
}

// The minimum the prober's service-metrics collector accepts as a service's /metrics (it requires http_requests_total).
const METRICS_TEXT = '# TYPE http_requests_total counter\nhttp_requests_total{route="/events",code="200"} 1\n';

async function startTargets(n: number): Promise<Targets> {
  const ports = Math.max(1, Math.ceil(n / TARGETS_PER_PORT));
  let counts: Record<string, { health: number; metrics: number; other: number }> = {};
  const servers: Server[] = [];
  const portNumbers: number[] = [];
  for (let p = 0; p < ports; p++) {
    const server = createServer((req, res) => {
      const [, side = "", , what = ""] = (req.url ?? "").split("?")[0]!.split("/");
      const c = counts[side] ?? { health: 0, metrics: 0, other: 0 };
      counts[side] = c;
      if (what === "health") {
        c.health++;
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (what === "metrics") {
        c.metrics++;
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(METRICS_TEXT);
      } else {
        c.other++;
        res.writeHead(404).end();
      }
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((ok, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => ok());
    });
    servers.push(server);
    portNumbers.push((server.address() as { port: number }).port);
  }
  return {
    url: (side, i) => `http://127.0.0.1:${portNumbers[i % ports]}/${side}/${i}`,
    counts: () => counts,
    reset() {
      counts = {};
    },
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((ok) => {
              s.closeAllConnections();
              s.close(() => ok());
            }),
        ),
      );
    },
  };
}

// ---------- the sides ----------

const SERVICE_NAMES = ["ingest-api", "event-processor-service", "stats-api"] as const;

/**
 * gm-prober's configuration for N HTTP targets and nothing else (no kafka, postgres, platform): the
 * current format maps each service name to its instance URLs, so the targets are spread over the three
 * services. One function, so a change of the configuration's format changes one place.
 */
export function proberConfigYaml(urls: readonly string[], listenPort: number): string {
  const by = SERVICE_NAMES.map((name, s) => ({ name, urls: urls.filter((_, i) => i % SERVICE_NAMES.length === s) })).filter(
    (x) => x.urls.length > 0,
  );
  return [
    `intervalSeconds: ${INTERVAL_SECONDS}`,
    `timeoutMs: ${TIMEOUT_MS}`,
    `listen: "127.0.0.1:${listenPort}"`,
    "services:",
    ...by.flatMap((x) => [`  ${x.name}:`, ...x.urls.map((u) => `    - ${JSON.stringify(u)}`)]),
    "",
  ].join("\n");
}

/** Prometheus scraping blackbox_exporter's /probe for every target, relabelled as blackbox_exporter's README shows. */
export function prometheusConfigYaml(targets: readonly string[], blackboxAddress: string): string {
  return [
    "global:",
    `  scrape_interval: ${INTERVAL_SECONDS}s`,
    `  scrape_timeout: ${TIMEOUT_MS / 1000}s`,
    `  evaluation_interval: ${INTERVAL_SECONDS}s`,
    "scrape_configs:",
    "  - job_name: blackbox",
    "    metrics_path: /probe",
    "    params:",
    "      module: [http_2xx]",
    "    static_configs:",
    "      - targets:",
    ...targets.map((t) => `          - ${JSON.stringify(t)}`),
    "    relabel_configs:",
    "      - source_labels: [__address__]",
    "        target_label: __param_target",
    "      - source_labels: [__param_target]",
    "        target_label: instance",
    "      - target_label: __address__",
    `        replacement: ${JSON.stringify(blackboxAddress)}`,
    "",
  ].join("\n");
}

const BLACKBOX_CONFIG = [
  "modules:",
  "  http_2xx:",
  "    prober: http",
  `    timeout: ${TIMEOUT_MS / 1000}s`,
  "    http:",
  "      method: GET",
  "",
].join("\n");

interface Side {
  procs: ChildProcess[];
  stop(): Promise<void>;
}

function spawnLogged(cmd: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, "a");
  const child = spawn(cmd, args, { stdio: ["ignore", fd, fd] });
  child.on("error", (err) => process.stderr.write(`  ${cmd}: ${err.message}\n`));
  return child;
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((ok) => {
          if (p.exitCode !== null || p.signalCode !== null) return ok();
          const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
          p.once("exit", () => {
            clearTimeout(timer);
            ok();
          });
          p.kill("SIGTERM");
        }),
    ),
  );
}

async function waitHttp(url: string, ms: number, what: string, child: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const dead = child.find((c) => c.exitCode !== null);
    if (dead)
      throw new Error(
        `${what}: its process exited with code ${dead.exitCode} before answering ${url} (see its log in the result directory)`,
      );
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: ${url} did not answer 200 within ${ms / 1000} s`);
}

async function startProberSide(t: Targets, n: number, dir: string): Promise<Side> {
  const port = await freePort();
  const config = join(dir, "prober.yaml");
  const log = join(dir, "prober.log");
  writeFileSync(
    config,
    proberConfigYaml(
      Array.from({ length: n }, (_, i) => t.url("prober", i)),
      port,
    ),
  );
  const p = spawnLogged(process.execPath, [PROBER_CLI, "run", "--config", config], log);
  // Started once it says it listens: /healthz is answered by the event loop the rounds keep busy, and at
  // 10,000 targets it did not answer within a minute (a finding, not a reason to measure nothing).
  try {
    await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes("gm-prober: listening"), 60_000, "gm-prober: listening", [p]);
  } catch (err) {
    await stopAll([p]);
    throw err;
  }
  return { procs: [p], stop: () => stopAll([p]) };
}

async function waitFor(check: () => boolean, ms: number, what: string, child: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const dead = child.find((c) => c.exitCode !== null);
    if (dead) throw new Error(`${what}: its process exited with code ${dead.exitCode} (see its log in the result directory)`);
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not seen within ${ms / 1000} s`);
}

async function startPeerSide(t: Targets, n: number, dir: string): Promise<Side> {
  const bbPort = await freePort();
  const promPort = await freePort();
  writeFileSync(join(dir, "blackbox.yml"), BLACKBOX_CONFIG);
  writeFileSync(
    join(dir, "prometheus.yml"),
    prometheusConfigYaml(
      Array.from({ length: n }, (_, i) => `${t.url("peer", i)}/health`),
      `127.0.0.1:${bbPort}`,
    ),
  );
  const bb = spawnLogged(
    BINARIES.blackbox,
    [`--config.file=${join(dir, "blackbox.yml")}`, `--web.listen-address=127.0.0.1:${bbPort}`],
    join(dir, "blackbox.log"),
  );
  const prom = spawnLogged(
    BINARIES.prometheus,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ],
    join(dir, "prometheus.log"),
  );
  const procs = [bb, prom];
  try {
    await waitHttp(`http://127.0.0.1:${bbPort}/metrics`, 30_000, "blackbox_exporter", procs);
    await waitHttp(`http://127.0.0.1:${promPort}/-/ready`, 60_000, "prometheus", procs);
  } catch (err) {
    await stopAll(procs);
    throw err;
  }
  return { procs, stop: () => stopAll(procs) };
}

export interface CostResult {
  targets: number;
  side: "gm-prober" | "blackbox+prometheus";
  /** which of --runs (1 when measured once); on a median row, how many runs it summarizes */
  run?: number;
  runs?: number;
  /** on a median row: the spread of CPU seconds and peak RSS over the runs */
  cpuSecondsMin?: number;
  cpuSecondsMax?: number;
  peakRssBytesMin?: number;
  peakRssBytesMax?: number;
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  /** GET /health answered per second during the window (the probes) */
  probesPerSecond: number;
  /** what N targets every interval make */
  expectedProbesPerSecond: number;
  /** other requests per second (gm-prober also reads each target's /metrics for error rates) */
  otherRequestsPerSecond: number;
  /**
   * CPU of the target server (this process) over the window, % of one core: near 100 it, not the side,
   * may be what limits the probes/s
   */
  targetServerCpuPercent: number;
}

async function measureSide(
  name: CostResult["side"],
  key: string,
  n: number,
  o: Options,
  t: Targets,
  start: () => Promise<Side>,
): Promise<CostResult> {
  const side = await start();
  try {
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    const roots = side.procs.map((p) => p.pid!);
    const before = readTreeUsage(roots);
    const benchBefore = process.cpuUsage();
    t.reset();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const after = readTreeUsage(roots);
    const bench = process.cpuUsage(benchBefore);
    const seconds = (performance.now() - t0) / 1000;
    const c = t.counts()[key] ?? { health: 0, metrics: 0, other: 0 };
    const dead = side.procs.find((p) => p.exitCode !== null);
    if (dead) throw new Error(`${name}: a process exited with code ${dead.exitCode} during the measurement`);
    return {
      targets: n,
      side: name,
      seconds: +seconds.toFixed(1),
      cpuSeconds: +(after.cpuSeconds - before.cpuSeconds).toFixed(2),
      peakRssBytes: after.peakRssBytes,
      probesPerSecond: +(c.health / seconds).toFixed(1),
      expectedProbesPerSecond: +(n / INTERVAL_SECONDS).toFixed(1),
      otherRequestsPerSecond: +((c.metrics + c.other) / seconds).toFixed(1),
      targetServerCpuPercent: +(((bench.user + bench.system) / 1e6 / seconds) * 100).toFixed(1),
    };
  } finally {
    await side.stop();
  }
}

async function runCost(o: Options, log: (m: string) => void, failures: string[]): Promise<CostResult[]> {
  const missing = Object.values(BINARIES).filter((b) => !existsSync(b));
  if (missing.length)
    throw new UsageError(
      `missing ${missing.join(", ")}: install the peer with \`apt-get install -y prometheus prometheus-blackbox-exporter\` (or \`bash scripts/setup.sh --bench\`), or run only the lag part with --only lag`,
    );
  const results: CostResult[] = [];
  for (const n of o.targets) {
    const t = await startTargets(n);
    try {
      for (let run = 1; run <= o.runs; run++)
        for (const [name, key, start] of [
          ["gm-prober", "prober", startProberSide],
          ["blackbox+prometheus", "peer", startPeerSide],
        ] as const) {
          const dir = mkdtempSync(join(tmpdir(), `gm-bench-${key}-${n}-`));
          log(
            `${n} targets, ${name}${o.runs > 1 ? `, run ${run} of ${o.runs}` : ""}: warm-up ${o.warmup} s, measuring ${o.seconds} s (work dir ${dir})`,
          );
          try {
            const r = { ...(await measureSide(name, key, n, o, t, () => start(t, n, dir))), run };
            log(
              `  ${r.cpuSeconds} CPU s, peak RSS ${mb(r.peakRssBytes)} MB, ${r.probesPerSecond} probes/s of ${r.expectedProbesPerSecond} expected`,
            );
            results.push(r);
            rmSync(dir, { recursive: true, force: true });
          } catch (err) {
            // the other sizes and sides still measure; the table says which failed
            log(`  failed: ${(err as Error).message} (logs kept in ${dir})`);
            failures.push(`${n} targets, ${name}${o.runs > 1 ? ` (run ${run})` : ""}: ${(err as Error).message}`);
          }
        }
    } finally {
      await t.close();
    }
  }
  return results;
}

/**
 * One row per size and side from several runs: the median of each number, with the spread of CPU
 * seconds and peak RSS (what the table, the goals and the plot read). One run gives itself back.
 */
export function medianCost(rows: readonly CostResult[]): CostResult[] {
  const groups = new Map<string, CostResult[]>();
  for (const r of rows) {
    const k = `${r.targets}|${r.side}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: CostResult[] = [];
  for (const g of groups.values()) {
    const m = (f: (r: CostResult) => number) => median(g.map(f));
    const cpu = g.map((r) => r.cpuSeconds);
    const rss = g.map((r) => r.peakRssBytes);
    out.push({
      targets: g[0]!.targets,
      side: g[0]!.side,
      runs: g.length,
      seconds: m((r) => r.seconds),
      cpuSeconds: +m((r) => r.cpuSeconds).toFixed(2),
      cpuSecondsMin: Math.min(...cpu),
      cpuSecondsMax: Math.max(...cpu),
      peakRssBytes: Math.round(m((r) => r.peakRssBytes)),
      peakRssBytesMin: Math.min(...rss),
      peakRssBytesMax: Math.max(...rss),
      probesPerSecond: +m((r) => r.probesPerSecond).toFixed(1),
      expectedProbesPerSecond: g[0]!.expectedProbesPerSecond,
      otherRequestsPerSecond: +m((r) => r.otherRequestsPerSecond).toFixed(1),
      targetServerCpuPercent: +m((r) => r.targetServerCpuPercent).toFixed(1),
    });
  }
  return out.sort((a, b) => a.targets - b.targets || (a.side === "gm-prober" ? -1 : 1));
}

// ---------- lag ----------

export interface LagResult {
  partitions: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  reads: number;
  /**
   * Where a read's time goes (medians): CPU of this process during the read (encoding, decoding, the
   * lag arithmetic) and the time the read's Kafka requests spent from sent to answered (kafkajs' REQUEST
   * event `duration`, summed: two requests in flight at once count twice)
   */
  cpuMs?: number;
  requestMs?: number;
  /** Kafka requests of one read, after the first (metadata cached), by API */
  requestsPerRead: number;
  requestsByApi: Record<string, number>;
  /** the first read's requests (metadata and coordinator lookups included) */
  firstReadRequests: number;
  totalLag: number;
  expectedLag: number;
}

async function runLag(o: Options, log: (m: string) => void): Promise<LagResult[]> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const { resolveImages } = await import("@gm/stack/images");
  const { containerSpecs, resolveOptions } = await import("@gm/stack/definition");
  const { createNetwork, removeStack } = await import("@gm/stack/docker");
  const { Kafka, logLevel } = await import("kafkajs");
  const { createKafkaAdmin, groupLag, totalLag } = await import("@gm/platform/kafka-admin");
  process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

  const id = `benchlag-${process.pid}`;
  const images = await resolveImages("3.9.1");
  const s = resolveOptions({ id, brokers: 1 }, () => randomBytes(16).toString("hex"), {
    kafka: images.kafka,
    postgres: images.postgres,
    platform: images.platformBase,
  });
  const port = await freePort();
  const spec = containerSpecs(s, [port]).find((x) => x.role === "kafka")!;
  log(`lag: one Kafka broker ${spec.image} (stack id ${id}) on 127.0.0.1:${port}`);
  const network = await createNetwork(id);
  const results: LagResult[] = [];
  try {
    await new GenericContainer(spec.image)
      .withName(`gm-${id}-${spec.name}`)
      .withNetworkMode(network)
      .withNetworkAliases(spec.name)
      .withHostname(spec.name)
      .withEnvironment(spec.env)
      .withLabels(spec.labels)
      .withExposedPorts({ container: spec.ports[0]!.container, host: port })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(120_000)
      .withPullPolicy({ shouldPull: () => false })
      .start();
    const brokers = [`127.0.0.1:${port}`];
    const kafka = new Kafka({ clientId: "bench-lag-setup", brokers, logLevel: logLevel.NOTHING });
    const setup = kafka.admin();
    await setup.connect();
    // idempotent: a send retried on a loaded machine must not write its records twice (the expected lag counts them once)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const admin = createKafkaAdmin({ brokers, clientId: "gm-prober", timeoutMs: 30_000 });
    try {
      for (const n of o.partitions) {
        const topic = `bench-lag-${n}`;
        const group = `bench-lag-group-${n}`;
        await setup.createTopics({ topics: [{ topic, numPartitions: n, replicationFactor: 1 }], waitForLeaders: true, timeout: 120_000 });
        // partition p gets p % 7 + 3 records; the group committed p % 3 of them
        const messages = Array.from({ length: n }, (_, p) =>
          Array.from({ length: (p % 7) + 3 }, () => ({ partition: p, value: "x" })),
        ).flat();
        // The end offset of each partition as the broker acknowledged it (baseOffset + records of that send):
        // a batch refused under load ("not the leader" right after the topic was created) is sent again,
        // and what a refused batch did write on other partitions is then counted by the later acknowledgment.
        const high = new Map<number, number>();
        for (let i = 0; i < messages.length; i += 2000) {
          const batch = messages.slice(i, i + 2000);
          for (let attempt = 1; ; attempt++) {
            try {
              const acks = await producer.send({ topic, acks: -1, messages: batch });
              for (const a of acks) {
                const count = batch.filter((m) => m.partition === a.partition).length;
                high.set(a.partition, Math.max(high.get(a.partition) ?? 0, Number(a.baseOffset) + count));
              }
              break;
            } catch (err) {
              if (attempt >= 10) throw err;
              await new Promise((r) => setTimeout(r, 1000));
            }
          }
        }
        // the group coordinator may not be elected yet on a loaded broker ("Failed to find group coordinator")
        await retrying(60_000, () =>
          setup.setOffsets({
            groupId: group,
            topic,
            partitions: Array.from({ length: n }, (_, p) => ({ partition: p, offset: String(p % 3) })),
          }),
        );
        const expectedLag = Array.from({ length: n }, (_, p) => (high.get(p) ?? 0) - (p % 3)).reduce((a, b) => a + b, 0);

        const times: number[] = [];
        const cpuTimes: number[] = [];
        const requestTimes: number[] = [];
        const perRead: { total: number; byApi: Record<string, number> }[] = [];
        let lag = 0;
        for (let r = 0; r <= o.reads; r++) {
          const byApi: Record<string, number> = {};
          let total = 0;
          let requestMs = 0;
          let cpuMs = 0;
          const ms = await admin.use(async (a) => {
            const off = a.on(a.events.REQUEST, (e: { payload: { apiName: string; duration?: number } }) => {
              total++;
              byApi[e.payload.apiName] = (byApi[e.payload.apiName] ?? 0) + 1;
              requestMs += e.payload.duration ?? 0;
            });
            try {
              const t0 = performance.now();
              const cpu0 = process.cpuUsage();
              const parts = await groupLag(a, topic, group);
              const ms = performance.now() - t0;
              const cpu = process.cpuUsage(cpu0);
              cpuMs = (cpu.user + cpu.system) / 1000;
              lag = totalLag(parts);
              return ms;
            } finally {
              off();
            }
          });
          perRead.push({ total, byApi });
          // the first read warms the metadata cache and the coordinator lookup
          if (r > 0) {
            times.push(ms);
            cpuTimes.push(cpuMs);
            requestTimes.push(requestMs);
          }
        }
        const steady = perRead.slice(1);
        const res: LagResult = {
          partitions: n,
          medianMs: +median(times).toFixed(1),
          minMs: +Math.min(...times).toFixed(1),
          maxMs: +Math.max(...times).toFixed(1),
          reads: times.length,
          cpuMs: +median(cpuTimes).toFixed(1),
          requestMs: +median(requestTimes).toFixed(1),
          requestsPerRead: median(steady.map((x) => x.total)),
          requestsByApi: steady[steady.length - 1]!.byApi,
          firstReadRequests: perRead[0]!.total,
          totalLag: lag,
          expectedLag,
        };
        log(
          `  ${n} partitions: median ${res.medianMs} ms (${res.minMs}–${res.maxMs}), ${res.requestsPerRead} Kafka requests per read ${JSON.stringify(res.requestsByApi)}, lag ${lag} (expected ${expectedLag})`,
        );
        results.push(res);
      }
    } finally {
      await admin.close();
      await producer.disconnect().catch(() => undefined);
      await setup.disconnect().catch(() => undefined);
    }
  } finally {
    await removeStack(id).catch((err: Error) => log(`lag: removing stack ${id} failed: ${err.message}`));
  }
  return results;
}

async function retrying<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * At 10,000 targets gm-prober opens 20,000 connections at the start of a round (a /health probe and a
 * /metrics read per target), and the target server holds as many: both hit a 20,000 open-file limit
 * (EMFILE). Raised for this process and the sides it starts when allowed (util-linux prlimit; CAP_SYS_RESOURCE above the hard limit); said when not.
 */
function raiseOpenFileLimit(want: number, log: (m: string) => void): void {
  try {
    execFileSync("prlimit", [`--pid=${process.pid}`, `--nofile=${want}:${want}`], { stdio: "ignore" });
    log(`open-file limit raised to ${want} (prlimit)`);
  } catch {
    log(
      `could not raise the open-file limit to ${want} (prlimit needs CAP_SYS_RESOURCE above the hard limit): 10,000 targets may fail with EMFILE`,
    );
  }
}

// ---------- output ----------

const mb = (b: number) => (b / 1024 ** 2).toFixed(0);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "—");

export function costTable(rows: readonly CostResult[]): string {
  const out = [
    "| targets | side | runs | CPU s (min–max) | CPU s per 1,000 probes | % of one core | peak RSS MB (min–max) | probes/s (expected) | other req/s | target server % core | CPU prober/peer | RSS prober/peer |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const spread = (lo: number | undefined, hi: number | undefined, f: (x: number) => string) =>
    lo !== undefined && hi !== undefined && lo !== hi ? ` (${f(lo)}–${f(hi)})` : "";
  for (const r of rows) {
    const peer = rows.find((x) => x.targets === r.targets && x.side === "blackbox+prometheus");
    const mine = r.side === "gm-prober";
    const probes = r.probesPerSecond * r.seconds;
    out.push(
      `| ${r.targets} | ${r.side} | ${r.runs ?? 1} | ${r.cpuSeconds.toFixed(2)}${spread(r.cpuSecondsMin, r.cpuSecondsMax, (x) => x.toFixed(2))} | ${probes > 0 ? ((r.cpuSeconds / probes) * 1000).toFixed(3) : "—"} | ${((r.cpuSeconds / r.seconds) * 100).toFixed(1)} | ${mb(r.peakRssBytes)}${spread(r.peakRssBytesMin, r.peakRssBytesMax, mb)} | ${r.probesPerSecond} (${r.expectedProbesPerSecond}) | ${r.otherRequestsPerSecond} | ${r.targetServerCpuPercent ?? "—"} | ${mine && peer ? ratio(r.cpuSeconds, peer.cpuSeconds) : ""} | ${mine && peer ? ratio(r.peakRssBytes, peer.peakRssBytes) : ""} |`,
    );
  }
  return out.join("\n");
}

export function growthLines(rows: readonly CostResult[]): string[] {
  const lines: string[] = [];
  for (const side of ["gm-prober", "blackbox+prometheus"] as const) {
    const mine = rows.filter((r) => r.side === side);
    if (mine.length < 2) continue;
    lines.push(
      `${side}: log-log slope of CPU s vs targets ${describeGrowth(mine.map((r) => ({ x: r.targets, y: r.cpuSeconds })))}; of peak RSS ${describeGrowth(mine.map((r) => ({ x: r.targets, y: r.peakRssBytes })))}`,
    );
  }
  return lines;
}

export function lagTable(rows: readonly LagResult[]): string {
  const out = [
    "| partitions | lag read median ms (min–max) | CPU ms in the prober | ms in Kafka requests | Kafka requests per read | by API | first read | lag (expected) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows)
    out.push(
      `| ${r.partitions} | ${r.medianMs} (${r.minMs}–${r.maxMs}) | ${r.cpuMs ?? "—"} | ${r.requestMs ?? "—"} | ${r.requestsPerRead} | ${Object.entries(
        r.requestsByApi,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")} | ${r.firstReadRequests} | ${r.totalLag} (${r.expectedLag}) |`,
    );
  if (rows.length >= 2) {
    out.push("");
    out.push(`lag read: log-log slope of time vs partitions ${describeGrowth(rows.map((r) => ({ x: r.partitions, y: r.medianMs })))}`);
    out.push(`Kafka requests per read: slope ${describeGrowth(rows.map((r) => ({ x: r.partitions, y: r.requestsPerRead })))}`);
  }
  return out.join("\n");
}

/**
 * Issue 11 §3's goals beside the measurements: 1,000 targets at 5 s within 20% of one core and 150 MB RSS
 * and at most the blackbox_exporter + Prometheus pair's CPU; 5,000 partitions' lag within 200 ms with a
 * number of Kafka requests per read that does not grow with the partitions. A size not measured says so.
 */
export function goalLines(cost: readonly CostResult[], lag: readonly LagResult[]): string[] {
  const verdict = (ok: boolean) => (ok ? "met" : "NOT MET");
  const lines: string[] = [];
  const p = cost.find((r) => r.targets === 1000 && r.side === "gm-prober");
  const peer = cost.find((r) => r.targets === 1000 && r.side === "blackbox+prometheus");
  if (p) {
    const core = (p.cpuSeconds / p.seconds) * 100;
    lines.push(`goal: 1,000 targets ≤ 20% of one core: ${core.toFixed(1)}% — ${verdict(core <= 20)}`);
    lines.push(`goal: 1,000 targets ≤ 150 MB peak RSS: ${mb(p.peakRssBytes)} MB — ${verdict(p.peakRssBytes <= 150 * 1024 ** 2)}`);
    if (peer)
      lines.push(
        `goal: 1,000 targets at most the peer's CPU: ${p.cpuSeconds.toFixed(2)} vs ${peer.cpuSeconds.toFixed(2)} CPU s — ${verdict(p.cpuSeconds <= peer.cpuSeconds)}`,
      );
  } else if (cost.length) lines.push("goal: 1,000 targets — not measured (--targets without 1000)");
  const l = lag.find((r) => r.partitions === 5000);
  if (l) lines.push(`goal: 5,000 partitions' lag read ≤ 200 ms: median ${l.medianMs} ms — ${verdict(l.medianMs <= 200)}`);
  if (lag.length >= 2) {
    const reqs = lag.map((r) => r.requestsPerRead);
    const constant = Math.max(...reqs) - Math.min(...reqs) <= 1;
    lines.push(`goal: a constant number of Kafka requests per read: ${reqs.join(" / ")} — ${verdict(constant)}`);
  }
  return lines;
}

/** A log-log plot of CPU seconds against targets, one line per side (SVG, no dependency). */
export function costSvg(rows: readonly CostResult[]): string {
  const W = 560;
  const H = 360;
  const m = { l: 60, r: 170, t: 20, b: 45 };
  const xs = rows.map((r) => r.targets);
  const ys = rows.map((r) => r.cpuSeconds).filter((y) => y > 0);
  if (xs.length === 0 || ys.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"/>`;
  const lx = [Math.log10(Math.min(...xs)), Math.log10(Math.max(...xs))];
  const ly = [Math.floor(Math.log10(Math.min(...ys))), Math.ceil(Math.log10(Math.max(...ys)))];
  if (lx[1] === lx[0]) lx[1] = lx[0]! + 1;
  if (ly[1] === ly[0]) ly[1] = ly[0]! + 1;
  const px = (x: number) => m.l + ((Math.log10(x) - lx[0]!) / (lx[1]! - lx[0]!)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((Math.log10(y) - ly[0]!) / (ly[1]! - ly[0]!)) * (H - m.t - m.b);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="${H - 8}" text-anchor="middle">HTTP targets (log)</text>`,
    `<text x="14" y="${(H - m.b + m.t) / 2}" transform="rotate(-90 14 ${(H - m.b + m.t) / 2})" text-anchor="middle">CPU seconds per window (log)</text>`,
  ];
  for (const x of [...new Set(xs)]) parts.push(`<text x="${px(x)}" y="${H - m.b + 15}" text-anchor="middle">${x}</text>`);
  for (let e = ly[0]!; e <= ly[1]!; e++)
    parts.push(
      `<line x1="${m.l - 4}" y1="${py(10 ** e)}" x2="${W - m.r}" y2="${py(10 ** e)}" stroke="#ddd"/><text x="${m.l - 6}" y="${py(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>`,
    );
  const colors = { "gm-prober": "#1f77b4", "blackbox+prometheus": "#d62728" } as const;
  let legend = 0;
  for (const side of ["gm-prober", "blackbox+prometheus"] as const) {
    const pts = rows.filter((r) => r.side === side && r.cpuSeconds > 0).sort((a, b) => a.targets - b.targets);
    if (pts.length === 0) continue;
    const slope = logLogSlope(pts.map((r) => ({ x: r.targets, y: r.cpuSeconds })));
    parts.push(
      `<polyline fill="none" stroke="${colors[side]}" stroke-width="2" points="${pts.map((r) => `${px(r.targets).toFixed(1)},${py(r.cpuSeconds).toFixed(1)}`).join(" ")}"/>`,
    );
    for (const r of pts)
      parts.push(`<circle cx="${px(r.targets).toFixed(1)}" cy="${py(r.cpuSeconds).toFixed(1)}" r="3" fill="${colors[side]}"/>`);
    parts.push(
      `<text x="${W - m.r + 10}" y="${m.t + 15 + legend * 18}" fill="${colors[side]}">${side}${slope === undefined ? "" : ` (slope ${slope.toFixed(2)})`}</text>`,
    );
    legend++;
  }
  parts.push("</svg>");
  return parts.join("\n");
}

async function main(args: string[]): Promise<number> {
  requireNode24("bench:prober");
  silenceKafkajsTimeoutWarning();
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(
      [
        "usage: npm run bench:prober -- [options]",
        "Probing cost of gm-prober beside blackbox_exporter + Prometheus on the same HTTP targets, and lag reads at scale.",
        "  --targets 10,100,1000,10000   target counts to measure (default those)",
        "  --partitions 10,100,1000,5000 partition counts for the lag reads (default those)",
        "  --seconds S      measuring window per size and side (default 60)",
        "  --warmup S       before the window (default 15)",
        "  --reads N        lag reads per size (default 7)",
        "  --runs N         cost measurements per size and side: the table gives their median (default 1)",
        "  --only cost|lag  one part",
        "  --out DIR        result.json, table.md, cost.svg (default reports/bench-prober/<time>)",
        "  --from a.json,b.json  print earlier results as one table instead of measuring",
        "",
      ].join("\n"),
    );
    return 0;
  }
  let o: Options;
  try {
    o = parseOptions(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:prober: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = (m: string) => process.stderr.write(`[bench:prober] ${m}\n`);
  mkdirSync(o.out, { recursive: true });
  const started = new Date();
  const load = (await import("node:os")).loadavg().map((x) => x.toFixed(2));
  let cost: CostResult[] = [];
  let lag: LagResult[] = [];
  const sources: string[] = [];
  const failures: string[] = [];
  try {
    if (o.from.length) {
      for (const f of o.from) {
        let r: { cost?: CostResult[]; lag?: LagResult[] };
        try {
          r = JSON.parse(readFileSync(f, "utf8"));
        } catch (err) {
          throw new UsageError(`--from ${f}: expected a result.json of bench:prober (${(err as Error).message})`);
        }
        const meta = r as { startedAt?: string; loadAverage?: { start: string[]; end: string[] } };
        sources.push(`${f} (${meta.startedAt}, load average ${meta.loadAverage?.start.join(" ")} → ${meta.loadAverage?.end.join(" ")})`);
        cost.push(...(r.cost ?? []));
        lag.push(...(r.lag ?? []));
      }
      cost.sort((a, b) => a.targets - b.targets || (a.side === "gm-prober" ? -1 : 1));
      lag.sort((a, b) => a.partitions - b.partitions);
    } else {
      if (o.only !== "lag") {
        raiseOpenFileLimit(200_000, log);
        cost = await runCost(o, log, failures);
      }
      if (o.only !== "cost")
        lag = await runLag(o, log).catch((err: unknown) => {
          log(`lag failed: ${err instanceof Error ? err.message : String(err)}`);
          failures.push(`lag: ${err instanceof Error ? err.message : String(err)}`);
          return [];
        });
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:prober: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const loadAfter = (await import("node:os")).loadavg().map((x) => x.toFixed(2));
  const measured = `bench:prober ${started.toISOString()} on ${(await import("node:os")).cpus().length} cores, load average ${load.join(" ")} at start, ${loadAfter.join(" ")} at end; interval ${INTERVAL_SECONDS} s, warm-up ${o.warmup} s, measured ${o.seconds} s`;
  const head = sources.length ? `bench:prober results of ${sources.join("; ")}` : measured;
  // several runs of a size and side (--runs, or --from files of separate runs): their medians
  const costMedians = medianCost(cost);
  const text = [
    head,
    "",
    ...(cost.length ? [costTable(costMedians), "", ...growthLines(costMedians), ""] : []),
    ...(lag.length ? [lagTable(lag), ""] : []),
    ...goalLines(costMedians, lag),
    ...failures.map((f) => `FAILED: ${f}`),
  ].join("\n");
  process.stdout.write(`${text}\n`);
  writeFileSync(
    join(o.out, "result.json"),
    `${JSON.stringify({ startedAt: started.toISOString(), loadAverage: { start: load, end: loadAfter }, options: o, intervalSeconds: INTERVAL_SECONDS, cost, costMedians, lag, failures }, null, 2)}\n`,
  );
  writeFileSync(join(o.out, "table.md"), `${text}\n`);
  if (cost.length) writeFileSync(join(o.out, "cost.svg"), `${costSvg(costMedians)}\n`);
  log(`written ${join(o.out, "result.json")}, table.md${cost.length ? ", cost.svg" : ""}`);
  return failures.length ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(exitAfterFlush, (err: unknown) => {
    process.stderr.write(`bench:prober: ${err instanceof Error ? err.message : String(err)}\n`);
    exitAfterFlush(1);
  });
}
