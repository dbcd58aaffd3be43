/**
 * HTTP health of every instance: GET /health, status and latency. Each probe on a connection of its
 * own (`connection: close`), as blackbox_exporter probes: the services keep idle connections for 65 s,
 * longer than a round, so a reused one would skip name resolution and the TCP connect — a host name that
 * stopped resolving, or a listener that no longer accepts, stayed "healthy" for the whole fault in the soak.
 */
import type { ServiceHealth, ServiceName } from "@gm/runbook/snapshot";

export type ServiceUrls = Partial<Record<ServiceName, string[]>>;

export async function probeHealth(services: ServiceUrls, timeoutMs: number, fetchFn: typeof fetch = fetch): Promise<ServiceHealth[]> {
  const entries = Object.entries(services) as [ServiceName, string[]][];
  return Promise.all(
    entries.map(async ([service, urls]) => ({
      service,
      instances: await Promise.all(
        urls.map(async (url) => {
          const t0 = performance.now();
          try {
            const res = await fetchFn(`${url}/health`, { headers: { connection: "close" }, signal: AbortSignal.timeout(timeoutMs) });
            await res.arrayBuffer();
            return { url, ok: res.status === 200, status: res.status, latencyMs: Math.round(performance.now() - t0) };
          } catch (err) {
            return { url, ok: false, status: null, latencyMs: null, error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
          }
        }),
      ),
    })),
  );
}
