/**
 * What one client can make ingest-api and stats-api hold, against the real service processes (the
 * image's bundle, built by `npm run build`, run as node processes on the host) connected to a real
 * Kafka and PostgreSQL of a stack: an oversized body is answered 413 before the client sent it (declared
 * or streamed), oversized headers 431, headers or a body dribbled byte by byte (slowloris) 408 with the
 * connection closed while the client is still sending; and the admin token refuses a wrong token of the
 * same and of another length.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declaredOversizedBody, oversizedHeaders, slowBody, slowHeaders, streamedOversizedBody } from "@gm/stack/abuse";
import { freePort, startStack, waitUntil, type Stack } from "@gm/stack/stack";

const MAIN = fileURLToPath(new URL("../image/app/main.mjs", import.meta.url));
const STARTUP = 300_000;
// Short deadlines, so that a client still sending after them proves the server cut it off.
const LIMITS = {
  HTTP_HEADERS_TIMEOUT_MS: "2000",
  HTTP_REQUEST_TIMEOUT_MS: "4000",
  HTTP_MAX_HEADER_BYTES: "16384",
  MAX_BODY_BYTES: "1048576",
};

interface Running {
  url: string;
  proc: ChildProcess;
  output: string[];
}

async function startService(service: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const output: string[] = [];
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env["PATH"], SERVICE: service, PORT: String(port), ...LIMITS, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
  proc.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`${service} exited with ${proc.exitCode}: ${output.join("").slice(-2000)}`);
      return fetch(`${url}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
    },
    60_000,
    `${service} /ready = 200`,
  );
  return { url, proc, output };
}

describe("HTTP limits of the services", { timeout: 120_000 }, () => {
  let stack: Stack;
  let ingest: Running;
  let stats: Running;
  const adminToken = randomBytes(16).toString("hex");

  beforeAll(async () => {
    stack = await startStack({
      brokers: 1,
      processorReplicas: 0,
      id: `t-limits-${Date.now().toString(36)}`,
      onProgress: (m) => console.log(m),
    });
    [ingest, stats] = await Promise.all([
      startService("ingest-api", { KAFKA_BROKERS: stack.endpoints.kafkaBootstrapServers.join(","), KAFKA_TOPIC: stack.endpoints.topic }),
      startService("stats-api", { DATABASE_URL: stack.endpoints.postgresUrl, ADMIN_TOKEN: adminToken }),
    ]);
  }, STARTUP);

  afterAll(async () => {
    for (const s of [ingest, stats]) s?.proc.kill("SIGTERM");
    await stack?.stop();
  }, 60_000);

  it("answers 413 to a declared 100 MiB body after 1 KiB of it, and closes the connection", async () => {
    const r = await declaredOversizedBody(`${ingest.url}/events`, { declaredBytes: 100 * 1024 * 1024, sendBytes: 1024 });
    expect(r.status).toBe(413);
    expect(r.closedEarly).toBe(true);
    expect(r.sentBytes).toBeLessThan(2048);
  });

  it("answers 413 to a streamed (chunked) body once past the limit, long before its 100 MiB were sent", async () => {
    // 20 times: a server that closes at once after its answer makes the client's kernel reset the
    // connection, and the reset can discard the 413 before the client read it (about 1 try in 4 here)
    for (let i = 0; i < 20; i++) {
      const r = await streamedOversizedBody(`${ingest.url}/events`, { totalBytes: 100 * 1024 * 1024 });
      expect(r.status, `try ${i + 1}`).toBe(413);
      expect(r.closedEarly).toBe(true);
      // what the client got into the socket before the answer: the limit plus what the buffers took
      expect(r.sentBytes).toBeLessThan(r.plannedBytes / 4);
    }
    // and the service keeps serving
    expect((await fetch(`${ingest.url}/health`)).status).toBe(200);
  });

  it("keeps reading (and discarding) after the 413 instead of resetting the client mid-upload (a lingering close)", async () => {
    // A close with the client's bytes still arriving sends a reset, and a reset can drop the answer
    // before the client read it. So after its 413 the service keeps reading for a while: writes the
    // client makes in the first 300 ms after the answer must not fail.
    const u = new URL(`${ingest.url}/events`);
    // half-open: a client that keeps sending after the server's FIN (node would end its side at once)
    const socket = connect({ host: u.hostname, port: Number(u.port), allowHalfOpen: true });
    await new Promise<void>((ok, fail) => socket.once("connect", ok).once("error", fail));
    let received = "";
    let error: Error | null = null;
    socket.on("data", (b: Buffer) => (received += b.toString("latin1")));
    socket.on("error", (e) => (error = e));
    socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const write = () => new Promise<boolean>((r) => socket.write(framed, (e) => r(!e)));
    for (let i = 0; i < 100 && !received.startsWith("HTTP/1.1 "); i++) {
      await write();
      await new Promise((r) => setImmediate(r));
    }
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    const until = Date.now() + 300;
    let failedWrites = 0;
    while (Date.now() < until) {
      if (!(await write())) failedWrites++;
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.destroy();
    expect({ failedWrites, error: (error as Error | null)?.message ?? null }).toEqual({ failedWrites: 0, error: null });
  });

  it("answers 431 to headers over HTTP_MAX_HEADER_BYTES on both services, and serves headers under it", async () => {
    for (const s of [ingest, stats]) {
      expect((await oversizedHeaders(`${s.url}/health`, { headerBytes: 20_000 })).status, s.url).toBe(431);
      expect((await oversizedHeaders(`${s.url}/health`, { headerBytes: 8_000, waitMs: 2_000 })).status, s.url).toBe(200);
    }
  });

  it("cuts off headers dribbled a byte at a time (slowloris) with 408 while the client is still sending", async () => {
    for (const s of [ingest, stats]) {
      const r = await slowHeaders(`${s.url}/health`, { intervalMs: 250, maxMs: 30_000 });
      expect(r, s.url).toMatchObject({ status: 408, closedEarly: true });
    }
  });

  it("cuts off a body dribbled a byte at a time with 408 while the client is still sending", async () => {
    const r = await slowBody(`${ingest.url}/events`, { bodyBytes: 1_000, intervalMs: 250, maxMs: 30_000 });
    expect(r).toMatchObject({ status: 408, closedEarly: true });
    expect(ingest.output.join("")).not.toContain('"level":"error","service":"ingest-api","msg":"unhandled error"');
  });

  it("erases only with the admin token: a wrong one of the same length, another length or none is 401", async () => {
    const erase = (auth?: string) =>
      fetch(`${stats.url}/admin/players/limits-test-nobody`, {
        method: "DELETE",
        ...(auth !== undefined ? { headers: { authorization: auth } } : {}),
      }).then((r) => r.status);
    const sameLength = adminToken.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    expect(await erase(`Bearer ${sameLength}`)).toBe(401);
    expect(await erase(`Bearer ${adminToken}0`)).toBe(401);
    expect(await erase(`Bearer ${adminToken.slice(0, 16)}`)).toBe(401);
    expect(await erase()).toBe(401);
    expect(await erase(`Bearer ${adminToken}`)).toBe(200);
  });
});
