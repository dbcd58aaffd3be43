import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultProxy, GARBAGE_METRICS, startFaultProxy } from "./fault-proxy.js";

let upstream: Server;
let proxy: FaultProxy;
beforeEach(async () => {
  upstream = createServer((req, res) =>
    res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "text/plain" }).end(`upstream ${req.url}`),
  );
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const port = (upstream.address() as { port: number }).port;
  proxy = await startFaultProxy({ upstream: () => `http://127.0.0.1:${port}` });
});
afterEach(async () => {
  await proxy.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const get = async (path: string, timeoutMs = 2_000) => {
  const res = await fetch(`${proxy.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
};

describe("the soak's fault proxy", () => {
  it("passes requests and answers through", async () => {
    expect(await get("/health")).toEqual({ status: 200, body: "upstream /health" });
    expect(await get("/nope")).toEqual({ status: 404, body: "upstream /nope" });
  });

  it("garbage-metrics: /metrics answers 200 with garbage, everything else still passes", async () => {
    proxy.setMode({ type: "garbage-metrics" });
    expect(await get("/metrics")).toEqual({ status: 200, body: GARBAGE_METRICS });
    expect(await get("/health")).toEqual({ status: 200, body: "upstream /health" });
  });

  it("hang: a new connection is accepted and never answered; leaving the mode closes it and answers again", async () => {
    proxy.setMode({ type: "hang" });
    const socket = connect(proxy.port, "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    const closed = new Promise<void>((r) => socket.on("close", () => r()));
    await new Promise<void>((r) => socket.on("connect", () => r()));
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    // a request through fetch gets no answer either (it gives up at its own timeout)
    await expect(get("/health", 300)).rejects.toThrow();
    expect(proxy.openConnections()).toBeGreaterThan(0);
    proxy.setMode({ type: "pass" });
    await closed;
    expect(Buffer.concat(received).length).toBe(0);
    expect(await get("/health")).toEqual({ status: 200, body: "upstream /health" });
  });

  it("an upstream that is gone is a 502 naming it, not a hang", async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
    upstream = createServer();
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const res = await get("/health");
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/fault proxy: upstream 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});
