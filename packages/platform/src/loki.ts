/**
 * Logs from Grafana Loki through its HTTP API: `GET /loki/api/v1/query_range` (LogQL) and
 * `POST /loki/api/v1/push` (JSON), https://grafana.com/docs/loki/latest/reference/loki-http-api/.
 * `withLokiLogs` makes a platform driver read its logs there ("review logs in Loki"), everything
 * else still going to the driver.
 */
import type { PlatformPort } from "@gm/runbook/ports";

type Fetch = typeof globalThis.fetch;

export type LokiErrorCode = "unreachable" | "timeout" | "http-status" | "bad-response";

/** Loki could not answer. `retriable` says whether asking again later can help. */
export class LokiError extends Error {
  readonly code: LokiErrorCode;
  readonly retriable: boolean;
  /** base URL of the Loki server */
  readonly url: string;
  /** what was asked, e.g. `query "{instance=\"x\"}"` or `push of 2 stream(s)` */
  readonly request: string;
  /** HTTP status, when Loki answered */
  readonly status: number | null;

  constructor(
    init: { code: LokiErrorCode; retriable: boolean; url: string; request: string; status?: number | null; detail: string },
    options?: { cause?: unknown },
  ) {
    super(`loki ${init.url}: ${init.request} failed: ${init.detail}`, options);
    this.name = "LokiError";
    this.code = init.code;
    this.retriable = init.retriable;
    this.url = init.url;
    this.request = init.request;
    this.status = init.status ?? null;
  }
}

/** A configuration value that is missing or malformed; thrown by the factory, never by requests. */
export class LokiOptionError extends Error {
  readonly code = "invalid-option";
  readonly retriable = false;
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`${field}: expected ${expected}, got ${typeof got === "function" ? "a function" : JSON.stringify(got)}`);
    this.name = "LokiOptionError";
  }
}

export interface LokiLogsOptions {
  /** base URL, e.g. http://127.0.0.1:3100 (a path prefix such as /loki is kept) */
  url: string;
  /** bounds every request, body included; default 5000 */
  timeoutMs?: number;
  /** the LogQL stream selector of an instance; default `{instance="<name>"}` */
  selector?: (instance: string) => string;
  /** how far back `logs()` looks; default 3600 s */
  lookbackSeconds?: number;
  fetch?: Fetch;
}

/** One log entry: `ts` is Loki's timestamp, nanoseconds since the epoch, as a decimal string. */
export interface LokiEntry {
  ts: string;
  labels: Record<string, string>;
  line: string;
}

/** A stream as Loki's push API takes it: labels, and `[nanosecond timestamp, line]` pairs. */
export interface LokiStream {
  stream: Record<string, string>;
  values: [string, string][];
}

export interface LokiQueryOptions {
  /** most entries returned, over every stream (default 100) */
  limit?: number;
  /** "backward": newest first (default); "forward": oldest first */
  direction?: "backward" | "forward";
  /** default: now − lookbackSeconds */
  start?: Date;
  /** default: Loki's now */
  end?: Date;
}

export interface LokiLogs {
  readonly url: string;
  /** PlatformPort.logs through Loki: the newest `tail` lines of the instance, oldest first. */
  logs(instance: string, tail: number): Promise<string[]>;
  /** A LogQL log query (`{…} |= "…" | json | …`); entries of every stream merged, in `direction` order. */
  query(logql: string, opts?: LokiQueryOptions): Promise<LokiEntry[]>;
  /** Pushes streams (JSON); nothing is sent for no entry. */
  push(streams: LokiStream[]): Promise<void>;
  /** GET /ready: true once Loki answers 200 */
  ready(): Promise<boolean>;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_LOOKBACK_SECONDS = 3_600;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A LogQL string literal: the value between double quotes, escaped. */
export function logqlString(s: string): string {
  return JSON.stringify(s);
}

/** `{instance="<name>"}`: the label the feeder (loki-feed.ts) sets, and a common promtail relabelling. */
export const defaultSelector = (instance: string): string => `{instance=${logqlString(instance)}}`;

/** Checks a Loki base URL; `field` names it in the error (`loki.url`, `--loki-url`). */
export function parseLokiUrl(raw: unknown, field = "loki.url"): URL {
  const expected = "an http(s) URL such as http://127.0.0.1:3100";
  if (typeof raw !== "string" || raw === "") throw new LokiOptionError(field, expected, raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new LokiOptionError(field, expected, raw);
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.search !== "" || u.hash !== "")
    throw new LokiOptionError(field, expected, raw);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

const nanos = (d: Date): string => (BigInt(d.getTime()) * 1_000_000n).toString();

/** Creates a Loki client. Options are checked here, not at the first request. */
export function createLokiLogs(opts: LokiLogsOptions): LokiLogs {
  const base = parseLokiUrl(opts.url);
  const url = opts.url.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new LokiOptionError("loki.timeoutMs", "a positive number of milliseconds", opts.timeoutMs);
  const lookbackSeconds = opts.lookbackSeconds ?? DEFAULT_LOOKBACK_SECONDS;
  if (!Number.isFinite(lookbackSeconds) || lookbackSeconds <= 0)
    throw new LokiOptionError("loki.lookbackSeconds", "a positive number of seconds", opts.lookbackSeconds);
  const selector = opts.selector ?? defaultSelector;
  if (typeof selector !== "function") throw new LokiOptionError("loki.selector", "a function of the instance name", selector);
  const doFetch = opts.fetch ?? globalThis.fetch;

  /** One request, bounded by the timeout from connect to the last byte of the body. */
  async function request(
    what: string,
    path: string,
    init: { method: "GET" | "POST"; params?: Record<string, string>; body?: string },
  ): Promise<{ status: number; text: string }> {
    const endpoint = new URL(path, base);
    for (const [k, v] of Object.entries(init.params ?? {})) endpoint.searchParams.set(k, v);
    const fail = (code: LokiErrorCode, retriable: boolean, detail: string, extra: { status?: number; cause?: unknown } = {}) =>
      new LokiError({ code, retriable, url, request: what, status: extra.status ?? null, detail }, { cause: extra.cause });
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await doFetch(endpoint, {
        method: init.method,
        headers:
          init.body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal,
      });
    } catch (err) {
      if (isAbort(err)) throw fail("timeout", true, `no answer within ${timeoutMs} ms`, { cause: err });
      throw fail("unreachable", true, describeNetworkError(err), { cause: err });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw fail(
        isAbort(err) ? "timeout" : "unreachable",
        true,
        isAbort(err) ? `response not read within ${timeoutMs} ms` : `reading the response: ${describeNetworkError(err)}`,
        { status: res.status, cause: err },
      );
    }
    if (!res.ok)
      throw fail("http-status", res.status >= 500 || res.status === 429, `HTTP ${res.status}: ${lokiMessage(text)}`, {
        status: res.status,
      });
    return { status: res.status, text };
  }

  async function query(logql: string, q: LokiQueryOptions = {}): Promise<LokiEntry[]> {
    const limit = q.limit ?? 100;
    const direction = q.direction ?? "backward";
    const what = `query ${JSON.stringify(logql)}`;
    if (!Number.isInteger(limit) || limit < 1) throw new LokiOptionError("limit", "a whole number ≥ 1", q.limit);
    const start = q.start ?? new Date(Date.now() - lookbackSeconds * 1000);
    const params: Record<string, string> = { query: logql, limit: String(limit), direction, start: nanos(start) };
    if (q.end) params["end"] = nanos(q.end);
    const { status, text } = await request(what, "loki/api/v1/query_range", { method: "GET", params });
    const bad = (detail: string) => new LokiError({ code: "bad-response", retriable: false, url, request: what, status, detail });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw bad(`HTTP ${status} with a body that is not JSON: ${snippet(text)}`);
    }
    const data = isRecord(body) && body["status"] === "success" ? body["data"] : undefined;
    if (!isRecord(data) || !Array.isArray(data["result"]))
      throw bad(`expected {status:"success", data:{resultType, result}}, got ${snippet(text)}`);
    if (data["resultType"] !== "streams")
      throw bad(
        `expected a log query (resultType streams), got a ${String(data["resultType"])}: query() runs log queries, not metric queries`,
      );
    const entries: LokiEntry[] = [];
    for (const s of data["result"] as unknown[]) {
      const labels = isRecord(s) ? s["stream"] : undefined;
      const values = isRecord(s) ? s["values"] : undefined;
      if (!isRecord(labels) || !Array.isArray(values)) throw bad(`malformed stream ${snippet(JSON.stringify(s))}`);
      const l: Record<string, string> = {};
      for (const [k, v] of Object.entries(labels)) if (typeof v === "string") l[k] = v;
      for (const v of values) {
        if (!Array.isArray(v) || typeof v[0] !== "string" || typeof v[1] !== "string" || !/^\d+$/.test(v[0]))
          throw bad(`malformed entry ${snippet(JSON.stringify(v))}`);
        entries.push({ ts: v[0], labels: l, line: v[1] });
      }
    }
    // Loki applies the limit over every stream but returns them stream by stream: merge them.
    const sign = direction === "backward" ? -1 : 1;
    entries.sort((a, b) => sign * compareNs(a.ts, b.ts));
    return entries.slice(0, limit);
  }

  return {
    url,
    query,
    async logs(instance, tail) {
      if (!Number.isInteger(tail) || tail < 1) return [];
      const newestFirst = await query(selector(instance), { limit: tail, direction: "backward" });
      return newestFirst.reverse().map((e) => e.line);
    },
    async push(streams) {
      const nonEmpty = streams.filter((s) => s.values.length > 0);
      if (nonEmpty.length === 0) return;
      for (const s of nonEmpty) {
        for (const k of Object.keys(s.stream))
          if (!LABEL_NAME.test(k)) throw new LokiOptionError("stream label name", "[a-zA-Z_][a-zA-Z0-9_]*", k);
        for (const [ts] of s.values)
          if (!/^\d+$/.test(ts)) throw new LokiOptionError("entry timestamp", "nanoseconds since the epoch as a decimal string", ts);
      }
      const n = nonEmpty.reduce((sum, s) => sum + s.values.length, 0);
      await request(`push of ${n} entr${n === 1 ? "y" : "ies"} in ${nonEmpty.length} stream(s)`, "loki/api/v1/push", {
        method: "POST",
        body: JSON.stringify({ streams: nonEmpty }),
      });
    },
    async ready() {
      try {
        await request("readiness check", "ready", { method: "GET" });
        return true;
      } catch (err) {
        if (err instanceof LokiError) return false;
        throw err;
      }
    },
  };
}

/**
 * A platform port whose `logs()` reads Loki; every other call (and property) goes to the wrapped
 * driver. `logSource` says "loki", so steps can say where the lines came from.
 */
export function withLokiLogs<P extends PlatformPort>(platform: P, loki: Pick<LokiLogs, "logs">): P {
  return new Proxy(platform, {
    get(target, key, receiver) {
      if (key === "logs") return (instance: string, tail: number) => loki.logs(instance, tail);
      if (key === "logSource") return "loki";
      const v: unknown = Reflect.get(target, key, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Compares two decimal nanosecond strings without losing precision. */
export function compareNs(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Loki answers errors in plain text ("parse error at line 1, col 2: …"); some proxies in JSON. */
function lokiMessage(text: string): string {
  try {
    const j: unknown = JSON.parse(text);
    if (isRecord(j)) {
      const m = j["message"] ?? j["error"];
      if (typeof m === "string") return snippet(m.trim());
    }
  } catch {
    // plain text, as Loki sends it
  }
  return snippet(text.trim()) || "(empty body)";
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
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
