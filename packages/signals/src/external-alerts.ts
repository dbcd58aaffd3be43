/**
 * Alerts from outside the prober, read from Alertmanager (`GET /api/v2/alerts`, through
 * packages/platform/src/alertmanager.ts): the runbook's third P0, a security breach, is something a
 * prober cannot see — but another system can raise it. An active alert labelled `incident="security"`
 * (or `category="security"`) maps to P0 security-exposure; any other is one of the runbook's P3
 * "Non-critical alerts" (external-alert, its labels kept as evidence: packages/runbook/src/rules.ts).
 * The prober's own alerts (they carry `source="gm-prober"`) are skipped.
 */
import { getActiveAlerts } from "@gm/platform/alertmanager";
import type { ExternalAlert } from "@gm/runbook/snapshot";

export function createAlertmanagerReader(opts: { urls: string[]; timeoutMs: number; fetch?: typeof fetch }) {
  return async function read(): Promise<ExternalAlert[]> {
    const alerts = await getActiveAlerts(opts.urls, { timeoutMs: opts.timeoutMs, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
    return alerts
      .filter((a) => a.labels["source"] !== "gm-prober")
      .map((a) => ({
        name: a.labels["alertname"] ?? "unnamed",
        labels: a.labels,
        security: a.labels["incident"] === "security" || a.labels["category"] === "security",
      }));
  };
}
