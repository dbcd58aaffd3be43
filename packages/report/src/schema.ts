/**
 * The drill report, version 1: what `gm-chaos drill` writes to report.json and what every renderer
 * (JUnit, Markdown, HTML/SVG) and `gm-chaos report compare` read. Times are ISO 8601; durations are
 * seconds. Bump REPORT_SCHEMA_VERSION on any incompatible change.
 */
import type { Evidence, IncidentKind, Severity } from "@gm/runbook/incident";

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
  startedAt: string;
  seconds: number;
  ok: boolean;
  output: string[];
}

export interface Check {
  /** e.g. "steady state before", "detected within deadline", "no acknowledged event lost" */
  name: string;
  ok: boolean;
  detail: string;
}

/** One sample of the signals the report plots. */
export interface SignalSample {
  at: string;
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

export interface DrillReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
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
    /** the expected severity's response time, from the policy */
    responseMinutes: number;
    deadlines: { detectSeconds: number; recoverSeconds: number };
  };
  detected: { kind: IncidentKind; severity: Severity; evidence: Evidence[] } | null;
  /** every incident seen during the drill, with when it opened */
  incidentsSeen: { kind: IncidentKind; severity: Severity; subject: string; firstSeenAt: string }[];
  steps: StepRecord[];
  integrity: { acknowledged: number; found: number; lost: number; duplicates: number; lostSample: string[] } | null;
  cleanup: { ok: boolean; leftovers: string[] };
  checks: Check[];
  timeline: TimelineEvent[];
  signals: SignalSample[];
}
