/**
 * Error rates from Prometheus: `increase()` of the services' `http_requests_total{route,method,code,service}`
 * counter over a window, through the HTTP API (`GET /api/v1/query`,
 * https://prometheus.io/docs/prometheus/2.42/querying/api/#instant-queries).
 */
import type { ErrorRateSignal } from "@gm/runbook/snapshot";
import { DEFAULT_TOPOLOGY, serviceNames } from "@gm/runbook/topology";

type Fetch = typeof globalThis.fetch;

export type PrometheusErrorCode = "unreachable" | "timeout" | "http-status" | "query-error" | "bad-response";

/** Prometheus could not answer a query. `retriable` says whether asking again later can help. */
export class PrometheusError extends Error {
  readonly code: PrometheusErrorCode;
  readonly retriable: boolean;
  /** base URL of the Prometheus server */
  readonly url: string;
  readonly query: string;
  /** HTTP status, when Prometheus answered */
  readonly status: number | null;
  /** Prometheus' `errorType` (bad_data, execution, timeout, canceled, unavailable, internal), when given */
  readonly errorType: string | null;

  constructor(
    init: {
      code: PrometheusErrorCode;
      retriable: boolean;
      url: string;
      query: string;
      status?: number | null;
      errorType?: string | null;
      detail: string;
    },
    options?: { cause?: unknown },
  ) {
    super(`prometheus ${init.url}: query ${JSON.stringify(init.query)} failed: ${init.detail}`, options);
    this.name = "PrometheusError";
    this.code = init.code;
    this.retriable = init.retriable;
    this.url = init.url;
    this.query = init.query;
    this.status = init.status ?? null;
    this.errorType = init.errorType ?? null;
  }
}

/** A configuration value that is missing or malformed; thrown by the factories, never by queries. */
export class PrometheusOptionError extends Error {
  readonly code = "invalid-option";
  readonly retriable = false;
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`prometheus option ${field}: expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = "PrometheusOptionError";
  }
}

export interface PrometheusClientOptions {
  /** base URL, e.g. http://127.0.0.1:9090 (a path prefix such as /prometheus is kept) */
  url: string;
  /** per request; default 5000 */
  timeoutMs?: number;
  fetch?: Fetch;
}

export interface VectorSample {
  labels: Record<string, string>;
  /** NaN and ±Inf are kept as such */
  value: number;
}

export interface PrometheusClient {
  readonly url: string;
  /** Runs an instant query whose result is an instant vector. `at` is the evaluation time (default: server now). */
  queryVector(query: string, at?: Date): Promise<VectorSample[]>;
  /**
   * Runs an instant query expected to yield one number: a scalar, or a vector of at most one sample.
   * Returns null for an empty vector.
   */
  queryScalar(query: string, at?: Date): Promise<number | null>;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/** Prometheus `errorType`s after which asking again can help (the others are the query's fault). */
const RETRIABLE_ERROR_TYPES = new Set(["timeout", "canceled", "unavailable", "internal"]);

/** Creates a client for Prometheus' instant-query API. Options are checked here, not at the first query. */
export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const base = parseBaseUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new PrometheusOptionError("timeoutMs", "a positive number of milliseconds", options.timeoutMs);
  const doFetch = options.fetch ?? globalThis.fetch;
  const url = options.url;

  async function query(q: string, at: Date | undefined): Promise<{ resultType: string; result: unknown }> {
    const endpoint = new URL("api/v1/query", base);
    endpoint.searchParams.set("query", q);
    if (at) endpoint.searchParams.set("time", (at.getTime() / 1000).toFixed(3));
    const fail = (
      code: PrometheusErrorCode,
      retriable: boolean,
      detail: string,
      extra: { status?: number; errorType?: string; cause?: unknown } = {},
    ) =>
      new PrometheusError(
        { code, retriable, url, query: q, status: extra.status ?? null, errorType: extra.errorType ?? null, detail },
        { cause: extra.cause },
      );

    let res: Response;
    try {
      res = await doFetch(endpoint, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
        throw fail("timeout", true, `no answer within ${timeoutMs} ms`, { cause: err });
      }
      throw fail("unreachable", true, describeNetworkError(err), { cause: err });
    }

    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      throw fail(timedOut ? "timeout" : "unreachable", true, `reading the response: ${describeNetworkError(err)}`, {
        status: res.status,
        cause: err,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      if (!res.ok)
        throw fail("http-status", res.status >= 500 || res.status === 429, `HTTP ${res.status}: ${snippet(text)}`, {
          status: res.status,
          cause: err,
        });
      throw fail("bad-response", false, `HTTP ${res.status} with a body that is not JSON: ${snippet(text)}`, {
        status: res.status,
        cause: err,
      });
    }

    if (isRecord(body) && body["status"] === "error") {
      const errorType = typeof body["errorType"] === "string" ? body["errorType"] : "unknown";
      const message = typeof body["error"] === "string" ? body["error"] : "no message";
      throw fail(
        "query-error",
        RETRIABLE_ERROR_TYPES.has(errorType) || res.status >= 500,
        `${errorType}: ${message} (HTTP ${res.status})`,
        { status: res.status, errorType },
      );
    }
    if (!res.ok)
      throw fail("http-status", res.status >= 500 || res.status === 429, `HTTP ${res.status}: ${snippet(text)}`, { status: res.status });
    const data = isRecord(body) && body["status"] === "success" ? body["data"] : undefined;
    if (!isRecord(data) || typeof data["resultType"] !== "string") {
      throw fail("bad-response", false, `expected {status:"success", data:{resultType, result}}, got ${snippet(text)}`, {
        status: res.status,
      });
    }
    return { resultType: data["resultType"], result: data["result"] };
  }

  function badShape(q: string, detail: string): PrometheusError {
    return new PrometheusError({ code: "bad-response", retriable: false, url, query: q, detail });
  }

  async function queryVector(q: string, at?: Date): Promise<VectorSample[]> {
    const { resultType, result } = await query(q, at);
    if (resultType !== "vector") throw badShape(q, `expected an instant vector, got a ${resultType}`);
    if (!Array.isArray(result)) throw badShape(q, "data.result is not an array");
    return result.map((item) => {
      const value = isRecord(item) ? parseSampleValue(item["value"]) : undefined;
      const metric = isRecord(item) ? item["metric"] : undefined;
      if (value === undefined || !isRecord(metric)) throw badShape(q, `malformed sample ${snippet(JSON.stringify(item))}`);
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(metric)) if (typeof v === "string") labels[k] = v;
      return { labels, value };
    });
  }

  async function queryScalar(q: string, at?: Date): Promise<number | null> {
    const { resultType, result } = await query(q, at);
    if (resultType === "scalar") {
      const value = parseSampleValue(result);
      if (value === undefined) throw badShape(q, `malformed scalar ${snippet(JSON.stringify(result))}`);
      return value;
    }
    if (resultType !== "vector") throw badShape(q, `expected a scalar or a one-sample vector, got a ${resultType}`);
    if (!Array.isArray(result)) throw badShape(q, "data.result is not an array");
    if (result.length === 0) return null;
    if (result.length > 1) throw badShape(q, `expected at most one sample, got ${result.length} (aggregate the query, e.g. with sum())`);
    const first: unknown = result[0];
    const value = isRecord(first) ? parseSampleValue(first["value"]) : undefined;
    if (value === undefined) throw badShape(q, `malformed sample ${snippet(JSON.stringify(first))}`);
    return value;
  }

  return { url, queryVector, queryScalar };
}

export interface PrometheusErrorRateOptions extends PrometheusClientOptions {
  /** the `increase()` window, whole seconds ≥ 1 */
  windowSeconds: number;
  /** the platform's services (its description's names), in the order signals are returned; default GameMetrics Pro's */
  services?: readonly string[];
}

export interface ErrorRateCollector {
  /** One signal per service seen in the window, plus `service: "all"`. Throws PrometheusError when Prometheus cannot answer. */
  collect(): Promise<ErrorRateSignal[]>;
}

/** The PromQL the collector runs; exported so dashboards and alert rules can reuse the exact expressions. */
export function errorRateQueries(windowSeconds: number): { requests: string; errors: string } {
  const w = `${windowSeconds}s`;
  return {
    requests: `sum by (service) (increase(http_requests_total[${w}]))`,
    errors: `sum by (service) (increase(http_requests_total{code=~"5.."}[${w}]))`,
  };
}

/**
 * Error rates per service from Prometheus. Both queries are evaluated at the same instant so that
 * errors ≤ requests; "all" is the sum over every `service` seen (including services the runbook does
 * not know), so it matches `sum(increase(…))` without a third round trip. Services absent from
 * Prometheus are absent from the result: "no data" is not "no requests".
 */
export function createPrometheusErrorRate(options: PrometheusErrorRateOptions): ErrorRateCollector {
  const { windowSeconds } = options;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
    throw new PrometheusOptionError("windowSeconds", "a whole number of seconds ≥ 1", windowSeconds);
  const client = createPrometheusClient(options);
  const queries = errorRateQueries(windowSeconds);
  const services = options.services ?? serviceNames(DEFAULT_TOPOLOGY);

  return {
    async collect() {
      const at = new Date();
      const [requests, errors] = await Promise.all([client.queryVector(queries.requests, at), client.queryVector(queries.errors, at)]);
      const errorsByService = new Map<string, number>();
      for (const s of errors) errorsByService.set(s.labels["service"] ?? "", finite(s.value));

      const signals: ErrorRateSignal[] = [];
      let totalRequests = 0;
      let totalErrors = 0;
      for (const s of requests) {
        const service = s.labels["service"] ?? "";
        const req = finite(s.value);
        const err = errorsByService.get(service) ?? 0;
        totalRequests += req;
        totalErrors += err;
        if (services.includes(service)) signals.push(signal(service, req, err, windowSeconds));
      }
      signals.sort((a, b) => services.indexOf(a.service) - services.indexOf(b.service));
      signals.push(signal("all", totalRequests, totalErrors, windowSeconds));
      return signals;
    },
  };
}

function signal(service: ErrorRateSignal["service"], requests: number, errors: number, windowSeconds: number): ErrorRateSignal {
  return { service, source: "prometheus", windowSeconds, requests, errors, rate: requests > 0 ? errors / requests : null };
}

/** increase() of a counter is never negative; NaN (no samples) counts as nothing. */
function finite(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}

function parseBaseUrl(raw: unknown): URL {
  if (typeof raw !== "string" || raw === "") throw new PrometheusOptionError("url", "an http(s) URL such as http://127.0.0.1:9090", raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new PrometheusOptionError("url", "an http(s) URL such as http://127.0.0.1:9090", raw);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new PrometheusOptionError("url", "an http(s) URL", raw);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

/** A sample value is `[unixSeconds, "string"]`; Prometheus encodes NaN/±Inf as "NaN", "+Inf", "-Inf". */
function parseSampleValue(v: unknown): number | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== "string") return undefined;
  const s = v[1];
  if (s === "NaN") return Number.NaN;
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  const n = Number(s);
  return s.trim() === "" || Number.isNaN(n) ? undefined : n;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message}: ${typeof code === "string" ? `${code} ` : ""}${cause.message}`;
  }
  return err.message;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function snippet(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
