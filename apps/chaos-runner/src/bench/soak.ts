/**
 * `npm run soak`: gm-prober as production runs it (`gm-prober run`, default settings, a child process)
 * against its own 3-broker stack under a light continuous load, while a schedule injects a random fault
 * every one to two minutes and undoes it after a bounded time: each drill's fault (createFault: broker
 * kills, held connections, a held lock, paused consumers, a memory limit below use) and four faults of
 * the path between the prober and what it probes — slow answers and a garbage `/metrics` (a loopback
 * proxy in front of a service, fault-proxy.ts), a peer that accepts and never answers (the same proxy),
 * and a host name that stops resolving (/etc/hosts, hosts-entry.ts). Each fault records what the
 * runbook says the prober must open (soak-score.ts compares the prober's incident log, its JSON lines on
 * stdout, with that schedule). The prober's RSS and open handles are read from /proc every 10 s, its
 * round durations from its /metrics histogram. Prints one table and the goals (recall 100 %, no false
 * P0/P1, RSS flat within 10 % after the warm-up), writes a JSON result; exit 0 when every goal is met.
 * Numbers, not assertions: nothing here is a test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { createDockerPlatform } from "@gm/platform/docker";
import type { IncidentKind, Severity } from "@gm/runbook/incident";
import { PROBER_DEFAULTS } from "@gm/monitor/config";
import { parsePrometheusText, type Sample } from "@gm/signals/prom-text";
import type { Stack } from "@gm/stack/stack";
import { exitAfterFlush, requireNode24, silenceKafkajsTimeoutWarning } from "@gm/stack/runtime";
import { createFault, type Fault } from "../drill/faults.js";
import { type LoadResult, type LoadRun, startHttpLoad } from "../load/http-load.js";
import { proberConfigFor } from "../prober-config.js";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.js";
import { addHostsEntry, type HostsEntry } from "./hosts-entry.js";
import { growth, type IncidentEvent, type IncidentMatch, type ScheduledFault, scoreSoak } from "./soak-score.js";

const PROBER_CLI = fileURLToPath(new URL("../../../prober/dist/cli.js", import.meta.url));

class UsageError extends Error {}

/** "60-120" or "90": a range of seconds. */
export function parseRange(v: unknown, name: string, min: number, max: number): [number, number] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$/.exec(String(v));
  const a = m ? Number(m[1]) : Number.NaN;
  const b = m?.[2] !== undefined ? Number(m[2]) : a;
  if (!m || !(a >= min) || !(b <= max) || a > b)
    throw new UsageError(`--${name}: expected seconds as N or MIN-MAX from ${min} to ${max}, got ${JSON.stringify(String(v))}`);
  return [a, b];
}

export const FAULT_NAMES = [
  "kill-broker",
  "kill-broker-majority",
  "hold-connections",
  "lock-table",
  "pause-consumers",
  "memory-limit",
  "slow-responses",
  "slow-within-timeout",
  "garbage-metrics",
  "hanging-peer",
  "dns-stops-resolving",
] as const;
type FaultName = (typeof FAULT_NAMES)[number];

export function parseArgs(args: string[]) {
  const a = yargs(args)
    .scriptName("npm run soak --")
    .usage(
      "$0 [options]\n\nSoak gm-prober (`gm-prober run`, default settings) against its own 3-broker stack with a schedule of faults, and compare its incident log with the schedule: precision and recall per incident kind, time to detect and resolve, false P0/P1, missed faults, RSS and open handles, rounds that overran the interval. Exit 0 when every goal is met, 1 when not, 2 on bad input.",
    )
    .option("minutes", {
      type: "number",
      default: 30,
      describe: "how long to soak (the stack's start not included); 120 for the documented 2 h run",
    })
    .option("every", {
      type: "string",
      default: "60-120",
      describe: "seconds from one injection to the next, MIN-MAX (a random value each time)",
    })
    .option("hold", { type: "string", default: "30-50", describe: "seconds a fault stays before it is undone, MIN-MAX" })
    .option("grace", {
      type: "number",
      default: 90,
      describe:
        "seconds after an undo during which what the fault left (a rejoining broker, a draining backlog) still explains an incident",
    })
    .option("quiet-wait", {
      type: "number",
      default: 120,
      describe: "at most this many seconds to wait, past the scheduled time, for the prober to have no incident open before the next fault",
    })
    .option("faults", {
      type: "string",
      default: FAULT_NAMES.join(","),
      describe: `the faults to draw from, comma-separated (${FAULT_NAMES.join(", ")})`,
    })
    .option("seed", { type: "number", describe: "seed of the schedule's random draws (default: random; printed)" })
    .option("load-rate", { type: "number", default: 2, describe: "background load: batches per second to ingest-api" })
    .option("load-batch", { type: "number", default: 20, describe: "background load: events per batch" })
    .option("load-reads", { type: "number", default: 2, describe: "background load: player-stats reads per second" })
    .option("out", { type: "string", describe: "where to write the JSON result (default reports/soak-<time>.json)" })
    .strict()
    .exitProcess(false)
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg}\nRun with --help for usage.`);
    })
    .parseSync();
  if (a.help) return null;
  if (!Number.isFinite(a.minutes) || a.minutes < 2 || a.minutes > 24 * 60)
    throw new UsageError(
      `--minutes: expected a number of minutes from 2 to 1440, got ${Number.isNaN(a.minutes) ? "something that is not a number" : a.minutes}`,
    );
  const every = parseRange(a.every, "every", 10, 3600);
  const hold = parseRange(a.hold, "hold", 5, 3600);
  if (hold[1] >= every[0])
    throw new UsageError(
      `--hold: a fault must be undone before the next is due: expected at most ${every[0] - 1} s (below --every's minimum), got ${hold[1]}`,
    );
  for (const [name, v, lo, hi] of [
    ["grace", a.grace, 0, 3600],
    ["quiet-wait", a["quiet-wait"], 0, 3600],
    ["load-rate", a["load-rate"], 0.1, 100],
    ["load-batch", a["load-batch"], 1, 1000],
    ["load-reads", a["load-reads"], 0, 100],
  ] as const) {
    if (!Number.isFinite(v) || v < lo || v > hi) throw new UsageError(`--${name}: expected a number from ${lo} to ${hi}, got ${v}`);
  }
  const faults = String(a.faults)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = faults.filter((f) => !(FAULT_NAMES as readonly string[]).includes(f));
  if (faults.length === 0 || unknown.length)
    throw new UsageError(
      `--faults: expected names among ${FAULT_NAMES.join(", ")}, got ${unknown.length ? unknown.map((u) => JSON.stringify(u)).join(", ") : "none"}`,
    );
  if (a.seed !== undefined && !Number.isInteger(a.seed)) throw new UsageError(`--seed: expected an integer, got ${a.seed}`);
  return {
    minutes: a.minutes,
    every,
    hold,
    graceSeconds: a.grace,
    quietWaitSeconds: a["quiet-wait"],
    faults: faults as FaultName[],
    seed: a.seed ?? randomBytes(4).readUInt32BE(0),
    load: { rate: a["load-rate"], batch: a["load-batch"], reads: a["load-reads"] },
    out: a.out,
  };
}

/** mulberry32: a small seeded generator, so a schedule can be replayed with --seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    if (signal?.aborted) return r();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      r();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no result within ${ms / 1000} s`)), ms))),
    ]);
  } finally {
    clearTimeout(t);
  }
}

/** One fault of the soak: what it does, what the runbook says the prober must open, and its undo. */
interface SoakFault {
  name: FaultName;
  description: string;
  expect: (IncidentMatch & { severity?: Severity })[];
  allow: IncidentMatch[];
  apply(): Promise<void>;
  undo(): Promise<void>;
  leftovers(): Promise<string[]>;
}

const any = (kind: IncidentKind): IncidentMatch => ({ kind, subject: "*" });

interface Env {
  stack: Stack;
  statsProbe: FaultProxy;
  procProbe: FaultProxy;
  dns: HostsEntry;
  startBurst: () => LoadRun;
}

/** The fault `name` against this soak's stack; each call makes a new one (a drill fault keeps its own state). */
function makeFault(name: FaultName, env: Env): SoakFault {
  const e = env.stack.endpoints;
  const drill = (
    spec: Parameters<typeof createFault>[0],
    expect: SoakFault["expect"],
    allow: IncidentMatch[],
    extra: { before?: () => void; after?: () => Promise<void> } = {},
  ): SoakFault => {
    const f: Fault = createFault(spec, { stackId: e.stackId, brokers: 3, postgresUrl: e.postgresUrl });
    let undo: Record<string, unknown> | null = null;
    return {
      name,
      description: f.describe(),
      expect,
      allow,
      async apply() {
        undo = await f.prepare();
        extra.before?.();
        await f.apply(undo);
      },
      async undo() {
        try {
          if (undo) await f.recover(undo);
        } finally {
          await extra.after?.();
        }
      },
      leftovers: async () => (undo ? f.leftovers(undo) : []),
    };
  };
  const proxy = (
    p: FaultProxy,
    service: string,
    mode: Parameters<FaultProxy["setMode"]>[0],
    description: string,
    expect: SoakFault["expect"],
    allow: IncidentMatch[],
  ): SoakFault => ({
    name,
    description,
    expect,
    allow,
    apply: async () => p.setMode(mode),
    undo: async () => p.setMode({ type: "pass" }),
    leftovers: async () => (p.mode().type === "pass" ? [] : [`the proxy in front of ${service} is still in mode ${p.mode().type}`]),
  });
  const symptoms = [any("high-error-rate"), any("high-consumer-lag")];
  switch (name) {
    case "kill-broker":
      return drill(
        { type: "kill-broker", params: { count: 1 } },
        [{ kind: "kafka-broker-down", subject: "kafka", severity: "P2" }],
        symptoms,
      );
    case "kill-broker-majority":
      return drill(
        { type: "kill-broker", params: { count: 2 } },
        [{ kind: "kafka-broker-down", subject: "kafka", severity: "P1" }],
        symptoms,
      );
    case "hold-connections":
      return drill(
        { type: "hold-connections", params: {} },
        [{ kind: "db-pool-exhausted", subject: "postgres", severity: "P3" }],
        symptoms,
      );
    case "lock-table":
      return drill(
        { type: "lock-table", params: { table: "events" } },
        [{ kind: "db-pool-exhausted", subject: "postgres", severity: "P1" }],
        symptoms,
      );
    case "pause-consumers": {
      // The light load would take minutes to pass 10,000 messages: a burst while the consumers are paused.
      let burst: LoadRun | null = null;
      const f = drill(
        { type: "pause-consumers", params: {} },
        [
          { kind: "high-consumer-lag", subject: e.consumerGroup, severity: "P1" },
          { kind: "service-down", subject: "event-processor-service", severity: "P0" },
        ],
        [any("high-error-rate")],
        {
          before: () => {
            burst = env.startBurst();
          },
          after: async () => {
            await burst?.stop();
            burst = null;
          },
        },
      );
      return { ...f, description: `${f.description}, with a burst of 1,000 events/s so the lag passes 10,000` };
    }
    case "memory-limit":
      return drill(
        { type: "memory-limit", params: { service: "stats-api", bytes: 16 * 1024 * 1024 } },
        [
          { kind: "service-oom", subject: "stats-api", severity: "P1" },
          { kind: "service-down", subject: "stats-api", severity: "P0" },
        ],
        [any("high-error-rate")],
      );
    case "slow-responses":
      return proxy(
        env.procProbe,
        "event-processor-service",
        { type: "delay", delayMs: 3_500 },
        "every answer of event-processor-service to the prober comes 3.5 s late (past its 2 s timeout)",
        [{ kind: "service-down", subject: "event-processor-service", severity: "P0" }],
        [],
      );
    case "slow-within-timeout":
      return proxy(
        env.statsProbe,
        "stats-api",
        { type: "delay", delayMs: 800 },
        "every answer of stats-api to the prober comes 0.8 s late (within its 2 s timeout): nothing to open",
        [],
        [],
      );
    case "garbage-metrics":
      return proxy(
        env.statsProbe,
        "stats-api",
        { type: "garbage-metrics" },
        "stats-api's /metrics answers 200 with garbage (the prober must not read it as numbers): nothing to open",
        [],
        [],
      );
    case "hanging-peer":
      return proxy(
        env.statsProbe,
        "stats-api",
        { type: "hang" },
        "stats-api's address accepts TCP connections and never answers",
        [{ kind: "service-down", subject: "stats-api", severity: "P0" }],
        [any("high-error-rate")],
      );
    case "dns-stops-resolving":
      return {
        name,
        description: `ingest-api's host name (${env.dns.name}, /etc/hosts) stops resolving`,
        expect: [{ kind: "service-down", subject: "ingest-api", severity: "P0" }],
        allow: [any("high-error-rate")],
        apply: async () => env.dns.setResolving(false),
        undo: async () => env.dns.setResolving(true),
        leftovers: async () => (env.dns.resolving() ? [] : [`${env.dns.name} does not resolve`]),
      };
  }
}

/** A service's current host URL, refreshed in the background: a recreated container moves to a new host port. */
function followService(stackId: string, service: "stats-api" | "event-processor-service", initial: string) {
  const platform = createDockerPlatform({ stackId });
  let url = initial;
  const refresh = async () => {
    const urls = await platform.instanceUrls(service).catch(() => []);
    const first = urls.find((u) => !u.includes("-x")) ?? urls[0];
    if (first) url = first;
  };
  const timer = setInterval(() => void refresh(), 2_000);
  return { url: () => url, stop: () => clearInterval(timer) };
}

interface ProcSample {
  at: number;
  rssKiB: number;
  fds: number;
}

function sampleProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return { at: Date.now(), rssKiB: rss ? Number(rss[1]) : 0, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

async function scrape(url: string): Promise<Sample[] | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return res.status === 200 ? parsePrometheusText(await res.text()) : null;
  } catch {
    return null;
  }
}

const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(0)}%`);
const secs = (ms: number | null) => (ms === null ? "—" : (ms / 1000).toFixed(1));
const mib = (kib: number | null) => (kib === null ? "—" : (kib / 1024).toFixed(1));

export async function runSoak(o: NonNullable<ReturnType<typeof parseArgs>>): Promise<number> {
  const say = (m: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals += 1;
    if (signals > 1) {
      say(`${sig} again: leaving now; containers of the stack may remain (gm-chaos stack down --id <id>)`);
      process.exit(130);
    }
    say(`${sig}: undoing the fault in progress and stopping (again to leave at once)`);
    ac.abort();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const random = rng(o.seed);
  const id = `soak-${randomBytes(3).toString("hex")}`;
  const work = mkdtempSync(join(tmpdir(), "gm-soak-"));
  const out = resolve(o.out ?? join("reports", `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`));
  say(
    `stack ${id}, seed ${o.seed}, ${o.minutes} min, faults every ${o.every.join("-")} s held ${o.hold.join("-")} s; prober logs in ${work}`,
  );

  let stack: Stack | undefined;
  let prober: ChildProcess | undefined;
  let load: LoadRun | undefined;
  const proxies: FaultProxy[] = [];
  const followers: { stop(): void }[] = [];
  let dns: HostsEntry | undefined;
  let current: { fault: SoakFault; record: ScheduledFault } | null = null;
  const schedule: ScheduledFault[] = [];
  const incidents: IncidentEvent[] = [];
  const open = new Map<string, Severity>();
  const proc: ProcSample[] = [];
  const scrapes: { at: number; rounds: number | null; collectorsDown: string[] }[] = [];
  let lastMetrics: Sample[] | null = null;
  let proberExit: { code: number | null; signal: string | null; at: number } | null = null;
  let soakStart = 0;
  let soakEnd = 0;
  let sampler: NodeJS.Timeout | undefined;
  let proberPort = 0;
  let loadResult: LoadResult | null = null;

  // loaded here, not at the top: testcontainers' undici fails at import on Node < 24, before requireNode24 could say so
  const { freePort, startStack } = await import("@gm/stack/stack");
  try {
    stack = await startStack({ id, brokers: 3, onProgress: (m) => say(m) });
    const e = stack.endpoints;
    const stats = followService(e.stackId, "stats-api", e.services["stats-api"]);
    const procSvc = followService(e.stackId, "event-processor-service", e.services["event-processor-service"][0]!);
    followers.push(stats, procSvc);
    const statsProbe = await startFaultProxy({ upstream: stats.url });
    const procProbe = await startFaultProxy({ upstream: procSvc.url });
    // the load's reads follow stats-api too (a recreated container is on a new port), never faulted
    const statsLoad = await startFaultProxy({ upstream: stats.url });
    proxies.push(statsProbe, procProbe, statsLoad);
    dns = addHostsEntry(`ingest-api.${id}.test`, { tag: `gm soak ${id}, removed when it ends` });
    const ingestPort = new URL(e.services["ingest-api"]).port;

    // The platform warm first (its first produce connects the producer, seconds on a busy machine): the
    // soak is about the prober against a running platform, not about the platform's cold start.
    load = startHttpLoad({
      ingestUrl: e.services["ingest-api"],
      runId: `${id}-load`,
      rate: o.load.rate,
      batch: o.load.batch,
      reads: { statsUrl: statsLoad.url, rate: o.load.reads },
    });
    const warm = Date.now() + 60_000;
    while (load.acknowledgedCount() < 10 * o.load.batch && Date.now() < warm && !ac.signal.aborted) await sleep(500, ac.signal);
    say(`platform warm: ${load.acknowledgedCount()} events acknowledged`);

    proberPort = await freePort();
    const configFile = join(work, "prober.yaml");
    writeFileSync(
      configFile,
      proberConfigFor(
        {
          ...e,
          services: {
            "ingest-api": `http://${dns.name}:${ingestPort}`,
            "stats-api": statsProbe.url,
            "event-processor-service": [procProbe.url],
          },
        },
        { listenPort: proberPort },
      ),
      { mode: 0o600 },
    );
    const proberLog = createWriteStream(join(work, "prober.stdout.jsonl"));
    const proberErr = createWriteStream(join(work, "prober.stderr.log"));
    prober = spawn(process.execPath, [PROBER_CLI, "run", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    const child = prober;
    child.on("exit", (code, signal) => {
      proberExit = { code, signal, at: Date.now() };
    });
    child.stderr!.pipe(proberErr);
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      proberLog.write(c);
      buf += c.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        const ev = String(r["event"] ?? "");
        if (!ev.startsWith("incident_")) continue;
        const x: IncidentEvent = {
          at: Date.parse(String(r["ts"])),
          event: ev.slice("incident_".length) as IncidentEvent["event"],
          kind: r["kind"] as IncidentKind,
          severity: r["severity"] as Severity,
          subject: String(r["subject"]),
          ...(r["from"] ? { from: r["from"] as Severity } : {}),
        };
        incidents.push(x);
        const k = `${x.kind}|${x.subject}`;
        if (x.event === "resolved") open.delete(k);
        else open.set(k, x.severity);
        say(`prober: ${x.event} ${x.kind} ${x.severity} ${x.subject}${x.from ? ` (from ${x.from})` : ""}`);
      }
    });
    const metricsUrl = `http://127.0.0.1:${proberPort}/metrics`;
    const ready = Date.now() + 30_000;
    while (!(await scrape(metricsUrl)) && Date.now() < ready && proberExit === null) await sleep(250);
    if (proberExit !== null || Date.now() >= ready) throw new Error(`gm-prober did not start (see ${join(work, "prober.stderr.log")})`);
    const pid = child.pid!;
    say(`gm-prober run (pid ${pid}) serving ${metricsUrl}`);

    const env: Env = {
      stack,
      statsProbe,
      procProbe,
      dns,
      startBurst: () =>
        startHttpLoad({ ingestUrl: e.services["ingest-api"], runId: `${id}-burst-${schedule.length}`, rate: 20, batch: 50 }),
    };

    soakStart = Date.now();
    soakEnd = soakStart + o.minutes * 60_000;
    const sample = async () => {
      const s = sampleProc(pid);
      if (s) proc.push(s);
      const m = await scrape(metricsUrl);
      if (m) lastMetrics = m;
      scrapes.push({
        at: Date.now(),
        rounds: m?.find((x) => x.name === "gm_prober_rounds_total")?.value ?? null,
        collectorsDown: (m ?? [])
          .filter((x) => x.name === "gm_collector_success" && x.value === 0)
          .map((x) => x.labels["collector"] ?? "?"),
      });
    };
    void sample();
    sampler = setInterval(() => void sample(), 10_000);

    // The first fault after the error windows filled once (the prober's 60 s window) and a quiet prober.
    let deck: FaultName[] = [];
    let nextAt = soakStart + 75_000;
    const holdMaxMs = o.hold[1] * 1000;
    for (;;) {
      await sleep(nextAt - Date.now(), ac.signal);
      const quietBy = Date.now() + o.quietWaitSeconds * 1000;
      while (open.size > 0 && Date.now() < quietBy && !ac.signal.aborted) await sleep(1_000, ac.signal);
      // the last fault leaves room for its undo and the grace period before the end
      if (ac.signal.aborted || Date.now() + holdMaxMs + o.graceSeconds * 1000 > soakEnd) break;
      if (proberExit !== null) {
        say("gm-prober exited: no more faults");
        break;
      }
      if (deck.length === 0) {
        deck = [...o.faults];
        for (let i = deck.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [deck[i], deck[j]] = [deck[j]!, deck[i]!];
        }
      }
      const name = deck.shift()!;
      const fault = makeFault(name, env);
      const holdMs = Math.round((o.hold[0] + random() * (o.hold[1] - o.hold[0])) * 1000);
      const record: ScheduledFault = {
        id: schedule.length + 1,
        name,
        description: fault.description,
        injectedAt: Date.now(),
        undoneAt: null,
        expect: fault.expect,
        allow: fault.allow,
        applied: false,
      };
      schedule.push(record);
      current = { fault, record };
      const openAtInjection = [...open.keys()];
      say(
        `#${record.id} ${name}: ${fault.description}; held ${(holdMs / 1000).toFixed(0)} s${openAtInjection.length ? ` (still open: ${openAtInjection.join(", ")})` : ""}`,
      );
      try {
        record.injectedAt = Date.now();
        await within(60_000, `${name} apply`, fault.apply());
        record.applied = true;
        await sleep(holdMs - (Date.now() - record.injectedAt), ac.signal);
      } catch (err) {
        record.error = `apply: ${(err as Error).message}`;
        say(`#${record.id} ${name}: ${record.error}`);
      } finally {
        try {
          await within(120_000, `${name} undo`, fault.undo());
        } catch (err) {
          record.error = `${record.error ? `${record.error}; ` : ""}undo: ${(err as Error).message}`;
          say(`#${record.id} ${name}: ${(err as Error).message}`);
        }
        record.undoneAt = Date.now();
        current = null;
        const left = await fault.leftovers().catch((err: unknown) => [`leftovers unknown: ${(err as Error).message}`]);
        if (left.length) {
          record.error = `${record.error ? `${record.error}; ` : ""}left after undo: ${left.join(", ")}`;
          say(`#${record.id} ${name}: left after undo: ${left.join(", ")}`);
        }
        say(`#${record.id} ${name}: undone after ${((record.undoneAt - record.injectedAt) / 1000).toFixed(1)} s`);
      }
      nextAt = record.injectedAt + (o.every[0] + random() * (o.every[1] - o.every[0])) * 1000;
    }
    // The end: the last fault's incidents get their time to resolve, and the prober runs to the end.
    await sleep(soakEnd - Date.now(), ac.signal);
    await sample();
    soakEnd = Math.min(soakEnd, Date.now());
  } finally {
    clearInterval(sampler);
    if (current) {
      say(`undoing #${current.record.id} ${current.fault.name}`);
      await within(30_000, "undo", current.fault.undo()).catch((err: unknown) => say(`undo failed: ${(err as Error).message}`));
      current.record.undoneAt ??= Date.now();
    }
    if (load) loadResult = await within(30_000, "load stop", load.stop()).catch(() => null);
    if (prober && proberExit === null) {
      prober.kill("SIGTERM");
      const t = Date.now() + 15_000;
      while (proberExit === null && Date.now() < t) await sleep(100);
      if (proberExit === null) prober.kill("SIGKILL");
    }
    for (const p of proxies) await p.close().catch(() => undefined);
    for (const f of followers) f.stop();
    try {
      dns?.remove();
    } catch (err) {
      say(`could not remove the /etc/hosts entry of ${dns?.name}: ${(err as Error).message}`);
    }
    if (stack) {
      say(`stopping stack ${id}`);
      await stack.stop().catch((err: unknown) => say(`stack stop failed: ${(err as Error).message} (gm-chaos stack down --id ${id})`));
    }
  }
  if (soakStart === 0) return 1;
  if (soakEnd === 0 || soakEnd > Date.now()) soakEnd = Date.now();

  // ---- the figures
  const graceMs = o.graceSeconds * 1000;
  const score = scoreSoak(schedule, incidents, { graceMs, detectAfterUndoMs: 15_000, startedAt: soakStart, endedAt: soakEnd });
  const warmupEndsAt = soakStart + Math.min(5 * 60_000, ((soakEnd - soakStart) * 1) / 5);
  const rss = growth(
    proc.map((p) => ({ at: p.at, value: p.rssKiB })),
    warmupEndsAt,
  );
  const fds = growth(
    proc.map((p) => ({ at: p.at, value: p.fds })),
    warmupEndsAt,
  );
  const interval = PROBER_DEFAULTS.intervalSeconds;
  const hist = (lastMetrics ?? ([] as Sample[])).filter((x) => x.name.startsWith("gm_prober_round_seconds"));
  const roundsCount = hist.find((x) => x.name === "gm_prober_round_seconds_count")?.value ?? null;
  const withinInterval =
    hist.find((x) => x.name === "gm_prober_round_seconds_bucket" && Number(x.labels["le"]) === interval)?.value ?? null;
  const overran = roundsCount !== null && withinInterval !== null ? roundsCount - withinInterval : null;
  const roundsSum = hist.find((x) => x.name === "gm_prober_round_seconds_sum")?.value ?? null;
  const wallSeconds = (soakEnd - soakStart) / 1000;
  const collectorDownScrapes: Record<string, number> = {};
  for (const s of scrapes) for (const c of s.collectorsDown) collectorDownScrapes[c] = (collectorDownScrapes[c] ?? 0) + 1;

  const goals = {
    recall100: score.recall === 1,
    noFalsePages: score.falsePages.length === 0,
    rssFlat: rss.growth !== null && rss.growth <= 0.1,
  };
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(
    `\ngm-prober soak: ${(wallSeconds / 60).toFixed(1)} min on stack ${id} (seed ${o.seed}), ${schedule.length} faults, interval ${interval} s, grace ${o.graceSeconds} s`,
  );
  w("  #  at(s) fault                  hold  expected incident                       detect resolve worst  note");
  for (const f of schedule) {
    const ds = score.detections.filter((d) => d.faultId === f.id);
    const at = ((f.injectedAt - soakStart) / 1000).toFixed(0).padStart(5);
    const hold = f.undoneAt === null ? "  —" : ((f.undoneAt - f.injectedAt) / 1000).toFixed(0).padStart(4);
    const rows = ds.length ? ds : [null];
    rows.forEach((d, i) => {
      const exp = d ? `${d.kind}/${d.subject} ${d.expectedSeverity ?? ""}` : "(nothing: must stay quiet)";
      const head =
        i === 0
          ? `${String(f.id).padStart(3)} ${at} ${f.name.padEnd(22)} ${hold}`
          : `${"".padEnd(3)} ${"".padEnd(5)} ${"".padEnd(22)} ${"".padEnd(4)}`;
      const note =
        d && d.detectMs === null
          ? "MISSED"
          : d?.alreadyOpen
            ? "already open"
            : d && f.undoneAt !== null && d.resolveMs === null
              ? "not resolved by the end"
              : "";
      w(
        `  ${head}  ${exp.padEnd(38)} ${(d ? secs(d.detectMs) : "").padStart(6)} ${(d ? secs(d.resolveMs) : "").padStart(7)} ${(d?.worstSeverity ?? "").padEnd(5)}  ${note}${i === 0 && f.error ? ` error: ${f.error}` : ""}`,
      );
    });
  }
  w("\n  incident kind        expected detected recall  opened explained precision  detect med/max (s)  resolve med/max (s)");
  for (const k of score.kinds) {
    w(
      `  ${k.kind.padEnd(20)} ${String(k.expected).padStart(8)} ${String(k.detected).padStart(8)} ${pct(k.recall).padStart(6)} ${String(k.opened).padStart(7)} ${String(k.explained).padStart(9)} ${pct(k.precision).padStart(9)}  ${`${secs(k.detectMs.median)}/${secs(k.detectMs.max)}`.padStart(18)}  ${`${secs(k.resolveMs.median)}/${secs(k.resolveMs.max)}`.padStart(19)}`,
    );
  }
  w(
    `  all expected incidents: recall ${pct(score.recall)}; detect median ${secs(score.detectMs.median)} s, max ${secs(score.detectMs.max)} s; resolve (from the undo) median ${secs(score.resolveMs.median)} s, max ${secs(score.resolveMs.max)} s`,
  );
  for (const m of score.missed) w(`  missed: #${m.faultId} ${m.fault}: ${m.kind}/${m.subject}`);
  // what the load's users saw just before a page no fault explains: the platform itself may have been failing
  // (a shared machine under load): requests that failed or took longer than the prober's timeout
  const usersSaw = (at: number) => {
    const rs = (loadResult?.requests ?? []).filter((r) => r.at <= at && r.at > at - 30_000 && r.status !== "skipped");
    const bad = rs.filter((r) => !/^2/.test(r.status) || (r.ms ?? 0) > PROBER_DEFAULTS.timeoutMs);
    return { requests: rs.length, failedOrSlow: bad.length, slowestMs: rs.reduce((m, r) => Math.max(m, r.ms ?? 0), 0) };
  };
  for (const p of score.falsePages) {
    const u = usersSaw(p.at);
    w(
      `  false page: ${p.kind} ${p.severity} ${p.subject} (${p.event}) at ${((p.at - soakStart) / 1000).toFixed(0)} s, no fault active; the load's requests in the 30 s before: ${u.failedOrSlow} of ${u.requests} failed or slower than ${PROBER_DEFAULTS.timeoutMs / 1000} s (slowest ${(u.slowestMs / 1000).toFixed(1)} s)`,
    );
  }
  for (const p of score.unexpectedPages)
    w(
      `  unexpected page: ${p.kind} ${p.severity} ${p.subject} (${p.event}) at ${((p.at - soakStart) / 1000).toFixed(0)} s during ${p.during.join(", ")}`,
    );
  for (const u of score.unexplained.filter(
    (x) => !score.falsePages.some((p) => p.at === x.at) && !score.unexpectedPages.some((p) => p.at === x.at),
  ))
    w(`  unexplained: ${u.kind} ${u.severity} ${u.subject} at ${((u.at - soakStart) / 1000).toFixed(0)} s`);
  for (const x of score.openAtEnd) w(`  open at the end: ${x.kind} ${x.severity} ${x.subject}`);
  w(
    `\n  prober process: RSS MiB first ${mib(rss.first)}, last ${mib(rss.last)}, max ${mib(rss.max)}; after the warm-up ${mib(rss.afterWarmup)} → ${mib(rss.atEnd)} at the end (${rss.growth === null ? "—" : `${(rss.growth * 100).toFixed(1)}%`})`,
  );
  w(
    `  open handles (/proc/<pid>/fd): first ${fds.first ?? "—"}, last ${fds.last ?? "—"}, max ${fds.max ?? "—"}; after the warm-up ${fds.afterWarmup ?? "—"} → ${fds.atEnd ?? "—"} (${fds.growth === null ? "—" : `${(fds.growth * 100).toFixed(1)}%`}); ${proc.length} samples every 10 s`,
  );
  w(
    `  rounds: ${roundsCount ?? "—"} (${Math.floor(wallSeconds / interval)} fit in the soak at ${interval} s), mean ${roundsCount && roundsSum !== null ? (roundsSum / roundsCount).toFixed(2) : "—"} s; overran the ${interval} s interval: ${overran ?? "—"}`,
  );
  if (loadResult) {
    const rs = loadResult.requests.filter((r) => r.status !== "skipped");
    const slow = rs.filter((r) => (r.ms ?? 0) > PROBER_DEFAULTS.timeoutMs).length;
    w(
      `  load (the users): ${loadResult.acknowledged.length} events acknowledged; ingest-api answers ${Object.entries(
        loadResult.statusCounts,
      )
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}; ${slow} of ${rs.length} slower than the prober's ${PROBER_DEFAULTS.timeoutMs / 1000} s timeout`,
    );
  }
  const downs = Object.entries(collectorDownScrapes);
  if (downs.length) w(`  collectors seen failing (scrapes of ${scrapes.length}): ${downs.map(([c, n]) => `${c} ${n}`).join(", ")}`);
  if (proberExit)
    w(`  gm-prober exited with ${(proberExit as { code: number | null }).code ?? (proberExit as { signal: string | null }).signal}`);
  w(
    `\n  goals: recall 100% ${goals.recall100 ? "met" : "NOT met"}; 0 false P0/P1 ${goals.noFalsePages ? "met" : `NOT met (${score.falsePages.length})`}; RSS flat within 10% ${goals.rssFlat ? "met" : "NOT met"}`,
  );

  const result = {
    version: 1,
    stackId: id,
    seed: o.seed,
    options: { ...o, out },
    startedAt: new Date(soakStart).toISOString(),
    endedAt: new Date(soakEnd).toISOString(),
    wallSeconds,
    intervalSeconds: interval,
    schedule: schedule.map((f) => ({
      ...f,
      injectedAt: new Date(f.injectedAt).toISOString(),
      undoneAt: f.undoneAt === null ? null : new Date(f.undoneAt).toISOString(),
    })),
    incidents: incidents.map((x) => ({ ...x, at: new Date(x.at).toISOString() })),
    score: {
      ...score,
      falsePages: score.falsePages.map((p) => ({ ...p, at: new Date(p.at).toISOString(), loadInThe30sBefore: usersSaw(p.at) })),
      unexpectedPages: score.unexpectedPages.map((p) => ({ ...p, at: new Date(p.at).toISOString() })),
    },
    process: { rssKiB: rss, fds, samples: proc.map((p) => ({ ...p, at: new Date(p.at).toISOString() })) },
    rounds: { count: roundsCount, overran, meanSeconds: roundsCount && roundsSum !== null ? roundsSum / roundsCount : null },
    collectorsFailingScrapes: collectorDownScrapes,
    load: loadResult ? { acknowledgedEvents: loadResult.acknowledged.length, statusCounts: loadResult.statusCounts } : null,
    proberExit,
    goals,
    logs: work,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  w(`  result: ${out}; the prober's log lines: ${join(work, "prober.stdout.jsonl")}`);
  return goals.recall100 && goals.noFalsePages && goals.rssFlat ? 0 : 1;
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parseArgs>;
  try {
    o = parseArgs(hideBin(process.argv));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`soak: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o === null) return 0;
  return runSoak(o);
}

const entry = process.argv[1] ? realpathSync(process.argv[1]) : "";
if (entry !== "" && realpathSync(fileURLToPath(import.meta.url)) === entry) {
  requireNode24("soak");
  silenceKafkajsTimeoutWarning();
  main().then(exitAfterFlush, (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    exitAfterFlush(1);
  });
}
