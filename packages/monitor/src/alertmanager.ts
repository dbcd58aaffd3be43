/**
 * The Alertmanager sink: each incident becomes one alert posted to every configured Alertmanager
 * (`POST /api/v2/alerts`, https://github.com/prometheus/alertmanager/blob/v0.25.0/api/v2/openapi.yaml).
 * Like Prometheus, it posts to every instance of an HA cluster (alerts are not gossiped) and re-sends
 * every active alert on each call, since Alertmanager resolves an alert that is not re-sent within
 * `resolve_timeout`. Routing by severity lives in deploy/alertmanager/alertmanager.yml. The HTTP call
 * itself is packages/platform/src/alertmanager.ts's, shared with the reader of external alerts.
 */
import { alertsEndpoint, postAlerts } from "@gm/platform/alertmanager";
import type { Incident, IncidentKind } from "@gm/runbook/incident";
import { redactText, redactUrl } from "@gm/runbook/redact";
import { DEFAULT_TOPOLOGY, serviceNames } from "@gm/runbook/topology";

type Fetch = typeof globalThis.fetch;

/** The body of one alert in `POST /api/v2/alerts` (PostableAlert). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL: string;
}

export interface AlertmanagerSinkOptions {
  /** base URLs of every Alertmanager of the cluster, e.g. ["http://127.0.0.1:9093"] */
  urls: string[];
  /** per request; default 5000 */
  timeoutMs?: number;
  /** link back to the prober (its status page), shown by Alertmanager as the alert's source */
  generatorURL: string;
  /** where the runbook lives; the anchor of the incident kind is appended. Default "docs/runbook.md". */
  runbookURL?: string;
  /** the platform's services (its description's names): an incident on one gets the `service` label; default GameMetrics Pro's */
  services?: readonly string[];
  fetch?: Fetch;
  /** injected in tests */
  now?: () => Date;
}

export interface AlertmanagerResult {
  url: string;
  /** 2xx = accepted */
  ok: boolean;
  /** HTTP status, when Alertmanager answered */
  status?: number;
  /** why it was not accepted: network error, timeout, or the response body of a non-2xx answer */
  error?: string;
}

export interface AlertmanagerSendReport {
  /** true when every configured Alertmanager accepted the alerts */
  ok: boolean;
  /** alerts posted (active + resolved) */
  alerts: number;
  results: AlertmanagerResult[];
}

export interface AlertmanagerSink {
  /**
   * Posts `incidents` as firing alerts and `resolved` as alerts ending now, to every Alertmanager.
   * Never throws: failures are results, so a probe loop can log them and carry on.
   */
  send(incidents: Incident[], resolved: Incident[]): Promise<AlertmanagerSendReport>;
}

/** A configuration value that is missing or malformed; thrown by the factory only. */
export class AlertmanagerOptionError extends Error {
  readonly code = "invalid-option";
  readonly retriable = false;
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`alertmanager option ${field}: expected ${expected}, got ${redactText(JSON.stringify(got) ?? String(got))}`);
    this.name = "AlertmanagerOptionError";
  }
}

/** Anchors (GitHub heading slugs) of each kind's section in docs/runbook.md ("### Service down (`service-down`)"). */
export const RUNBOOK_ANCHORS: Record<IncidentKind, string> = {
  "service-down": "service-down-service-down",
  "data-loss": "data-loss-or-corruption-data-loss",
  "security-exposure": "security-exposure-security-exposure",
  "high-error-rate": "high-error-rate-high-error-rate",
  "kafka-broker-down": "kafka-broker-down-kafka-broker-down",
  "db-pool-exhausted": "database-connection-pool-exhausted-db-pool-exhausted",
  "high-consumer-lag": "high-consumer-lag-high-consumer-lag",
  "service-oom": "service-out-of-memory-service-oom",
  "external-alert": "non-critical-external-alert-external-alert",
};

const DEFAULT_TIMEOUT_MS = 5_000;

/** "high-consumer-lag" → "GameMetricsHighConsumerLag" */
export function alertName(kind: IncidentKind): string {
  return `GameMetrics${kind
    .split("-")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("")}`;
}

/**
 * The alert for one incident. Labels identify it (Alertmanager's fingerprint), so they hold only
 * what is stable while the incident lasts; what changes between probes goes into annotations.
 */
export function toAlert(
  incident: Incident,
  at: {
    startsAt: Date;
    endsAt?: Date | undefined;
    generatorURL: string;
    runbookURL?: string | undefined;
    services?: readonly string[] | undefined;
  },
): PostableAlert {
  const labels: Record<string, string> = {
    alertname: alertName(incident.kind),
    kind: incident.kind,
    severity: incident.severity,
    subject: incident.subject,
    escalation: incident.escalation,
    // so the prober can tell its own alerts from those raised elsewhere (signals/external-alerts.ts)
    source: "gm-prober",
  };
  if ((at.services ?? serviceNames(DEFAULT_TOPOLOGY)).includes(incident.subject)) labels["service"] = incident.subject;
  const alert: PostableAlert = {
    labels,
    annotations: {
      summary: incident.summary,
      evidence: JSON.stringify(incident.evidence),
      respond_by: incident.respondBy,
      response_minutes: String(incident.responseMinutes),
      steps: incident.steps.join(", "),
      runbook: `${at.runbookURL ?? "docs/runbook.md"}#${RUNBOOK_ANCHORS[incident.kind]}`,
    },
    startsAt: at.startsAt.toISOString(),
    generatorURL: at.generatorURL,
  };
  if (at.endsAt) alert.endsAt = at.endsAt.toISOString();
  return alert;
}

/** Creates the sink. Options are checked here; `send` never throws. */
export function createAlertmanagerSink(options: AlertmanagerSinkOptions): AlertmanagerSink {
  if (!Array.isArray(options.urls) || options.urls.length === 0)
    throw new AlertmanagerOptionError("urls", "at least one Alertmanager URL", options.urls);
  // `url` names the Alertmanager in results, without its password
  const endpoints = options.urls.map((u, i) => ({ url: redactUrl(u), endpoint: alertsEndpoint(baseUrl(`urls[${i}]`, u)) }));
  baseUrl("generatorURL", options.generatorURL);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new AlertmanagerOptionError("timeoutMs", "a positive number of milliseconds", options.timeoutMs);
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? (() => new Date());
  /**
   * Each open alert: when it was first sent, so startsAt stays put across re-sends (and Alertmanager
   * restarts), and its last incident, to end it when it is no longer open.
   */
  const open = new Map<string, { startsAt: Date; incident: Incident }>();

  const post = async (url: string, endpoint: URL, body: string): Promise<AlertmanagerResult> => ({
    url,
    ...(await postAlerts(endpoint, body, { timeoutMs, fetch: doFetch })),
  });

  return {
    async send(incidents, resolved) {
      const t = now();
      const common = { generatorURL: options.generatorURL, runbookURL: options.runbookURL, services: options.services };
      const alerts: PostableAlert[] = [];
      const current = new Set<string>();
      for (const incident of incidents) {
        const key = identity(incident);
        current.add(key);
        const startsAt = earliest(open.get(key)?.startsAt, detectedAt(incident), t);
        open.set(key, { startsAt, incident });
        alerts.push(toAlert(incident, { ...common, startsAt }));
      }
      for (const incident of resolved) {
        const key = identity(incident);
        // Alertmanager rejects an alert that ends before it starts.
        const startsAt = earliest(open.get(key)?.startsAt, detectedAt(incident), t);
        open.delete(key);
        alerts.push(toAlert(incident, { ...common, startsAt, endsAt: t }));
      }
      // An alert sent before and neither open nor resolved now — the old severity of an incident whose
      // severity changed — ends now. Kept, it fired on in Alertmanager until its resolve timeout, and its
      // old startsAt came back with that severity: Alertmanager took the alert for an old one and sent it
      // without its group_wait (a P2 paged in 7 s through a route that waits 30 s, in npm run bench:page).
      for (const [key, was] of open) {
        if (current.has(key)) continue;
        open.delete(key);
        alerts.push(toAlert(was.incident, { ...common, startsAt: was.startsAt, endsAt: t }));
      }
      if (alerts.length === 0) return { ok: true, alerts: 0, results: [] };
      const body = JSON.stringify(alerts);
      const results = await Promise.all(endpoints.map(({ url, endpoint }) => post(url, endpoint, body)));
      return { ok: results.every((r) => r.ok), alerts: alerts.length, results };
    },
  };
}

/** The label set that identifies an alert, as a map key. */
function identity(i: Incident): string {
  return JSON.stringify([i.kind, i.severity, i.subject, i.escalation]);
}

/** The snapshot time the incident was classified at: respondBy − responseMinutes. */
function detectedAt(i: Incident): Date | undefined {
  const due = Date.parse(i.respondBy);
  return Number.isNaN(due) ? undefined : new Date(due - i.responseMinutes * 60_000);
}

function earliest(...dates: (Date | undefined)[]): Date {
  let best: Date | undefined;
  for (const d of dates) if (d && (!best || d.getTime() < best.getTime())) best = d;
  return best ?? new Date();
}

function baseUrl(field: string, raw: unknown): URL {
  let u: URL | undefined;
  try {
    u = typeof raw === "string" ? new URL(raw) : undefined;
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:"))
    throw new AlertmanagerOptionError(field, "an http(s) URL such as http://127.0.0.1:9093", raw);
  return u;
}
