/**
 * The prober: every interval, collectors in parallel → a snapshot → classify(snapshot, policy) →
 * incidents (with hysteresis) → sinks: Prometheus metrics, JSON log lines on open/change/resolve,
 * Alertmanager v2 alerts.
 */
import { randomBytes } from "node:crypto";
import { classify } from "@gm/runbook/classify";
import type { Incident } from "@gm/runbook/incident";
import type { PlatformPort } from "@gm/runbook/ports";
import type { Policy } from "@gm/runbook/policy";
import type { Snapshot } from "@gm/runbook/snapshot";
import { createAlertmanagerReader } from "@gm/signals/external-alerts";
import { createPrometheusErrorRate } from "@gm/signals/prometheus";
import type { ServiceUrls } from "@gm/signals/http-health";
import { createSignals } from "@gm/signals/collect-round";
import type { ProberConfig } from "./config.js";
import { createIncidentTracker, type Transition } from "./hysteresis.js";
import { type IncidentJournal, incidentsOf } from "./incident-journal.js";
import { createProberMetrics } from "./metrics.js";

export interface AlertSink {
  send(active: Incident[], resolved: Incident[]): Promise<unknown>;
}

export interface ProberDeps {
  config: ProberConfig;
  policy: Policy;
  platform?: PlatformPort;
  alerts?: AlertSink;
  /** one JSON object per line */
  log?: (record: Record<string, unknown>) => void;
  now?: () => number;
  /** instances found at each round (e.g. replicas a scale-up added), merged into the configured services */
  discover?: () => Promise<ServiceUrls>;
  /** the incident journal (incident-journal.ts): each incident's life, durably; its open incidents are continued */
  journal?: IncidentJournal;
}

export interface Round {
  snapshot: Snapshot;
  /** this round's classification (before hysteresis) */
  incidents: Incident[];
  /** open incidents after hysteresis */
  active: Incident[];
  transitions: Transition[];
}

/**
 * The numbers the collectors judge by (the rest are compared by `classify`, which reads the policy
 * itself): taken from the policy, never from the prober's file, so docs/runbook.md states what runs.
 */
export function collectorThresholds(policy: Policy): { stallSeconds: number; canaryLossDeadlineSeconds: number } {
  return { stallSeconds: policy.thresholds.consumerStall.seconds, canaryLossDeadlineSeconds: policy.thresholds.canary.lossDeadlineSeconds };
}

export function createProber(deps: ProberDeps) {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  const prom = config.prometheus
    ? createPrometheusErrorRate({
        url: config.prometheus.url,
        timeoutMs: config.timeoutMs,
        windowSeconds: config.windowSeconds,
        services: config.topology.services.map((s) => s.name),
      })
    : undefined;
  const judged = collectorThresholds(deps.policy);
  const signals = createSignals({
    timeoutMs: config.timeoutMs,
    maxInFlight: config.maxInFlight,
    windowSeconds: config.windowSeconds,
    services: config.services,
    topology: config.topology,
    ...(config.kafka ? { kafka: { ...config.kafka, stallSeconds: judged.stallSeconds } } : {}),
    ...(config.postgres ? { postgres: config.postgres } : {}),
    ...(config.synthetic
      ? { synthetic: { ...config.synthetic, lossDeadlineSeconds: judged.canaryLossDeadlineSeconds, runId: randomBytes(3).toString("hex") } }
      : {}),
    ...(config.security
      ? {
          security: {
            protectedEndpoints: config.security.protected,
            publicEndpoints: config.security.public,
            secrets: config.security.secrets,
          },
        }
      : {}),
    ...(prom ? { extraErrorRates: () => prom.collect() } : {}),
    ...(config.alertmanager
      ? { externalAlerts: createAlertmanagerReader({ urls: config.alertmanager.urls, timeoutMs: config.timeoutMs }) }
      : {}),
    ...(deps.platform ? { platform: deps.platform } : {}),
    ...(deps.discover ? { discover: deps.discover } : {}),
  });
  const collectors = [
    "http-health",
    "service-metrics",
    ...(config.kafka ? ["kafka"] : []),
    ...(config.postgres ? ["postgres"] : []),
    ...(config.synthetic ? ["synthetic"] : []),
    ...(config.security ? ["security"] : []),
    ...(prom ? ["prometheus"] : []),
    ...(deps.platform ? ["instances"] : []),
    ...(config.alertmanager ? ["external-alerts"] : []),
  ];
  const tracker = createIncidentTracker(config.hysteresis.resolveAfter, deps.journal ? incidentsOf(deps.journal.open()) : []);
  /** when the previous round ended: an incident that opens now was not there then */
  let previousRoundAt: string | null = null;
  const metrics = createProberMetrics();

  async function round(): Promise<Round> {
    const t0 = performance.now();
    const snapshot = await signals.snapshot(now());
    const incidents = classify(snapshot, deps.policy);
    const transitions = tracker.update(incidents);
    const active = tracker.active();
    metrics.record(snapshot, active, collectors, (performance.now() - t0) / 1000);
    let ids: string[] = [];
    if (deps.journal) {
      try {
        ids = deps.journal.record(transitions, active, previousRoundAt);
      } catch (err) {
        log({
          ts: new Date(now()).toISOString(),
          level: "error",
          msg: "incident journal write failed",
          dir: deps.journal.dir,
          error: String(err),
        });
      }
    }
    previousRoundAt = new Date(now()).toISOString();
    for (const [n, t] of transitions.entries()) {
      const i = t.incident;
      log({
        ts: new Date(now()).toISOString(),
        level: t.type === "resolved" ? "info" : "warn",
        msg: `incident ${t.type}`,
        event: `incident_${t.type}`,
        ...(ids[n] ? { id: ids[n] } : {}),
        kind: i.kind,
        severity: i.severity,
        ...(t.type === "changed" ? { from: t.from } : {}),
        subject: i.subject,
        summary: i.summary,
        evidence: i.evidence,
        respondBy: i.respondBy,
        escalation: i.escalation,
      });
    }
    if (deps.alerts) {
      const resolved = transitions.filter((t) => t.type === "resolved").map((t) => t.incident);
      await deps.alerts
        .send(active, resolved)
        .catch((err: unknown) =>
          log({ ts: new Date(now()).toISOString(), level: "error", msg: "alert delivery failed", error: String(err) }),
        );
    }
    return { snapshot, incidents, active, transitions };
  }

  return { round, registry: metrics.registry, close: () => signals.close() };
}
