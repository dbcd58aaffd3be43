/**
 * The durable record of faults: a fault's undo is written (and fsynced) before the fault is applied,
 * so `gm-chaos recover` can undo what a killed runner left behind. One file per drill.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readStateFile, stateDir } from "../state.js";
import type { FaultSpec } from "./scenario.js";

/** A runbook step's recorded undo (`gm-chaos runbook --execute`): `undo` holds the step's UndoAction. */
export interface RunbookUndoSpec {
  type: "runbook-undo";
  params: { step: string; incident: string };
}

export interface JournalEntry {
  fault: FaultSpec | RunbookUndoSpec;
  /** what the fault needs to undo itself (instances touched, original limits …) */
  undo: Record<string, unknown>;
  state: "applying" | "applied" | "recovered";
}

export interface Journal {
  drillId: string;
  stackId: string;
  postgresUrl: string;
  pid: number;
  /** the runner's start time in clock ticks since boot (/proc/<pid>/stat), so a reused pid is told apart */
  pidStart?: string;
  startedAt: string;
  entries: JournalEntry[];
  /** a drill against a Kubernetes namespace: where to undo it (stackId is then "k8s:<context>") */
  kubernetes?: import("./namespace.js").KubernetesTargetRecord;
  /**
   * The dead-man's switch: the running drill renews the lease every third of its length; once it lapses
   * (the runner was killed, hung or lost its machine's clock) the watchdog (watchdog.ts) undoes the fault.
   */
  lease?: { seconds: number; expiresAt: string };
  /** the watchdog process that holds this drill's switch */
  watchdog?: { pid: number; pidStart?: string };
  /** a journal of `gm-chaos runbook --execute`'s reversible actions, not a drill's fault: `gm-chaos recover` undoes it, `halt` leaves it */
  runbook?: { incident: string };
  /** who undid the fault when the runner did not: the watchdog (with when and why) */
  undoneBy?: { by: "watchdog" | "recover"; at: string; why: string };
}

export function journalDir(): string {
  const dir = join(stateDir(), "faults");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes atomically and durably: a crash leaves the old or the new record, never half of one. */
export function writeJournal(j: Journal): void {
  const file = journalFile(j.drillId);
  // per process: the runner (renewing its lease) and the watchdog (undoing) may write the same journal
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(j, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function journalFile(drillId: string): string {
  return join(journalDir(), `${drillId}.json`);
}

const isJournal = (v: unknown) =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Journal).drillId === "string" &&
  Number.isInteger((v as Journal).pid) &&
  Array.isArray((v as Journal).entries);

/** One drill's journal; undefined when there is none (the drill finished and removed it). */
export function readJournal(drillId: string): Journal | undefined {
  const file = journalFile(drillId);
  if (!existsSync(file)) return undefined;
  return readStateFile<Journal>(file, "fault journal", isJournal);
}

/** Whether the runner stopped renewing the journal's lease: true once `expiresAt` is past (a journal without a lease never lapses). */
export function leaseLapsed(j: Pick<Journal, "lease">, now: number = Date.now()): boolean {
  if (!j.lease) return false;
  const at = Date.parse(j.lease.expiresAt);
  return !Number.isFinite(at) || now >= at;
}

/** Whether any entry still needs its undo. */
export function pendingEntries(j: Pick<Journal, "entries">): JournalEntry[] {
  return j.entries.filter((e) => e.state !== "recovered");
}

export function readJournals(): Journal[] {
  const dir = journalDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => readStateFile<Journal>(join(dir, f), "fault journal", isJournal));
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined when unknown. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) is in parentheses and may hold spaces: count from the last ")"
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const realpathOr = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** This tool's CLI as node runs it (dist/cli.js). */
const OWN_CLI = fileURLToPath(new URL("../cli.js", import.meta.url));
/** What npm links as node_modules/.bin/gm-chaos (bin/gm-chaos.js): it imports dist/cli.js, so a runner started through it shows only its own path. */
const OWN_LAUNCHER = fileURLToPath(new URL("../../bin/gm-chaos.js", import.meta.url));

/**
 * Whether the journal's pid is still the drill runner that wrote it: the process runs gm-chaos's CLI
 * with `drill`, and (when the journal recorded it) started when the runner did. A pid is reused by the
 * kernel, so anything else gets no signal; `why` says what did not match.
 */
export function journalRunner(
  j: Pick<Journal, "pid" | "pidStart">,
  cli: string = OWN_CLI,
  launcher: string = OWN_LAUNCHER,
): { running: true } | { running: false; why: string } {
  if (!Number.isInteger(j.pid) || j.pid <= 1 || j.pid === process.pid)
    return { running: false, why: `pid ${j.pid} is not a drill runner's` };
  let args: string[];
  try {
    args = readFileSync(`/proc/${j.pid}/cmdline`, "utf8").split("\0");
  } catch {
    return { running: false, why: `no process ${j.pid} (the runner is gone)` };
  }
  const own = [realpathOr(cli), realpathOr(launcher)];
  let cwd = "/";
  try {
    cwd = readlinkSync(`/proc/${j.pid}/cwd`);
  } catch {
    // another user's process: its relative paths cannot be resolved, absolute ones still can
  }
  const at = args.findIndex(
    (a) => a !== "" && (basename(a) === "gm-chaos" || own.includes(realpathOr(isAbsolute(a) ? a : resolve(cwd, a)))),
  );
  if (at < 0 || !args.slice(at + 1).includes("drill"))
    return {
      running: false,
      why: `process ${j.pid} is not gm-chaos drill (${basename(args[0] ?? "?")} ${args.length > 1 ? "…" : ""}); its pid was reused`,
    };
  const started = processStartTime(j.pid);
  if (j.pidStart !== undefined && started !== j.pidStart)
    return {
      running: false,
      why: `process ${j.pid} started at tick ${started}, the journal's runner at ${j.pidStart}: the pid was reused`,
    };
  return { running: true };
}

export function removeJournal(drillId: string): void {
  rmSync(journalFile(drillId), { force: true });
}

/** `gm-chaos halt` leaves this file; no drill starts while it exists. */
export function haltFile(): string {
  return join(stateDir(), "HALTED");
}
