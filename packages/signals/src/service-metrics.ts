/**
 * Error rate and pool usage from the services' own /metrics: 5xx / all requests over a sliding
 * window (probe routes excluded: the prober's own /health and /metrics traffic must not dilute it),
 * and each pg Pool's total/idle/waiting and connection timeouts per second.
 */
import type { ErrorRateSignal, ServiceName, ServicePoolSignal } from "@gm/runbook/snapshot";
import { Series } from "./collect.js";
import { first, parsePrometheusText, sum } from "./prom-text.js";
import type { ServiceUrls } from "./http-health.js";
import { type InFlight, unbounded } from "./in-flight.js";

const PROBE_ROUTES = new Set(["/health", "/ready", "/metrics"]);

/** A cumulative counter that survives resets (a restarted process starts from 0 again). */
class ResetSafeCounter {
  private last: number | null = null;
  private offset = 0;
  update(raw: number): number {
    if (this.last !== null && raw < this.last) this.offset += this.last;
    this.last = raw;
    return this.offset + raw;
  }
}

interface InstanceState {
  requests: ResetSafeCounter;
  errors: ResetSafeCounter;
  timeouts: ResetSafeCounter;
  reqSeries: Series;
  errSeries: Series;
  timeoutSeries: Series;
}

export interface ServiceMetricsResult {
  errorRates: ErrorRateSignal[];
  pools: ServicePoolSignal[];
  failures: { url: string; error: string }[];
}

export function createServiceMetricsCollector(opts: {
  services: ServiceUrls;
  windowSeconds: number;
  /** the short window of the multiwindow error rate, in rounds (default 1: the last round) */
  recentRounds?: number;
  timeoutMs: number;
  /** the service's metrics endpoint path (its description's `metrics`); default /metrics */
  metricsPath?: (service: ServiceName) => string;
  fetch?: typeof fetch;
  /** the round's bound on requests in flight (shared with the health probes); a scrape's timeout starts with its slot */
  inFlight?: InFlight;
}) {
  const recentRounds = opts.recentRounds ?? 1;
  const fetchFn = opts.fetch ?? fetch;
  const inFlight = opts.inFlight ?? unbounded;
  const windowMs = opts.windowSeconds * 1000;
  const state = new Map<string, InstanceState>();
  const stateOf = (url: string): InstanceState => {
    let s = state.get(url);
    if (!s) {
      s = {
        requests: new ResetSafeCounter(),
        errors: new ResetSafeCounter(),
        timeouts: new ResetSafeCounter(),
        reqSeries: new Series(windowMs),
        errSeries: new Series(windowMs),
        timeoutSeries: new Series(windowMs),
      };
      state.set(url, s);
    }
    return s;
  };
  const delta = (series: Series) => {
    const span = series.span();
    return span ? span.last.v - span.first.v : 0;
  };

  return {
    async collect(now = Date.now()): Promise<ServiceMetricsResult> {
      const failures: { url: string; error: string }[] = [];
      const pools: ServicePoolSignal[] = [];
      type Agg = { requests: number; errors: number; recentRequests: number; recentErrors: number; recentMs: number };
      const perService = new Map<ServiceName, Agg>();
      const entries = Object.entries(opts.services) as [ServiceName, string[]][];
      await Promise.all(
        entries.flatMap(([service, urls]) =>
          urls.map(async (url) => {
            let text: string;
            try {
              text = await inFlight(async () => {
                const res = await fetchFn(`${url}${opts.metricsPath?.(service) ?? "/metrics"}`, {
                  signal: AbortSignal.timeout(opts.timeoutMs),
                });
                if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
                return res.text();
              });
            } catch (err) {
              failures.push({ url, error: err instanceof Error ? err.message : String(err) });
              return;
            }
            const samples = parsePrometheusText(text);
            // An answer without the request counter (an error page with 200, garbage, another program on
            // the port) is a failed scrape. Read as zero it was a counter reset, and the next good scrape
            // put the service's whole history into the window: every 5xx it ever answered, in one round.
            if (!samples.some((x) => x.name === "http_requests_total") && !/^# TYPE http_requests_total /m.test(text)) {
              failures.push({ url, error: "no http_requests_total in the answer (not the service's metrics)" });
              return;
            }
            const business = (l: Record<string, string>) => !PROBE_ROUTES.has(l["route"] ?? "");
            const s = stateOf(url);
            s.reqSeries.add(now, s.requests.update(sum(samples, "http_requests_total", business)));
            s.errSeries.add(
              now,
              s.errors.update(sum(samples, "http_requests_total", (l) => business(l) && (l["code"] ?? "").startsWith("5"))),
            );
            const agg = perService.get(service) ?? { requests: 0, errors: 0, recentRequests: 0, recentErrors: 0, recentMs: 0 };
            agg.requests += delta(s.reqSeries);
            agg.errors += delta(s.errSeries);
            const rr = s.reqSeries.recent(recentRounds);
            const re = s.errSeries.recent(recentRounds);
            if (rr && re) {
              agg.recentRequests += rr.delta;
              agg.recentErrors += re.delta;
              agg.recentMs = Math.max(agg.recentMs, rr.ms);
            }
            perService.set(service, agg);
            const max = first(samples, "pg_pool_max");
            if (max !== null) {
              s.timeoutSeries.add(now, s.timeouts.update(first(samples, "pg_pool_connection_timeouts_total") ?? 0));
              const recentTimeouts = s.timeoutSeries.recent(recentRounds);
              pools.push({
                service,
                instance: url,
                max,
                total: first(samples, "pg_pool_total") ?? 0,
                idle: first(samples, "pg_pool_idle") ?? 0,
                waiting: first(samples, "pg_pool_waiting") ?? 0,
                timeoutsPerSecond: Math.max(0, s.timeoutSeries.slopePerSecond() ?? 0),
                ...(recentTimeouts && recentTimeouts.ms > 0
                  ? { recentTimeoutsPerSecond: Math.max(0, recentTimeouts.delta / (recentTimeouts.ms / 1000)) }
                  : {}),
              });
            }
          }),
        ),
      );
      const errorRates: ErrorRateSignal[] = [];
      const all: Agg = { requests: 0, errors: 0, recentRequests: 0, recentErrors: 0, recentMs: 0 };
      const signal = (service: ErrorRateSignal["service"], a: Agg): ErrorRateSignal => ({
        service,
        source: "metrics",
        windowSeconds: opts.windowSeconds,
        requests: a.requests,
        errors: a.errors,
        rate: a.requests > 0 ? a.errors / a.requests : null,
        ...(a.recentMs > 0
          ? {
              recent: {
                windowSeconds: Math.round(a.recentMs / 100) / 10,
                requests: a.recentRequests,
                errors: a.recentErrors,
                rate: a.recentRequests > 0 ? a.recentErrors / a.recentRequests : null,
              },
            }
          : {}),
      });
      for (const [service, a] of perService) {
        errorRates.push(signal(service, a));
        all.requests += a.requests;
        all.errors += a.errors;
        all.recentRequests += a.recentRequests;
        all.recentErrors += a.recentErrors;
        all.recentMs = Math.max(all.recentMs, a.recentMs);
      }
      errorRates.push(signal("all", all));
      return { errorRates, pools, failures };
    },
  };
}
