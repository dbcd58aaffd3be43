/**
 * The on-call mode's graded autonomy (`gm-chaos runbook`): which steps run unasked, which are only
 * advised, which are asked before, and the record of what ran. Pure apart from the injected `ask`,
 * `recordUndo` and clock, so the rules are unit-tested without a stack:
 * - read-only steps run (triage and the advice of mitigation; verification only with --execute, since it
 *   waits for a recovery that only acting brings);
 * - reversible and irreversible steps are advised, and with --execute asked before in a terminal
 *   (`--yes` for automation); a reversible step's undo is recorded (durably, by the caller) before it acts;
 * - --execute without a terminal and without --yes is refused before anything runs.
 */
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import { type Step, type StepEffect, type UndoAction, describeUndo } from "@gm/runbook/steps";

export interface ExecuteMode {
  execute: boolean;
  yes: boolean;
  /** standard input is a terminal (someone can answer) */
  tty: boolean;
}

/** Refuses a mode no one could confirm: a message naming the options, for exit 2; null when it may run. */
export function refusal(m: ExecuteMode): string | null {
  if (m.yes && !m.execute) return "--yes: only with --execute (it confirms the mutating steps --execute would ask about)";
  if (m.execute && !m.yes && !m.tty)
    return "--execute: standard input is not a terminal, so no one can confirm the steps that change the system; pass --yes to run them unattended (automation), or leave out --execute to triage and print the advice";
  return null;
}

/** What happens to one step: run it, ask first, or only advise (with why). */
export type Decision = { do: "run" } | { do: "ask" } | { do: "advise"; why: string };

export function decide(step: Step, m: ExecuteMode): Decision {
  const e = step.effect;
  if (e.type === "read-only") {
    if (step.phase === "verification" && !m.execute)
      return { do: "advise", why: "verification: run with --execute (it waits for the recovery acting brings)" };
    return { do: "run" };
  }
  if (!m.execute) return { do: "advise", why: `${effectText(e)}: run with --execute to act` };
  return m.yes ? { do: "run" } : { do: "ask" };
}

export function effectText(e: StepEffect): string {
  switch (e.type) {
    case "read-only":
      return "read-only";
    case "reversible":
      return `reversible (undo: ${e.undo})`;
    case "irreversible":
      return `irreversible (${e.why})`;
  }
}

/** One step as the on-call run reports and records it. */
export interface OncallStepResult {
  step: string;
  title: string;
  phase: Step["phase"];
  runbookAction: string;
  effect: StepEffect["type"];
  /** ran; advised (not run, `why` in output); declined (asked, answered no) */
  decision: "ran" | "advised" | "declined";
  ran: boolean;
  ok?: boolean;
  finding?: string;
  startedAt: string;
  seconds: number;
  output: string[];
  /** the undos recorded before it acted, in words */
  undo: string[];
}

export interface OncallOptions extends ExecuteMode {
  incident: Incident;
  policy: Policy;
  /** asks the person at the terminal; true runs the step */
  ask: (question: string) => Promise<boolean>;
  /** records one undo durably before the step acts (the fault journal); `step` is the step's id */
  recordUndo: (step: string, undo: UndoAction) => Promise<void>;
  /** called after each step (the incident record is appended here, so a crash keeps what ran) */
  onStep?: (r: OncallStepResult) => void;
  now?: () => number;
  /** when the incident opened (the journal's), ms since the epoch: the deployment steps judge revisions against it */
  openedAt?: number;
}

/** Runs `steps` under the graded-autonomy rules; a step that throws is a result with ok false. */
export async function runOncallSteps(steps: readonly Step[], ports: Ports, o: OncallOptions): Promise<OncallStepResult[]> {
  const now = o.now ?? Date.now;
  const results: OncallStepResult[] = [];
  for (const step of steps) {
    const d = decide(step, o);
    const base = {
      step: step.id,
      title: step.title,
      phase: step.phase,
      runbookAction: step.runbookAction,
      effect: step.effect.type,
      startedAt: new Date(now()).toISOString(),
    };
    let r: OncallStepResult;
    if (d.do === "advise") r = { ...base, decision: "advised", ran: false, seconds: 0, output: [d.why], undo: [] };
    else if (d.do === "ask" && !(await o.ask(`${step.phase} step ${step.id} — ${step.title}: ${effectText(step.effect)}. Run it? [y/N] `)))
      r = { ...base, decision: "declined", ran: false, seconds: 0, output: ["declined at the prompt: not run"], undo: [] };
    else {
      const undo: string[] = [];
      const t0 = now();
      const result = await step
        .run(ports, {
          incident: o.incident,
          policy: o.policy,
          ...(o.openedAt !== undefined ? { openedAt: o.openedAt } : {}),
          recordUndo: async (u) => {
            await o.recordUndo(step.id, u);
            undo.push(describeUndo(u));
          },
        })
        .catch((err: unknown) => ({
          ok: false,
          finding: undefined,
          output: [`failed: ${err instanceof Error ? err.message : String(err)}`],
        }));
      r = {
        ...base,
        decision: "ran",
        ran: true,
        ok: result.ok,
        ...(result.finding ? { finding: result.finding } : {}),
        seconds: (now() - t0) / 1000,
        output: result.output,
        undo,
      };
    }
    results.push(r);
    o.onStep?.(r);
  }
  return results;
}
