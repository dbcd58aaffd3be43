/**
 * `npm run torture:runner`: kill the drill runner anywhere, and prove the platform comes back with
 * nothing left and nothing acknowledged lost. On one real 3-broker stack (its own state directory, so
 * nothing else's journals are touched), under the script's own continuous load through ingest-api:
 *
 * - SIGKILL of `gm-chaos drill` at random moments of each drill's lifecycle (`--kills`, 50 by default):
 *   before the journal is written (steady state), as soon as the journal exists (between journal and
 *   fault), mid-fault, mid-remediation and mid-undo. Nobody types anything first: the time from the kill
 *   to the fault being undone by the drill's watchdog alone (the dead-man's switch) is measured; then
 *   `gm-chaos recover` runs as the on-call engineer would, and must find the stack back in steady state.
 * - SIGINT and SIGTERM at the same five points (the runner undoes its own fault, bounded to 10 s).
 * - The runner's machine losing Docker: its Docker socket (DOCKER_HOST, a proxy this script controls) cut
 *   for 5 s mid-fault while the drill goes on, and cut for longer than the lease right after a SIGKILL so
 *   the watchdog's first undo attempts fail.
 *
 * After each run, leftovers are looked for independently of the faults' own checks: containers not
 * running, paused, missing or extra (a rolling update's surge, replicas the runbook added), memory limits
 * changed, sessions of the fault's PostgreSQL role (held connections, locks), journals, watchdog processes.
 * At the end every event the script's load got a 202 for must be in PostgreSQL exactly once.
 * Prints one line per run and a table; `--json FILE` writes every run. Exit 1 when a goal is missed.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { checkStored } from "@gm/stack/load-generator";
import type { StackRecord } from "../state.js";
import { startHttpLoad } from "../load/http-load.js";

const POINTS = ["before-journal", "journal-before-fault", "mid-fault", "mid-remediation", "mid-undo"] as const;
type Point = (typeof POINTS)[number];
const DRILLS = [
  "kafka-broker-down",
  "kafka-broker-down-majority",
  "db-pool-exhausted",
  "db-pool-exhausted-lock",
  "high-consumer-lag",
  "service-oom",
];

const argv = yargs(hideBin(process.argv))
  .scriptName("torture:runner")
  .usage("$0 [options]\n\nKill the drill runner anywhere and measure whether the stack comes back (see the file's header).")
  .option("kills", { type: "number", default: 50, describe: "SIGKILLs in all, spread over drills × kill points" })
  .option("signals", { type: "boolean", default: true, describe: "also SIGINT and SIGTERM once at each kill point" })
  .option("docker-loss", { type: "boolean", default: true, describe: "also the two Docker-loss runs" })
  .option("drills", { type: "string", array: true, default: DRILLS, describe: "drills to kill" })
  .option("points", { type: "string", array: true, default: [...POINTS], choices: [...POINTS], describe: "kill points" })
  .option("lease-seconds", { type: "number", default: 10, describe: "the fault lease the drills run with (GM_CHAOS_LEASE_SECONDS)" })
  .option("interval", { type: "number", default: 5, describe: "the drills' prober interval in seconds (gm-prober's default)" })
  .option("window", {
    type: "number",
    default: 15,
    describe: "the drills' prober window in seconds (shorter than gm-prober's 60 s: the undo is tortured here, not detection)",
  })
  .option("timeout-ms", {
    type: "number",
    default: 5_000,
    describe:
      "the drills' prober collector timeout (2 s in production; a loaded shared machine answers slower, and a failed synthetic journey keeps steady state away)",
  })
  .option("seed", { type: "number", default: 20261202, describe: "seed of the random kill moments and order" })
  .option("stack-id", { type: "string", describe: "the stack id to start (default: torture-<time>)" })
  .option("json", { type: "string", describe: "write every run's record to this file" })
  .strict()
  .help()
  .parseSync();

if (!Number.isInteger(argv.kills) || argv.kills < 0 || argv.kills > 1000)
  fail(`--kills: expected a whole number from 0 to 1000, got ${argv.kills}`);
if (!Number.isFinite(argv["lease-seconds"]) || argv["lease-seconds"] < 3 || argv["lease-seconds"] > 600)
  fail(`--lease-seconds: expected 3 to 600, got ${argv["lease-seconds"]}`);
for (const d of argv.drills) if (!DRILLS.includes(d)) fail(`--drills: expected some of ${DRILLS.join(", ")}, got ${JSON.stringify(d)}`);

function fail(msg: string): never {
  process.stderr.write(`torture:runner: ${msg}\n`);
  process.exit(2);
}

const cli = fileURLToPath(new URL("../cli.js", import.meta.url));
const state = mkdtempSync(join(tmpdir(), "gm-torture-"));
const stackId = argv["stack-id"] ?? `torture-${Date.now().toString(36)}`;
const lease = argv["lease-seconds"];
const logFile = join(state, "torture.log");
const t0 = Date.now();
const say = (s: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s] ${s}\n`);

// a seeded PRNG (mulberry32): the same seed kills at the same moments
let seed = argv.seed >>> 0;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The runner's Docker: a proxy to the engine's socket that this script can cut ("the machine loses Docker"). */
class DockerProxy {
  readonly path = join(state, "docker.sock");
  private server: Server | undefined;
  private conns = new Set<Socket>();
  private downUntil = 0;
  async start(): Promise<void> {
    this.server = createServer((c) => {
      if (Date.now() < this.downUntil) return void c.destroy();
      const up = createConnection("/var/run/docker.sock");
      this.conns.add(c);
      const end = () => {
        this.conns.delete(c);
        c.destroy();
        up.destroy();
      };
      c.on("error", end).on("close", end);
      up.on("error", end).on("close", end);
      c.pipe(up);
      up.pipe(c);
    });
    await new Promise<void>((r) => this.server!.listen(this.path, r));
  }
  cut(ms: number): void {
    this.downUntil = Date.now() + ms;
    for (const c of this.conns) c.destroy();
  }
  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const proxy = new DockerProxy();
const running = new Set<ChildProcess>();
const env = { ...process.env, GM_STATE_DIR: state, TESTCONTAINERS_RYUK_DISABLED: "true", GM_CHAOS_LEASE_SECONDS: String(lease) };
const runnerEnv = { ...env, DOCKER_HOST: `unix://${proxy.path}` };
const gm = (args: string[], timeoutMs = 600_000) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env, timeout: timeoutMs });

interface Baseline {
  containers: Map<string, { running: boolean; paused: boolean; memory: number }>;
}

function containers(): Map<string, { running: boolean; paused: boolean; memory: number }> {
  const names = spawnSync("docker", ["ps", "-a", "--filter", `label=io.gamemetrics.stack=${stackId}`, "--format", "{{.Names}}"], {
    encoding: "utf8",
  })
    .stdout.split("\n")
    .filter(Boolean);
  const out = new Map<string, { running: boolean; paused: boolean; memory: number }>();
  if (names.length === 0) return out;
  const r = spawnSync("docker", ["inspect", "-f", "{{.Name}} {{.State.Running}} {{.State.Paused}} {{.HostConfig.Memory}}", ...names], {
    encoding: "utf8",
  });
  for (const l of r.stdout.split("\n").filter(Boolean)) {
    const [n, running, paused, mem] = l.split(" ");
    out.set(n!.replace(/^\//, ""), { running: running === "true", paused: paused === "true", memory: Number(mem) });
  }
  return out;
}

async function pgLeftovers(adminUrl: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    const fault = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'gm_chaos_fault'");
    const locks = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation' AND a.pid <> pg_backend_pid()",
    );
    const out: string[] = [];
    if (Number(fault.rows[0]!.n) > 0) out.push(`${fault.rows[0]!.n} session(s) of gm_chaos_fault`);
    if (Number(locks.rows[0]!.n) > 0) out.push(`${locks.rows[0]!.n} ACCESS EXCLUSIVE relation lock(s) held`);
    return out;
  } finally {
    await c.end();
  }
}

function watchdogsRunning(): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const envOf = readFileSync(`/proc/${p}/environ`, "utf8");
      if (cmd.includes(cli) && cmd.includes("watchdog") && envOf.includes(`GM_STATE_DIR=${state}`)) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

async function leftovers(base: Baseline, adminUrl: string): Promise<string[]> {
  const out: string[] = [];
  const now = containers();
  for (const [name, b] of base.containers) {
    const c = now.get(name);
    if (!c) out.push(`${name} is missing`);
    else {
      if (!c.running) out.push(`${name} is not running`);
      if (c.paused) out.push(`${name} is paused`);
      if (c.memory !== b.memory) out.push(`${name} memory limit ${c.memory}, was ${b.memory}`);
    }
  }
  for (const name of now.keys()) if (!base.containers.has(name)) out.push(`${name} is extra`);
  out.push(...(await pgLeftovers(adminUrl).catch((e: Error) => [`postgres: ${e.message}`])));
  const journals = existsSync(join(state, "faults")) ? readdirSync(join(state, "faults")).filter((f) => f.endsWith(".json")) : [];
  if (journals.length) out.push(`journal(s) left: ${journals.join(", ")}`);
  // a watchdog still holding a switch after the run is a leftover too (give it a poll to leave)
  for (let i = 0; i < 20 && watchdogsRunning().length > 0; i++) await sleep(250);
  const dogs = watchdogsRunning();
  if (dogs.length) out.push(`watchdog process(es) still running: ${dogs.join(", ")}`);
  return out;
}

interface RunRecord {
  n: number;
  drill: string;
  point: Point | "docker-lost-mid-fault" | "docker-lost-after-kill";
  signal: "SIGKILL" | "SIGINT" | "SIGTERM" | "none";
  /** the phase the runner had reached when the signal landed (from its progress), and the journal's state */
  landed: string;
  journalAtKill: string;
  killed: boolean;
  runnerExit: number | null;
  /** SIGINT/SIGTERM: seconds from the signal to the runner's exit */
  exitSeconds: number | null;
  watchdog: string;
  /** seconds from the kill to the fault undone by the watchdog alone */
  watchdogUndoSeconds: number | null;
  recoverExit: number | null;
  recoverUndid: number;
  steady: boolean;
  leftovers: string[];
  seconds: number;
}

function journalState(): string {
  const dir = join(state, "faults");
  if (!existsSync(dir)) return "none";
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (files.length === 0) return "none";
  try {
    const j = JSON.parse(readFileSync(join(dir, files[0]!), "utf8")) as { entries: { state: string }[] };
    return j.entries.map((e) => e.state).join(",") || "empty";
  } catch {
    return "unreadable";
  }
}

async function oneRun(
  n: number,
  drill: string,
  point: RunRecord["point"],
  signal: RunRecord["signal"],
  base: Baseline,
  adminUrl: string,
  proberFile: string,
): Promise<RunRecord> {
  const started = Date.now();
  const dogsBefore = new Set(existsSync(join(state, "watchdog")) ? readdirSync(join(state, "watchdog")) : []);
  const child: ChildProcess = spawn(process.execPath, [cli, "drill", drill, "--stack-id", stackId, "--prober-config", proberFile], {
    env: runnerEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  let err = "";
  let phase = "started";
  const exited = new Promise<number | null>((r) => child.on("exit", (code, sig) => r(code ?? (sig ? 128 : null))));
  let done = false;
  void exited.then(() => (done = true));
  child.stdout!.on("data", (c: Buffer) => appendFileSync(logFile, c));
  child.stderr!.on("data", (c: Buffer) => {
    const s = c.toString();
    err += s;
    appendFileSync(logFile, s);
    for (const m of s.matchAll(/\] \S+ \[([a-z-]+)\] /g)) phase = m[1]!;
  });
  const until = async (pred: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!pred() && !done && Date.now() < end) await sleep(point === "journal-before-fault" ? 2 : 50);
    return pred();
  };
  let reached: boolean;
  switch (point) {
    case "before-journal":
      reached = await until(() => err.includes("[steady-state] waiting for"), 60_000);
      if (reached) await sleep(rand() * 3_000);
      break;
    case "journal-before-fault":
      reached = await until(() => journalState() !== "none", 240_000);
      break;
    case "mid-fault":
    case "docker-lost-mid-fault":
    case "docker-lost-after-kill":
      reached = await until(() => err.includes("[inject] fault:"), 240_000);
      if (reached) await sleep(point === "mid-fault" ? rand() * 4_000 : 1_000);
      break;
    case "mid-remediation":
      reached = await until(() => /\[mitigate\] step /.test(err), 300_000);
      if (reached) await sleep(rand() * 2_500);
      break;
    case "mid-undo":
      reached = await until(() => err.includes("undoing the fault"), 400_000);
      if (reached) await sleep(rand() * 150);
      break;
  }
  const landed = done ? `exited on its own in ${phase}` : phase;
  const journalAtKill = journalState();
  const killedAt = Date.now();
  let killed = false;
  if (!done) {
    if (point === "docker-lost-mid-fault") proxy.cut(5_000);
    else {
      child.kill(signal as NodeJS.Signals);
      killed = true;
      if (point === "docker-lost-after-kill") proxy.cut((lease + 10) * 1000);
    }
  }
  // SIGINT/SIGTERM and Docker loss: the runner finishes on its own (bounded); SIGKILL: it is gone at once
  const code = await Promise.race([exited, sleep(point === "docker-lost-mid-fault" ? 600_000 : 60_000).then(() => "timeout" as const)]);
  if (code === "timeout") child.kill("SIGKILL");
  const exitSeconds = signal === "SIGINT" || signal === "SIGTERM" ? (Date.now() - killedAt) / 1000 : null;
  // The dead-man's switch, alone: wait for the drill's watchdog to say what it did.
  let watchdog = "none started";
  let watchdogUndoSeconds: number | null = null;
  const newDog = () =>
    existsSync(join(state, "watchdog")) ? readdirSync(join(state, "watchdog")).filter((f) => f.endsWith(".log") && !dogsBefore.has(f)) : [];
  const dogLog = newDog()[0];
  if (dogLog) {
    const result = join(state, "watchdog", dogLog.replace(/\.log$/, ".json"));
    const end = Date.now() + (lease + 90) * 1000;
    // the watchdog's pid is in its log's first line; a watchdog that is gone wrote its result or never will
    const pid = Number(/\(pid (\d+)\)/.exec(readFileSync(join(state, "watchdog", dogLog), "utf8"))?.[1] ?? 0);
    const alive = () =>
      pid > 0 &&
      existsSync(`/proc/${pid}`) &&
      !readFileSync(`/proc/${pid}/stat`, "utf8")
        .slice(readFileSync(`/proc/${pid}/stat`, "utf8").lastIndexOf(")") + 2)
        .startsWith("Z");
    while (!existsSync(result) && Date.now() < end && (alive() || Date.now() - killedAt < 3_000)) await sleep(200);
    if (existsSync(result)) {
      const r = JSON.parse(readFileSync(result, "utf8")) as { outcome: string; undoneAt?: string; attempts?: number };
      watchdog = r.outcome + (r.attempts && r.attempts > 1 ? ` (${r.attempts} attempts)` : "");
      if (r.outcome === "undone" && r.undoneAt) watchdogUndoSeconds = (Date.parse(r.undoneAt) - killedAt) / 1000;
    } else watchdog = alive() ? "no result after the lease + 90 s (still running)" : "exited without a result";
  }
  // Then the on-call engineer's `gm-chaos recover`, which also waits for steady state.
  const rec = gm(["recover", "--steady-timeout", "240"]);
  const undid = /recovered (\d+) fault/.exec(rec.stdout);
  const left = await leftovers(base, adminUrl);
  return {
    n,
    drill,
    point,
    signal,
    landed,
    journalAtKill,
    killed,
    runnerExit: typeof code === "number" ? code : null,
    exitSeconds,
    watchdog,
    watchdogUndoSeconds,
    recoverExit: rec.status,
    recoverUndid: undid ? Number(undid[1]) : 0,
    steady: rec.status === 0 && /steady state/.test(rec.stdout),
    leftovers: left,
    seconds: (Date.now() - started) / 1000,
  };
}

function plan(): { drill: string; point: RunRecord["point"]; signal: RunRecord["signal"] }[] {
  const combos = argv.drills.flatMap((d) => (argv.points as Point[]).map((p) => ({ drill: d, point: p as RunRecord["point"] })));
  const runs: { drill: string; point: RunRecord["point"]; signal: RunRecord["signal"] }[] = [];
  // every drill × point once, then random ones, all shuffled
  for (let i = 0; i < argv.kills; i++)
    runs.push({ ...(i < combos.length ? combos[i]! : combos[Math.floor(rand() * combos.length)]!), signal: "SIGKILL" });
  if (argv.signals)
    for (const [i, p] of (argv.points as Point[]).entries())
      for (const s of ["SIGINT", "SIGTERM"] as const)
        runs.push({ drill: argv.drills[(i * 2 + (s === "SIGINT" ? 0 : 1)) % argv.drills.length]!, point: p, signal: s });
  for (let i = runs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [runs[i], runs[j]] = [runs[j]!, runs[i]!];
  }
  if (argv["docker-loss"]) {
    runs.push({ drill: "high-consumer-lag", point: "docker-lost-mid-fault", signal: "none" });
    runs.push({ drill: "high-consumer-lag", point: "docker-lost-after-kill", signal: "SIGKILL" });
  }
  return runs;
}

const q = (xs: number[], p: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : NaN;

async function main(): Promise<number> {
  const runs = plan();
  say(
    `state ${state}; ${runs.length} runs (${runs.filter((r) => r.signal === "SIGKILL").length} SIGKILL); lease ${lease} s; log ${logFile}`,
  );
  await proxy.start();
  say(`starting stack ${stackId} (3 brokers)`);
  const up = gm(["stack", "up", "--brokers", "3", "--id", stackId], 600_000);
  if (up.status !== 0) {
    process.stderr.write(up.stderr);
    return 1;
  }
  const rec = JSON.parse(readFileSync(join(state, "stacks", `${stackId}.json`), "utf8")) as StackRecord;
  const e = rec.endpoints;
  // The drills observe with gm-prober's round at a shorter interval and window than production's: what is
  // tortured here is the undo, not the detection (the game day measures that at the defaults).
  const proberFile = join(state, "prober.yaml");
  const { proberConfigFor } = await import("../prober-config.js");
  writeFileSync(
    proberFile,
    `${proberConfigFor(e)}intervalSeconds: ${argv.interval}\nwindowSeconds: ${argv.window}\ntimeoutMs: ${argv["timeout-ms"]}\n`,
    { mode: 0o600 },
  );
  const load = startHttpLoad({ ingestUrl: e.services["ingest-api"], runId: `torture-${Date.now().toString(36)}`, rate: 4, batch: 10 });
  const records: RunRecord[] = [];
  let base: Baseline | undefined;
  let exitCode = 1;
  try {
    // steady before the first run, and the shape everything must return to
    const first = gm(["recover", "--steady-timeout", "240"]);
    if (first.status !== 0) throw new Error(`the fresh stack is not steady: ${first.stdout}${first.stderr}`);
    base = { containers: containers() };
    say(`baseline: ${base.containers.size} containers`);
    for (const [i, r] of runs.entries()) {
      const x = await oneRun(i + 1, r.drill, r.point, r.signal, base, e.postgresUrl, proberFile);
      records.push(x);
      say(
        `#${x.n} ${x.drill} ${x.signal} ${x.point}: landed in ${x.landed} (journal ${x.journalAtKill}); watchdog ${x.watchdog}${x.watchdogUndoSeconds !== null ? ` in ${x.watchdogUndoSeconds.toFixed(1)} s` : ""}; recover exit ${x.recoverExit} undid ${x.recoverUndid}; ${x.steady ? "steady" : "NOT steady"}; leftovers: ${x.leftovers.join("; ") || "none"} (${x.seconds.toFixed(0)} s)`,
      );
      if (argv.json) writeFileSync(argv.json, JSON.stringify({ runs: records }, null, 2));
      if (x.leftovers.length > 0) {
        // put the stack back the hard way so that the next run starts from the baseline: counted, not hidden
        for (const [name, b] of base.containers) {
          if (b.running) spawnSync("docker", ["unpause", name]);
          if (b.running) spawnSync("docker", ["start", name]);
        }
      }
    }
  } finally {
    const r = await load.stop();
    say(`load stopped: ${r.acknowledged.length} events acknowledged, statuses ${JSON.stringify(r.statusCounts)}; checking PostgreSQL`);
    let lost = -1;
    let dup = -1;
    const end = Date.now() + 240_000;
    for (;;) {
      const s = await checkStored(e.postgresUrl, r.acknowledged).catch(() => null);
      if (s && (s.lost.length === 0 || Date.now() > end)) {
        lost = s.lost.length;
        dup = s.duplicates;
        break;
      }
      if (Date.now() > end) break;
      await sleep(2_000);
    }
    await proxy.stop();
    gm(["stack", "down", "--id", stackId], 120_000);
    const summary = summarize(records, r.acknowledged.length, lost, dup);
    process.stdout.write(summary.text);
    if (argv.json)
      writeFileSync(
        argv.json,
        JSON.stringify(
          { runs: records, events: { acknowledged: r.acknowledged.length, lost, duplicates: dup }, goalsMet: summary.ok },
          null,
          2,
        ),
      );
    rmSync(join(state, "docker.sock"), { force: true });
    exitCode = summary.ok ? 0 : 1;
  }
  return exitCode;
}

function summarize(records: RunRecord[], acknowledged: number, lost: number, dup: number): { text: string; ok: boolean } {
  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(cells.map((c, i) => String(c).padEnd(i === 0 ? 26 : 10)).join(" "));
  lines.push("", `runner torture: ${records.length} runs on stack ${stackId}, lease ${lease} s, seed ${argv.seed}`, "");
  row(["point", "signal", "runs", "killed", "steady", "leftovers", "wd undid", "wd p50 s", "wd max s", "exit max s"]);
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) groups.set(`${r.point}|${r.signal}`, [...(groups.get(`${r.point}|${r.signal}`) ?? []), r]);
  for (const [k, rs] of groups) {
    const [point, signal] = k.split("|");
    const wd = rs.map((r) => r.watchdogUndoSeconds).filter((x): x is number => x !== null);
    const ex = rs.map((r) => r.exitSeconds).filter((x): x is number => x !== null);
    row([
      point!,
      signal!,
      rs.length,
      rs.filter((r) => r.killed).length,
      rs.filter((r) => r.steady).length,
      rs.filter((r) => r.leftovers.length > 0).length,
      wd.length,
      wd.length ? q(wd, 0.5).toFixed(1) : "—",
      wd.length ? Math.max(...wd).toFixed(1) : "—",
      ex.length ? Math.max(...ex).toFixed(1) : "—",
    ]);
  }
  const kills = records.filter((r) => r.killed && r.signal === "SIGKILL");
  const steady = records.filter((r) => r.steady).length;
  const left = records.filter((r) => r.leftovers.length > 0);
  const wdAll = kills.map((r) => r.watchdogUndoSeconds).filter((x): x is number => x !== null);
  // a fault is pending when the journal held an entry not yet "recovered" at the kill (a mid-undo kill that
  // landed after the runner itself finished undoing leaves nothing for the watchdog to do)
  const faultPending = kills.filter((r) => r.journalAtKill.split(",").some((s) => s === "applying" || s === "applied"));
  const byDogAlone = faultPending.filter((r) => r.watchdog.startsWith("undone")).length;
  lines.push(
    "",
    `SIGKILLs that landed: ${kills.length}; with a fault pending at the kill: ${faultPending.length}, undone by the watchdog alone: ${byDogAlone} (kill → undone p50 ${q(wdAll, 0.5).toFixed(1)} s, p95 ${q(wdAll, 0.95).toFixed(1)} s, max ${wdAll.length ? Math.max(...wdAll).toFixed(1) : "—"} s)`,
    `restored to steady state: ${steady}/${records.length} (${((100 * steady) / Math.max(1, records.length)).toFixed(0)} %)   goal 100 %`,
    `runs with leftovers: ${left.length}   goal 0${left.length ? `: ${left.map((r) => `#${r.n} ${r.leftovers.join("; ")}`).join(" | ")}` : ""}`,
    `events acknowledged by the script's load: ${acknowledged}, lost: ${lost}, stored twice: ${dup}   goal 0 lost`,
    "",
  );
  const ok = steady === records.length && left.length === 0 && lost === 0 && byDogAlone === faultPending.length;
  lines.push(ok ? "all goals met" : "GOALS MISSED (see above)", "");
  return { text: lines.join("\n"), ok };
}

process.on("SIGINT", () => {
  say("SIGINT: undoing what the running drill left and removing the stack");
  for (const c of running) c.kill("SIGKILL");
  gm(["recover", "--steady-timeout", "0"]);
  gm(["stack", "down", "--id", stackId], 120_000);
  process.exit(130);
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`torture:runner: ${err instanceof Error ? err.message : String(err)}\n`);
    gm(["stack", "down", "--id", stackId], 120_000);
    process.exit(1);
  },
);
