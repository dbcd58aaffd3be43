/**
 * The drill's eyes are the prober's: on the stack, `createProber` from @gm/monitor built from the same
 * configuration `gm-chaos stack up --prober-config` writes for `gm-prober run` (its defaults: interval,
 * timeout, window, hysteresis), rounds at the prober's interval. Each observation is stamped with the end
 * of its round — the moment the classification existed — which is what time to detect is measured to.
 * Detection, the runbook's verification steps and the report's chart all read the observations.
 */
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { ObservePort, PlatformPort } from "@gm/runbook/ports";
import type { Snapshot } from "@gm/runbook/snapshot";
import type { SignalSample } from "@gm/report/schema";
import type { ProberConfig } from "@gm/monitor/config";
import { type AlertSink, buildProber, loadProberConfigText } from "@gm/monitor/build-prober";
import type { StackEndpoints } from "@gm/stack/stack";
import { proberConfigFor } from "../prober-config.js";

export interface Observation {
  /** when the round began */
  startedAt: number;
  /** when the round's classification existed (the end of the round) */
  at: number;
  snapshot: Snapshot;
  /** this round's classification */
  incidents: Incident[];
  /** what the prober has open after hysteresis: what it alerts on */
  active: Incident[];
}

/** One round of whatever prober a target has. */
export type RoundFn = () => Promise<{ snapshot: Snapshot; incidents: Incident[]; active: Incident[] }>;

export interface Observer {
  observe: ObservePort;
  samples: Observation[];
  intervalMs: number;
  next(): Promise<Observation>;
  start(): void;
  stop(): Promise<void>;
  until(done: (o: Observation) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<Observation | null>;
  /** the prober's /metrics text (Prometheus exposition), when the observer is gm-prober's own round */
  metrics?(): Promise<string>;
}

export function signalSample(o: Observation): SignalSample {
  const s = o.snapshot;
  const rates = s.errorRates.map((e) => e.rate).filter((r): r is number => r !== null);
  const lag = s.kafka?.groups.reduce((sum, g) => sum + g.totalLag, 0) ?? null;
  return {
    at: new Date(o.at).toISOString(),
    startedAt: new Date(o.startedAt).toISOString(),
    errorRate: rates.length ? Math.max(...rates) : null,
    lag,
    poolUsage: s.postgres?.usage ?? null,
    healthy: s.services.filter((x) => x.instances.length > 0 && x.instances.every((i) => i.ok)).length,
    services: s.services.length,
    incidents: o.active.map((i) => `${i.kind}:${i.severity}`),
  };
}

/** Rounds every `intervalMs` (from round start to round start, as gm-prober run does) in the background. */
export function createRoundObserver(round: RoundFn, intervalMs: number, close: () => Promise<void> = async () => {}): Observer {
  const samples: Observation[] = [];
  let waiters: ((o: Observation) => void)[] = [];
  let running = false;
  let loop: Promise<void> | undefined;

  const take = async () => {
    const startedAt = Date.now();
    const r = await round();
    const o: Observation = { startedAt, at: Date.now(), snapshot: r.snapshot, incidents: r.incidents, active: r.active };
    samples.push(o);
    const w = waiters;
    waiters = [];
    for (const f of w) f(o);
    return o;
  };
  /** The next observation taken after now. */
  const next = () => new Promise<Observation>((resolve) => waiters.push(resolve));
  let sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  return {
    observe: { snapshot: async () => (await next()).snapshot },
    samples,
    intervalMs,
    next,
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          const t0 = Date.now();
          await take().catch(() => undefined);
          const wait = intervalMs - (Date.now() - t0);
          if (wait > 0 && running) await new Promise<void>((r) => (sleeping = { timer: setTimeout(r, wait), wake: r }));
          sleeping = undefined;
        }
      })();
    },
    async stop() {
      running = false;
      if (sleeping) {
        clearTimeout(sleeping.timer);
        sleeping.wake();
      }
      await loop;
      await close();
    },
    /** Observations until `done` holds or `timeoutMs` passes (null then). */
    async until(done, timeoutMs, signal) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (signal?.aborted) throw signal.reason;
        const o = await Promise.race([next(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(0, deadline - Date.now())))]);
        if (o && done(o)) return o;
      }
      return null;
    },
  };
}

/**
 * The prober configuration a drill observes with: the file it is given (`--prober-config`), else the one
 * the stack writes for gm-prober (the prober's defaults). Its policy, when it names one, is returned too.
 */
export function drillProberConfig(
  e: StackEndpoints,
  opts: { file?: { text: string; where: string; baseDir: string }; alertmanagerUrls?: string[] } = {},
): { config: ProberConfig; policy: Policy | undefined } {
  const f = opts.file ?? {
    text: proberConfigFor(e, { alertmanagerUrls: opts.alertmanagerUrls ?? [] }),
    where: "(the stack's prober configuration)",
    baseDir: process.cwd(),
  };
  const { config, policy } = loadProberConfigText(f.text, f.where, f.baseDir);
  if (opts.file && opts.alertmanagerUrls?.length) config.alertmanager = { urls: opts.alertmanagerUrls };
  return { config, policy: config.policy ? policy : undefined };
}

/**
 * The stack's observer: gm-prober's own round (createProber through buildProber, as `gm-prober run`
 * builds it), with the drill's platform (so replicas a scale-up adds are probed too) and the policy the
 * drill runs with.
 */
export async function createStackObserver(opts: {
  endpoints: StackEndpoints;
  policy: Policy;
  platform: PlatformPort & { instanceUrls?(service: string): Promise<string[]> };
  config?: ProberConfig;
  alerts?: AlertSink;
  /** the prober's JSON log lines (default: dropped — the rounds are the drill's record) */
  log?: (record: Record<string, unknown>) => void;
}): Promise<Observer> {
  const config = opts.config ?? drillProberConfig(opts.endpoints).config;
  const p = opts.platform;
  const prober = await buildProber(config, opts.policy, {
    platform: p,
    ...(opts.alerts ? { alerts: opts.alerts } : {}),
    // The rounds are the drill's record; the prober's JSON lines would only repeat them on stdout.
    log: opts.log ?? (() => undefined),
    // instances a step added (a scale-up, a rolling update's surge instance) are probed as production's would be
    ...(p.instanceUrls
      ? {
          discover: async () => ({
            "event-processor-service": await p.instanceUrls!("event-processor-service"),
            "stats-api": await p.instanceUrls!("stats-api"),
          }),
        }
      : {}),
  });
  const observer = createRoundObserver(
    () => prober.round(),
    config.intervalSeconds * 1000,
    () => prober.close(),
  );
  return { ...observer, metrics: () => prober.registry.metrics() };
}
