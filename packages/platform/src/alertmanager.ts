/**
 * Alertmanager's v2 HTTP API (https://github.com/prometheus/alertmanager/blob/v0.25.0/api/v2/openapi.yaml),
 * both sides, in one place: reading the active alerts (the prober's external-alerts collector) and
 * posting alerts (the monitor's sink, which renders them). Base URLs may carry a path prefix
 * (`http://am:9093/prefix` → `http://am:9093/prefix/api/v2/alerts`).
 */

type Fetch = typeof globalThis.fetch;

/** The alerts endpoint under a base URL, keeping its path prefix. */
export function alertsEndpoint(base: string | URL): URL {
  const u = new URL(base);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return new URL("api/v2/alerts", u);
}

/** An alert as `GET /api/v2/alerts` returns it (GettableAlert), the fields read here. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * The active alerts (not silenced, not inhibited) of the first Alertmanager in `urls` that answers:
 * the Alertmanagers of one cluster share their alerts. Throws the last error when none answers.
 */
export async function getActiveAlerts(urls: string[], opts: { timeoutMs: number; fetch?: Fetch }): Promise<GettableAlert[]> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  let lastErr: unknown;
  for (const url of urls) {
    try {
      const endpoint = alertsEndpoint(url);
      endpoint.search = "active=true&silenced=false&inhibited=false";
      const res = await fetchFn(endpoint, { signal: AbortSignal.timeout(opts.timeoutMs) });
      if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
      return (await res.json()) as GettableAlert[];
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

/** What one Alertmanager said to a post: 2xx = accepted. */
export interface PostResult {
  ok: boolean;
  /** HTTP status, when Alertmanager answered */
  status?: number;
  /** why it was not accepted: network error, timeout, or the response body of a non-2xx answer */
  error?: string;
}

/** `POST /api/v2/alerts` of a JSON array of PostableAlert. Never throws: a failure is a result. */
export async function postAlerts(endpoint: URL, body: string, opts: { timeoutMs: number; fetch?: Fetch }): Promise<PostResult> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  try {
    const res = await fetchFn(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const text = await res.text();
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  } catch (err) {
    return { ok: false, error: `POST ${endpoint.href}: ${describeError(err, opts.timeoutMs)}` };
  }
}

function describeError(err: unknown, timeoutMs: number): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError" || err.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message}: ${typeof code === "string" ? `${code} ` : ""}${cause.message}`;
  }
  return err.message;
}
