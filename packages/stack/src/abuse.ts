/**
 * What a hostile client sends a service, on a raw TCP socket (fetch cannot send a body it does not
 * have, headers past its own limits, or dribble bytes): an oversized body declared or streamed, oversized
 * headers, headers or a body sent one byte at a time (slowloris). Each try says what the server answered
 * and whether it closed the connection while the client still had more to send — the proof that it
 * did not wait for, or read, all of it. Used by the services' tests and by `npm run security`.
 */
import { connect, type Socket } from "node:net";

/** What the server did with one try. */
export interface AbuseResult {
  /** the HTTP status of the server's answer, null when it closed without one */
  status: number | null;
  /** the server closed the connection before the client had sent everything it meant to */
  closedEarly: boolean;
  /** bytes the client managed to write (headers and body) */
  sentBytes: number;
  /** bytes the client meant to write */
  plannedBytes: number;
}

interface Conn {
  socket: Socket;
  /** everything received so far */
  text(): string;
  /** resolves when the server closed (or reset) the connection */
  closed: Promise<void>;
  isClosed(): boolean;
  /** resolves with the answer's status once its status line arrived, or null when closed without one */
  status: Promise<number | null>;
}

function open(url: string): Promise<Conn> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 80) });
    let received = "";
    let isClosed = false;
    let statusResolve: (s: number | null) => void = () => undefined;
    const status = new Promise<number | null>((r) => (statusResolve = r));
    const closed = new Promise<void>((r) => {
      const done = () => {
        isClosed = true;
        statusResolve(null);
        r();
      };
      socket.on("close", done);
    });
    socket.on("data", (b: Buffer) => {
      received += b.toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      if (m) statusResolve(Number(m[1]));
    });
    // a reset or a write after the server closed: the connection is over, which `closed` reports
    socket.on("error", () => socket.destroy());
    socket.once("connect", () => resolve({ socket, text: () => received, closed, isClosed: () => isClosed, status }));
    socket.once("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function write(c: Conn, data: string | Buffer): Promise<boolean> {
  if (c.isClosed() || c.socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => c.socket.write(data, (err) => resolve(!err)));
}

/** Waits for the answer and the close, at most `ms` (a server that neither answers nor closes: null status). */
async function settle(c: Conn, ms: number): Promise<number | null> {
  const status = await Promise.race([c.status, sleep(ms).then(() => null)]);
  await Promise.race([c.closed, sleep(ms)]);
  c.socket.destroy();
  return status;
}

function head(method: string, url: string, headers: Record<string, string>): string {
  const u = new URL(url);
  const lines = [
    `${method} ${u.pathname}${u.search} HTTP/1.1`,
    `Host: ${u.host}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * POSTs with `Content-Length: declaredBytes` but sends only the headers and `sendBytes` of body, then
 * waits: a server that bounds bodies answers 413 without waiting for the rest (and closes).
 */
export async function declaredOversizedBody(
  url: string,
  o: { declaredBytes: number; sendBytes?: number; waitMs?: number },
): Promise<AbuseResult> {
  const c = await open(url);
  const h = head("POST", url, { "content-type": "application/json", "content-length": String(o.declaredBytes) });
  let sent = 0;
  if (await write(c, h)) sent += h.length;
  const part = Buffer.alloc(o.sendBytes ?? 1024, 0x20);
  if (await write(c, part)) sent += part.length;
  const status = await settle(c, o.waitMs ?? 15_000);
  return { status, closedEarly: c.isClosed(), sentBytes: sent, plannedBytes: h.length + o.declaredBytes };
}

/**
 * POSTs a chunked body (no Content-Length) of up to `totalBytes` in 64 KiB chunks, stopping as soon
 * as the server answered or closed: a server that bounds bodies answers 413 once past its limit.
 */
export async function streamedOversizedBody(url: string, o: { totalBytes: number; waitMs?: number }): Promise<AbuseResult> {
  const c = await open(url);
  const h = head("POST", url, { "content-type": "application/json", "transfer-encoding": "chunked" });
  let sent = 0;
  if (await write(c, h)) sent += h.length;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
  let planned = h.length;
  for (let body = 0; body < o.totalBytes; body += chunk.length) {
    planned += framed.length;
    if (c.isClosed() || /^HTTP\/1\.[01] \d{3}/.test(c.text())) continue;
    if (await write(c, framed)) sent += framed.length;
    // let the answer in between writes, as a client reading while it sends would: a server that keeps
    // reading after its answer (a lingering close) accepts writes as fast as they come, and a loop that
    // never yields to I/O would keep sending past an answer it has not looked at
    await new Promise((r) => setImmediate(r));
  }
  // the last chunk and the end are never sent: a server that waited for the whole body would wait for ever
  const status = await settle(c, o.waitMs ?? 15_000);
  return { status, closedEarly: c.isClosed() && sent < planned + 5, sentBytes: sent, plannedBytes: planned + 5 };
}

/** GETs `url` with one header of `headerBytes` (a cookie): a server that bounds headers answers 431. */
export async function oversizedHeaders(url: string, o: { headerBytes: number; waitMs?: number }): Promise<AbuseResult> {
  const c = await open(url);
  const h = head("GET", url, { cookie: `a=${"x".repeat(o.headerBytes)}` });
  const sent = (await write(c, h)) ? h.length : 0;
  const status = await settle(c, o.waitMs ?? 15_000);
  return { status, closedEarly: false, sentBytes: sent, plannedBytes: h.length };
}

/**
 * Slowloris: the request line, then one header byte every `intervalMs` for up to `maxMs`, never ending
 * the headers. A server that bounds it answers 408 and closes while the client is still sending.
 */
export async function slowHeaders(url: string, o: { intervalMs: number; maxMs: number }): Promise<AbuseResult> {
  const c = await open(url);
  const u = new URL(url);
  let sent = 0;
  const first = `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nX-Slow: `;
  if (await write(c, first)) sent += first.length;
  const planned = first.length + Math.ceil(o.maxMs / o.intervalMs);
  const end = Date.now() + o.maxMs;
  while (Date.now() < end && !c.isClosed()) {
    await sleep(o.intervalMs);
    if (await write(c, "a")) sent += 1;
  }
  const early = c.isClosed();
  const status = await settle(c, 1_000);
  return { status, closedEarly: early, sentBytes: sent, plannedBytes: planned };
}

/**
 * Headers complete with `Content-Length: bodyBytes`, then the body one byte every `intervalMs` for up
 * to `maxMs`. A server that bounds the time to receive a request answers 408 and closes first.
 */
export async function slowBody(url: string, o: { bodyBytes: number; intervalMs: number; maxMs: number }): Promise<AbuseResult> {
  const c = await open(url);
  const h = head("POST", url, { "content-type": "application/json", "content-length": String(o.bodyBytes) });
  let sent = 0;
  if (await write(c, h)) sent += h.length;
  const end = Date.now() + o.maxMs;
  let body = 0;
  while (Date.now() < end && body < o.bodyBytes - 1 && !c.isClosed()) {
    await sleep(o.intervalMs);
    if (await write(c, " ")) {
      sent += 1;
      body += 1;
    }
  }
  const early = c.isClosed();
  const status = await settle(c, 1_000);
  return { status, closedEarly: early, sentBytes: sent, plannedBytes: h.length + o.bodyBytes };
}
