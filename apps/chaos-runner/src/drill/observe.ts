/**
 * The drill's eyes: the prober's collectors and classification, sampled every second in the
 * background. Detection, the runbook's verification steps and the report's chart all read the samples.
 */
import { classify } from "@gm/runbook/classify";
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { ObservePort, PlatformPort } from "@gm/runbook/ports";
import type { Snapshot } from "@gm/runbook/snapshot";
import type { SignalSample } from "@gm/report/schema";
import { createSignals } from "@gm/signals/snapshot";
import type { StackEndpoints } from "@gm/stack/stack";

export interface Observation {
  at: number;
  snapshot: Snapshot;
  incidents: Incident[];
}

export function signalSample(o: Observation): SignalSample {
  const s = o.snapshot;
  const rates = s.errorRates.map((e) => e.rate).filter((r): r is number => r !== null);
  const lag = s.kafka?.groups.reduce((sum, g) => sum + g.totalLag, 0) ?? null;
  return {
    at: new Date(o.at).toISOString(),
    errorRate: rates.length ? Math.max(...rates) : null,
    lag,
    poolUsage: s.postgres?.usage ?? null,
    healthy: s.services.filter((x) => x.instances.length > 0 && x.instances.every((i) => i.ok)).length,
    services: s.services.length,
    incidents: o.incidents.map((i) => `${i.kind}:${i.severity}`),
  };
}

export function createObserver(opts: {
  endpoints: StackEndpoints;
  policy: Policy;
  platform: PlatformPort & { instanceUrls?(service: "event-processor-service"): Promise<string[]> };
  intervalMs?: number;
}) {
  const e = opts.endpoints;
  const signals = createSignals({
    timeoutMs: 1_500,
    windowSeconds: 10,
    services: { "ingest-api": [e.services["ingest-api"]], "event-processor-service": e.services["event-processor-service"], "stats-api": [e.services["stats-api"]] },
    kafka: { brokers: e.kafkaBootstrapServers, topic: e.topic, groups: [e.consumerGroup], stallSeconds: 20 },
    postgres: { url: e.proberPostgresUrl },
    synthetic: { players: 4, lossDeadlineSeconds: 120, runId: `drill${Date.now().toString(36)}` },
    platform: opts.platform,
    // replicas a scale-up adds are probed too, so "completely down" means every replica
    ...(opts.platform.instanceUrls ? { discover: async () => ({ "event-processor-service": await opts.platform.instanceUrls!("event-processor-service") }) } : {}),
  });
  const samples: Observation[] = [];
  let waiters: ((o: Observation) => void)[] = [];
  let running = false;
  let loop: Promise<void> | undefined;

  const take = async () => {
    const at = Date.now();
    const snapshot = await signals.snapshot(at);
    const o = { at, snapshot, incidents: classify(snapshot, opts.policy) };
    samples.push(o);
    const w = waiters;
    waiters = [];
    for (const f of w) f(o);
    return o;
  };

  /** The next observation taken after now. */
  const next = () => new Promise<Observation>((resolve) => waiters.push(resolve));

  const observe: ObservePort = { snapshot: async () => (await next()).snapshot };
  return {
    observe,
    samples,
    next,
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          const t0 = Date.now();
          await take().catch(() => undefined);
          const wait = (opts.intervalMs ?? 1_000) - (Date.now() - t0);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
      await signals.close();
    },
    /** Observations until `done` holds or `timeoutMs` passes (null then). */
    async until(done: (o: Observation) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<Observation | null> {
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
