/**
 * A real incident's report, in the drill report's shape (DrillReport with `incident` set) so the same
 * renderers write report.md, report.html and report.json: built from the prober's journal (the incident's
 * life) and the steps `gm-chaos runbook` recorded against it. Pure: the caller reads the files.
 *
 * Times count from the onset: a time a person gives, else the end of the last prober round that did not
 * show the incident (the incident began after it, so time to detect is at most the difference), else the
 * opening itself. They are judged against the response time of the incident's worst severity.
 */
import type { Evidence, IncidentKind, Severity } from "@gm/runbook/incident";
import type { Check, DrillReport, StepRecord, TimelineEvent } from "./schema.js";

/** The incident's life, as the prober's journal keeps it (packages/monitor/src/incident-journal.ts). */
export interface IncidentHistory {
  id: string;
  kind: IncidentKind;
  subject: string;
  openedAt: string;
  clearSince: string | null;
  worstSeverity: Severity;
  worstResponseMinutes: number;
  changes: { at: string; from: Severity; to: Severity }[];
  evidenceLog: { at: string; summary: string; evidence: Evidence[] }[];
  resolvedAt: string | null;
}

/** A step `gm-chaos runbook` recorded against the incident (apps/chaos-runner/src/runbook-record.ts). */
export interface RecordedStep {
  step: string;
  title: string;
  phase: StepRecord["phase"];
  runbookAction: string;
  effect: NonNullable<StepRecord["effect"]>;
  decision: "ran" | "advised" | "declined";
  ok?: boolean;
  finding?: string;
  startedAt: string;
  seconds: number;
  output: string[];
  undo: string[];
  target: string;
}

export interface IncidentReportInput {
  history: IncidentHistory;
  steps: RecordedStep[];
  /** the journal's directory */
  journal: string;
  /** when a person knows the incident began (overrides the last clear round) */
  onsetAt?: string;
  /** now, for an incident not resolved yet */
  now: number;
}

const FINDINGS = ["problem", "healthy", "acted", "not-needed"] as const;
const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

/** The report of one real incident. */
export function incidentReport(i: IncidentReportInput): DrillReport {
  const h = i.history;
  const onsetAt = i.onsetAt ?? h.clearSince ?? h.openedAt;
  const onsetSource = i.onsetAt ? "given" : h.clearSince ? "last-clear-round" : "opened";
  const finishedAt = h.resolvedAt ?? new Date(i.now).toISOString();
  const response = h.worstResponseMinutes * 60;
  const opened = h.evidenceLog[0];
  const first = h.changes[0]?.from ?? h.worstSeverity;
  const ran = i.steps.filter((s) => s.decision === "ran");
  const steps: StepRecord[] = ran.map((s) => ({
    id: s.step,
    title: s.title,
    runbookAction: s.runbookAction,
    phase: s.phase,
    mutates: s.effect !== "read-only",
    effect: s.effect,
    startedAt: s.startedAt,
    seconds: s.seconds,
    ok: s.ok === true,
    ...(FINDINGS.includes(s.finding as (typeof FINDINGS)[number]) ? { finding: s.finding as StepRecord["finding"] } : {}),
    output: [...s.output, ...s.undo.map((u) => `undo recorded: ${u}`)],
  }));
  const acted = ran.filter((s) => s.effect !== "read-only" && s.ok && s.finding !== "not-needed");
  const lastAct = acted.at(-1);
  const detectSeconds = seconds(onsetAt, h.openedAt);
  const recoverSeconds = h.resolvedAt ? seconds(onsetAt, h.resolvedAt) : null;
  const mitigateSeconds = lastAct ? seconds(onsetAt, lastAct.startedAt) + lastAct.seconds : null;
  const verified = ran.filter((s) => s.phase === "verification");

  const timeline: TimelineEvent[] = [
    ...(onsetSource === "last-clear-round"
      ? [{ at: onsetAt, phase: "steady-state" as const, message: "the last prober round without the incident ended: it began after this" }]
      : onsetSource === "given"
        ? [{ at: onsetAt, phase: "steady-state" as const, message: "onset, as given by a person (--onset)" }]
        : []),
    { at: h.openedAt, phase: "detect" as const, message: `opened ${h.kind} ${first} on ${h.subject}: ${opened?.summary ?? ""}`.trimEnd() },
    ...h.changes.map((c) => ({ at: c.at, phase: "detect" as const, message: `severity ${c.from} → ${c.to}` })),
    ...i.steps.map((s) => ({
      at: s.startedAt,
      phase: s.phase === "verification" ? ("recover" as const) : s.phase === "triage" ? ("detect" as const) : ("mitigate" as const),
      message:
        s.decision === "ran"
          ? `step ${s.step} ${s.ok ? "ok" : "NOT ok"}${s.finding ? ` (${s.finding})` : ""}${s.output[0] ? `: ${s.output[0]}` : ""}`
          : `step ${s.step} ${s.decision}${s.output[0] ? `: ${s.output[0]}` : ""}`,
    })),
    ...(h.resolvedAt
      ? [
          {
            at: h.resolvedAt,
            phase: "recover" as const,
            message: `resolved: the prober saw no ${h.kind} on ${h.subject} for its clean rounds`,
          },
        ]
      : []),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));

  const checks: Check[] = [
    {
      name: "detected within the response time",
      ok: detectSeconds <= response,
      detail: `${Math.round(detectSeconds)} s from the onset (${onsetSource}), response time ${h.worstResponseMinutes} min (${h.worstSeverity})`,
    },
    {
      name: "recovered within the response time",
      ok: recoverSeconds !== null && recoverSeconds <= response,
      detail:
        recoverSeconds === null
          ? "not resolved yet"
          : `${Math.round(recoverSeconds)} s from the onset, response time ${h.worstResponseMinutes} min`,
    },
    {
      name: "resolution verified",
      ok: verified.length > 0 && verified.every((s) => s.ok),
      detail:
        verified.length === 0
          ? "no verification step was run (gm-chaos runbook --execute runs them)"
          : verified.map((s) => `${s.step} ${s.ok ? "ok" : "NOT ok"}`).join(", "),
    },
  ];
  const reasons = checks.filter((c) => !c.ok && c.name !== "resolution verified").map((c) => `${c.name}: ${c.detail}`);

  return {
    schemaVersion: 1,
    incident: {
      id: h.id,
      kind: h.kind,
      subject: h.subject,
      severity: h.worstSeverity,
      openedAt: h.openedAt,
      resolvedAt: h.resolvedAt,
      onsetAt,
      onsetSource,
      changes: h.changes,
      rootCause: null,
      journal: i.journal,
    },
    drill: {
      scenario: h.id,
      file: i.journal,
      hypothesis: "",
      fault: { type: "real-incident", params: { kind: h.kind, subject: h.subject }, description: "not yet documented" },
      expected: { kind: h.kind, severity: h.worstSeverity },
      target: {
        kind: i.steps.some((s) => s.target.startsWith("k8s:")) ? "kubernetes" : "testcontainers",
        name: i.steps[0]?.target ?? "unknown",
      },
    },
    startedAt: onsetAt,
    finishedAt,
    outcome: reasons.length === 0 ? "passed" : "failed",
    reasons,
    timings: {
      detectSeconds,
      mitigateSeconds,
      recoverSeconds,
      responseMinutes: h.worstResponseMinutes,
      deadlines: { detectSeconds: response, recoverSeconds: response },
    },
    detected: { kind: h.kind, severity: first, evidence: opened?.evidence ?? [] },
    incidentsSeen: [{ kind: h.kind, severity: h.worstSeverity, subject: h.subject, firstSeenAt: h.openedAt }],
    worstSeverity: h.worstSeverity,
    steps,
    integrity: null,
    cleanup: { ok: true, leftovers: [] },
    checks,
    timeline,
    signals: [],
  };
}
