/**
 * Security exposure, for the runbook's third P0: a prober cannot see an intrusion, but it can see an
 * open door. Protected endpoints must refuse unauthenticated requests; no configured secret may appear
 * in a public response (only the secret's name is ever reported, never its value).
 */
import type { SecuritySignal } from "@gm/runbook/snapshot";

export interface SecurityOptions {
  /** endpoints that must answer 401 (or 403) without credentials */
  protectedEndpoints: { method: string; url: string }[];
  /** endpoints anyone may read: scanned for secret values */
  publicEndpoints: string[];
  /** name → value of every secret the platform is configured with */
  secrets: Record<string, string>;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export async function checkSecurity(opts: SecurityOptions): Promise<SecuritySignal> {
  const fetchFn = opts.fetch ?? fetch;
  const checks = await Promise.all(
    opts.protectedEndpoints.map(async ({ method, url }) => {
      try {
        const res = await fetchFn(url, { method, signal: AbortSignal.timeout(opts.timeoutMs) });
        await res.arrayBuffer();
        // A 5xx did not serve the request: the proxy, ingress or load balancer in front of a service that
        // is down answers 502/503 (the soak's OOM-killed stats-api paged security-exposure P0 that way).
        // Like no answer at all, that is not an open door; availability is judged elsewhere.
        if (res.status >= 500)
          return {
            endpoint: `${method} ${url}`,
            expectation: "401 or 403 without credentials",
            ok: true,
            observed: `HTTP ${res.status} (no answer from the service)`,
          };
        const ok = res.status === 401 || res.status === 403;
        return { endpoint: `${method} ${url}`, expectation: "401 or 403 without credentials", ok, observed: `HTTP ${res.status}` };
      } catch (err) {
        // An endpoint that does not answer is not an open door; availability is judged elsewhere.
        return {
          endpoint: `${method} ${url}`,
          expectation: "401 or 403 without credentials",
          ok: true,
          observed: `no answer (${err instanceof Error ? err.message : String(err)})`,
        };
      }
    }),
  );
  const secrets = Object.entries(opts.secrets).filter(([, v]) => v.length >= 8);
  const leakedSecrets: SecuritySignal["leakedSecrets"] = [];
  await Promise.all(
    opts.publicEndpoints.map(async (url) => {
      try {
        const res = await fetchFn(url, { signal: AbortSignal.timeout(opts.timeoutMs) });
        const body = await res.text();
        for (const [name, value] of secrets) if (body.includes(value)) leakedSecrets.push({ endpoint: url, secret: name });
      } catch {
        // unreachable: nothing leaked through it
      }
    }),
  );
  return { checks, leakedSecrets };
}
