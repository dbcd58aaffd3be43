/**
 * HTTP health of every instance: GET /health, status and latency. Each probe on a connection of its
 * own (node:http with `agent: false`: resolved and connected anew, closed after the answer), as
 * blackbox_exporter probes. The services keep idle connections for 65 s, longer than a round, and the
 * prober's other requests leave some in fetch's pool: a probe that reused one skipped name resolution and
 * the TCP connect — in the soak (`npm run soak`) a host name that stopped resolving stayed "healthy" for
 * the whole fault. (`connection: close` on a fetch is not enough: fetch still sends it on an idle pooled
 * connection and only closes that one afterwards.)
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ServiceHealth, ServiceName } from "@gm/runbook/snapshot";
import { type InFlight, unbounded } from "./in-flight.js";

/** service name → base URLs of its instances: any services (the prober's description), not only GameMetrics Pro's */
export type ServiceUrls = Partial<Record<ServiceName, string[]>>;

/** GET `url` on a new connection; the status once the whole answer arrived. */
export function getOnNewConnection(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const signal = AbortSignal.timeout(timeoutMs);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "GET", agent: false, signal, headers: { connection: "close" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", (err) => reject(signal.aborted ? new Error(`timed out after ${timeoutMs} ms`) : err));
    req.end();
  });
}

export async function probeHealth(
  services: ServiceUrls,
  timeoutMs: number,
  get: (url: string, timeoutMs: number) => Promise<number> = getOnNewConnection,
  /** the service's health endpoint path (its description's `health`) */
  healthPath: (service: ServiceName) => string = () => "/health",
  /** the round's bound on requests in flight; a probe's latency starts when it gets a slot */
  inFlight: InFlight = unbounded,
): Promise<ServiceHealth[]> {
  const entries = Object.entries(services) as [ServiceName, string[]][];
  return Promise.all(
    entries.map(async ([service, urls]) => ({
      service,
      instances: await Promise.all(
        urls.map((url) =>
          inFlight(async () => {
            const t0 = performance.now();
            try {
              const status = await get(`${url}${healthPath(service)}`, timeoutMs);
              return { url, ok: status === 200, status, latencyMs: Math.round(performance.now() - t0) };
            } catch (err) {
              return {
                url,
                ok: false,
                status: null,
                latencyMs: null,
                error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err),
              };
            }
          }),
        ),
      ),
    })),
  );
}
