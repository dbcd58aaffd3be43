/**
 * One prober round: every collector in parallel, each with its timeout, none throwing; the results
 * assembled into a Snapshot for `classify`.
 */
import type { PlatformPort } from "@gm/runbook/ports";
import { redactDeep } from "@gm/runbook/redact";
import type { ErrorRateSignal, ExternalAlert, InstanceSignal, Snapshot } from "@gm/runbook/snapshot";
import { DEFAULT_TOPOLOGY, instanceRoles, serviceNamed, type Topology } from "@gm/runbook/topology";
import { collect } from "./collect.js";
import { probeHealth, type ServiceUrls } from "./http-health.js";
import { inFlightLimit } from "./in-flight.js";
import { createKafkaCollector } from "./kafka-signals.js";
import { createPostgresCollector } from "./postgres.js";
import { createServiceMetricsCollector } from "./service-metrics.js";
import { checkSecurity, type SecurityOptions } from "./security.js";
import { createSynthetic } from "./synthetic.js";

export interface SignalsConfig {
  timeoutMs: number;
  /** at most this many health probes and metrics scrapes in flight at once (default: DEFAULT_MAX_IN_FLIGHT) */
  maxInFlight?: number;
  windowSeconds: number;
  /** the short window of the multiwindow error rates, in rounds (default 1: the last round) */
  recentRounds?: number;
  services: ServiceUrls;
  /**
   * The platform's description (the prober's `services:` with roles): its health/metrics paths are
   * probed, its services' instances asked of the platform, and it travels in the snapshot for the rules
   * and steps. Default: GameMetrics Pro's.
   */
  topology?: Topology;
  kafka?: { brokers: string[]; expectedBrokers?: number; topic: string; groups: string[]; stallSeconds: number };
  postgres?: { url: string };
  synthetic?: { players: number; lossDeadlineSeconds: number; runId: string };
  security?: Omit<SecurityOptions, "timeoutMs" | "fetch">;
  /** an optional extra error-rate source (Prometheus by PromQL) */
  extraErrorRates?: () => Promise<ErrorRateSignal[]>;
  /** alerts from outside (e.g. read from Alertmanager) */
  externalAlerts?: () => Promise<ExternalAlert[]>;
  platform?: PlatformPort;
  /** instances found at each round (e.g. replicas a scale-up added), merged into `services` */
  discover?: () => Promise<ServiceUrls>;
}

/** The default bound on a round's HTTP requests in flight: above any platform's instance count here, below the open-files limit. */
export const DEFAULT_MAX_IN_FLIGHT = 256;

/**
 * The time the health (or metrics) collector gets: one request timeout per wave of `max` requests, plus
 * one — 2 × `timeoutMs` when every instance fits in one wave, as before the bound.
 */
export const probingTimeoutMs = (requests: number, max: number, timeoutMs: number): number =>
  timeoutMs * (Math.max(1, Math.ceil(requests / max)) + 1);

export function createSignals(cfg: SignalsConfig) {
  const services: ServiceUrls = { ...cfg.services };
  const max = cfg.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  // one bound for the health probes and the metrics scrapes: they run side by side in a round
  const inFlight = inFlightLimit(max);
  const topology = cfg.topology ?? DEFAULT_TOPOLOGY;
  const endpoint = (service: string, which: "health" | "metrics") => serviceNamed(topology, service)?.[which] ?? `/${which}`;
  const metrics = createServiceMetricsCollector({
    services,
    metricsPath: (service) => endpoint(service, "metrics"),
    windowSeconds: cfg.windowSeconds,
    recentRounds: cfg.recentRounds,
    timeoutMs: cfg.timeoutMs,
    inFlight,
  });
  const kafka = cfg.kafka ? createKafkaCollector({ ...cfg.kafka, windowSeconds: cfg.windowSeconds, timeoutMs: cfg.timeoutMs }) : undefined;
  const pg = cfg.postgres ? createPostgresCollector({ url: cfg.postgres.url, timeoutMs: cfg.timeoutMs }) : undefined;
  const ingest = cfg.services["ingest-api"]?.[0];
  const stats = cfg.services["stats-api"]?.[0];
  const synthetic =
    cfg.synthetic && ingest && stats
      ? createSynthetic({
          ...cfg.synthetic,
          ingestUrl: ingest,
          statsUrl: stats,
          timeoutMs: cfg.timeoutMs,
          windowSeconds: cfg.windowSeconds,
          recentRounds: cfg.recentRounds,
        })
      : undefined;
  const t = cfg.timeoutMs;
  // every configured secret's value, longest first (one that contains another is replaced whole)
  const secretValues = Object.values(cfg.security?.secrets ?? {})
    .filter((v) => v.length > 0)
    .sort((a, b) => b.length - a.length);
  // Collectors that make several requests get a little more than one request's timeout.
  const slow = t * 2;

  return {
    async snapshot(now = Date.now()): Promise<Snapshot> {
      if (cfg.discover) {
        const found = await collect("discover", t, () => cfg.discover!());
        for (const [name, urls] of Object.entries(found.value ?? {}) as [keyof ServiceUrls, string[]][]) {
          if (urls.length > 0) services[name] = urls;
        }
      }
      // Probes queued behind the in-flight bound get one timeout per wave, so a round of unreachable
      // instances still reports each one as failed instead of timing out the whole collector.
      const probing = probingTimeoutMs(
        Object.values(services).reduce((n, u) => n + (u?.length ?? 0), 0),
        max,
        t,
      );
      const [health, svc, k, p, syn, sec, extra, ext, inst] = await Promise.all([
        collect("http-health", probing, () => probeHealth(services, t, undefined, (service) => endpoint(service, "health"), inFlight)),
        collect("service-metrics", probing, () => metrics.collect(now)),
        kafka ? collect("kafka", slow * 2, () => kafka.collect(now)) : undefined,
        pg ? collect("postgres", slow, () => pg.collect()) : undefined,
        synthetic ? collect("synthetic", slow * 2, () => synthetic.round(now)) : undefined,
        cfg.security ? collect("security", slow, () => checkSecurity({ ...cfg.security!, timeoutMs: t })) : undefined,
        cfg.extraErrorRates ? collect("prometheus", slow, cfg.extraErrorRates) : undefined,
        cfg.externalAlerts ? collect("external-alerts", slow, cfg.externalAlerts) : undefined,
        cfg.platform ? collect("instances", slow * 2, () => instances(cfg.platform!, topology)) : undefined,
      ]);
      // the next rounds' synthetic players sample every partition (see spreadPlayers)
      const partitions = k?.value?.kafka?.groups[0]?.partitions.length ?? 0;
      if (synthetic && partitions > 0) synthetic.spreadOver(partitions);
      const errors: Snapshot["collectionErrors"] = [];
      for (const c of [health, svc, k, p, syn, sec, extra, ext, inst])
        if (c?.error) errors.push({ collector: c.collector, error: c.error });
      for (const f of svc.value?.failures ?? []) errors.push({ collector: "service-metrics", error: `${f.url}: ${f.error}` });
      // A URL's password (http://user:pass@host, postgres://…) and the value of every configured secret
      // (security.secrets: a token in a URL's query, in an error's text) never reach the snapshot, so
      // neither incidents' evidence, nor `gm-prober once --json`, metrics labels, reports or logs built from it.
      return redactDeep<Snapshot>(
        {
          at: new Date(now).toISOString(),
          ...(cfg.topology ? { topology: cfg.topology } : {}),
          services: health.value ?? [],
          errorRates: [...(svc.value?.errorRates ?? []), ...(syn?.value ? [syn.value.errorRate] : []), ...(extra?.value ?? [])],
          users: syn?.value?.users ?? null,
          kafka: k?.value?.kafka ?? null,
          postgres: p?.value ? { ...p.value, pools: svc.value?.pools ?? [] } : null,
          instances: inst?.value ?? [],
          consumers: k?.value?.consumers ?? [],
          security: sec?.value ?? null,
          canary: syn?.value?.canary ?? null,
          externalAlerts: ext?.value ?? [],
          collectionErrors: errors,
        },
        secretValues,
      );
    },
    async close() {
      await Promise.all([kafka?.close(), pg?.close()]);
    },
  };
}

/** Every instance of every described service, kafka and postgres, as the platform port reports it. */
export async function instances(platform: PlatformPort, topology: Topology = DEFAULT_TOPOLOGY): Promise<InstanceSignal[]> {
  const roles = instanceRoles(topology);
  const lists = await Promise.all(roles.map((r) => platform.listInstances(r)));
  return lists.flat().map((i) => ({
    service: i.service,
    instance: i.name,
    running: i.running,
    restarts: i.restarts,
    exitCode: i.exitCode,
    oomKilled: i.oomKilled,
    oomKilledAt: null,
    memoryUsageBytes: i.memoryUsageBytes,
    memoryLimitBytes: i.memoryLimitBytes,
  }));
}
