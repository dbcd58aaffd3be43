/**
 * `npm run bench:page`: time to page, gm-prober against the Prometheus pipeline SRE teams run today, on
 * the same faults of one real stack (issue 11 §1–§2, "time to page"). Started here and stopped at the end:
 * - the stack (@gm/stack startStack, its own id) with the built-in load, the Prometheus JMX exporter agent
 *   (Maven Central's jmx_prometheus_javaagent, .bench/) loaded into each of its brokers (`kafkaJmxExporter`);
 * - gm-prober's own round as the drills run it (startDrillObserver: createProber, default 5 s interval),
 *   alerting a real Alertmanager (Debian's) with the committed routing deploy/alertmanager/alertmanager.yml;
 * - Prometheus (Debian's) twice, deploy/bench/prometheus/: the kube-prometheus profile (30 s scrape and
 *   evaluation, the rules' usual `for:`) and the tuned one (5 s, short `for:`), both alerting the SAME
 *   Alertmanager, scraping the services' /metrics, prometheus-postgres-exporter (Debian),
 *   prometheus-kafka-consumer-group-exporter (PyPI: danielqsj/kafka_exporter is refused by the Go module
 *   proxy here), blackbox_exporter's tcp_connect on each broker, each broker's JMX exporter agent
 *   (Strimzi's Kafka rules) and gm-cadvisor (cAdvisor's library from the Go module proxy behind our main,
 *   deploy/bench/cadvisor: container metrics and OOM kills; deploy/bench/README.md says what is whose).
 * Alertmanager's receivers are the recording stand-ins of @gm/monitor's startAlertmanager (loopback);
 * page-timing.ts tells the pipelines apart by the `pipeline` label each Prometheus adds (the prober's
 * alerts have none). Two edits to the routing, both said in the output: `pipeline` joins `group_by` and the
 * inhibit rule's `equal` (one pipeline's alert must not join or silence another's group), and the
 * business-hours interval is moved to now (a P3 ticket is measured, not held until 09:00 on a weekday).
 * Alertmanager is started afresh before every fault (behind one loopback address, fault-proxy.ts): a group
 * the previous fault left would hold this fault's page until its group_interval (5 min for P2, 30 min for
 * P3), so each fault is measured as a first occurrence.
 *
 * Per fault and run: injection (the drill's fault code, faults.ts, or a SIGKILL of ingest-api for "service
 * down") → the first matching page per pipeline (or "not detected" by the timeout), the end of the
 * prober's round that classified it, when the system itself showed it (a 0.5 s check here), and for each
 * of the fault's Prometheus alerts when it was seen firing and first notified (the wait goes on, up to the
 * timeout, until every one of them fired and was notified or held back 75 s: which rule pages and which the
 * routing holds back) → undo,
 * always (also on SIGINT/SIGTERM and errors) → recovery (nothing open in the prober nor firing in either
 * Prometheus) before the next. Prints a table with the issue's goals beside it and writes JSON.
 *   node apps/chaos-runner/dist/bench/page-bench.js [--runs N] [--faults a,b] [--json PATH] [--timeout S]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { startAlertmanager, type RunningAlertmanager } from "@gm/monitor/alertmanager-run";
import { createDockerPlatform } from "@gm/platform/docker";
import { createKafkaPort } from "@gm/platform/kafka-admin";
import { requireNode24, silenceKafkajsTimeoutWarning } from "@gm/stack/runtime";
import { type Stack, startStack } from "@gm/stack/stack";
import { drillPolicy } from "../commands/drill.js";
import { defaultScenariosDir } from "../drill/load-scenarios.js";
import { createFault, type Fault } from "../drill/faults.js";
import type { Observer } from "../drill/observe.js";
import { startDrillObserver } from "../drill/run.js";
import { startHttpLoad, type LoadRun } from "../load/http-load.js";
import { startFaultProxy } from "./fault-proxy.js";
import {
  type AlertMatch,
  alertTimings,
  benchRouting,
  type FaultRun,
  firstPage,
  matches,
  matchName,
  type PageRecord,
  type Pipeline,
  PIPELINES,
  pageRecords,
  renderAlertTimings,
  renderTable,
  secondsBetween,
  summarizeFault,
} from "./page-timing.js";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const PROM_DIR = join(REPO, "deploy/bench/prometheus");
const PROBER_INTERVAL_S = 5;
/** The JMX exporter agent's version, fetched by scripts/setup.sh --bench (the newest Maven Central serves here). */
const JMX_EXPORTER_VERSION = "1.0.1";
const KUBE_INTERVAL_S = 30;

/** The faults, by the name `--faults` takes. */
export const FAULT_NAMES = ["broker-kill", "service-down", "lag", "pool-exhausted", "oom", "5xx"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

interface FaultPlan {
  name: FaultName;
  describe: string;
  goal: string;
  prober: AlertMatch[];
  prometheus: AlertMatch[];
}

const PLANS: Record<FaultName, FaultPlan> = {
  "broker-kill": {
    name: "broker-kill",
    describe: "SIGKILL kafka-3 (one of three brokers; faults.ts kill-broker)",
    goal: "≤ 15 s p95 (P0/P1 route; one broker is P2 here) vs ≈70–150 s kube",
    prober: [{ kind: "kafka-broker-down" }],
    // blackbox_exporter's probe and Strimzi's rules on the JMX exporter agent (the killed broker's scrape
    // fails; the others report its replicas out of sync)
    prometheus: [{ alertname: "BlackboxProbeFailed" }, { alertname: "UnderReplicatedPartitions" }, { alertname: "ScrapeProblem" }],
  },
  "service-down": {
    name: "service-down",
    describe: "SIGKILL ingest-api (its only instance)",
    goal: "≤ 15 s p95 (P0) vs ≈70–150 s kube",
    prober: [{ kind: "service-down", subject: "ingest-api" }],
    prometheus: [{ alertname: "PrometheusTargetMissing", subject: "ingest-api" }],
  },
  lag: {
    name: "lag",
    describe: "every event-processor-service replica paused while load goes on (faults.ts pause-consumers): lag above 10,000",
    goal: "—",
    // Paused replicas stop answering too: each pipeline's P0 service-down on the processor inhibits its lag
    // alert (the committed routing's inhibit rule, same subject), so that page is the one the on-call gets.
    prober: [{ kind: "high-consumer-lag" }, { kind: "service-down", subject: "event-processor-service" }],
    prometheus: [{ alertname: "KafkaConsumersGroup" }, { alertname: "PrometheusTargetMissing", subject: "event-processor-service" }],
  },
  "pool-exhausted": {
    name: "pool-exhausted",
    describe: "a leaking client holds every non-reserved PostgreSQL connection (faults.ts hold-connections)",
    goal: "—",
    prober: [{ kind: "db-pool-exhausted" }],
    prometheus: [{ alertname: "PostgresqlTooManyConnections" }],
  },
  oom: {
    name: "oom",
    describe: "stats-api's memory limit lowered to 16 MiB (faults.ts memory-limit): kernel OOM kill",
    goal: "≤ 15 s p95 (P0/P1) vs ≈70–150 s kube",
    prober: [{ kind: "service-oom" }, { kind: "service-down", subject: "stats-api" }],
    // cAdvisor's OOM counter, the Docker engine's oom events (gm-cadvisor) and the target gone
    prometheus: [
      { alertname: "ContainerOomKiller" },
      { alertname: "DockerContainerOomKilled" },
      { alertname: "PrometheusTargetMissing", subject: "stats-api" },
    ],
  },
  "5xx": {
    name: "5xx",
    describe: "SIGKILL two of three brokers (faults.ts kill-broker count 2): ingest-api refuses writes with 503, 5xx above 10%",
    goal: "—",
    prober: [{ kind: "high-error-rate" }],
    prometheus: [{ alertname: "HighHttp5xxErrorRate", subject: "ingest-api" }],
  },
};

/** A bad command line: its message names the option and what was expected; exit code 2. */
export class UsageError extends Error {}

export interface BenchArgs {
  runs: number;
  faults: FaultName[];
  json: string;
  timeoutSeconds: number;
}

/** The command line, checked: a bad value is a UsageError naming the option and what was expected. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { runs: 1, faults: [...FAULT_NAMES], json: "bench-results/page.json", timeoutSeconds: 300 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === "") throw new UsageError(`${name}: expected a value`);
      return v;
    };
    const positive = (v: string, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max)
        throw new UsageError(`${name}: expected a whole number from 1 to ${max}, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (name) {
      case "--runs":
        out.runs = positive(value(), 50);
        break;
      case "--timeout":
        out.timeoutSeconds = positive(value(), 3600);
        break;
      case "--json":
        out.json = value();
        break;
      case "--faults": {
        const list = value()
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = list.filter((f) => !(FAULT_NAMES as readonly string[]).includes(f));
        if (bad.length > 0 || list.length === 0)
          throw new UsageError(
            `--faults: expected a comma-separated list of ${FAULT_NAMES.join(", ")}, got ${JSON.stringify(bad.join(",") || "")}`,
          );
        out.faults = list as FaultName[];
        break;
      }
      case "-h":
      case "--help":
        throw new UsageError("usage: page-bench [--runs N] [--faults a,b] [--json PATH] [--timeout SECONDS]");
      default:
        throw new UsageError(`${name}: unknown option (expected --runs, --faults, --json or --timeout)`);
    }
  }
  return out;
}

const log = (msg: string) => process.stderr.write(`[bench:page ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startProc(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const out: string[] = [];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
  const keep = (b: Buffer) => {
    out.push(b.toString());
    if (out.length > 200) out.splice(0, out.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (err) => out.push(`spawn error: ${err.message}`));
  return {
    name,
    child,
    output: () => out.join(""),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(killer);
    },
  };
}

async function waitHttp(p: Proc, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}: ${p.output().slice(-1500)}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(300);
  }
  throw new Error(`${p.name} not ready at ${url} within ${timeoutMs} ms: ${p.output().slice(-1500)}`);
}

const hostPort = (url: string) => new URL(url).host;

/** The Prometheus of one profile: its config copied beside the targets, `alerting` pointed at Alertmanager. */
async function startPrometheus(
  profile: "kube-prometheus" | "tuned",
  targets: Record<string, unknown>,
  alertmanagerUrl: string,
  stackId: string,
): Promise<{ proc: Proc; url: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `gm-bench-prom-${profile}-`));
  mkdirSync(join(dir, "targets"));
  const config = parse(await readFile(join(PROM_DIR, `prometheus.${profile}.yml`), "utf8")) as {
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: { job_name: string; metric_relabel_configs?: { action?: string; regex?: string }[] }[];
  };
  config.alerting.alertmanagers[0]!.static_configs[0]!.targets = [hostPort(alertmanagerUrl)];
  // cAdvisor sees every container of the engine, other sessions' stacks too: keep this stack's only
  const keep = config.scrape_configs.find((j) => j.job_name === "cadvisor")?.metric_relabel_configs?.find((r) => r.action === "keep");
  if (!keep) throw new Error(`prometheus.${profile}.yml: job cadvisor has no metric_relabel_configs keep rule to narrow to the stack`);
  keep.regex = stackId;
  await writeFile(join(dir, "prometheus.yml"), stringify(config));
  await copyFile(join(PROM_DIR, `rules.${profile}.yml`), join(dir, `rules.${profile}.yml`));
  for (const [job, t] of Object.entries(targets)) await writeFile(join(dir, "targets", `${job}.json`), JSON.stringify(t));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProc(`prometheus (${profile})`, process.env["PROMETHEUS_BIN"] ?? "/usr/bin/prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  await waitHttp(proc, `${url}/-/ready`);
  return { proc, url, dir };
}

/** Alerts firing or pending in one Prometheus (its /api/v1/alerts). */
async function promAlerts(url: string): Promise<{ name: string; state: string; labels: Record<string, string> }[]> {
  const r = await fetch(`${url}/api/v1/alerts`, { signal: AbortSignal.timeout(3_000) });
  const j = (await r.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
  return j.data.alerts.map((a) => ({ name: `${a.labels["alertname"]}{${a.labels["subject"] ?? ""}}`, state: a.state, labels: a.labels }));
}

/**
 * The OOM rules say "an OOM kill in the last 10 minutes" (kube-state-metrics' rule, `increase(…[10m])`):
 * they stay firing ten minutes after the kill by design, so the wait for a quiet system does not wait for them
 * (nor for the prober's external-alert incident that mirrors them).
 */
const TEN_MINUTE_WINDOW = new Set(["ContainerOomKiller", "DockerContainerOomKilled"]);

/** How long after an alert fired the bench still waits for its notification (P3's group_wait 1 min + 15 s). */
const SETTLE_MS = 75_000;

async function tcpRefused(address: string): Promise<boolean> {
  const u = new URL(`tcp://${address}`);
  return await new Promise<boolean>((r) => {
    const s = new Socket();
    const done = (refused: boolean) => {
      s.destroy();
      r(refused);
    };
    s.setTimeout(1_000, () => done(true));
    s.once("connect", () => done(false));
    s.once("error", () => done(true));
    s.connect(Number(u.port), u.hostname);
  });
}

function fiveXxCount(metrics: string): number {
  let n = 0;
  for (const line of metrics.split("\n"))
    if (line.startsWith("http_requests_total{") && /code="5\d\d"/.test(line)) n += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
  return n;
}

const INTERVALS = { prober: PROBER_INTERVAL_S, kube: KUBE_INTERVAL_S };

/** The peers, printed above the table (deploy/bench/README.md has each one's source and why). */
const PEERS = [
  "pipelines: gm-prober (5 s rounds); Prometheus (Debian) kube-prometheus profile (30 s) and tuned (5 s); one Alertmanager (Debian), committed routing",
  "exporters: the services' /metrics; prometheus-postgres-exporter (Debian); prometheus-kafka-consumer-group-exporter (PyPI);",
  `  blackbox_exporter tcp_connect (Debian); JMX exporter agent ${JMX_EXPORTER_VERSION} in each broker (Maven Central; Strimzi's Kafka rules);`,
  "  gm-cadvisor: cAdvisor 0.57 library + Docker handler (Go module proxy; ContainerOomKiller) and the Docker engine's oom events (DockerContainerOomKilled)",
].join("\n");

/** The JSON for a later aggregator, written after every run (`partial` until the last), so a stopped bench leaves what it measured. */
function writeResults(args: BenchArgs, runs: FaultRun[], t0: number, partial: boolean): string {
  const out = resolve(args.json);
  mkdirSync(dirname(out), { recursive: true });
  const summaries = args.faults.map((f) => summarizeFault(f, PLANS[f].goal, runs, INTERVALS));
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: "page",
        partial,
        at: new Date(t0).toISOString(),
        wallSeconds: (Date.now() - t0) / 1000,
        intervals: { proberSeconds: PROBER_INTERVAL_S, kubePrometheusSeconds: KUBE_INTERVAL_S, tunedSeconds: 5 },
        faults: Object.fromEntries(
          args.faults.map((f) => [
            f,
            { describe: PLANS[f].describe, goal: PLANS[f].goal, prober: PLANS[f].prober, prometheus: PLANS[f].prometheus },
          ]),
        ),
        summaries,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  return out;
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:page: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const lagExporter = process.env["GM_KAFKA_LAG_EXPORTER"] ?? join(REPO, ".bench/venv/bin/prometheus-kafka-consumer-group-exporter");
  const bins = {
    prometheus: process.env["PROMETHEUS_BIN"] ?? "/usr/bin/prometheus",
    postgres: "/usr/bin/prometheus-postgres-exporter",
    blackbox: "/usr/bin/prometheus-blackbox-exporter",
    lag: lagExporter,
    jmxAgent: process.env["GM_JMX_EXPORTER_JAR"] ?? join(REPO, `.bench/jmx_prometheus_javaagent-${JMX_EXPORTER_VERSION}.jar`),
    cadvisor: process.env["GM_CADVISOR_BIN"] ?? join(REPO, ".bench/gm-cadvisor"),
  };
  const missing = Object.entries(bins).filter(([, b]) => !existsSync(b));
  if (missing.length > 0) {
    process.stderr.write(
      `bench:page: missing ${missing.map(([k, b]) => `${k} (${b})`).join(", ")}: run bash scripts/setup.sh --bench (GM_KAFKA_LAG_EXPORTER / GM_JMX_EXPORTER_JAR / GM_CADVISOR_BIN / PROMETHEUS_BIN to point elsewhere)\n`,
    );
    return 2;
  }

  const cleanups: (() => Promise<void>)[] = [];
  let undoCurrent: (() => Promise<void>) | null = null;
  let stopping = false;
  const cleanup = async () => {
    if (undoCurrent) {
      const u = undoCurrent;
      undoCurrent = null;
      await u().catch((err) => log(`undo failed: ${err instanceof Error ? err.message : String(err)}`));
    }
    for (const c of cleanups.splice(0).reverse())
      await c().catch((err) => log(`clean-up: ${err instanceof Error ? err.message : String(err)}`));
  };
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: undoing the fault and stopping everything`);
    void cleanup().then(() => process.exit(130));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const runs: FaultRun[] = [];
  const t0 = Date.now();
  try {
    const id = `pagebench-${randomBytes(3).toString("hex")}`;
    log(`starting stack ${id} (3 brokers, the JMX exporter agent ${JMX_EXPORTER_VERSION} in each)`);
    const stack: Stack = await startStack({
      id,
      brokers: 3,
      kafkaJmxExporter: { jar: bins.jmxAgent, config: join(PROM_DIR, "jmx-kafka.yml") },
      onProgress: (m) => log(m),
    });
    cleanups.push(async () => {
      log(`stopping stack ${id}`);
      await stack.stop();
    });
    const e = stack.endpoints;

    // A fresh Alertmanager (same routing) before every fault, behind one fixed loopback address that the
    // prober and both Prometheus post to: a group notified in the previous fault would otherwise hold this
    // fault's page until its group_interval (5 min for P2, 30 min for P3) — each fault is measured as a
    // first occurrence.
    const notificationSets: RunningAlertmanager["notifications"][] = [];
    const freshAlertmanager = async () => {
      const fresh = await startAlertmanager({ edit: (config) => benchRouting(config) });
      notificationSets.push(fresh.notifications);
      return fresh;
    };
    let am: RunningAlertmanager = await freshAlertmanager();
    cleanups.push(() => am.stop());
    const amProxy = await startFaultProxy({ upstream: () => am.url, name: "alertmanager" });
    cleanups.push(() => amProxy.close());
    log(
      `alertmanager ${amProxy.url} (→ ${am.url}): committed routing; edits: group_by and inhibit equal + [pipeline], business-hours moved to now`,
    );

    // Exporters (one each, shared by both profiles).
    const pgPort = await freePort();
    const pgExp = startProc("prometheus-postgres-exporter", bins.postgres, [`--web.listen-address=127.0.0.1:${pgPort}`], {
      ...process.env,
      DATA_SOURCE_NAME: e.postgresUrl.includes("sslmode")
        ? e.postgresUrl
        : `${e.postgresUrl}${e.postgresUrl.includes("?") ? "&" : "?"}sslmode=disable`,
    });
    cleanups.push(() => pgExp.stop());
    const bbPort = await freePort();
    const bb = startProc("prometheus-blackbox-exporter", bins.blackbox, [
      `--config.file=${join(PROM_DIR, "blackbox.yml")}`,
      `--web.listen-address=127.0.0.1:${bbPort}`,
    ]);
    cleanups.push(() => bb.stop());
    const lagPort = await freePort();
    const lagExp = startProc("prometheus-kafka-consumer-group-exporter", bins.lag, [
      "-b",
      e.kafkaBootstrapServers.join(","),
      "-p",
      String(lagPort),
      "--log-level",
      "WARNING",
    ]);
    cleanups.push(() => lagExp.stop());
    const cadvisorPort = await freePort();
    const cadvisor = startProc("gm-cadvisor", bins.cadvisor, [
      `-listen=127.0.0.1:${cadvisorPort}`,
      "-housekeeping=1s",
      "-labels=io.gamemetrics.stack,io.gamemetrics.role",
    ]);
    cleanups.push(() => cadvisor.stop());
    await waitHttp(cadvisor, `http://127.0.0.1:${cadvisorPort}/healthz`);
    const jmxUrls = e.kafkaJmxExporterUrls ?? [];
    if (jmxUrls.length !== e.kafkaBootstrapServers.length)
      throw new Error(`the stack has no JMX exporter URL per broker: ${jmxUrls.join(", ")}`);
    await waitHttp(pgExp, `http://127.0.0.1:${pgPort}/metrics`);
    await waitHttp(bb, `http://127.0.0.1:${bbPort}/metrics`);
    await waitHttp(lagExp, `http://127.0.0.1:${lagPort}/metrics`);

    const services = [
      { subject: "ingest-api", urls: [e.services["ingest-api"]] },
      { subject: "stats-api", urls: [e.services["stats-api"]] },
      { subject: "event-processor-service", urls: e.services["event-processor-service"] },
    ];
    const targets = {
      "gm-services": services.map((s) => ({ targets: s.urls.map(hostPort), labels: { subject: s.subject } })),
      postgres: [{ targets: [`127.0.0.1:${pgPort}`], labels: { subject: "postgres" } }],
      "kafka-lag": [{ targets: [`127.0.0.1:${lagPort}`], labels: { subject: e.consumerGroup } }],
      "kafka-brokers": e.kafkaBootstrapServers.map((b, i) => ({
        targets: [b],
        labels: { subject: `kafka-${i + 1}`, blackbox: `127.0.0.1:${bbPort}` },
      })),
      "kafka-jmx": jmxUrls.map((u, i) => ({ targets: [hostPort(u)], labels: { subject: `kafka-${i + 1}` } })),
      cadvisor: [{ targets: [`127.0.0.1:${cadvisorPort}`], labels: {} }],
    };
    const kube = await startPrometheus("kube-prometheus", targets, amProxy.url, id);
    cleanups.push(async () => {
      await kube.proc.stop();
      await rm(kube.dir, { recursive: true, force: true });
    });
    const tuned = await startPrometheus("tuned", targets, amProxy.url, id);
    cleanups.push(async () => {
      await tuned.proc.stop();
      await rm(tuned.dir, { recursive: true, force: true });
    });
    log(`prometheus kube-prometheus ${kube.url}, tuned ${tuned.url}`);
    log(
      `peers: postgres_exporter :${pgPort}, blackbox_exporter :${bbPort}, kafka lag exporter :${lagPort}, JMX exporter agent ${JMX_EXPORTER_VERSION} in each broker (${jmxUrls.map(hostPort).join(", ")}), gm-cadvisor :${cadvisorPort}`,
    );
    const promUrl: Partial<Record<Pipeline, string>> = { "prometheus-kube": kube.url, "prometheus-tuned": tuned.url };

    const policy = drillPolicy(undefined, defaultScenariosDir());
    const observer: Observer = await startDrillObserver({ endpoints: e, policy, alertmanager: { ...am, url: amProxy.url } });
    cleanups.push(() => observer.stop());
    const platform = createDockerPlatform({ stackId: e.stackId });
    const kafka = createKafkaPort({ brokers: e.kafkaBootstrapServers, topic: e.topic });
    cleanups.push(() => kafka.close());
    const records = (): PageRecord[] => notificationSets.flat().flatMap(pageRecords);

    const quiet = async (timeoutMs: number): Promise<string[]> => {
      const deadline = Date.now() + timeoutMs;
      let open: string[] = [];
      while (Date.now() < deadline) {
        const o = await observer.next();
        const prom = [...(await promAlerts(kube.url).catch(() => [])), ...(await promAlerts(tuned.url).catch(() => []))].filter(
          (a) => !TEN_MINUTE_WINDOW.has(a.labels["alertname"] ?? ""),
        );
        // the prober takes Prometheus' alerts in as external alerts (subject: the alert's name): those of the
        // 10-minute OOM rules stay open as long
        const mine = o.active.filter((i) => !(i.kind === "external-alert" && TEN_MINUTE_WINDOW.has(i.subject)));
        open = [...mine.map((i) => `prober ${i.kind}{${i.subject}}`), ...prom.map((a) => `prometheus ${a.name} ${a.state}`)];
        if (open.length === 0) return [];
      }
      return open;
    };

    const faultFor = (
      name: FaultName,
    ): { fault: Fault; shown: (baseline: number) => Promise<boolean>; baseline: () => Promise<number> } => {
      const target = { stackId: e.stackId, brokers: 3, postgresUrl: e.postgresUrl };
      const never = async () => 0;
      switch (name) {
        case "broker-kill":
          return {
            fault: createFault({ type: "kill-broker", params: { count: 1 } } as never, target),
            baseline: never,
            shown: () => tcpRefused(e.kafkaBootstrapServers[2]!),
          };
        case "5xx":
          return {
            fault: createFault({ type: "kill-broker", params: { count: 2 } } as never, target),
            baseline: async () => fiveXxCount(await (await fetch(`${e.services["ingest-api"]}/metrics`)).text()),
            shown: async (b) =>
              fiveXxCount(await (await fetch(`${e.services["ingest-api"]}/metrics`, { signal: AbortSignal.timeout(1_000) })).text()) > b,
          };
        case "service-down":
          return {
            fault: {
              describe: () => PLANS["service-down"].describe,
              prepare: async () => ({ instance: "ingest-api" }),
              apply: () => platform.kill("ingest-api", "SIGKILL"),
              recover: async () => {
                const st = await platform.state("ingest-api");
                if (st && !st.running) await platform.start("ingest-api");
              },
              leftovers: async () => ((await platform.state("ingest-api"))?.running === false ? ["ingest-api is not running"] : []),
            },
            baseline: never,
            shown: async () =>
              !(await fetch(`${e.services["ingest-api"]}/health`, { signal: AbortSignal.timeout(1_000) }).then(
                (r) => r.ok,
                () => false,
              )),
          };
        case "lag":
          return {
            fault: createFault({ type: "pause-consumers", params: {} } as never, target),
            baseline: never,
            shown: async () => (await kafka.groupLag(e.consumerGroup)) > 10_000,
          };
        case "pool-exhausted":
          // shown when apply() returns: it returns once the server refuses the next connection
          return {
            fault: createFault({ type: "hold-connections", params: {} } as never, target),
            baseline: never,
            shown: async () => true,
          };
        case "oom":
          return {
            fault: createFault({ type: "memory-limit", params: { service: "stats-api", bytes: 16 * 1024 * 1024 } } as never, target),
            baseline: never,
            shown: async () => (await platform.listInstances("stats-api")).some((i) => !i.running),
          };
      }
    };

    log("waiting for steady state (nothing open in the prober, nothing firing in either Prometheus)");
    const load0: LoadRun = startHttpLoad({
      ingestUrl: e.services["ingest-api"],
      runId: `${id}-warm`,
      rate: 20,
      batch: 50,
      reads: { statsUrl: e.services["stats-api"], rate: 5 },
    });
    const open0 = await quiet(180_000);
    await load0.stop();
    if (open0.length > 0) log(`not steady after 180 s, going on: ${open0.join(", ")}`);

    for (let run = 1; run <= args.runs && !stopping; run++) {
      for (const name of args.faults) {
        if (stopping) break;
        const plan = PLANS[name];
        const notes: string[] = [];
        const load = startHttpLoad({
          ingestUrl: e.services["ingest-api"],
          runId: `${id}-${name}-${run}`,
          rate: 20,
          batch: 50,
          reads: { statsUrl: e.services["stats-api"], rate: 5 },
        });
        const pre = await quiet(180_000);
        if (pre.length > 0) notes.push(`not quiet before injection: ${pre.join(", ")}`);
        const previous = am;
        am = await freshAlertmanager();
        await previous.stop();
        // A fault's alert still firing from an earlier one (the OOM rules' 10-minute window) would be
        // notified again by the fresh Alertmanager and taken for this fault's page: left out of this run.
        const before: Partial<Record<Pipeline, Set<string>>> = {};
        for (const [p, url] of Object.entries(promUrl) as [Pipeline, string][]) {
          const already = new Set<string>();
          for (const a of await promAlerts(url).catch(() => []))
            for (const m of plan.prometheus) if (a.state === "firing" && matches(a.labels, [m])) already.add(matchName(m));
          before[p] = already;
          if (already.size > 0)
            notes.push(`${p}: ${[...already].join(", ")} already firing before injection (an earlier fault's): left out`);
        }
        const planFor = (p: Pipeline): AlertMatch[] =>
          p === "prober" ? plan.prober : plan.prometheus.filter((m) => !before[p]?.has(matchName(m)));
        const f = faultFor(name);
        const baseline = await f.baseline().catch(() => 0);
        const undo = await f.fault.prepare();
        undoCurrent = () => f.fault.recover(undo);
        log(`run ${run} ${name}: ${plan.describe}`);
        const injectedAt = Date.now();
        let shownAt: number | null = null;
        let checking = true;
        const applying = f.fault.apply(undo);
        const checker = (async () => {
          await (name === "pool-exhausted" ? applying.catch(() => undefined) : undefined);
          while (checking && shownAt === null) {
            if (await f.shown(baseline).catch(() => false)) shownAt = Date.now();
            else await sleep(500);
          }
        })();
        await applying;
        let classifiedAt: number | null = null;
        const deadline = injectedAt + args.timeoutSeconds * 1000;
        const paged = () => PIPELINES.every((p) => firstPage(records(), p, planFor(p), injectedAt) !== null);
        // each Prometheus pipeline: when each of the fault's alerts was first seen firing (matchName → ms)
        const fired: Partial<Record<Pipeline, Map<string, number>>> = {};
        const pollFired = async () => {
          for (const [p, url] of Object.entries(promUrl) as [Pipeline, string][]) {
            const seen = fired[p] ?? new Map<string, number>();
            fired[p] = seen;
            const now = Date.now();
            for (const a of await promAlerts(url).catch(() => []))
              if (a.state === "firing")
                for (const m of planFor(p)) if (matches(a.labels, [m]) && !seen.has(matchName(m))) seen.set(matchName(m), now);
          }
        };
        // done with the Prometheus alerts when each one was notified, or fired long enough ago that its
        // notification would have come (the longest group_wait, P3's 1 min, + 15 s): one the routing holds
        // back (inhibited) never comes
        const settled = () =>
          (Object.keys(promUrl) as Pipeline[]).every((p) =>
            planFor(p).every((m) => {
              const at = fired[p]?.get(matchName(m));
              if (at === undefined) return false;
              return firstPage(records(), p, [m], injectedAt) !== null || Date.now() - at > SETTLE_MS;
            }),
          );
        while (Date.now() < deadline && !stopping) {
          await pollFired();
          const o = await Promise.race([observer.next(), sleep(1_000).then(() => null)]);
          if (
            o &&
            classifiedAt === null &&
            o.startedAt >= injectedAt - PROBER_INTERVAL_S * 1000 &&
            o.incidents.some((i) => matches({ kind: i.kind, subject: i.subject }, plan.prober))
          )
            classifiedAt = o.at;
          if (classifiedAt !== null && paged() && settled()) break;
        }
        checking = false;
        await checker;
        const rec = records();
        const page = Object.fromEntries(
          PIPELINES.map((p) => {
            const hit = firstPage(rec, p, planFor(p), injectedAt);
            return [
              p,
              {
                seconds: secondsBetween(injectedAt, hit?.at),
                alert: hit ? `${hit.labels["alertname"]} ${hit.labels["severity"] ?? ""}`.trim() : null,
                receiver: hit?.receiver ?? null,
              },
            ];
          }),
        ) as FaultRun["page"];
        log(`  undo: ${f.fault.describe()}`);
        undoCurrent = null;
        try {
          await f.fault.recover(undo);
          const left = await f.fault.leftovers(undo);
          if (left.length > 0) notes.push(`left after undo: ${left.join(", ")}`);
        } catch (err) {
          notes.push(`undo failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        const r: FaultRun = {
          fault: name,
          run,
          injectedAt: new Date(injectedAt).toISOString(),
          shownSeconds: secondsBetween(injectedAt, shownAt),
          classifiedSeconds: secondsBetween(injectedAt, classifiedAt),
          page,
          alerts: Object.fromEntries(
            (Object.keys(promUrl) as Pipeline[]).map((p) => [p, alertTimings(rec, p, planFor(p), injectedAt, fired[p] ?? new Map())]),
          ),
          notes,
        };
        runs.push(r);
        writeResults(args, runs, t0, true);
        log(
          `  shown ${r.shownSeconds?.toFixed(1) ?? "never"} s, classified ${r.classifiedSeconds?.toFixed(1) ?? "never"} s, page: ${PIPELINES.map((p) => `${p} ${page[p].seconds === null ? "not detected" : `${page[p].seconds!.toFixed(1)} s (${page[p].alert})`}`).join(", ")}`,
        );
        for (const line of renderAlertTimings(r)) log(`  ${line}`);
        log("  waiting for recovery");
        const after = await quiet(240_000);
        await load.stop();
        if (after.length > 0) {
          r.notes.push(`not recovered 240 s after undo: ${after.join(", ")}`);
          log(`  not recovered after 240 s: ${after.join(", ")}`);
        }
      }
    }
  } catch (err) {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    return 1;
  }
  await cleanup();

  const out = writeResults(args, runs, t0, false);
  process.stdout.write(`\n${PEERS}\n`);
  process.stdout.write(`\ntime to page (seconds from injection; median (min–max) over runs; floor = shown + one 5 s interval)\n`);
  process.stdout.write(`${renderTable(args.faults.map((f) => summarizeFault(f, PLANS[f].goal, runs, INTERVALS)))}\n`);
  for (const f of args.faults)
    for (const p of PIPELINES) {
      const by = [...new Set(runs.filter((r) => r.fault === f && r.page[p].alert).map((r) => r.page[p].alert))];
      if (by.length > 0) process.stdout.write(`paged by: ${f} ${p}: ${by.join(", ")}\n`);
    }
  for (const r of runs) for (const line of renderAlertTimings(r)) process.stdout.write(`${line}\n`);
  for (const r of runs) for (const n of r.notes) process.stdout.write(`note: ${r.fault} run ${r.run}: ${n}\n`);
  process.stdout.write(`JSON: ${out}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  requireNode24("bench:page");
  silenceKafkajsTimeoutWarning();
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`bench:page: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
