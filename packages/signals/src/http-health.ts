/** HTTP health of every instance: GET /health, status and latency. */
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
            const res = await fetchFn(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
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
