/**
 * The dead-man's switch. `gm-chaos recover` needs a person; this does not. A drill's journal carries a
 * lease (journal.ts) that the running drill renews every third of its length. When the drill writes its
 * journal, it starts a watchdog: a detached process (its own session, so neither SIGKILL of the runner,
 * nor Ctrl-C on its terminal, nor the runner's exit takes it along) that reads the journal every second
 * and, once the lease lapses, undoes the fault through the same code as `recover` (recoverJournal), checks
 * that nothing is left, and removes the journal. It exits as soon as the runner undid the fault itself.
 *
 * Why a detached process and not a container or a Kubernetes Job: it needs no image and no credentials
 * beyond the runner's own (the Docker socket, the stack's PostgreSQL URL, the kubeconfig context the
 * journal names), it undoes with exactly the code that applied the fault, and it works the same for both
 * targets. What it does not survive is the loss of the runner's machine itself; `gm-chaos recover` from
 * that machine (or another with the same state directory) remains the backstop.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { stateDir } from "../state.js";
import {
  type Journal,
  journalRunner,
  leaseLapsed,
  pendingEntries,
  processStartTime,
  readJournal,
  removeJournal,
  writeJournal,
} from "./journal.js";

/** The lease's length when neither the drill nor GM_CHAOS_LEASE_SECONDS says: a killed runner's fault is undone within about this long. */
export const DEFAULT_LEASE_SECONDS = 10;

/** The lease length in seconds: `given`, else GM_CHAOS_LEASE_SECONDS, else the default; a bad value is an error naming it. */
export function leaseSeconds(given?: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw =
    given ??
    (env["GM_CHAOS_LEASE_SECONDS"] !== undefined && env["GM_CHAOS_LEASE_SECONDS"] !== ""
      ? Number(env["GM_CHAOS_LEASE_SECONDS"])
      : DEFAULT_LEASE_SECONDS);
  if (!Number.isFinite(raw) || raw < 3 || raw > 600) {
    throw new Error(
      `GM_CHAOS_LEASE_SECONDS: expected seconds from 3 to 600 (how long a fault outlives a runner that stopped renewing it), got ${JSON.stringify(given ?? env["GM_CHAOS_LEASE_SECONDS"])}`,
    );
  }
  return raw;
}

export function watchdogDir(): string {
  const dir = join(stateDir(), "watchdog");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** What the watchdog did, written when it exits: the torture script and `recover` read it. */
export interface WatchdogResult {
  drillId: string;
  outcome: "runner-finished" | "undone" | "gave-up";
  /** when the lease lapsed (its expiry), when the watchdog noticed, and when the fault was undone */
  leaseExpiredAt?: string;
  noticedAt?: string;
  undoneAt?: string;
  why?: string;
  undone?: number;
  leftovers?: string[];
  attempts?: number;
  errors?: string[];
}

export function watchdogResultFile(drillId: string): string {
  return join(watchdogDir(), `${drillId}.json`);
}

/** This tool's CLI as node runs it: dist/cli.js (from src/ under vitest, the built one beside it). */
function ownCli(): string {
  const here = fileURLToPath(new URL("../cli.js", import.meta.url));
  return existsSync(here) ? here : here.replace(`${sep}src${sep}`, `${sep}dist${sep}`);
}

/** Starts the drill's watchdog, detached; its output goes to watchdog/<drill>.log in the state directory. */
export function spawnWatchdog(drillId: string): NonNullable<Journal["watchdog"]> {
  pruneOld();
  const fd = openSync(join(watchdogDir(), `${drillId}.log`), "a", 0o600);
  try {
    // started before the journal exists (so no moment of the drill is without it): it waits for the
    // journal while this runner lives, and leaves when the runner ends without having written one
    const runner = [String(process.pid), ...(processStartTime(process.pid) ? [processStartTime(process.pid)!] : [])].join(":");
    const child = spawn(process.execPath, [ownCli(), "watchdog", drillId, "--runner", runner], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: process.env,
    });
    child.unref();
    if (child.pid === undefined) throw new Error("the watchdog process did not start");
    const pidStart = processStartTime(child.pid);
    return { pid: child.pid, ...(pidStart ? { pidStart } : {}) };
  } finally {
    closeSync(fd);
  }
}

/** Watchdog logs and results older than a week go (they are evidence for the runs that just happened). */
function pruneOld(now = Date.now()): void {
  const dir = watchdogDir();
  for (const f of readdirSync(dir)) {
    try {
      if (now - statSync(join(dir, f)).mtimeMs > 7 * 86_400_000) rmSync(join(dir, f), { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

export interface WatchOptions {
  pollMs?: number;
  /** stop retrying a failing undo after this long (the journal stays for `gm-chaos recover`) */
  giveUpMs?: number;
  log: (line: string) => void;
  /** undoes a journal's pending faults; returns how many (recoverJournal) */
  undo: (j: Journal) => Promise<number>;
  /** what is left of a journal's faults (journalLeftovers) */
  leftovers: (j: Journal) => Promise<string[]>;
  /** the runner (pid and start time): while no journal was written yet, the watchdog waits as long as it lives */
  runner?: { pid: number; pidStart?: string };
}

/** Whether a process is still the one that started at `pidStart` (a reused pid is not). */
export function processAlive(p: { pid: number; pidStart?: string }): boolean {
  const started = processStartTime(p.pid);
  if (started === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false; // exited, not reaped yet
  } catch {
    return false;
  }
  return p.pidStart === undefined || p.pidStart === started;
}

/**
 * Holds the switch for one drill until the drill finishes or its lease lapses, then undoes its fault,
 * retrying (Docker or the API server may be briefly gone) until `giveUpMs`.
 */
export async function watchJournal(drillId: string, o: WatchOptions): Promise<WatchdogResult> {
  const pollMs = o.pollMs ?? 1_000;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const done = (r: WatchdogResult) => {
    writeFileSync(watchdogResultFile(drillId), `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600 });
    return r;
  };
  let unreadable = 0;
  let seen = false;
  for (;;) {
    let j: Journal | undefined;
    try {
      j = readJournal(drillId);
      unreadable = 0;
    } catch (err) {
      // a journal mid-rename cannot happen (writes are atomic), but a full disk or a bad file can: keep looking a while
      if (++unreadable >= 30) {
        o.log(`journal ${drillId} unreadable for 30 polls: ${(err as Error).message}; giving up (gm-chaos recover remains)`);
        return done({ drillId, outcome: "gave-up", why: (err as Error).message });
      }
      await sleep(pollMs);
      continue;
    }
    if (!j && !seen && o.runner && processAlive(o.runner)) {
      await sleep(pollMs); // the drill has not recorded a fault yet
      continue;
    }
    if (!j && !seen) {
      o.log(`drill ${drillId}: the runner ended before recording a fault; nothing to do`);
      return done({ drillId, outcome: "runner-finished" });
    }
    seen = true;
    if (!j || pendingEntries(j).length === 0) {
      o.log(`drill ${drillId}: the runner undid its fault itself; nothing to do`);
      return done({ drillId, outcome: "runner-finished" });
    }
    if (leaseLapsed(j)) return undoLapsed(j);
    await sleep(pollMs);
  }

  async function undoLapsed(j: Journal): Promise<WatchdogResult> {
    const noticedAt = new Date().toISOString();
    const runner = journalRunner(j);
    const why = `the lease (${j.lease?.seconds} s) lapsed at ${j.lease?.expiresAt}: ${runner.running ? `the runner (pid ${j.pid}) is alive but stopped renewing it (hung)` : runner.why}`;
    o.log(`drill ${drillId}: ${why}; undoing its fault`);
    const giveUpAt = Date.now() + (o.giveUpMs ?? 30 * 60_000);
    const errors: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const n = await o.undo(j);
        const undoneAt = new Date().toISOString();
        const left = await o.leftovers(j).catch((err: unknown) => [`could not check: ${(err as Error).message}`]);
        j.undoneBy = { by: "watchdog", at: undoneAt, why };
        if (left.length === 0) removeJournal(drillId);
        else writeJournal(j);
        o.log(
          `drill ${drillId}: undone ${n} fault(s) at ${undoneAt} (attempt ${attempt}); ${left.length === 0 ? "nothing is left, journal removed" : `left: ${left.join("; ")} (the journal stays for gm-chaos recover)`}`,
        );
        return done({
          drillId,
          outcome: "undone",
          leaseExpiredAt: j.lease?.expiresAt ?? "",
          noticedAt,
          undoneAt,
          why,
          undone: n,
          leftovers: left,
          attempts: attempt,
          errors,
        });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        errors.push(msg);
        o.log(`drill ${drillId}: undo attempt ${attempt} failed: ${msg}`);
        if (Date.now() >= giveUpAt) {
          o.log(`drill ${drillId}: giving up after ${attempt} attempts; the journal stays for gm-chaos recover`);
          return done({ drillId, outcome: "gave-up", noticedAt, why, attempts: attempt, errors: errors.slice(-5) });
        }
        await sleep(Math.min(5_000, pollMs * 2 ** Math.min(attempt, 3)));
      }
    }
  }
}

/**
 * A SIGTERM to the watchdog: honoured (a result written, true returned) only when no fault of the drill
 * is pending — the runner ending without having recorded one. Otherwise it is ignored and said.
 */
export function stopRequested(drillId: string, log: (l: string) => void): boolean {
  let j: Journal | undefined;
  try {
    j = readJournal(drillId);
  } catch {
    j = undefined;
  }
  if (j && pendingEntries(j).length > 0) {
    log(`drill ${drillId}: SIGTERM ignored: its fault is pending (the watchdog holds the switch until it is undone)`);
    return false;
  }
  log(`drill ${drillId}: stopped by its runner (no fault pending)`);
  writeFileSync(
    watchdogResultFile(drillId),
    `${JSON.stringify({ drillId, outcome: "runner-finished", why: "stopped by its runner: no fault pending" } satisfies WatchdogResult, null, 2)}\n`,
    { mode: 0o600 },
  );
  return true;
}
