/**
 * Alerts from outside the prober, read from Alertmanager (`GET /api/v2/alerts`): the runbook's third P0,
 * a security breach, is something a prober cannot see — but another system can raise it. An active alert
 * labelled `incident="security"` (or `category="security"`) maps to P0 security-exposure.
 * The prober's own alerts (they carry `source="gm-prober"`) are skipped.
 */
import type { ExternalAlert } from "@gm/runbook/snapshot";

export function createAlertmanagerReader(opts: { urls: string[]; timeoutMs: number; fetch?: typeof fetch }) {
  const fetchFn = opts.fetch ?? fetch;
  return async function read(): Promise<ExternalAlert[]> {
    let lastErr: unknown;
    // Alertmanagers of one cluster share their alerts: the first that answers is enough.
    for (const url of opts.urls) {
      try {
        const res = await fetchFn(`${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`, { signal: AbortSignal.timeout(opts.timeoutMs) });
        if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
        const alerts = (await res.json()) as { labels: Record<string, string> }[];
        return alerts
          .filter((a) => a.labels["source"] !== "gm-prober")
          .map((a) => ({
            name: a.labels["alertname"] ?? "unnamed",
            labels: a.labels,
            security: a.labels["incident"] === "security" || a.labels["category"] === "security",
          }));
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  };
}
