/**
 * Alertmanager's v2 HTTP API (https://github.com/prometheus/alertmanager/blob/v0.25.0/api/v2/openapi.yaml),
 * both sides, in one place: reading the active alerts (the prober's external-alerts collector) and
 * posting alerts (the monitor's sink, which renders them). Base URLs may carry a path prefix
 * (`http://am:9093/prefix` → `http://am:9093/prefix/api/v2/alerts`) and credentials
 * (`http://user:password@am:9093`, an Alertmanager behind basic auth): those are sent as an
 * Authorization header, never in the URL — fetch refuses such a URL with a message that quotes it,
 * password and all — and no message here ever carries them.
 */

import { redactText } from "@gm/runbook/redact";

type Fetch = typeof globalThis.fetch;

/** `url` without user and password, and the Basic authorization header they make (none when it has none). */
export function splitCredentials(url: URL): { url: URL; headers: Record<string, string> } {
  if (url.username === "" && url.password === "") return { url, headers: {} };
  const bare = new URL(url);
  bare.username = "";
  bare.password = "";
  const basic = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64");
  return { url: bare, headers: { authorization: `Basic ${basic}` } };
}

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
      const { url: endpoint, headers } = splitCredentials(alertsEndpoint(url));
      endpoint.search = "active=true&silenced=false&inhibited=false";
      const res = await fetchFn(endpoint, { headers, signal: AbortSignal.timeout(opts.timeoutMs) });
      if (res.status !== 200) throw new Error(`${endpoint.origin}${endpoint.pathname}: HTTP ${res.status}`);
      return (await res.json()) as GettableAlert[];
    } catch (err) {
      // fetch's own messages may quote the URL it was given
      lastErr = err instanceof Error ? new Error(redactText(err.message), { cause: err.cause }) : err;
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
export async function postAlerts(target: URL, body: string, opts: { timeoutMs: number; fetch?: Fetch }): Promise<PostResult> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const { url: endpoint, headers } = splitCredentials(target);
  try {
    const res = await fetchFn(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const text = await res.text();
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  } catch (err) {
    return { ok: false, error: `POST ${endpoint.href}: ${redactText(describeError(err, opts.timeoutMs))}` };
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
