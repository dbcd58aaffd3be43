/** Severities, incident kinds and what `classify` returns. */

export const SEVERITIES = ["P0", "P1", "P2", "P3"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const INCIDENT_KINDS = [
  "service-down",
  "data-loss",
  "security-exposure",
  "high-error-rate",
  "kafka-broker-down",
  "db-pool-exhausted",
  "high-consumer-lag",
  "service-oom",
  "external-alert",
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export type Escalation = "page" | "ticket-and-notify" | "ticket";

export interface Evidence {
  /** dotted path of the signal in the snapshot, e.g. "kafka.groups[event-processor-service].totalLag" */
  signal: string;
  observed: number | string | boolean;
  /** the rule it was compared with, e.g. "> 10000" */
  threshold: string;
}

export interface Incident {
  kind: IncidentKind;
  severity: Severity;
  /** what is affected: a service, a broker, a consumer group … */
  subject: string;
  summary: string;
  evidence: Evidence[];
  /** minutes to respond, from the policy */
  responseMinutes: number;
  /** ISO time by which a response is due (snapshot time + responseMinutes) */
  respondBy: string;
  escalation: Escalation;
  /** ids of the catalog steps to take, in order */
  steps: string[];
}

export function worse(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) <= SEVERITIES.indexOf(b) ? a : b;
}
