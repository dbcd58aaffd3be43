/**
 * `npm run bench:lag` (issue 11 §2, "Lag correctness"): the prober's consumer lag against Kafka's own
 * tool and Burrow, on a real stack this script starts (its own id) and removes at the end.
 *
 * Three sources read the platform's consumer group (event-processor-service on game-events) at the same
 * moment, every prober interval:
 * - gm-prober: `createKafkaCollector` of packages/signals, the code the prober runs, with the prober's
 *   own settings (interval 5 s, collector timeout 2 s, stallSeconds from the policy);
 * - `kafka-consumer-groups.sh --describe --group …` run inside a broker container of the stack (the
 *   Kafka image ships it in /opt/kafka/bin): the reference;
 * - Burrow (Debian's `burrow`, 1.2.1), run here with its own configuration in a temp dir, pointed at
 *   the stack's brokers as the prober is, its shipped defaults kept (offset-refresh 10 s, a window of
 *   10 commits); Burrow 1.x will not start without ZooKeeper, for its own coordination only, so one runs
 *   in a container of the stack (the ZooKeeper the Kafka image's jars include).
 * Each round runs Kafka's tool first (its JVM takes seconds to start; it reads the offsets at its end)
 * and the prober's and Burrow's reads the moment it exits; the skew, from its exit to the end of the
 * last other read, is printed.
 *
 * Per repetition: samples while the stack's load generator posts events (consumers running); then every
 * event-processor-service replica paused (docker pause, as the high-consumer-lag drill does) while load
 * goes on, timing when the prober and Burrow each call the group stalled/stopped; then the load stops
 * and, offsets quiet, samples again. The consumers are resumed and caught up before the next repetition.
 *
 * Prints the tables and the goals of issue 11 §3 beside them, and writes machine-readable JSON
 * (--json, default bench-results/lag.json). Asserts nothing: the numbers are for people.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import {
  BURROW_CALLS,
  type BurrowLag,
  type ConsumerGroupsDescribe,
  type Difference,
  difference,
  firstCall,
  fmtSpread,
  type GoalCheck,
  goalText,
  loadGoal,
  PROBER_CALLS,
  type PartitionReading,
  parseBurrowLag,
  parseConsumerGroupsDescribe,
  quietGoal,
  skewMs,
  spread,
  stallGoal,
  sumLag,
  type Verdict,
} from "./lag-compare.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../../..");
const BURROW = "/usr/bin/Burrow";
const BURROW_CLUSTER = "gm";
/** Burrow 1.2.1's shipped defaults, written out so the table can name them */
const BURROW_OFFSET_REFRESH_SECONDS = 10;
const BURROW_INTERVALS = 10;
/** the prober's defaults (packages/monitor/src/config.ts) */
const PROBER_TIMEOUT_MS = 2000;
const PROBER_WINDOW_SECONDS = 60;
const execFileP = promisify(execFile);

class UsageError extends Error {}

export interface Options {
  samples: number;
  repeat: number;
  /** events per second the load generator posts */
  rate: number;
  interval: number;
  brokers: 1 | 3;
  /** how long to wait for both calls after the consumers stopped, seconds */
  stallWait: number;
  halt: "pause" | "stop";
  policy: string;
  json: string;
  raw: string | undefined;
  burrow: boolean;
}

function num(v: string | undefined, def: number, field: string, min: number, max: number, integer = true): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || x > max || (integer && !Number.isInteger(x)))
    throw new UsageError(`--${field}: expected a ${integer ? "whole " : ""}number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return x;
}

export function parseOptions(args: string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        samples: { type: "string" },
        repeat: { type: "string" },
        rate: { type: "string" },
        interval: { type: "string" },
        brokers: { type: "string" },
        "stall-wait": { type: "string" },
        halt: { type: "string" },
        policy: { type: "string" },
        json: { type: "string" },
        raw: { type: "string" },
        "no-burrow": { type: "boolean" },
      },
      strict: true,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new UsageError(
      `${(err as Error).message} (options: --samples N, --repeat N, --rate EVENTS_PER_S, --interval S, --brokers 1|3, --stall-wait S, --halt pause|stop, --policy FILE, --json FILE, --raw DIR, --no-burrow)`,
    );
  }
  const s = (k: string) => values[k] as string | undefined;
  const brokers = num(s("brokers"), 1, "brokers", 1, 3);
  if (brokers !== 1 && brokers !== 3) throw new UsageError(`--brokers: expected 1 or 3, got ${JSON.stringify(s("brokers"))}`);
  const halt = s("halt") ?? "pause";
  if (halt !== "pause" && halt !== "stop") throw new UsageError(`--halt: expected pause or stop, got ${JSON.stringify(halt)}`);
  return {
    samples: num(s("samples"), 5, "samples", 1, 100),
    repeat: num(s("repeat"), 1, "repeat", 1, 20),
    rate: num(s("rate"), 200, "rate", 1, 5000),
    interval: num(s("interval"), 5, "interval", 1, 60, false),
    brokers,
    stallWait: num(s("stall-wait"), 150, "stall-wait", 10, 1800),
    halt,
    policy: s("policy") ?? join(REPO, "scenarios", "policy.yaml"),
    json: s("json") ?? join("bench-results", "lag.json"),
    raw: s("raw"),
    burrow: values["no-burrow"] !== true,
  };
}

// ---------- the sources ----------

type Phase = "load" | "paused-load" | "paused-quiet";

interface Read<T> {
  ok: boolean;
  value?: T;
  error?: string;
  startedAt: number;
  endedAt: number;
  raw?: string;
}

interface ProberRead {
  partitions: PartitionReading[];
  total: number;
  status: string;
  secondsSinceCommitMoved: number | null;
}

export interface Sample {
  phase: Phase;
  repetition: number;
  at: number;
  skewMs: number | null;
  prober: Read<ProberRead>;
  kcg: Read<ConsumerGroupsDescribe>;
  burrow?: Read<BurrowLag>;
  proberVsKcg: Difference | null;
  burrowVsKcg: Difference | null;
}

async function timed<T>(fn: () => Promise<{ value: T; raw?: string }>): Promise<Read<T>> {
  const startedAt = Date.now();
  try {
    const { value, raw } = await fn();
    return { ok: true, value, startedAt, endedAt: Date.now(), ...(raw !== undefined ? { raw } : {}) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), startedAt, endedAt: Date.now() };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Burrow 1.2.1 with its own configuration: the stack's brokers, a ZooKeeper for its coordination, HTTP on loopback. */
export function burrowToml(o: { dir: string; zookeeper: string; brokers: readonly string[]; httpPort: number }): string {
  const servers = `[${o.brokers.map((b) => JSON.stringify(b)).join(", ")}]`;
  return [
    "[general]",
    `pidfile=${JSON.stringify(join(o.dir, "burrow.pid"))}`,
    "[logging]",
    'level="info"',
    "[zookeeper]",
    `servers=[${JSON.stringify(o.zookeeper)}]`,
    "timeout=6",
    'root-path="/burrow"',
    "[client-profile.bench]",
    'client-id="burrow-bench"',
    // the newest protocol version Burrow 1.2.1's client knows; Kafka 3.9 still answers it
    'kafka-version="2.1.0"',
    `[cluster.${BURROW_CLUSTER}]`,
    'class-name="kafka"',
    `servers=${servers}`,
    'client-profile="bench"',
    "topic-refresh=60",
    `offset-refresh=${BURROW_OFFSET_REFRESH_SECONDS}`,
    `[consumer.${BURROW_CLUSTER}]`,
    'class-name="kafka"',
    `cluster="${BURROW_CLUSTER}"`,
    `servers=${servers}`,
    'client-profile="bench"',
    "[httpserver.default]",
    `address="127.0.0.1:${o.httpPort}"`,
    "[storage.default]",
    'class-name="inmemory"',
    `intervals=${BURROW_INTERVALS}`,
    "min-distance=1",
    "",
  ].join("\n");
}

// ---------- the run ----------

interface StallResult {
  repetition: number;
  pausedAt: number;
  waitedSeconds: number;
  prober: { status: string; seconds: number } | null;
  burrowFirst: { status: string; seconds: number } | null;
  burrowError: { status: string; seconds: number } | null;
  /** Burrow's window completeness (0..1) at the last read before the pause */
  burrowCompleteAtPause: number | null;
  proberVerdicts: Verdict[];
  burrowVerdicts: Verdict[];
}

async function run(o: Options, log: (m: string) => void) {
  const { startStack, freePort } = await import("@gm/stack/stack");
  const { postEvents, makeEvents } = await import("@gm/stack/load-generator");
  const { GenericContainer, Wait } = await import("testcontainers");
  const { dockerode, LABEL } = await import("@gm/docker-engine/docker");
  const { createKafkaCollector } = await import("@gm/signals/kafka-signals");
  const { loadPolicyFile } = await import("@gm/monitor/build-prober");
  process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

  let stallSeconds: number;
  try {
    stallSeconds = loadPolicyFile(o.policy, "--policy").thresholds.consumerStall.seconds;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (o.burrow && !existsSync(BURROW))
    throw new UsageError(
      `${BURROW} not found: install Burrow with \`apt-get install -y burrow\` (or \`bash scripts/setup.sh --bench\`), or run without it with --no-burrow`,
    );
  if (o.raw) mkdirSync(o.raw, { recursive: true });

  const id = `lagbench-${process.pid}`;
  log(`starting stack ${id} (${o.brokers} broker(s))`);
  const stack = await startStack({ id, brokers: o.brokers, onProgress: (m) => log(`  ${m}`) });
  const ep = stack.endpoints;
  const group = ep.consumerGroup;
  const topic = ep.topic;
  const broker = stack.container("kafka-1");
  const processors = stack.containers.filter((c) => c.role === "event-processor-service");
  const d = await dockerode();
  let burrowProc: ChildProcess | undefined;
  let burrowDir: string | undefined;
  let paused = false;
  const collector = createKafkaCollector({
    brokers: ep.kafkaBootstrapServers,
    topic,
    groups: [group],
    windowSeconds: PROBER_WINDOW_SECONDS,
    stallSeconds,
    timeoutMs: PROBER_TIMEOUT_MS,
  });

  // ---- the load: the stack's load generator, a batch every tick, bounded in flight ----
  const batch = Math.max(1, Math.min(50, Math.round(o.rate / 4)));
  const tickMs = (1000 * batch) / o.rate;
  let load: { stop(): Promise<void> } | undefined;
  const loadStats = { acknowledged: 0, rejected: 0, skipped: 0 };
  let seq = 0;
  const startLoad = () => {
    const runId = `lagbench-${Date.now().toString(36)}`;
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      if (inFlight.size >= 4) {
        loadStats.skipped += batch;
        return;
      }
      const p = postEvents(ep.services["ingest-api"], makeEvents(runId, batch, seq++ * batch), {
        batchSize: batch,
        concurrency: 1,
        timeoutMs: 10_000,
      })
        .then((r) => {
          loadStats.acknowledged += r.acknowledged.length;
          loadStats.rejected += r.rejected;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }, tickMs);
    return {
      async stop() {
        clearInterval(timer);
        await Promise.all([...inFlight]);
      },
    };
  };

  const halt = async () => {
    paused = true;
    for (const c of processors) {
      if (o.halt === "pause") await d.getContainer(c.id).pause();
      else await stack.stopContainer(c.name);
    }
  };
  const resume = async () => {
    for (const c of processors) {
      if (o.halt === "pause")
        await d
          .getContainer(c.id)
          .unpause()
          .catch(() => undefined);
      else await stack.startContainer(c.name);
    }
    paused = false;
  };

  const samples: Sample[] = [];
  const stalls: StallResult[] = [];
  let burrowPort = 0;

  const readProber = () =>
    timed<ProberRead>(async () => {
      const r = await collector.collect(Date.now());
      const g = r.kafka.groups.find((x) => x.group === group);
      const c = r.consumers.find((x) => x.group === group);
      if (!g || !c) throw new Error(`the collector returned no lag for group ${group} (brokers unreachable?)`);
      return {
        value: { partitions: g.partitions, total: g.totalLag, status: c.status, secondsSinceCommitMoved: c.secondsSinceCommitMoved },
      };
    });
  const readKcg = () =>
    timed<ConsumerGroupsDescribe>(async () => {
      const { stdout } = await execFileP(
        "docker",
        [
          "exec",
          broker.id,
          "/opt/kafka/bin/kafka-consumer-groups.sh",
          "--bootstrap-server",
          ep.kafkaInternalBootstrapServers.join(","),
          "--describe",
          "--group",
          group,
          // its admin calls' deadline (5 s by default) ran out on the loaded 2-core machine ("Timed out
          // waiting for a node assignment"): a sample lost, not a different reading
          "--timeout",
          "30000",
        ],
        { timeout: 60_000 },
      );
      return { value: parseConsumerGroupsDescribe(stdout, group), raw: stdout };
    });
  const readBurrow = () =>
    timed<BurrowLag>(async () => {
      const res = await fetch(`http://127.0.0.1:${burrowPort}/v3/kafka/${BURROW_CLUSTER}/consumer/${encodeURIComponent(group)}/lag`, {
        signal: AbortSignal.timeout(5_000),
      });
      const body = await res.text();
      return { value: parseBurrowLag(body, group), raw: body };
    });

  /**
   * One round: Kafka's tool first, then the prober's and Burrow's reads together the moment it exits.
   * The tool spends seconds starting its JVM (2–10 s here, varying with the machine's load) and reads the
   * offsets at its very end, so starting the others at its exit keeps them within a read of it; started
   * beside it, on an estimate of its duration, they were up to 10 s apart on a loaded machine.
   */
  const round = async (phase: Phase, repetition: number): Promise<Sample> => {
    const kcg = await readKcg();
    const [prober, burrow] = await Promise.all([readProber(), o.burrow ? readBurrow() : Promise.resolve(undefined)]);
    const reads = [kcg, prober, ...(burrow ? [burrow] : [])];
    const ok = reads.filter((r) => r.ok);
    const s: Sample = {
      phase,
      repetition,
      at: Math.min(...reads.map((r) => r.startedAt)),
      // from the tool's exit to the end of the last other read
      skewMs: ok.length === reads.length ? skewMs(ok.map((r) => r.endedAt)) : null,
      prober,
      kcg,
      ...(burrow ? { burrow } : {}),
      proberVsKcg: kcg.value && prober.value ? difference(kcg.value.partitions, prober.value.partitions) : null,
      burrowVsKcg: kcg.value && burrow?.value ? difference(kcg.value.partitions, burrow.value.partitions) : null,
    };
    if (o.raw) {
      const base = join(o.raw, `${repetition}-${phase}-${samples.length}`);
      if (kcg.raw !== undefined) writeFileSync(`${base}-kafka-consumer-groups.txt`, kcg.raw);
      if (burrow?.raw !== undefined) writeFileSync(`${base}-burrow.json`, burrow.raw);
    }
    samples.push(s);
    const err = [prober, kcg, ...(burrow ? [burrow] : [])].filter((r) => !r.ok).map((r) => r.error);
    log(
      `  ${phase} #${samples.filter((x) => x.phase === phase && x.repetition === repetition).length}: kafka-consumer-groups.sh ${kcg.value ? sumLag(kcg.value.partitions) : "—"}, gm-prober ${prober.value?.total ?? "—"} (${prober.value?.status ?? "—"}), Burrow ${burrow?.value ? `${burrow.value.totalLag} (${burrow.value.status})` : "—"}, skew ${s.skewMs ?? "—"} ms${err.length ? `; failed: ${err.join("; ")}` : ""}`,
    );
    return s;
  };

  /** Rounds every interval from now while `more()` says so. */
  const rounds = async (phase: Phase, repetition: number, more: (s: Sample, n: number) => boolean) => {
    let next = Date.now();
    for (let n = 1; ; n++) {
      const s = await round(phase, repetition);
      if (!more(s, n)) return;
      next += o.interval * 1000;
      await sleep(next - Date.now());
    }
  };

  const waitUntil = async (what: string, ms: number, check: () => Promise<boolean>) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what}: not seen within ${ms / 1000} s`);
      await sleep(o.interval * 1000);
    }
  };
  // caught up: the prober's verdict ok with every partition committed and lag at most one second of load
  const caughtUp = async () => {
    const r = await readProber();
    return !!r.value && r.value.status === "ok" && r.value.partitions.every((p) => p.committedOffset !== null) && r.value.total <= o.rate;
  };
  let warmups = 0;
  const burrowKnows = async () => {
    if (!o.burrow) return true;
    const r = await readBurrow();
    if (o.raw && r.raw !== undefined) writeFileSync(join(o.raw, `warm-up-${warmups++}-burrow.json`), r.raw);
    return (
      !!r.value && r.value.status === "OK" && r.value.partitions.length > 0 && r.value.partitions.every((p) => p.committedOffset !== null)
    );
  };

  // Undone in the end and on SIGINT/SIGTERM: the load, the paused consumers, Burrow and the stack (ZooKeeper with it, by label).
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await load?.stop().catch(() => undefined);
      if (paused) await resume().catch(() => undefined);
      await collector.close().catch(() => undefined);
      if (burrowProc && burrowProc.exitCode === null) {
        const p = burrowProc;
        await new Promise<void>((ok) => {
          const t = setTimeout(() => p.kill("SIGKILL"), 5_000);
          p.once("exit", () => {
            clearTimeout(t);
            ok();
          });
          p.kill("SIGTERM");
        });
      }
      log(`removing stack ${id}`);
      await stack.stop().catch((err: Error) => log(`removing stack ${id} failed: ${err.message} (gm-chaos stack down --id ${id})`));
      if (burrowDir) rmSync(burrowDir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    if (o.burrow) {
      const zkPort = await freePort();
      log("starting ZooKeeper for Burrow's coordination (a container of the stack, the Kafka image's jars)");
      await new GenericContainer(stack.options.images.kafka)
        .withName(`gm-${id}-burrow-zookeeper`)
        .withNetworkMode(ep.network)
        .withLabels({ [LABEL.managed]: "true", [LABEL.stack]: id, [LABEL.role]: "burrow-zookeeper", [LABEL.instance]: "burrow-zookeeper" })
        .withExposedPorts({ container: 2181, host: zkPort })
        .withCommand([
          "java",
          "-Xmx64m",
          "-Dlog4j.configuration=file:/opt/kafka/config/log4j.properties",
          "-Dzookeeper.admin.enableServer=false",
          "-cp",
          "/opt/kafka/libs/*",
          "org.apache.zookeeper.server.ZooKeeperServerMain",
          "2181",
          "/tmp/zookeeper",
        ])
        // serving requests (the published port accepts connections long before: Burrow then fails its handshake)
        .withWaitStrategy(Wait.forLogMessage(/PrepRequestProcessor \(sid:\d+\) started/))
        .withStartupTimeout(90_000)
        .withPullPolicy({ shouldPull: () => false })
        .start();
      burrowPort = await freePort();
      burrowDir = mkdtempSync(join(tmpdir(), "gm-bench-burrow-"));
      writeFileSync(
        join(burrowDir, "burrow.toml"),
        burrowToml({ dir: burrowDir, zookeeper: `127.0.0.1:${zkPort}`, brokers: ep.kafkaBootstrapServers, httpPort: burrowPort }),
      );
      const dir = burrowDir;
      const burrowLog = () => readFileSync(join(dir, "burrow.log"), "utf8").slice(-2000);
      // Burrow exits when its ZooKeeper session fails; a ZooKeeper still settling gets two more tries
      for (let attempt = 1; ; attempt++) {
        const logFd = openSync(join(dir, "burrow.log"), "a");
        const proc = spawn(BURROW, ["-config-dir", dir], { stdio: ["ignore", logFd, logFd] });
        burrowProc = proc;
        log(`Burrow started (config and log in ${dir}, HTTP 127.0.0.1:${burrowPort})`);
        // done waiting when it answers or when it exited
        await waitUntil("Burrow /burrow/admin answering GOOD", 60_000, async () => {
          if (proc.exitCode !== null) return true;
          const r = await fetch(`http://127.0.0.1:${burrowPort}/burrow/admin`, { signal: AbortSignal.timeout(2000) });
          return (await r.text()).includes("GOOD");
        });
        if (proc.exitCode === null) break;
        if (attempt >= 3) throw new Error(`Burrow exited with code ${proc.exitCode}: ${burrowLog()}`);
        log(`Burrow exited with code ${proc.exitCode} (attempt ${attempt}), starting it again in 3 s`);
        await sleep(3000);
      }
    }

    for (let rep = 1; rep <= o.repeat; rep++) {
      log(`repetition ${rep}/${o.repeat}: load ${o.rate} events/s (${batch} per batch), consumers running`);
      load = startLoad();
      // the group committed on every partition and Burrow has a commit for each: what the first comparison needs
      await waitUntil("the group caught up with every partition committed, in the prober's read", 180_000, caughtUp);
      await waitUntil("Burrow OK with a commit on every partition", 180_000, burrowKnows);
      await rounds("load", rep, (_, n) => n < o.samples);

      const before = samples.at(-1)?.burrow?.value?.complete ?? null;
      log(
        `repetition ${rep}: ${o.halt === "pause" ? "pausing" : "stopping"} ${processors.map((c) => c.name).join(", ")} while the load goes on`,
      );
      await halt();
      const pausedAt = Date.now();
      const proberVerdicts: Verdict[] = [];
      const burrowVerdicts: Verdict[] = [];
      await rounds("paused-load", rep, (s) => {
        if (s.prober.value) proberVerdicts.push({ at: s.prober.endedAt, status: s.prober.value.status });
        if (s.burrow?.value) burrowVerdicts.push({ at: s.burrow.endedAt, status: s.burrow.value.status });
        const proberCalled = firstCall(proberVerdicts, pausedAt, PROBER_CALLS) !== null;
        const burrowCalled = !o.burrow || firstCall(burrowVerdicts, pausedAt, ["ERR", "STOP", "STALL"]) !== null;
        return !(proberCalled && burrowCalled) && Date.now() - pausedAt < o.stallWait * 1000;
      });
      const stall: StallResult = {
        repetition: rep,
        pausedAt,
        waitedSeconds: (Date.now() - pausedAt) / 1000,
        prober: firstCall(proberVerdicts, pausedAt, PROBER_CALLS),
        burrowFirst: o.burrow ? firstCall(burrowVerdicts, pausedAt, BURROW_CALLS) : null,
        burrowError: o.burrow ? firstCall(burrowVerdicts, pausedAt, ["ERR", "STOP", "STALL"]) : null,
        burrowCompleteAtPause: before,
        proberVerdicts,
        burrowVerdicts,
      };
      stalls.push(stall);
      log(
        `repetition ${rep}: gm-prober ${stall.prober ? `${stall.prober.status} after ${stall.prober.seconds.toFixed(1)} s` : "did not call"}; Burrow ${stall.burrowFirst ? `${stall.burrowFirst.status} after ${stall.burrowFirst.seconds.toFixed(1)} s` : "did not call"}${stall.burrowError && stall.burrowError !== stall.burrowFirst ? `, ${stall.burrowError.status} after ${stall.burrowError.seconds.toFixed(1)} s` : ""}`,
      );

      log(
        `repetition ${rep}: load stopped; waiting for quiet offsets (and Burrow's next broker-offset refresh, every ${BURROW_OFFSET_REFRESH_SECONDS} s)`,
      );
      await load.stop();
      load = undefined;
      await sleep((BURROW_OFFSET_REFRESH_SECONDS + 1) * 1000);
      await rounds("paused-quiet", rep, (_, n) => n < o.samples);

      log(`repetition ${rep}: resuming the consumers`);
      await resume();
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
  return { id, stallSeconds, samples, stalls, loadStats, topicPartitions: stack.options.topicPartitions };
}

// ---------- output ----------

export interface PhaseSummary {
  phase: Phase;
  samples: number;
  skewMs: ReturnType<typeof spread>;
  producedPerSecond: number | null;
  kcgTotal: ReturnType<typeof spread>;
  prober: { total: ReturnType<typeof spread>; diffTotal: ReturnType<typeof spread>; maxAbsPartition: ReturnType<typeof spread> };
  burrow: { total: ReturnType<typeof spread>; diffTotal: ReturnType<typeof spread>; maxAbsPartition: ReturnType<typeof spread> } | null;
  /** per partition: median difference from Kafka's tool */
  perPartition: { partition: number; prober: number | null; burrow: number | null }[];
}

/** A phase as the tables name it; `halted`: how the consumers were halted (--halt). */
export function phaseTitle(phase: Phase, halted: "pause" | "stop" = "pause"): string {
  const h = halted === "pause" ? "paused" : "stopped";
  switch (phase) {
    case "load":
      return "load running, consumers running";
    case "paused-load":
      return `consumers ${h}, load running`;
    case "paused-quiet":
      return `consumers ${h}, offsets quiet`;
  }
}

/** The messages produced per second over a phase's samples, from Kafka's tool's end offsets. */
export function producedPerSecond(samples: readonly Sample[]): number | null {
  const pts = samples
    .filter((s) => s.kcg.value)
    .map((s) => ({ t: s.kcg.endedAt, v: s.kcg.value!.partitions.reduce((a, p) => a + (p.endOffset ?? 0), 0) }));
  if (pts.length < 2) return null;
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  return last.t > first.t ? ((last.v - first.v) * 1000) / (last.t - first.t) : null;
}

export function summarize(phase: Phase, all: readonly Sample[]): PhaseSummary | null {
  const ss = all.filter((s) => s.phase === phase);
  if (ss.length === 0) return null;
  // produce rate per repetition, then the median (a phase's repetitions are minutes apart)
  const reps = [...new Set(ss.map((s) => s.repetition))];
  const rates = reps.map((r) => producedPerSecond(ss.filter((s) => s.repetition === r))).filter((x): x is number => x !== null);
  const diffs = (k: "proberVsKcg" | "burrowVsKcg") => ss.map((s) => s[k]).filter((x): x is Difference => x !== null);
  const side = (k: "proberVsKcg" | "burrowVsKcg", totals: number[]) => ({
    total: spread(totals),
    diffTotal: spread(diffs(k).map((x) => x.total)),
    maxAbsPartition: spread(diffs(k).map((x) => x.maxAbsPartition)),
  });
  const partitions = [...new Set(ss.flatMap((s) => s.kcg.value?.partitions.map((p) => p.partition) ?? []))].sort((a, b) => a - b);
  const medianDiff = (k: "proberVsKcg" | "burrowVsKcg", p: number) =>
    spread(diffs(k).flatMap((x) => x.partitions.filter((q) => q.partition === p && q.diff !== null).map((q) => q.diff!)))?.median ?? null;
  const hasBurrow = ss.some((s) => s.burrow);
  return {
    phase,
    samples: ss.length,
    skewMs: spread(ss.map((s) => s.skewMs).filter((x): x is number => x !== null)),
    producedPerSecond: rates.length ? spread(rates)!.median : null,
    kcgTotal: spread(ss.filter((s) => s.kcg.value).map((s) => sumLag(s.kcg.value!.partitions))),
    prober: side(
      "proberVsKcg",
      ss.filter((s) => s.prober.value).map((s) => s.prober.value!.total),
    ),
    burrow: hasBurrow
      ? side(
          "burrowVsKcg",
          ss.filter((s) => s.burrow?.value).map((s) => s.burrow!.value!.totalLag),
        )
      : null,
    perPartition: partitions.map((p) => ({
      partition: p,
      prober: medianDiff("proberVsKcg", p),
      burrow: hasBurrow ? medianDiff("burrowVsKcg", p) : null,
    })),
  };
}

export function lagTable(rows: readonly PhaseSummary[], halted: "pause" | "stop" = "pause"): string {
  const out = [
    "Lag, medians (min…max) over the samples; differences are the source minus kafka-consumer-groups.sh, total and the largest of one partition",
    "",
    "| phase | samples | read skew ms | produced msg/s | kafka-consumer-groups.sh total | gm-prober total | gm-prober − kcg total | gm-prober max partition |diff| | Burrow total | Burrow − kcg total | Burrow max partition |diff| |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows)
    out.push(
      `| ${phaseTitle(r.phase, halted)} | ${r.samples} | ${fmtSpread(r.skewMs)} | ${r.producedPerSecond === null ? "—" : r.producedPerSecond.toFixed(0)} | ${fmtSpread(r.kcgTotal)} | ${fmtSpread(r.prober.total)} | ${fmtSpread(r.prober.diffTotal)} | ${fmtSpread(r.prober.maxAbsPartition)} | ${r.burrow ? fmtSpread(r.burrow.total) : "not run"} | ${r.burrow ? fmtSpread(r.burrow.diffTotal) : "—"} | ${r.burrow ? fmtSpread(r.burrow.maxAbsPartition) : "—"} |`,
    );
  out.push("", "Per partition, median difference from kafka-consumer-groups.sh (gm-prober / Burrow)", "");
  const parts = [...new Set(rows.flatMap((r) => r.perPartition.map((p) => p.partition)))].sort((a, b) => a - b);
  out.push(`| phase | ${parts.map((p) => `p${p}`).join(" | ")} |`, `|---|${parts.map(() => "---").join("|")}|`);
  const f = (x: number | null) => (x === null ? "—" : String(x));
  for (const r of rows)
    out.push(
      `| ${phaseTitle(r.phase, halted)} | ${parts
        .map((p) => {
          const q = r.perPartition.find((x) => x.partition === p);
          return q ? `${f(q.prober)} / ${r.burrow ? f(q.burrow) : "—"}` : "—";
        })
        .join(" | ")} |`,
    );
  return out.join("\n");
}

export function stallTable(rows: readonly StallResult[], stallSeconds: number, intervalSeconds: number): string {
  const out = [
    `Stall detection: seconds from the halt (pause or stop) of every consumer (load going on) to the first read that called it; gm-prober stallSeconds ${stallSeconds}, interval ${intervalSeconds} s; Burrow window ${BURROW_INTERVALS} commits`,
    "",
    "| repetition | gm-prober: stalled/stopped | Burrow: first non-OK | Burrow: STALL/STOP/ERR | Burrow window complete before the pause | waited s |",
    "|---|---|---|---|---|---|",
  ];
  const c = (x: { status: string; seconds: number } | null) => (x ? `${x.status} after ${x.seconds.toFixed(1)} s` : "not called");
  for (const r of rows)
    out.push(
      `| ${r.repetition} | ${c(r.prober)} | ${c(r.burrowFirst)} | ${c(r.burrowError)} | ${r.burrowCompleteAtPause === null ? "—" : `${(r.burrowCompleteAtPause * 100).toFixed(0)}%`} | ${r.waitedSeconds.toFixed(0)} |`,
    );
  const ps = spread(rows.filter((r) => r.prober).map((r) => r.prober!.seconds));
  const bs = spread(rows.filter((r) => r.burrowError).map((r) => r.burrowError!.seconds));
  if (rows.length > 1)
    out.push(
      "",
      `gm-prober call s: ${fmtSpread(ps, 1)} (${ps?.n ?? 0} of ${rows.length} called); Burrow STALL/STOP/ERR s: ${fmtSpread(bs, 1)} (${bs?.n ?? 0} of ${rows.length} called)`,
    );
  return out.join("\n");
}

export function goals(
  samples: readonly Sample[],
  stalls: readonly StallResult[],
  summaries: readonly PhaseSummary[],
  stallSeconds: number,
  intervalSeconds: number,
  halted: "pause" | "stop" = "pause",
): GoalCheck[] {
  const d = (phase: Phase, k: "proberVsKcg" | "burrowVsKcg") =>
    samples
      .filter((s) => s.phase === phase)
      .map((s) => s[k])
      .filter((x): x is Difference => x !== null);
  const rate = summaries.find((s) => s.phase === "load")?.producedPerSecond ?? 0;
  const pausedRate = summaries.find((s) => s.phase === "paused-load")?.producedPerSecond ?? 0;
  const loaded = (source: string, k: "proberVsKcg" | "burrowVsKcg"): GoalCheck[] =>
    (
      [
        ["load", rate],
        ["paused-load", pausedRate],
      ] as const
    ).map(([phase, r]) => {
      const g = loadGoal(source, d(phase, k), r, intervalSeconds);
      return { ...g, goal: `${g.goal}, ${phaseTitle(phase, halted)}` };
    });
  const out: GoalCheck[] = [quietGoal("gm-prober", d("paused-quiet", "proberVsKcg")), ...loaded("gm-prober", "proberVsKcg")];
  for (const s of stalls)
    out.push({
      ...stallGoal("gm-prober", s.prober, stallSeconds, intervalSeconds, s.waitedSeconds),
      goal: `${stallGoal("gm-prober", s.prober, stallSeconds, intervalSeconds, s.waitedSeconds).goal} (repetition ${s.repetition})`,
    });
  if (samples.some((s) => s.burrow)) {
    // the same bars for the peer, for comparison (issue 11 sets them for the prober)
    out.push(quietGoal("Burrow (peer)", d("paused-quiet", "burrowVsKcg")), ...loaded("Burrow (peer)", "burrowVsKcg"));
    for (const s of stalls) {
      const g = stallGoal("Burrow (peer, needs ~10 commits)", s.burrowError, stallSeconds, intervalSeconds, s.waitedSeconds);
      out.push({ ...g, goal: `${g.goal} (repetition ${s.repetition})` });
    }
  }
  return out;
}

async function main(args: string[]): Promise<number> {
  const { requireNode24, silenceKafkajsTimeoutWarning } = await import("@gm/stack/runtime");
  requireNode24("bench:lag");
  silenceKafkajsTimeoutWarning();
  const log = (m: string) => process.stderr.write(`[bench:lag] ${m}\n`);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(
      [
        "usage: npm run bench:lag -- [options]",
        "The prober's consumer lag beside kafka-consumer-groups.sh and Burrow on a stack of its own: samples under load,",
        "consumers paused (who calls the stall first), offsets quiet; prints the tables and goals, writes JSON.",
        "  --samples N          samples per phase (default 5)",
        "  --repeat N           repetitions of load / pause / quiet (default 1)",
        "  --rate EVENTS_PER_S  load while sampling (default 200)",
        "  --interval S         the prober's interval (default 5)",
        "  --brokers 1|3        brokers of the stack (default 1)",
        "  --stall-wait S       how long to wait for both verdicts after the pause (default 150)",
        "  --halt pause|stop    docker pause the consumers (the drill's way, default) or stop them",
        "  --policy FILE        the policy whose stallSeconds the prober uses (default scenarios/policy.yaml)",
        "  --json FILE          where the results go (default bench-results/lag.json)",
        "  --raw DIR            keep every raw read",
        "  --no-burrow          without Burrow",
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
      process.stderr.write(`bench:lag: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const started = new Date();
  const loadStart = loadavg().map((x) => x.toFixed(2));
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(o, log);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:lag: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const loadEnd = loadavg().map((x) => x.toFixed(2));
  const summaries = (["load", "paused-load", "paused-quiet"] as const)
    .map((p) => summarize(p, r.samples))
    .filter((x): x is PhaseSummary => x !== null);
  const g = goals(r.samples, r.stalls, summaries, r.stallSeconds, o.interval, o.halt);
  const failedReads = r.samples.flatMap((s) =>
    [
      ["gm-prober", s.prober],
      ["kafka-consumer-groups.sh", s.kcg],
      ["Burrow", s.burrow],
    ]
      .filter(([, x]) => x && !(x as Read<unknown>).ok)
      .map(([n, x]) => `${s.phase} ${new Date(s.at).toISOString()}: ${n as string}: ${(x as Read<unknown>).error}`),
  );
  const head = `bench:lag ${started.toISOString()} on ${cpus().length} cores, load average ${loadStart.join(" ")} at start, ${loadEnd.join(" ")} at end; stack ${r.id}: ${o.brokers} broker(s), ${r.topicPartitions} partitions, group event-processor-service; prober interval ${o.interval} s, stallSeconds ${r.stallSeconds} (${o.policy}); load ${o.rate} events/s (acknowledged ${r.loadStats.acknowledged}, rejected ${r.loadStats.rejected}, not sent ${r.loadStats.skipped}); consumers ${o.halt === "pause" ? "paused (docker pause)" : "stopped (docker stop)"}; ${o.burrow ? `Burrow 1.2.1 offset-refresh ${BURROW_OFFSET_REFRESH_SECONDS} s, intervals ${BURROW_INTERVALS}` : "Burrow not run (--no-burrow)"}`;
  const text = [
    head,
    "",
    lagTable(summaries, o.halt),
    "",
    stallTable(r.stalls, r.stallSeconds, o.interval),
    "",
    ...g.map(goalText),
    ...failedReads.map((f) => `FAILED READ: ${f}`),
  ].join("\n");
  process.stdout.write(`${text}\n`);
  mkdirSync(dirname(resolve(o.json)), { recursive: true });
  // rows: one flat record per number, so an aggregator can merge several benchmarks into one table
  const rows = summaries.flatMap((s) => [
    { bench: "lag", phase: s.phase, source: "kafka-consumer-groups.sh", metric: "total lag", ...s.kcgTotal },
    { bench: "lag", phase: s.phase, source: "gm-prober", metric: "total lag", ...s.prober.total },
    { bench: "lag", phase: s.phase, source: "gm-prober", metric: "total − kafka-consumer-groups.sh", ...s.prober.diffTotal },
    { bench: "lag", phase: s.phase, source: "gm-prober", metric: "max partition |diff|", ...s.prober.maxAbsPartition },
    ...(s.burrow
      ? [
          { bench: "lag", phase: s.phase, source: "Burrow", metric: "total lag", ...s.burrow.total },
          { bench: "lag", phase: s.phase, source: "Burrow", metric: "total − kafka-consumer-groups.sh", ...s.burrow.diffTotal },
          { bench: "lag", phase: s.phase, source: "Burrow", metric: "max partition |diff|", ...s.burrow.maxAbsPartition },
        ]
      : []),
    { bench: "lag", phase: s.phase, source: "all", metric: "read skew ms", ...s.skewMs },
  ]);
  for (const s of r.stalls) {
    rows.push({
      bench: "lag",
      phase: "paused-load",
      source: "gm-prober",
      metric: `seconds to call stalled/stopped (repetition ${s.repetition})`,
      ...(s.prober ? spread([s.prober.seconds]) : {}),
    });
    if (o.burrow)
      rows.push({
        bench: "lag",
        phase: "paused-load",
        source: "Burrow",
        metric: `seconds to STALL/STOP/ERR (repetition ${s.repetition})`,
        ...(s.burrowError ? spread([s.burrowError.seconds]) : {}),
      });
  }
  writeFileSync(
    o.json,
    `${JSON.stringify(
      {
        bench: "lag",
        startedAt: started.toISOString(),
        machine: { cores: cpus().length, loadAverage: { start: loadStart, end: loadEnd } },
        options: o,
        settings: {
          intervalSeconds: o.interval,
          stallSeconds: r.stallSeconds,
          proberTimeoutMs: PROBER_TIMEOUT_MS,
          burrow: o.burrow ? { version: "1.2.1", offsetRefreshSeconds: BURROW_OFFSET_REFRESH_SECONDS, intervals: BURROW_INTERVALS } : null,
        },
        load: r.loadStats,
        rows,
        goals: g,
        phases: summaries,
        stalls: r.stalls,
        samples: r.samples.map((s) => ({
          ...s,
          kcg: { ...s.kcg, raw: undefined },
          burrow: s.burrow ? { ...s.burrow, raw: undefined } : undefined,
        })),
        failedReads,
      },
      null,
      2,
    )}\n`,
  );
  log(`written ${o.json}`);
  return failedReads.length ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    async (code) => (await import("@gm/stack/runtime")).exitAfterFlush(code),
    async (err: unknown) => {
      process.stderr.write(`bench:lag: ${err instanceof Error ? err.message : String(err)}\n`);
      (await import("@gm/stack/runtime")).exitAfterFlush(1);
    },
  );
}
