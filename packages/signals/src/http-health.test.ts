import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { probeHealth } from "./http-health.js";

let server: Server | undefined;
// as between two rounds: an idle kept-alive connection is back in the client's pool by then
const idle = () => new Promise((r) => setTimeout(r, 100));
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

describe("probeHealth", () => {
  it("opens a new connection for every probe, also to a service that keeps connections alive for 65 s", async () => {
    // The demo services keep idle connections for 65 s (apps/demo-platform/src/http.ts). A probe that
    // reuses one checks neither name resolution nor that the service still accepts connections: a host
    // name that stopped resolving stayed "healthy" for the whole fault in the soak (npm run soak).
    let connections = 0;
    server = createServer((_, res) => res.end("ok"));
    server.keepAliveTimeout = 65_000;
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}`;
    // the other collectors' requests (its /metrics, the synthetic players) leave connections idle in the pool
    await Promise.all(Array.from({ length: 4 }, async () => (await fetch(`${url}/metrics`)).arrayBuffer()));
    await idle();
    for (let i = 0; i < 3; i++) {
      const [h] = await probeHealth({ "stats-api": [url] }, 2_000);
      expect(h?.instances[0]).toMatchObject({ ok: true, status: 200 });
      await idle();
    }
    expect(connections).toBe(4 + 3);
  });

  it("a service that drops every new connection fails its probe, though a connection kept from an earlier probe would still be served", async () => {
    let accepting = true;
    server = createServer((_, res) => res.end("ok"));
    server.keepAliveTimeout = 65_000;
    server.on("connection", (socket) => {
      if (!accepting) socket.destroy();
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}`;
    expect((await probeHealth({ "stats-api": [url] }, 2_000))[0]?.instances[0]?.ok).toBe(true);
    // the other collectors' requests (its /metrics, the synthetic players) leave a connection idle in the pool
    await Promise.all(Array.from({ length: 4 }, async () => (await fetch(`${url}/metrics`)).arrayBuffer()));
    await idle();
    accepting = false;
    const [h] = await probeHealth({ "stats-api": [url] }, 2_000);
    expect(h?.instances[0]).toMatchObject({ ok: false, status: null });
  });
});
