/**
 * A stand-in for Grafana Loki's HTTP API on loopback, for tests on machines that have no Loki binary
 * (Debian does not package Grafana Loki: its `loki` package is an unrelated genetics program). It keeps
 * pushed entries in memory and answers `query_range` for log queries built from a stream selector
 * (`=`, `!=`, `=~`, `!~` matchers) and line filters (`|=`, `!=`, `|~`, `!~`), with Loki's parameters
 * (limit over every stream, direction, start inclusive, end exclusive) and response shape. Anything
 * else (parsers such as `| json`, metric queries) is answered 400 with a plain-text message, as Loki
 * answers a query it cannot parse. Not a LogQL implementation: what it accepts, Loki accepts too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { LokiStream } from "./loki.js";

interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}
interface LineFilter {
  op: "|=" | "!=" | "|~" | "!~";
  value: string;
}

export interface LokiTestDouble {
  readonly url: string;
  /** every request, as `METHOD path?query` */
  readonly requests: string[];
  /** entries held, per stream (labels as a sorted key) */
  entries(): { labels: Record<string, string>; ts: bigint; line: string }[];
  close(): Promise<void>;
}

class ParseError extends Error {}

/** `{a="x", b=~"y"} |= "z" != "w"` → matchers and filters; throws ParseError on anything else. */
export function parseLogQuery(q: string): { matchers: Matcher[]; filters: LineFilter[] } {
  let i = 0;
  const ws = () => {
    while (i < q.length && /\s/.test(q[i]!)) i++;
  };
  const str = (): string => {
    ws();
    if (q[i] !== '"') throw new ParseError(`parse error at line 1, col ${i + 1}: syntax error: expecting STRING`);
    let j = i + 1;
    while (j < q.length && q[j] !== '"') j += q[j] === "\\" ? 2 : 1;
    if (j >= q.length) throw new ParseError(`parse error at line 1, col ${i + 1}: literal not terminated`);
    const v = JSON.parse(q.slice(i, j + 1)) as string;
    i = j + 1;
    return v;
  };
  ws();
  if (q[i] !== "{") throw new ParseError(`parse error at line 1, col ${i + 1}: syntax error: unexpected IDENTIFIER, expecting {`);
  i++;
  const matchers: Matcher[] = [];
  for (;;) {
    ws();
    if (q[i] === "}") {
      i++;
      break;
    }
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(q.slice(i));
    if (!m) throw new ParseError(`parse error at line 1, col ${i + 1}: syntax error: unexpected character`);
    i += m[0].length;
    ws();
    const op = (["=~", "!~", "!=", "="] as const).find((o) => q.startsWith(o, i));
    if (!op) throw new ParseError(`parse error at line 1, col ${i + 1}: syntax error: expecting = != =~ !~`);
    i += op.length;
    matchers.push({ name: m[0], op, value: str() });
    ws();
    if (q[i] === ",") i++;
  }
  if (!matchers.some((m) => (m.op === "=" && m.value !== "") || (m.op === "=~" && !new RegExp(`^(?:${m.value})$`).test("")))) {
    throw new ParseError(
      "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value",
    );
  }
  const filters: LineFilter[] = [];
  for (;;) {
    ws();
    if (i >= q.length) break;
    const op = (["|=", "!=", "|~", "!~"] as const).find((o) => q.startsWith(o, i));
    if (!op)
      throw new ParseError(`parse error at line 1, col ${i + 1}: not supported by the Loki test double (only selectors and line filters)`);
    i += op.length;
    filters.push({ op, value: str() });
  }
  return { matchers, filters };
}

const matches = (labels: Record<string, string>, m: Matcher): boolean => {
  const v = labels[m.name] ?? "";
  const re = () => new RegExp(`^(?:${m.value})$`);
  return m.op === "=" ? v === m.value : m.op === "!=" ? v !== m.value : m.op === "=~" ? re().test(v) : !re().test(v);
};
const passes = (line: string, f: LineFilter): boolean =>
  f.op === "|="
    ? line.includes(f.value)
    : f.op === "!="
      ? !line.includes(f.value)
      : f.op === "|~"
        ? new RegExp(f.value).test(line)
        : !new RegExp(f.value).test(line);

/** Loki's time parameters: nanoseconds, or seconds with a fraction, or RFC 3339. */
function parseTime(v: string | null, def: bigint): bigint {
  if (v === null || v === "") return def;
  if (/^\d+$/.test(v)) return BigInt(v);
  if (/^\d+\.\d+$/.test(v)) return BigInt(Math.round(Number(v) * 1e6)) * 1000n;
  return BigInt(Date.parse(v)) * 1_000_000n;
}

export async function startLokiTestDouble(): Promise<LokiTestDouble> {
  const streams = new Map<string, { labels: Record<string, string>; values: { ts: bigint; line: string }[] }>();
  const requests: string[] = [];
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

  const text = (res: ServerResponse, status: number, body: string) =>
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`${body}\n`);
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      req.on("data", (b: Buffer) => parts.push(b));
      req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
      req.on("error", reject);
    });

  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    requests.push(`${req.method} ${u.pathname}${u.search}`);
    if (u.pathname === "/ready") return text(res, 200, "ready");
    if (u.pathname === "/loki/api/v1/push" && req.method === "POST") {
      let body: { streams?: LokiStream[] };
      try {
        body = JSON.parse(await readBody(req)) as { streams?: LokiStream[] };
      } catch (err) {
        return text(res, 400, `loghttp.PushRequest: ${(err as Error).message}`);
      }
      for (const s of body.streams ?? []) {
        for (const k of Object.keys(s.stream ?? {}))
          if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) return text(res, 400, `error parsing labels: invalid label name ${k}`);
        const key = keyOf(s.stream);
        const held = streams.get(key) ?? { labels: { ...s.stream }, values: [] };
        streams.set(key, held);
        for (const [ts, line] of s.values) {
          const t = BigInt(ts);
          // Loki drops an entry identical to one it holds (same stream, timestamp and line).
          if (!held.values.some((v) => v.ts === t && v.line === line)) held.values.push({ ts: t, line });
        }
      }
      return res.writeHead(204).end();
    }
    if (u.pathname === "/loki/api/v1/query_range" && req.method === "GET") {
      let parsed: ReturnType<typeof parseLogQuery>;
      try {
        parsed = parseLogQuery(u.searchParams.get("query") ?? "");
      } catch (err) {
        if (err instanceof ParseError) return text(res, 400, err.message);
        throw err;
      }
      const limit = Number(u.searchParams.get("limit") ?? 100);
      if (limit > 5000) return text(res, 400, `max entries limit per query exceeded, limit > max_entries_limit (${limit} > 5000)`);
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const end = parseTime(u.searchParams.get("end"), nowNs);
      const start = parseTime(u.searchParams.get("start"), end - 3_600_000_000_000n);
      const backward = (u.searchParams.get("direction") ?? "backward").toLowerCase() === "backward";
      const hits: { key: string; ts: bigint; line: string }[] = [];
      for (const [key, s] of streams) {
        if (!parsed.matchers.every((m) => matches(s.labels, m))) continue;
        for (const v of s.values)
          if (v.ts >= start && v.ts < end && parsed.filters.every((f) => passes(v.line, f))) hits.push({ key, ...v });
      }
      hits.sort((a, b) => (a.ts === b.ts ? 0 : a.ts < b.ts === backward ? 1 : -1));
      const byStream = new Map<string, [string, string][]>();
      for (const h of hits.slice(0, limit)) byStream.set(h.key, [...(byStream.get(h.key) ?? []), [h.ts.toString(), h.line]]);
      const result = [...byStream].map(([key, values]) => ({ stream: streams.get(key)!.labels, values }));
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ status: "success", data: { resultType: "streams", result, stats: {} } }));
    }
    return text(res, 404, "404 page not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    entries: () => [...streams.values()].flatMap((s) => s.values.map((v) => ({ labels: s.labels, ...v }))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
