/**
 * The incident catalog: for every IncidentKind, the runbook's text (symptoms, actions, escalation)
 * side by side with the code that detects it and the steps that handle it. Plus the general incident
 * response process and the escalation rules, as data. Everything in render-docs.ts comes from here.
 */
import type { Escalation, IncidentKind, Severity } from "./incident.js";
import type { Policy } from "./policy.js";
import {
  detectDataLoss,
  detectDbPoolExhausted,
  detectExternalAlert,
  detectHighConsumerLag,
  detectHighErrorRate,
  detectKafkaBrokerDown,
  detectSecurityExposure,
  detectServiceDown,
  detectServiceOom,
  type Rule,
} from "./rules.js";
import { type Step, STEPS } from "./steps.js";

/** One incident kind: runbook text, detection, severity and the steps to take. */
export interface CatalogEntry {
  kind: IncidentKind;
  title: string;
  /** the runbook section it comes from, "Section › Subsection" */
  section: string;
  /** runbook text */
  symptoms: string[];
  detect: Rule;
  /** the detection rule in words, with the policy's numbers */
  rule(policy: Policy): string;
  /** the severities this kind can take */
  severities: readonly Severity[];
  /** how the severity is chosen, with the policy's numbers */
  severity(policy: Policy): string;
  /** why that mapping, in terms of the runbook */
  why: string;
  /** triage, then mitigation, then verification */
  steps: Step[];
  /** what to do beyond the severity's escalation */
  escalationNote: string;
  /** snapshot.collectionErrors[].collector names whose failure is shown as evidence on this kind's incidents */
  collectors: string[];
  /** the drill files that exercise it (scenarios/<name>.yaml; a test keeps this index true) */
  drills: string[];
}

const S = STEPS;
const pct = (r: number): string => `${Math.round(r * 10_000) / 100}%`;

/** The catalog, one entry per kind (exhaustive by type). */
export const CATALOG: Record<IncidentKind, CatalogEntry> = {
  "service-down": {
    kind: "service-down",
    title: "Service down",
    section: "Severity Levels › P0 - Critical",
    symptoms: ["Service completely down"],
    detect: detectServiceDown,
    rule: () =>
      "Every probed instance of a service fails GET /health. A service with no probed instance is unknown, not down: no incident.",
    severities: ["P0"],
    severity: () => "P0",
    why: 'The runbook lists "Service completely down" under P0.',
    steps: [S.checkHealthEndpoints, S.reviewRecentDeployments, S.restartFailingInstances, S.rollbackIfRecentChange, S.verifyServiceHealthy],
    escalationNote: "If a restart does not bring the service back, roll back the most recent change.",
    collectors: ["http-health"],
    drills: [],
  },
  "data-loss": {
    kind: "data-loss",
    title: "Data loss or corruption",
    section: "Severity Levels › P0 - Critical",
    symptoms: ["Data loss or corruption"],
    detect: detectDataLoss,
    rule: (p) =>
      `A canary event acknowledged by ingest-api is not readable from stats-api ${p.thresholds.canary.lossDeadlineSeconds} s later (canary.lost > 0), or is read back with other content than was sent: its payload, or the checksum of its canonical content that stats-api returns, differs (canary.altered > 0, evidence naming the ids). The last canaries read back intact are read again every round, so a row altered after it was stored is seen too.`,
    severities: ["P0"],
    severity: () => "P0",
    why: 'The runbook lists "Data loss or corruption" under P0: an acknowledged event that never arrives is lost, one that comes back altered is corrupted.',
    steps: [S.checkCanary, S.checkHealthEndpoints, S.checkConsumerLag, S.reviewRecentDeployments],
    escalationNote: "No automated mitigation: restarting or rolling back can destroy the evidence of what was lost. Page and hand over.",
    collectors: ["synthetic"],
    drills: [],
  },
  "security-exposure": {
    kind: "security-exposure",
    title: "Security exposure",
    section: "Severity Levels › P0 - Critical",
    symptoms: ["Security breach"],
    detect: detectSecurityExposure,
    rule: () =>
      "Any security check fails (e.g. an endpoint answers without a token), any configured secret's name appears in a public response, or an external alert is labelled security.",
    severities: ["P0"],
    severity: () => "P0",
    why: 'The runbook lists "Security breach" under P0; an exposure is treated as a breach until shown otherwise.',
    steps: [S.checkSecurityExposure, S.reviewRecentDeployments],
    escalationNote: "No automated mitigation: page, rotate the exposed secrets and close the endpoint by a reviewed change.",
    collectors: ["security", "external-alerts"],
    drills: [],
  },
  "high-error-rate": {
    kind: "high-error-rate",
    title: "High error rate",
    section: "Severity Levels › P1 - High / P2 - Medium",
    symptoms: [
      "High error rates (> 10%)",
      "Moderate error rates (5-10%)",
      "Service degradation affecting > 50% users",
      "Service degradation affecting < 50% users",
    ],
    detect: detectHighErrorRate,
    rule: (p) =>
      `Per service and source (metrics, prometheus, synthetic): errors / requests ≥ ${pct(p.thresholds.errorRate.p2AtLeast)} over the prober's window and, where the source keeps one, over its last round too (multiwindow: the errors must still be happening); windows without requests are ignored; the worst source wins. ` +
      `Also (subject "all"): any synthetic user failing in the last round; as "> ${pct(p.thresholds.usersAffected.p1Above)} of users" only when the share of failed journeys over the prober's window is above too.`,
    severities: ["P1", "P2"],
    severity: (p) =>
      `P1 when the error rate is > ${pct(p.thresholds.errorRate.p1Above)} or > ${pct(p.thresholds.usersAffected.p1Above)} of synthetic users fail (in the last round and over the window); ` +
      `P2 when it is ${pct(p.thresholds.errorRate.p2AtLeast)}–${pct(p.thresholds.errorRate.p1Above)} (both included) or up to ${pct(p.thresholds.usersAffected.p1Above)} of users fail; below ${pct(p.thresholds.errorRate.p2AtLeast)} no incident.`,
    why: 'The runbook\'s P1 is "> 10%" and "> 50% users", its P2 "5-10%" and "< 50% users": exactly 10% and exactly 50% are therefore not P1. It gives no lower bound for users, so any failing user is P2.',
    steps: [
      S.identifyAffectedServices,
      S.checkHealthEndpoints,
      S.reviewRecentDeployments,
      S.checkConsumerLag,
      S.reviewDatabaseConnections,
      S.scaleUpServices,
      S.restartFailingInstances,
      S.rollbackIfRecentChange,
      S.verifyErrorRateNormal,
    ],
    escalationNote: "If triage points at Kafka, the database or memory, follow that incident's steps.",
    collectors: ["service-metrics", "synthetic", "prometheus"],
    drills: ["bad-deployment"],
  },
  "kafka-broker-down": {
    kind: "kafka-broker-down",
    title: "Kafka broker down",
    section: "Common Incidents › Kafka Broker Down",
    symptoms: ["Consumer lag increasing, producers failing"],
    detect: detectKafkaBrokerDown,
    rule: () => "A broker in the cluster metadata does not answer, or fewer brokers are up than expected.",
    severities: ["P0", "P1", "P2"],
    severity: () =>
      "P0 when no broker is up; P1 when fewer brokers are up than min.insync.replicas (writes with acks=all fail) or a partition is offline; otherwise P2 (redundancy lost, service intact).",
    why: 'No broker is the platform down (P0). Below min.insync.replicas producers fail: the runbook\'s symptom "producers failing", a degradation for every user (P1). With enough replicas in sync users see nothing yet, but one more failure is an outage (P2).',
    steps: [S.kafkaCheckBrokerStatus, S.kafkaCheckBrokerLogs, S.kafkaRestartBroker, S.kafkaVerifyReplication, S.verifyLagDrains],
    escalationNote: "If the broker does not rejoin, or partitions stay under-replicated, escalate to the Kafka owner.",
    collectors: ["kafka"],
    drills: ["kafka-broker-down", "kafka-broker-down-majority"],
  },
  "db-pool-exhausted": {
    kind: "db-pool-exhausted",
    title: "Database connection pool exhausted",
    section: "Common Incidents › Database Connection Pool Exhausted",
    symptoms: ["High error rates, connection timeouts"],
    detect: detectDbPoolExhausted,
    rule: (p) =>
      `PostgreSQL connections ≥ ${pct(p.thresholds.dbPool.usageAtLeast)} of the usable ones (max_connections − reserved), or a service pool has every connection in use with more than ${p.thresholds.dbPool.waitingAbove} request(s) waiting, or requests time out waiting for a pooled connection (> ${p.thresholds.dbPool.timeoutsPerSecondAbove}/s over the window and in its last round).`,
    severities: ["P1", "P2", "P3"],
    severity: (p) =>
      `By the worst concurrent error rate: P1 when > ${pct(p.thresholds.errorRate.p1Above)}, P2 when ≥ ${pct(p.thresholds.errorRate.p2AtLeast)}, otherwise P3.`,
    why: 'The runbook\'s symptom is "High error rates"; what users feel is the error rate, so it sets the severity exactly as for high error rates. An exhausted pool that fails no request yet is a non-critical alert (P3) that will become P2/P1.',
    steps: [S.dbCheckActiveConnections, S.dbScaleUpDatabase, S.dbIncreasePoolSize, S.dbKillIdleConnections, S.dbVerifyErrorRate],
    escalationNote: "If the pools are at their bound and the database cannot take more connections, escalate to the database owner.",
    collectors: ["postgres", "service-metrics"],
    drills: ["db-pool-exhausted", "db-pool-exhausted-lock"],
  },
  "high-consumer-lag": {
    kind: "high-consumer-lag",
    title: "High consumer lag",
    section: "Common Incidents › High Consumer Lag",
    symptoms: ["Lag > 10k messages"],
    detect: detectHighConsumerLag,
    rule: (p) => `A consumer group's total lag > ${p.thresholds.consumerLag.above} messages.`,
    severities: ["P1", "P2"],
    severity: (p) =>
      `P2; P1 when the group's consumers are also stalled (committed offsets frozen ≥ ${p.thresholds.consumerStall.seconds} s while lagging) or stopped (no member).`,
    why: "Lag alone delays stats for every user but recovers by itself (P2). Stalled or stopped consumers never catch up: stats freeze for everyone, a degradation for > 50% of users (P1).",
    steps: [S.lagCheckConsumerStatus, S.lagCheckProcessingErrors, S.lagScaleUpConsumers, S.verifyKafkaBrokerHealth, S.verifyLagDrains],
    escalationNote: "If scaling is bounded by the partition count and lag still grows, escalate to the event-processor owner.",
    collectors: ["kafka"],
    drills: ["high-consumer-lag"],
  },
  "service-oom": {
    kind: "service-oom",
    title: "Service out of memory",
    section: "Common Incidents › Service Out of Memory",
    symptoms: ["OOMKilled pods, high memory usage"],
    detect: detectServiceOom,
    rule: (p) =>
      `An instance was OOM-killed (engine or cgroup event, not exit 137 alone), or uses ≥ ${pct(p.thresholds.memory.usageAtLeast)} of its memory limit.`,
    severities: ["P1", "P2", "P3"],
    severity: () =>
      "P2 when an instance was OOM-killed; P1 when every instance of the service is OOM-killed or not running (service-down is then P0 as well); P3 for high memory usage without a kill.",
    why: "A kill with other instances serving is a partial degradation (P2); no instance left serving is a degradation for all users (P1). High usage alone is a non-critical alert (P3).",
    steps: [S.oomCheckMemoryLimits, S.oomCheckMemoryLeaks, S.oomIncreaseMemoryLimits, S.oomScaleHorizontally, S.oomVerifyNoOom],
    escalationNote: "If the limit is at its maximum or the logs show a leak, escalate to the service owner for a fix.",
    collectors: ["instances"],
    drills: ["service-oom"],
  },
  "external-alert": {
    kind: "external-alert",
    title: "Non-critical external alert",
    section: "Severity Levels › P3 - Low",
    symptoms: ["Non-critical alerts"],
    detect: detectExternalAlert,
    rule: () =>
      "An alert raised by another system is active in Alertmanager (not silenced, not inhibited, not the prober's own) and is not labelled security (those are security-exposure, P0): one incident per alert name, its labels kept as evidence.",
    severities: ["P3"],
    severity: () => "P3",
    why: 'The runbook lists "Non-critical alerts" under P3; an alert the prober did not raise itself is someone\'s signal, ticketed rather than dropped.',
    steps: [S.reviewExternalAlerts, S.checkHealthEndpoints],
    escalationNote: "The alert's owner (its labels say who) decides what to do; a security alert is security-exposure (P0) instead.",
    collectors: ["external-alerts"],
    drills: [],
  },
};

/** A step by id, from any catalog entry. */
export function stepById(id: string): Step | undefined {
  for (const entry of Object.values(CATALOG)) {
    const step = entry.steps.find((s) => s.id === id);
    if (step) return step;
  }
  return undefined;
}

/** One item of the general process; `stepId` when a catalog step automates it. */
export interface ProcessItem {
  text: string;
  stepId?: string;
}

/** A phase of the runbook's "Incident Response Process" or "Post-Incident". */
export interface ProcessPhase {
  name: string;
  /** numbered in the runbook */
  ordered: boolean;
  items: ProcessItem[];
}

/** The runbook's general process, verbatim. */
export const PROCESS: ProcessPhase[] = [
  {
    name: "Detection",
    ordered: false,
    items: [{ text: "Monitor alerts in AlertManager" }, { text: "Check Grafana dashboards" }, { text: "Review logs in Loki" }],
  },
  {
    name: "Triage",
    ordered: true,
    items: [
      { text: "Identify affected service(s)", stepId: S.identifyAffectedServices.id },
      { text: "Check service health endpoints", stepId: S.checkHealthEndpoints.id },
      { text: "Review recent deployments", stepId: S.reviewRecentDeployments.id },
      { text: "Check Kafka consumer lag", stepId: S.checkConsumerLag.id },
      { text: "Review database connections", stepId: S.reviewDatabaseConnections.id },
    ],
  },
  {
    name: "Mitigation",
    ordered: false,
    items: [
      { text: "Scale up services if needed", stepId: S.scaleUpServices.id },
      { text: "Restart failing pods", stepId: S.restartFailingInstances.id },
      { text: "Rollback deployment if recent change", stepId: S.rollbackIfRecentChange.id },
      { text: "Check resource limits", stepId: S.oomCheckMemoryLimits.id },
    ],
  },
  {
    name: "Resolution",
    ordered: false,
    items: [
      { text: "Document root cause" },
      { text: "Implement fix" },
      { text: "Verify resolution" },
      { text: "Update runbooks if needed" },
    ],
  },
  {
    name: "Post-Incident",
    ordered: true,
    items: [
      { text: "Write incident report" },
      { text: "Conduct post-mortem meeting" },
      { text: "Update runbooks" },
      { text: "Implement preventive measures" },
    ],
  },
];

/** The runbook's "Escalation" section: what each escalation means. */
export const ESCALATION: Record<Escalation, string> = {
  page: "Page on-call engineer immediately",
  "ticket-and-notify": "Create ticket, notify team",
  ticket: "Create ticket, handle during business hours",
};
