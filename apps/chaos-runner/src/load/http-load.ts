/**
 * The built-in load generator for drills: posts batches of game events to ingest-api at a constant
 * arrival rate (batches per second, bounded in-flight requests) until stopped, and remembers every
 * event that was acknowledged (202), with the digest of its content, so integrity can be checked
 * afterwards (lost, stored twice, stored altered). Deterministic unique ids: `${runId}-${sequence}-${k}`.
 */
import { eventDigest } from "@gm/stack/event-digest";

export interface LoadResult {
  acknowledged: string[];
  /** id → digest of the content sent (@gm/stack/event-digest) per acknowledged event; absent when the load reports ids only (k6) */
  digests?: Map<string, string>;
  /** every request, when it was answered and how ("202", "503", "error"; "skipped": never sent), and how long it took */
  requests: { service: string; at: number; status: string; ms?: number }[];
  rejected: number;
  statusCounts: Record<string, number>;
}

export interface LoadRun {
  /** acknowledged so far (for progress) */
  acknowledgedCount(): number;
  stop(): Promise<LoadResult>;
}

export function startHttpLoad(opts: {
  ingestUrl: string;
  runId: string;
  rate: number;
  batch: number;
  /** player-stats reads per second against stats-api (the read side of the platform) */
  reads?: { statsUrl: string; rate: number };
  maxInFlight?: number;
  timeoutMs?: number;
}): LoadRun {
  const acknowledged: string[] = [];
  const digests = new Map<string, string>();
  const statusCounts: Record<string, number> = {};
  const requests: LoadResult["requests"] = [];
  let rejected = 0;
  let seq = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const maxInFlight = opts.maxInFlight ?? 16;
  const ac = new AbortController();

  const fire = () => {
    if (inFlight >= maxInFlight) {
      // Overloaded target: count the batch as not sent rather than queueing without bound.
      statusCounts["skipped"] = (statusCounts["skipped"] ?? 0) + 1;
      requests.push({ service: "ingest-api", at: Date.now(), status: "skipped" });
      return;
    }
    const n = seq++;
    const now = new Date().toISOString();
    const events = Array.from({ length: opts.batch }, (_, k) => ({
      id: `${opts.runId}-${n}-${k}`,
      playerId: `${opts.runId}-player-${(n * opts.batch + k) % 200}`,
      type: "drill_load",
      ts: now,
      payload: { n, k },
    }));
    inFlight++;
    const sentAt = performance.now();
    const p = (async () => {
      let status = "error";
      try {
        const res = await fetch(`${opts.ingestUrl}/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(events),
          signal: AbortSignal.any([ac.signal, AbortSignal.timeout(opts.timeoutMs ?? 15_000)]),
        });
        status = String(res.status);
        await res.arrayBuffer();
      } catch {
        status = "error";
      }
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      requests.push({ service: "ingest-api", at: Date.now(), status, ms: Math.round(performance.now() - sentAt) });
      if (status === "202")
        for (const e of events) {
          acknowledged.push(e.id);
          digests.set(e.id, eventDigest(e));
        }
      else rejected += events.length;
    })().finally(() => {
      inFlight--;
      pending.delete(p);
    });
    pending.add(p);
  };
  const timer = setInterval(fire, 1000 / opts.rate);
  let reader: NodeJS.Timeout | undefined;
  if (opts.reads && opts.reads.rate > 0) {
    const { statsUrl } = opts.reads;
    let r = 0;
    reader = setInterval(() => {
      const player = `${opts.runId}-player-${r++ % 200}`;
      const sentAt = performance.now();
      const p = fetch(`${statsUrl}/players/${player}/stats`, {
        signal: AbortSignal.any([ac.signal, AbortSignal.timeout(opts.timeoutMs ?? 15_000)]),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          return String(res.status);
        })
        .catch(() => "error")
        .then((status) => {
          requests.push({ service: "stats-api", at: Date.now(), status, ms: Math.round(performance.now() - sentAt) });
          pending.delete(p);
        });
      pending.add(p);
    }, 1000 / opts.reads.rate);
  }

  return {
    acknowledgedCount: () => acknowledged.length,
    async stop() {
      clearInterval(timer);
      clearInterval(reader);
      // Requests in flight finish (their answers decide what was acknowledged); none is abandoned.
      await Promise.all([...pending]);
      return { acknowledged, digests, requests, rejected, statusCounts };
    },
  };
}
