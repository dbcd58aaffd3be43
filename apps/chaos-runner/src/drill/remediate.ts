/** What every drill does the same way, on the stack or on a namespace: the runbook's steps, and the incidents it saw. */
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import { mutates, type Step, type StepResult } from "@gm/runbook/steps";
import type { Topology } from "@gm/runbook/topology";
import type { Check, DrillPhase, DrillReport, StepRecord, TimelineEvent } from "@gm/report/schema";

/**
 * Runs the remediation: each step timed and recorded into `records` as it ends (so an abort keeps
 * what ran), advisory steps recorded as left to a person. A step that could not do its job is recorded
 * and the next one runs (a later step may still mitigate); the verdict fails on it (verdict.ts).
 * `guard` throws to abort between steps; `onMitigated` gets the end of each non-verification step.
 */
export async function runRemediation(o: {
  steps: readonly Step[];
  ports: Ports;
  incident: Incident;
  policy: Policy;
  /** the platform's description the prober observed with (its snapshot's): the steps pick their targets by its roles */
  topology?: Topology | undefined;
  /** when the incident opened (ms): the deployment steps judge revisions against it */
  openedAt?: number | undefined;
  records: StepRecord[];
  say: (phase: DrillPhase, message: string) => void;
  guard: () => void;
  onMitigated: (at: number) => void;
}): Promise<void> {
  for (const step of o.steps) {
    o.guard();
    if (step.advisory) {
      o.records.push({
        id: step.id,
        title: step.title,
        runbookAction: step.runbookAction,
        phase: step.phase,
        mutates: mutates(step),
        effect: step.effect.type,
        startedAt: new Date().toISOString(),
        seconds: 0,
        ok: true,
        output: ["advisory: left to a person"],
      });
      continue;
    }
    const phase: DrillPhase = step.phase === "verification" ? "recover" : "mitigate";
    o.say(phase, `step ${step.id}: ${step.title}`);
    const t0 = Date.now();
    let result: StepResult;
    try {
      result = await step.run(o.ports, {
        incident: o.incident,
        policy: o.policy,
        ...(o.topology ? { topology: o.topology } : {}),
        ...(o.openedAt !== undefined ? { openedAt: o.openedAt } : {}),
      });
    } catch (err) {
      result = { ok: false, output: [`failed: ${err instanceof Error ? err.message : String(err)}`] };
    }
    o.records.push({
      id: step.id,
      title: step.title,
      runbookAction: step.runbookAction,
      phase: step.phase,
      mutates: mutates(step),
      effect: step.effect.type,
      startedAt: new Date(t0).toISOString(),
      seconds: (Date.now() - t0) / 1000,
      ok: result.ok,
      ...(result.finding ? { finding: result.finding } : {}),
      output: result.output,
    });
    o.say(
      phase,
      `step ${step.id} ${result.ok ? "ok" : "NOT ok"}${result.finding ? ` (${result.finding})` : ""} in ${((Date.now() - t0) / 1000).toFixed(1)} s${result.output[0] ? `: ${result.output[0]}` : ""}`,
    );
    if (step.phase !== "verification") o.onMitigated(Date.now());
  }
}

/** Every incident seen in the samples, once, with when it first opened. */
export function incidentsSeen(samples: readonly { at: number; incidents: Incident[] }[]): DrillReport["incidentsSeen"] {
  const seen = new Map<string, DrillReport["incidentsSeen"][number]>();
  for (const x of samples)
    for (const i of x.incidents) {
      const k = `${i.kind}|${i.severity}|${i.subject}`;
      if (!seen.has(k)) seen.set(k, { kind: i.kind, severity: i.severity, subject: i.subject, firstSeenAt: new Date(x.at).toISOString() });
    }
  return [...seen.values()];
}

/**
 * What a drill records as it goes: the timeline (each `say` is also reported as progress), the checks
 * (a failed one is also a reason), the steps, and the phase it is in.
 */
export function drillRecorder(
  scenario: string,
  started: number,
  onProgress?: (p: { scenario: string; phase: DrillPhase; elapsedSeconds: number; message: string }) => void,
) {
  const rec = {
    timeline: [] as TimelineEvent[],
    checks: [] as Check[],
    reasons: [] as string[],
    steps: [] as StepRecord[],
    phase: "steady-state" as DrillPhase,
    say: (p: DrillPhase, message: string) => {
      rec.phase = p;
      rec.timeline.push({ at: new Date().toISOString(), phase: p, message });
      onProgress?.({ scenario, phase: p, elapsedSeconds: (Date.now() - started) / 1000, message });
    },
    check: (name: string, ok: boolean, detail: string) => {
      rec.checks.push({ name, ok, detail });
      if (!ok) rec.reasons.push(`${name}: ${detail}`);
    },
  };
  return rec;
}
