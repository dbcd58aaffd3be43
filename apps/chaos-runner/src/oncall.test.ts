import type { Incident } from "@gm/runbook/incident";
import { defaultPolicy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import type { Step, StepEffect } from "@gm/runbook/steps";
import { describe, expect, it, vi } from "vitest";
import { run } from "./cli.js";
import { decide, type ExecuteMode, refusal, runOncallSteps } from "./oncall.js";
import type { Out } from "./output.js";

const incident: Incident = {
  kind: "high-error-rate",
  severity: "P1",
  subject: "stats-api",
  summary: "",
  evidence: [],
  responseMinutes: 15,
  respondBy: "",
  escalation: "page",
  steps: [],
};

/** A step that logs when it acts; a reversible one records its undo first, as the catalog's do. */
function step(id: string, phase: Step["phase"], effect: StepEffect, calls: string[]): Step {
  return {
    id,
    phase,
    title: id,
    runbookAction: id,
    effect,
    advisory: false,
    async run(_ports, ctx) {
      if (effect.type === "reversible") await ctx.recordUndo?.({ action: "scale", service: "stats-api", replicas: 1 });
      calls.push(`run ${id}`);
      return { ok: true, output: [`${id} done`] };
    },
  };
}

function catalog(calls: string[]): Step[] {
  return [
    step("look", "triage", { type: "read-only" }, calls),
    step("scale", "mitigation", { type: "reversible", undo: "scale back" }, calls),
    step("restart", "mitigation", { type: "irreversible", why: "gone" }, calls),
    step("verify", "verification", { type: "read-only" }, calls),
  ];
}

async function oncall(mode: ExecuteMode, answers: boolean[] = []) {
  const calls: string[] = [];
  const results = await runOncallSteps(catalog(calls), {} as Ports, {
    ...mode,
    incident,
    policy: defaultPolicy,
    ask: async (q) => {
      calls.push(`ask ${q.split(" — ")[0]}`);
      return answers.shift() ?? false;
    },
    recordUndo: async (s, u) => void calls.push(`undo ${s} ${u.action} ${u.service} ${"replicas" in u ? u.replicas : ""}`),
  });
  return { calls, results: results.map((r) => [r.step, r.decision]) };
}

describe("graded autonomy", () => {
  it("refuses --execute that no one can confirm, and --yes without --execute, naming the options", () => {
    expect(refusal({ execute: true, yes: false, tty: false })).toMatch(
      /^--execute: standard input is not a terminal, so no one can confirm the steps that change the system; pass --yes/,
    );
    expect(refusal({ execute: false, yes: true, tty: true })).toMatch(/^--yes: only with --execute/);
    expect(refusal({ execute: true, yes: false, tty: true })).toBeNull();
    expect(refusal({ execute: true, yes: true, tty: false })).toBeNull();
    expect(refusal({ execute: false, yes: false, tty: false })).toBeNull();
  });

  it("without --execute runs the read-only triage and advises every step that changes the system, asking nothing", async () => {
    const r = await oncall({ execute: false, yes: false, tty: true });
    expect(r.calls).toEqual(["run look"]);
    expect(r.results).toEqual([
      ["look", "ran"],
      ["scale", "advised"],
      ["restart", "advised"],
      ["verify", "advised"],
    ]);
  });

  it("with --execute in a terminal asks before each mutating step, runs only what was confirmed, and records the undo before acting", async () => {
    const r = await oncall({ execute: true, yes: false, tty: true }, [true, false]);
    expect(r.calls).toEqual([
      "run look",
      "ask mitigation step scale",
      "undo scale scale stats-api 1",
      "run scale",
      "ask mitigation step restart",
      "run verify",
    ]);
    expect(r.results).toEqual([
      ["look", "ran"],
      ["scale", "ran"],
      ["restart", "declined"],
      ["verify", "ran"],
    ]);
  });

  it("with --execute --yes runs everything without asking", async () => {
    const r = await oncall({ execute: true, yes: true, tty: false });
    expect(r.calls).toEqual(["run look", "undo scale scale stats-api 1", "run scale", "run restart", "run verify"]);
  });

  it("does not act when the undo cannot be recorded", async () => {
    const calls: string[] = [];
    const [, scale] = await runOncallSteps(catalog(calls), {} as Ports, {
      execute: true,
      yes: true,
      tty: false,
      incident,
      policy: defaultPolicy,
      ask: async () => true,
      recordUndo: async () => {
        throw new Error("EROFS: read-only file system");
      },
    });
    expect(calls).not.toContain("run scale");
    expect(scale).toMatchObject({ decision: "ran", ok: false, output: ["failed: EROFS: read-only file system"] });
  });

  it("decides by the step's type: read-only runs, mutating is asked or advised", () => {
    const [look, scale, , verify] = catalog([]);
    expect(decide(look!, { execute: false, yes: false, tty: false })).toEqual({ do: "run" });
    expect(decide(verify!, { execute: false, yes: false, tty: true })).toMatchObject({ do: "advise" });
    expect(decide(scale!, { execute: false, yes: false, tty: true })).toEqual({
      do: "advise",
      why: "reversible (undo: scale back): run with --execute to act",
    });
    expect(decide(scale!, { execute: true, yes: false, tty: true })).toEqual({ do: "ask" });
    expect(decide(scale!, { execute: true, yes: true, tty: true })).toEqual({ do: "run" });
  });
});

describe("gm-chaos runbook --execute without a terminal", () => {
  const quiet: Out = { line: () => undefined, raw: () => undefined, json: () => undefined, progress: () => undefined };
  it("exits 2 with the message before touching anything (vitest's stdin is not a terminal)", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(process.stdin.isTTY).not.toBe(true);
      expect(await run(["runbook", "service-down", "--execute", "--stack-id", "no-such-stack"], quiet)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(
        /^gm-chaos: --execute: standard input is not a terminal, .* pass --yes to run them unattended/,
      );
      expect(await run(["runbook", "not-a-kind"], quiet)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(
        /^gm-chaos: <incident>: expected an incident kind \(service-down, .*\) or an incident id from the prober's journal .*, got "not-a-kind"\n$/,
      );
    } finally {
      err.mockRestore();
    }
  });
});

describe("gm-chaos halt and the runbook's undos", () => {
  it("leaves a runbook run's recorded undos for gm-chaos recover: halting drills does not take back an on-call engineer's mitigation", async () => {
    const { mkdtempSync, existsSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { journalFile, writeJournal } = await import("./drill/journal.js");
    const quiet: Out = { line: () => undefined, raw: () => undefined, json: () => undefined, progress: () => undefined };
    const before = process.env["GM_STATE_DIR"];
    process.env["GM_STATE_DIR"] = mkdtempSync(join(tmpdir(), "gm-halt-"));
    try {
      writeJournal({
        drillId: "runbook-test",
        stackId: "no-such-stack",
        postgresUrl: "",
        pid: process.pid,
        startedAt: new Date().toISOString(),
        entries: [
          {
            fault: { type: "runbook-undo", params: { step: "scale-up-services", incident: "high-error-rate" } },
            undo: { action: "scale", service: "stats-api", replicas: 1 },
            state: "applied",
          },
        ],
        runbook: { incident: "high-error-rate" },
      });
      expect(await run(["halt"], quiet)).toBe(0);
      expect(existsSync(journalFile("runbook-test"))).toBe(true);
      expect(await run(["resume"], quiet)).toBe(0);
    } finally {
      if (before === undefined) delete process.env["GM_STATE_DIR"];
      else process.env["GM_STATE_DIR"] = before;
    }
  });
});

describe("runOncallSteps: the incident's open time", () => {
  it("reaches the steps, so a deployment is judged against when the prober opened the incident", async () => {
    const seen: (number | undefined)[] = [];
    const look: Step = {
      id: "look",
      phase: "triage",
      title: "look",
      runbookAction: "look",
      effect: { type: "read-only" },
      advisory: false,
      async run(_ports, ctx) {
        seen.push(ctx.openedAt);
        return { ok: true, output: [] };
      },
    };
    const base = {
      execute: false,
      yes: false,
      tty: false,
      incident,
      policy: defaultPolicy,
      ask: async () => false,
      recordUndo: async () => {},
    };
    await runOncallSteps([look], {} as Ports, { ...base, openedAt: 1_700_000_000_000 });
    await runOncallSteps([look], {} as Ports, base);
    expect(seen).toEqual([1_700_000_000_000, undefined]);
  });
});
