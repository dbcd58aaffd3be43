/**
 * A small HTTP layer on node:http: routing, JSON bodies with a size limit, and request metrics. What a
 * client can make a service hold is bounded: a body past its limit is answered 413 as soon as that is
 * known (from Content-Length before reading any of it, else at the first byte past the limit) and the
 * connection closed; headers past `maxHeaderBytes` get node:http's 431; headers or a request that
 * arrive too slowly (slowloris) get its 408 and the connection closed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Counter, Histogram, type Registry } from "prom-client";
import type { HttpLimits } from "./config.js";
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

/** The client went away (or was cut off at a deadline) before its body arrived: nobody to answer. */
export class ClientGone extends Error {
  constructor(cause: unknown) {
    super(`request body not received: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
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
      "^" +
        pattern.replace(/:[A-Za-z]+/g, (m) => {
          keys.push(m.slice(1));
          return "([^/]+)";
        }) +
        "$",
    );
    this.routes.push({ method, pattern, regex, keys, handler });
    return this;
  }
  /**
   * The route of a request and its decoded parameters; `badParam` when a parameter is not valid
   * percent-encoding (`%ZZ`, or `%ED%A0%80`, a lone surrogate): decodeURIComponent throws URIError.
   */
  match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | { route: Route; badParam: string } | { allowed: string[] } {
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
      // not one byte read: the 413 goes out at once and the connection is closed after it (send)
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
      if (!failed) reject(new ClientGone(e));
    });
  });
}

/**
 * How long a connection whose request body was not read whole is kept after the answer, reading and
 * discarding what the client still sends (a lingering close, as nginx and Apache do it): a client that
 * never stops would keep it busy for ever.
 */
const UNREAD_BODY_LINGER_MS = 1_000;

/**
 * After a `connection: close` answer node:http destroys the socket as soon as the answer is written.
 * With the client's unread bytes still arriving, that close sends a reset, and a reset can make the
 * client's kernel discard our answer before the client read it (seen: a 100 MiB chunked upload got no
 * 413, only a reset, about one time in four). So for this socket: half-close after the answer (FIN),
 * keep reading and discarding, and close for good after {@link UNREAD_BODY_LINGER_MS} or when the
 * client closes its side.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end();
    socket.resume();
    socket.once("end", () => socket.destroy());
    setTimeout(() => socket.destroy(), UNREAD_BODY_LINGER_MS).unref();
  };
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers["content-type"] = "application/json";
  }
  if (!req.complete) lingerOnClose(req.socket);
  res.writeHead(reply.status, headers);
  res.end(payload, () => {
    // kept alive with its body still coming (an answer that did not read it): bounded the same way
    if (!req.complete) setTimeout(() => req.socket.destroy(), UNREAD_BODY_LINGER_MS).unref();
  });
}

/** node:http's defaults for what is not bounded in the environment (config.ts). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxHeaderBytes: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };

export function startHttpServer(opts: {
  port: number;
  router: Router;
  registry: Registry;
  log: Logger;
  limits?: HttpLimits;
}): Promise<Server> {
  const metrics = createHttpMetrics(opts.registry);
  const limits = opts.limits ?? DEFAULT_HTTP_LIMITS;
  const serverOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // how often node:http looks for connections past those deadlines (its default, 30 s, would let a
    // slow client hold a connection up to 30 s longer than the limit says)
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  };
  const server = createServer(serverOptions, async (req, res) => {
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
        reply = {
          status: 405,
          body: { error: `method ${method} not allowed`, allowed: found.allowed },
          headers: { allow: found.allowed.join(", ") },
        };
      } else {
        reply = { status: 404, body: { error: `no route for ${method} ${path}` } };
      }
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        reply = { status: 413, body: { error: err.message }, headers: { connection: "close" } };
      } else if (err instanceof ClientGone) {
        opts.log.debug("client gone", { route, err });
        reply = { status: 400, body: { error: err.message }, headers: { connection: "close" } };
      } else {
        opts.log.error("unhandled error", { route, err });
        reply = { status: 500, body: { error: "internal error" } };
      }
    }
    send(req, res, reply);
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
