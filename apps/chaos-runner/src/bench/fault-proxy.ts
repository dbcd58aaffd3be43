/**
 * A loopback proxy in front of one service's HTTP port that the soak (`npm run soak`) turns faulty, so
 * the prober meets faults of the network path rather than of the service: slow answers, a garbage
 * `/metrics`, and a peer that accepts the connection and never answers. The upstream is looked up again
 * at every connection (`upstream()`), as a Kubernetes Service follows its pods: a recreated container on a
 * new host port stays behind the same address.
 *
 * Modes:
 * - `pass`: every request forwarded, the answer streamed back;
 * - `delay`: every request forwarded after `delayMs` (answers come that much later);
 * - `garbage-metrics`: `GET /metrics` answered 200 with text that is not the exposition format, every
 *   other request forwarded;
 * - `hang`: a new TCP connection is accepted and never answered (what it sends is read and dropped),
 *   and a request on a connection already open gets no answer either. Leaving `hang` closes what it held,
 *   as a peer that comes back resets its old connections.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";

export type ProxyMode = { type: "pass" } | { type: "delay"; delayMs: number } | { type: "garbage-metrics" } | { type: "hang" };

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): void;
  /** connections the proxy holds open now (client side) */
  openConnections(): number;
  close(): Promise<void>;
}

/** What garbage-metrics answers: neither the exposition format nor empty, with a counter-like line that is not one. */
export const GARBAGE_METRICS =
  "<html><body>502 upstream garbage</body></html>\n\u0000\u0001\u0002 http_requests_total{{ NaN NaN\nnot a metric at all\n";

export async function startFaultProxy(opts: {
  upstream: () => string | Promise<string>;
  host?: string;
  port?: number;
  name?: string;
}): Promise<FaultProxy> {
  let mode: ProxyMode = { type: "pass" };
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  const hungResponses = new Set<ServerResponse>();

  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    let base: URL;
    try {
      base = new URL(await opts.upstream());
    } catch (err) {
      res.writeHead(502, { "content-type": "text/plain" }).end(`fault proxy: no upstream (${(err as Error).message})\n`);
      return;
    }
    const up = httpRequest(
      { host: base.hostname, port: base.port, method: req.method, path: req.url, headers: { ...req.headers, host: base.host } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on("error", () => res.destroy());
      },
    );
    up.on("error", (err) => {
      if (!res.headersSent)
        res.writeHead(502, { "content-type": "text/plain" }).end(`fault proxy: upstream ${base.host}: ${err.message}\n`);
      else res.destroy();
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  };

  const http = createHttpServer((req, res) => {
    const m = mode;
    switch (m.type) {
      case "pass":
        void forward(req, res);
        return;
      case "delay": {
        const t = setTimeout(() => void forward(req, res), m.delayMs);
        res.on("close", () => clearTimeout(t));
        return;
      }
      case "garbage-metrics":
        if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/metrics") {
          req.resume();
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(GARBAGE_METRICS);
        } else void forward(req, res);
        return;
      case "hang":
        // read the request, never answer
        req.resume();
        hungResponses.add(res);
        res.on("close", () => hungResponses.delete(res));
        return;
    }
  });
  // A hanging peer is not an HTTP server that gives up: no request or header timeout of our own.
  http.requestTimeout = 0;
  http.headersTimeout = 0;

  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      held.delete(socket);
    });
    socket.on("error", () => undefined);
    if (mode.type === "hang") {
      held.add(socket);
      socket.resume(); // read and drop
      return;
    }
    http.emit("connection", socket);
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const addr = front.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    mode: () => mode,
    setMode(next) {
      const was = mode;
      mode = next;
      if (was.type === "hang" && next.type !== "hang") {
        for (const s of held) s.destroy();
        held.clear();
        for (const r of hungResponses) r.socket?.destroy();
        hungResponses.clear();
      }
    },
    openConnections: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => front.close(() => r()));
      http.close();
    },
  };
}
