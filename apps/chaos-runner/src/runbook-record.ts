/**
 * What `gm-chaos runbook` ran against a real incident, for `gm-chaos report incident <id>`: one JSON line
 * per step (the incident id, the run, the step, its decision, output and recorded undos) appended and
 * fsynced to runbook-steps.jsonl beside the prober's incident journal, as each step ends — a run that
 * is killed keeps the steps it finished. Bounded like the journal: rotated at 4 MiB, two files kept.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { appendDurably } from "@gm/monitor/incident-journal";
import type { OncallStepResult } from "./oncall.js";

export const RUNBOOK_RECORD_FILE = "runbook-steps.jsonl";
const OLDER = "runbook-steps.1.jsonl";
export const RUNBOOK_RECORD_MAX_BYTES = 4 * 1024 * 1024;

export interface RunbookStepRecord extends OncallStepResult {
  v: 1;
  incident: string;
  /** one `gm-chaos runbook` invocation */
  run: string;
  /** stack id, or k8s:<context> */
  target: string;
}

/** Appends one step record, durably. */
export function appendRunbookRecord(dir: string, r: RunbookStepRecord, maxBytes = RUNBOOK_RECORD_MAX_BYTES): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, RUNBOOK_RECORD_FILE);
  const line = `${JSON.stringify(r)}\n`;
  if (existsSync(file)) {
    const size = statSync(file).size;
    if (size > 0 && size + Buffer.byteLength(line) > maxBytes) renameSync(file, join(dir, OLDER));
    else if (size > 0 && !readFileSync(file, "utf8").endsWith("\n")) appendDurably(file, "\n");
  }
  appendDurably(file, line);
}

const isRecord = (v: unknown): v is RunbookStepRecord =>
  typeof v === "object" &&
  v !== null &&
  (v as RunbookStepRecord).v === 1 &&
  typeof (v as RunbookStepRecord).incident === "string" &&
  typeof (v as RunbookStepRecord).step === "string" &&
  Array.isArray((v as RunbookStepRecord).output) &&
  !Number.isNaN(Date.parse(String((v as RunbookStepRecord).startedAt)));

/** The step records of one incident, oldest first; lines that are not records are named in `problems` and skipped. */
export function readRunbookRecords(dir: string, incident: string): { records: RunbookStepRecord[]; problems: string[] } {
  const records: RunbookStepRecord[] = [];
  const problems: string[] = [];
  for (const name of [OLDER, RUNBOOK_RECORD_FILE]) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (line.trim() === "") return;
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch {
          problems.push(`${file} line ${i + 1}: not a runbook step record (invalid JSON); skipped`);
          return;
        }
        if (!isRecord(v)) problems.push(`${file} line ${i + 1}: not a runbook step record (fields missing); skipped`);
        else if (v.incident === incident) records.push(v);
      });
  }
  return { records, problems };
}
