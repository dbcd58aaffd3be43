/**
 * What the human-facing renderers (Markdown, HTML) say about a drill, computed once so both say the
 * same thing: the timing verdicts and the post-incident follow-ups (runbook "Post-Incident": write
 * incident report, post-mortem, update runbooks, preventive measures).
 */
import type { Severity } from "@gm/runbook/incident";
import type { DrillReport } from "./schema.js";

/** "12 s", "1 min 18 s", "1.2 s", "—" for null. */
export function formatSeconds(s: number | null): string {
  if (s === null) return "—";
  if (s < 10 && !Number.isInteger(s)) return `${Math.round(s * 10) / 10} s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole} s`;
  const m = Math.floor(whole / 60);
  const rest = whole % 60;
  return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
}

/** Seconds between two ISO times. */
export function secondsBetween(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

/** When the fault was injected: the first `inject` event of the timeline, else the drill's start. */
export function injectedAt(report: DrillReport): string {
  return report.timeline.find((e) => e.phase === "inject")?.at ?? report.startedAt;
}

export interface TimingRow {
  phase: "detect" | "page" | "mitigate" | "recover";
  label: string;
  /** seconds from injection, null when never reached */
  seconds: number | null;
  /** the drill's own deadline for this phase, if it has one */
  deadlineSeconds: number | null;
  /** the expected severity's response time */
  responseSeconds: number;
  /** reached within every limit that applies */
  ok: boolean;
  note: string;
}

/** Time to detect / mitigate / recover against the drill's deadlines and the severity's response time. */
export function timingRows(report: DrillReport): TimingRow[] {
  const t = report.timings;
  const response = t.responseMinutes * 60;
  const row = (phase: TimingRow["phase"], label: string, seconds: number | null, deadlineIn: number | null): TimingRow => {
    let deadline = deadlineIn;
    // a real incident has no deadline of its own: the response time is the limit
    if (report.incident) deadline = null;
    const limits = [deadline, response].filter((x): x is number => x !== null);
    const ok = seconds !== null && limits.every((l) => seconds <= l);
    let note: string;
    if (seconds === null) note = "never reached";
    else if (deadline !== null && seconds > deadline) note = `${formatSeconds(seconds - deadline)} over the deadline`;
    else if (seconds > response) note = `${formatSeconds(seconds - response)} over the response time`;
    else note = `${formatSeconds(Math.min(...limits) - seconds)} to spare`;
    return { phase, label, seconds, deadlineSeconds: deadline, responseSeconds: response, ok, note };
  };
  return [
    row("detect", "Time to detect", t.detectSeconds, t.deadlines.detectSeconds),
    ...(t.pageSeconds !== undefined ? [row("page", "Time to page", t.pageSeconds, null)] : []),
    row("mitigate", "Time to mitigate", t.mitigateSeconds, null),
    row("recover", "Time to recover", t.recoverSeconds, t.deadlines.recoverSeconds),
  ];
}

export type FollowUpArea =
  | "data-integrity"
  | "detection"
  | "classification"
  | "recovery"
  | "runbook"
  | "cleanup"
  | "checks"
  | "drill"
  | "root-cause"
  | "prevention";

/** One post-incident action item. `runbook` true: belongs to "Update runbooks"; otherwise a preventive measure. */
export interface FollowUp {
  priority: Severity;
  area: FollowUpArea;
  runbook: boolean;
  text: string;
}

/** The follow-ups the outcome calls for, most urgent first; empty when the hypothesis held cleanly. */
export function followUps(report: DrillReport): FollowUp[] {
  if (report.incident) return incidentFollowUps(report, report.incident);
  const out: FollowUp[] = [];
  const t = report.timings;
  const kind = report.drill.expected.kind;
  const expected = report.drill.expected;
  const add = (priority: Severity, area: FollowUpArea, runbook: boolean, text: string) => out.push({ priority, area, runbook, text });

  const integ = report.integrity;
  if (integ && integ.lost > 0) {
    const sample = integ.lostSample.length > 0 ? ` (e.g. ${integ.lostSample.slice(0, 5).join(", ")})` : "";
    add(
      "P0",
      "data-integrity",
      false,
      `Data loss: ${integ.lost} of ${integ.acknowledged} acknowledged events were lost${sample}. Treat as a P0 (runbook: "Data loss or corruption"): hold a post-mortem, and check producer acks=all / idempotence, min.insync.replicas and that the consumer commits offsets only after the write to PostgreSQL.`,
    );
  }
  if (integ && (integ.altered ?? 0) > 0) {
    const ids = integ.alteredSample ?? [];
    add(
      "P0",
      "data-integrity",
      false,
      `Data corruption: ${integ.altered} of ${integ.acknowledged} acknowledged events were stored with other content than was sent${ids.length > 0 ? ` (e.g. ${ids.slice(0, 5).join(", ")})` : ""}. Treat as a P0 (runbook: "Data loss or corruption"): hold a post-mortem, find what wrote those rows (processor version, migrations, manual UPDATEs) and restore them from the events in Kafka or a backup.`,
    );
  }
  if (integ && integ.duplicates > 0) {
    add(
      "P2",
      "data-integrity",
      false,
      `${integ.duplicates} events were stored more than once: make the consumer's write idempotent (upsert on the event id).`,
    );
  }

  if (t.detectSeconds === null) {
    add(
      expected.severity,
      "detection",
      false,
      `The incident was never detected: add or fix the detection of ${kind} (rule, thresholds, collector) so it fires for "${report.drill.fault.description}".`,
    );
  } else if (t.detectSeconds > t.deadlines.detectSeconds) {
    add(
      expected.severity,
      "detection",
      false,
      `Tighten detection of ${kind}: it took ${formatSeconds(t.detectSeconds)} against a ${formatSeconds(t.deadlines.detectSeconds)} deadline (shorten the probe interval, lower the threshold or the alert's "for" duration).`,
    );
  }
  const d = report.detected;
  if (d && (d.kind !== expected.kind || d.severity !== expected.severity)) {
    add(
      "P2",
      "classification",
      true,
      `Review classification: expected ${expected.kind} ${expected.severity}, detected ${d.kind} ${d.severity}. Fix the rule or the drill's expectation, and the runbook's severity criteria if they were wrong.`,
    );
  }

  if (t.recoverSeconds === null) {
    add(
      expected.severity,
      "recovery",
      true,
      `The platform did not recover: find the missing mitigation for ${kind} and add it to the runbook.`,
    );
  } else if (t.recoverSeconds > t.deadlines.recoverSeconds || t.recoverSeconds > t.responseMinutes * 60) {
    const limit = Math.min(t.deadlines.recoverSeconds, t.responseMinutes * 60);
    add(
      expected.severity,
      "recovery",
      false,
      `Speed up recovery: it took ${formatSeconds(t.recoverSeconds)} against ${formatSeconds(limit)}; automate the slowest step or make it need fewer retries.`,
    );
  }

  for (const s of report.steps.filter((s) => !s.ok)) {
    const last = s.output.at(-1);
    add(
      "P2",
      "runbook",
      true,
      `Update runbooks: step ${s.id} ("${s.runbookAction}") failed${last ? `: ${last}` : ""}. Fix the step or document the manual fallback.`,
    );
  }

  if (!report.cleanup.ok || report.cleanup.leftovers.length > 0) {
    const what = report.cleanup.leftovers.length > 0 ? report.cleanup.leftovers.join(", ") : "clean-up reported failure";
    add(
      "P3",
      "cleanup",
      false,
      `Remove the drill's leftovers (${what}) and make the fault's recover idempotent so clean-up cannot leave them.`,
    );
  }

  // Checks not already covered by one of the items above.
  const covered: Record<string, FollowUpArea> = {
    "detected within deadline": "detection",
    "recovered within deadline": "recovery",
    "no acknowledged event lost": "data-integrity",
  };
  for (const c of report.checks.filter((c) => !c.ok)) {
    const area = covered[c.name];
    if (area && out.some((f) => f.area === area)) continue;
    add("P3", "checks", false, `Investigate the failed check "${c.name}": ${c.detail}.`);
  }

  if (report.outcome === "aborted") {
    add(
      "P3",
      "drill",
      false,
      `The drill was aborted (${report.reasons.join("; ") || "no reason given"}): fix the cause and run it again; nothing was proven.`,
    );
  }

  const rank = (p: Severity) => ["P0", "P1", "P2", "P3"].indexOf(p);
  return out
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.priority) - rank(b.f.priority) || a.i - b.i)
    .map(({ f }) => f);
}

/** Whether the drill calls for a post-mortem meeting: always for failures, and for any follow-up above P3; a real incident: for P0 and P1. */
export function needsPostMortem(report: DrillReport, items: FollowUp[] = followUps(report)): boolean {
  if (report.incident) return report.incident.severity === "P0" || report.incident.severity === "P1";
  return report.outcome === "failed" || items.some((f) => f.priority !== "P3");
}

/** A real incident's follow-ups: its root cause, what the timings and the steps call for, and prevention. */
function incidentFollowUps(report: DrillReport, inc: NonNullable<DrillReport["incident"]>): FollowUp[] {
  const out: FollowUp[] = [];
  const t = report.timings;
  const sev = inc.severity;
  const add = (priority: Severity, area: FollowUpArea, runbook: boolean, text: string) => out.push({ priority, area, runbook, text });
  if (inc.rootCause === null)
    add(
      sev,
      "root-cause",
      false,
      `Document the root cause of ${inc.id} (the Root cause section): what changed, why it caused ${inc.kind} on ${inc.subject}, and why nothing stopped it.`,
    );
  if (t.detectSeconds !== null && t.detectSeconds > t.responseMinutes * 60)
    add(
      sev,
      "detection",
      false,
      `Detect ${inc.kind} sooner: it opened ${formatSeconds(t.detectSeconds)} after the onset, beyond the ${sev} response time of ${formatSeconds(t.responseMinutes * 60)}.`,
    );
  if (t.recoverSeconds === null)
    add(
      sev,
      "recovery",
      true,
      `${inc.id} is not resolved: finish the mitigation and verify the resolution (gm-chaos runbook ${inc.id} --execute).`,
    );
  else if (t.recoverSeconds > t.responseMinutes * 60)
    add(
      sev,
      "recovery",
      false,
      `Speed up recovery of ${inc.kind}: it took ${formatSeconds(t.recoverSeconds)} against the ${sev} response time of ${formatSeconds(t.responseMinutes * 60)}; automate the slowest step.`,
    );
  if (!report.steps.some((s) => s.phase === "verification" && s.ok))
    add(
      "P3",
      "runbook",
      true,
      `Verify resolution with the runbook's verification steps (gm-chaos runbook ${inc.id} --execute) and record them against the incident.`,
    );
  for (const s of report.steps.filter((x) => !x.ok)) {
    const last = s.output.at(-1);
    add(
      "P2",
      "runbook",
      true,
      `Update runbooks: step ${s.id} ("${s.runbookAction}") failed during ${inc.id}${last ? `: ${last}` : ""}. Fix the step or document the manual fallback.`,
    );
  }
  add(
    sev === "P0" || sev === "P1" ? "P2" : "P3",
    "prevention",
    false,
    `Prevent ${inc.kind} on ${inc.subject} from recurring: fix the root cause once documented, and add or extend a drill in scenarios/ that reproduces it, so the steps that handled it stay proven.`,
  );
  const rank = (p: Severity) => ["P0", "P1", "P2", "P3"].indexOf(p);
  return out
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.priority) - rank(b.f.priority) || a.i - b.i)
    .map(({ f }) => f);
}

/** The runbook's Resolution and Post-Incident lines for a real incident, each with its status; both renderers say these. */
export function incidentPostIncident(
  report: DrillReport,
  items: FollowUp[] = followUps(report),
): { line: string; status: string; items: FollowUp[] }[] {
  const inc = report.incident;
  if (!inc) return [];
  const verify = report.checks.find((c) => c.name === "resolution verified");
  const runbook = items.filter((f) => f.runbook);
  const preventive = items.filter((f) => !f.runbook && f.area !== "root-cause");
  return [
    { line: "Document root cause", status: inc.rootCause === null ? "to do: for a person to fill in (see Root cause)" : "done", items: [] },
    { line: "Verify resolution", status: verify?.ok ? `done: ${verify.detail}` : `to do: ${verify?.detail ?? "not verified"}`, items: [] },
    { line: "Write incident report", status: "this document (fill in the root cause)", items: [] },
    {
      line: "Conduct post-mortem meeting",
      status: needsPostMortem(report, items)
        ? `required: a ${inc.severity} incident`
        : `optional for a ${inc.severity} incident: review this report`,
      items: [],
    },
    { line: "Update runbooks", status: runbook.length > 0 ? `${runbook.length} item(s):` : "no change found needed", items: runbook },
    { line: "Implement preventive measures", status: `${preventive.length} item(s):`, items: preventive },
  ];
}

/** The placeholder a person replaces with the root cause. */
export const ROOT_CAUSE_PLACEHOLDER =
  "**To be filled in by a person.** What changed (a deployment, a configuration, traffic, a dependency)? Why did it cause this incident? Why did nothing stop it earlier? Replace this paragraph, and set `incident.rootCause` in report.json.";

/** The step/remediation markers: start offset (seconds from injection) of every step. */
export function stepOffsets(report: DrillReport): { id: string; seconds: number; ok: boolean }[] {
  const inject = injectedAt(report);
  return report.steps.map((s) => ({ id: s.id, seconds: secondsBetween(inject, s.startedAt), ok: s.ok }));
}
