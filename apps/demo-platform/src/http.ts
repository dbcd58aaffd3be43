/** A small HTTP layer on node:http: routing, JSON bodies with a size limit, and request metrics. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Logger } from "./log.js";

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body (for /metrics). */
  text?: string;
}

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  headers: IncomingMessage["headers"];
  /** Reads the body; rejects with BodyTooLarge past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

export type Handler = (req: Request) => Promise<Reply> | Reply;

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];
  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const regex = new RegExp(
      "^" + pattern.replace(/:[A-Za-z]+/g, (m) => {
        keys.push(m.slice(1));
        return "([^/]+)";
      }) + "$",
    );
    this.routes.push({ method, pattern, regex, keys, handler });
    return this;
  }
  /**
   * The route of a request and its decoded parameters; `badParam` when a parameter is not valid
   * percent-encoding (`%ZZ`, or `%ED%A0%80`, a lone surrogate): decodeURIComponent throws URIError.
   */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | { route: Route; badParam: string } | { allowed: string[] } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [i, k] of route.keys.entries()) {
        try {
          params[k] = decodeURIComponent(m[i + 1] ?? "");
        } catch {
          return { route, badParam: k };
        }
      }
      return { route, params };
    }
    return { allowed };
  }
}

export function createHttpMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by route, method and status code",
      labelNames: ["route", "method", "code"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by route and method",
      labelNames: ["route", "method"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      reject(new BodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
    });
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers["content-type"] = "application/json";
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

export function startHttpServer(opts: { port: number; router: Router; registry: Registry; log: Logger }): Promise<Server> {
  const metrics = createHttpMetrics(opts.registry);
  const server = createServer(async (req, res) => {
    const started = process.hrtime.bigint();
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const found = opts.router.match(method, path);
    let route = "unmatched";
    let reply: Reply;
    try {
      if ("badParam" in found) {
        route = found.route.pattern;
        reply = { status: 400, body: { error: `${found.badParam}: expected a percent-encoded UTF-8 path segment`, path: found.badParam } };
      } else if ("route" in found) {
        route = found.route.pattern;
        reply = await found.route.handler({ method, path, params: found.params, headers: req.headers, readBody: (l) => readBody(req, l) });
      } else if (found.allowed.length > 0) {
        reply = { status: 405, body: { error: `method ${method} not allowed`, allowed: found.allowed }, headers: { allow: found.allowed.join(", ") } };
      } else {
        reply = { status: 404, body: { error: `no route for ${method} ${path}` } };
      }
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        reply = { status: 413, body: { error: err.message }, headers: { connection: "close" } };
      } else {
        opts.log.error("unhandled error", { route, err });
        reply = { status: 500, body: { error: "internal error" } };
      }
    }
    send(res, reply);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.requests.inc({ route, method, code: String(reply.status) });
    metrics.duration.observe({ route, method }, seconds);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "0.0.0.0", () => resolve(server));
  });
}
