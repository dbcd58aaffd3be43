import { appendFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendRunbookRecord, RUNBOOK_RECORD_FILE, type RunbookStepRecord, readRunbookRecords } from "./runbook-record.js";

const record = (incident: string, step: string, output: string[] = ["ok"]): RunbookStepRecord => ({
  v: 1,
  incident,
  run: "r1",
  target: "stack-1",
  step,
  title: step,
  phase: "triage",
  runbookAction: step,
  effect: "read-only",
  decision: "ran",
  ran: true,
  ok: true,
  startedAt: "2026-12-03T07:00:00.000Z",
  seconds: 1,
  output,
  undo: [],
});

describe("runbook step records", () => {
  it("reads back one incident's steps in order, naming a corrupt line and skipping it", () => {
    const dir = mkdtempSync(join(tmpdir(), "gm-rbrec-"));
    const a = "service-down-20261203T070000Z-aaaa";
    appendRunbookRecord(dir, record(a, "check-health-endpoints"));
    appendRunbookRecord(dir, record("db-pool-exhausted-20261203T070000Z-bbbb", "db-check-active-connections"));
    appendFileSync(join(dir, RUNBOOK_RECORD_FILE), '{"v":1,"incident":"ser'); // a run killed mid-write
    appendRunbookRecord(dir, record(a, "restart-failing-instances"));
    const r = readRunbookRecords(dir, a);
    expect(r.records.map((x) => x.step)).toEqual(["check-health-endpoints", "restart-failing-instances"]);
    expect(r.problems).toEqual([`${join(dir, RUNBOOK_RECORD_FILE)} line 3: not a runbook step record (invalid JSON); skipped`]);
  });

  it("is bounded: the file rotates once past its cap, one older file kept", () => {
    const dir = mkdtempSync(join(tmpdir(), "gm-rbrec-"));
    const big = ["x".repeat(2000)];
    for (let n = 0; n < 40; n++) appendRunbookRecord(dir, record("service-down-20261203T070000Z-aaaa", `s${n}`, big), 16_384);
    expect(readdirSync(dir).sort()).toEqual(["runbook-steps.1.jsonl", RUNBOOK_RECORD_FILE]);
    const steps = readRunbookRecords(dir, "service-down-20261203T070000Z-aaaa").records.map((x) => x.step);
    expect(steps.at(-1)).toBe("s39");
    expect(steps).not.toContain("s0");
  });
});
