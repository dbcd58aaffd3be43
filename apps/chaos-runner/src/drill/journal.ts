/**
 * The durable record of faults: a fault's undo is written (and fsynced) before the fault is applied,
 * so `gm-chaos recover` can undo what a killed runner left behind. One file per drill.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../state.js";
import type { FaultSpec } from "./scenario.js";

export interface JournalEntry {
  fault: FaultSpec;
  /** what the fault needs to undo itself (instances touched, original limits …) */
  undo: Record<string, unknown>;
  state: "applying" | "applied" | "recovered";
}

export interface Journal {
  drillId: string;
  stackId: string;
  postgresUrl: string;
  pid: number;
  startedAt: string;
  entries: JournalEntry[];
  /** a drill against a Kubernetes namespace: where to undo it (stackId is then "k8s:<context>") */
  kubernetes?: import("./namespace.js").KubernetesTargetRecord;
}

export function journalDir(): string {
  const dir = join(stateDir(), "faults");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes atomically and durably: a crash leaves the old or the new record, never half of one. */
export function writeJournal(j: Journal): void {
  const file = join(journalDir(), `${j.drillId}.json`);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(j, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readJournals(): Journal[] {
  const dir = journalDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Journal);
}

export function removeJournal(drillId: string): void {
  rmSync(join(journalDir(), `${drillId}.json`), { force: true });
}

/** `gm-chaos halt` leaves this file; no drill starts while it exists. */
export function haltFile(): string {
  return join(stateDir(), "HALTED");
}
