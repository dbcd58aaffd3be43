/**
 * The drill report, version 1: what `gm-chaos drill` writes to report.json and what every renderer
 * (JUnit, Markdown, HTML/SVG) and `gm-chaos report compare` read. Times are ISO 8601; durations are
 * seconds. Bump REPORT_SCHEMA_VERSION on any incompatible change.
 */
import type { Escalation, Evidence, IncidentKind, Severity } from "@gm/runbook/incident";

export const REPORT_SCHEMA_VERSION = 1 as const;

export type DrillPhase = "steady-state" | "load" | "inject" | "detect" | "mitigate" | "recover" | "integrity" | "cleanup";

export interface TimelineEvent {
  at: string;
  phase: DrillPhase;
  /** e.g. "fault injected: SIGKILL kafka-2", "detected kafka-broker-down P2", "step restart-broker ok" */
  message: string;
}

export interface StepRecord {
  id: string;
  title: string;
  runbookAction: string;
  phase: "triage" | "mitigation" | "verification";
  mutates: boolean;
  /** read-only, reversible or irreversible (the step catalog's type); absent in reports written before steps were typed */
  effect?: "read-only" | "reversible" | "irreversible";
  startedAt: string;
  seconds: number;
  ok: boolean;
  /** what the step found or did: triage "problem" / "healthy", mitigation "acted" / "not-needed" */
  finding?: "problem" | "healthy" | "acted" | "not-needed";
  output: string[];
}

/** An incident the prober had open during the drill, judged against the drill file. */
export interface IncidentOpen {
  kind: IncidentKind;
  /** its worst severity */
  severity: Severity;
  subject: string;
  firstSeenAt: string;
  /** what the runbook's escalation would have done: the page it would have caused */
  page: Escalation;
  /** expected: the drill's incident; collateral: listed in alsoExpected; worse / unexpected: fail the drill */
  verdict: "expected" | "collateral" | "worse" | "unexpected";
  reason: string;
}

/** One measurable claim of the hypothesis, with what was observed. */
export interface ToleranceResult {
  claim: string;
  signal: string;
  service?: string;
  during: "fault" | "after";
  max: number;
  observed: number | null;
  ok: boolean;
  detail: string;
}

export interface Check {
  /** e.g. "steady state before", "detected within deadline", "no acknowledged event lost" */
  name: string;
  ok: boolean;
  detail: string;
}

/** One sample of the signals the report plots. */
export interface SignalSample {
  /** the end of the prober round: when its classification existed */
  at: string;
  /** when the round began */
  startedAt?: string;
  /** worst error rate over the sources, 0..1, null when unknown */
  errorRate: number | null;
  /** total consumer lag of the platform's group */
  lag: number | null;
  /** PostgreSQL connections / usable connections, 0..1 */
  poolUsage: number | null;
  /** services whose every instance is healthy / services probed */
  healthy: number;
  services: number;
  /** open incidents, e.g. ["kafka-broker-down:P2"] */
  incidents: string[];
}

/**
 * A real incident's report (`gm-chaos report incident <id>`), in the drill report's shape so every renderer
 * serves both: `drill` then names the incident, times are from its onset instead of an injection, and
 * `incident` says what a drill's fields cannot. Absent in a drill's report.
 */
export interface IncidentInfo {
  id: string;
  kind: IncidentKind;
  subject: string;
  /** its worst severity; the times are judged against that severity's response time */
  severity: Severity;
  openedAt: string;
  resolvedAt: string | null;
  /** the onset the times count from, and where it comes from */
  onsetAt: string;
  onsetSource: "last-clear-round" | "given" | "opened";
  changes: { at: string; from: Severity; to: Severity }[];
  /** for a person to fill in: null until then */
  rootCause: string | null;
  /** the prober's journal it was read from */
  journal: string;
}

export interface DrillReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  /** set in a real incident's report (then `drill` describes the incident) */
  incident?: IncidentInfo;
  drill: {
    scenario: string;
    /** file it came from */
    file: string;
    hypothesis: string;
    fault: { type: string; params: Record<string, unknown>; description: string };
    expected: { kind: IncidentKind; severity: Severity };
    target: { kind: "testcontainers" | "kubernetes"; name: string };
  };
  startedAt: string;
  finishedAt: string;
  outcome: "passed" | "failed" | "aborted";
  /** why it failed or was aborted (empty when passed) */
  reasons: string[];
  /** seconds from injection */
  timings: {
    detectSeconds: number | null;
    mitigateSeconds: number | null;
    recoverSeconds: number | null;
    /** from injection to the expected alert reaching a receiver through Alertmanager; null when not paged or not measured */
    pageSeconds?: number | null;
    /** the first notification of any alert after the injection (another incident's page may come first, or inhibit the expected one) */
    firstPage?: { alerts: string[]; receiver: string; seconds: number } | null;
    /** the expected severity's response time, from the policy */
    responseMinutes: number;
    deadlines: { detectSeconds: number; recoverSeconds: number };
  };
  detected: { kind: IncidentKind; severity: Severity; evidence: Evidence[] } | null;
  /** every incident seen during the drill, with when it opened */
  incidentsSeen: { kind: IncidentKind; severity: Severity; subject: string; firstSeenAt: string }[];
  /** how the drill observed: the prober's settings */
  observer?: {
    source: string;
    intervalSeconds: number;
    timeoutMs: number;
    windowSeconds: number;
    resolveAfterRounds: number;
    alertmanager: string | null;
  };
  /** every incident open from the injection on, judged: expected, collateral (with its page), worse, unexpected */
  incidentsOpen?: IncidentOpen[];
  /** the worst severity open from the injection on */
  worstSeverity?: Severity | null;
  /** the hypothesis's measurable claims */
  hypothesisChecks?: ToleranceResult[];
  steps: StepRecord[];
  integrity: {
    acknowledged: number;
    found: number;
    lost: number;
    duplicates: number;
    lostSample: string[];
    /** acknowledged events stored with other content than was sent; absent when content was not compared (older reports, k6 load) */
    altered?: number;
    /** up to 10 of their ids */
    alteredSample?: string[];
  } | null;
  cleanup: { ok: boolean; leftovers: string[] };
  checks: Check[];
  timeline: TimelineEvent[];
  signals: SignalSample[];
}
