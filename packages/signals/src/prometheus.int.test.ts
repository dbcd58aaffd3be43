/**
 * Against a real Prometheus (Debian's /usr/bin/prometheus) scraping a loopback /metrics endpoint that
 * the test drives with real HTTP requests: 100 requests, 12 of them answered 500.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counter, Registry } from "prom-client";
import { freePort, waitFor as waitForWithin } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrometheusClient, createPrometheusErrorRate, PrometheusError } from "./prometheus.js";

const PROMETHEUS_BIN = process.env["PROMETHEUS_BIN"] ?? "/usr/bin/prometheus";
const DEADLINE_MS = 60_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = DEADLINE_MS) =>
  waitForWithin(what, check, timeoutMs, 200);

function serviceRegistry(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route, method and status code",
    labelNames: ["route", "method", "code"] as const,
    registers: [registry],
  });
  // Create the series at 0 before the first scrape: increase() ignores the jump from "absent" to a value.
  for (const code of ["200", "500"]) requests.inc({ route: "/work", method: "GET", code }, 0);
  return { registry, requests };
}

describe("createPrometheusErrorRate against a real Prometheus", { timeout: 120_000 }, () => {
  let dir: string;
  let app: Server;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  let appUrl: string;
  const output: string[] = [];
  const ingest = serviceRegistry("ingest-api");
  const stats = serviceRegistry("stats-api");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gm-signals-prom-"));
    app = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/metrics" || url.pathname === "/metrics/stats-api") {
        const registry = url.pathname === "/metrics" ? ingest.registry : stats.registry;
        registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
        return;
      }
      if (url.pathname === "/work") {
        const status = Number(url.searchParams.get("status") ?? "200");
        ingest.requests.inc({ route: "/work", method: req.method ?? "GET", code: String(status) });
        res.writeHead(status).end();
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const target = appUrl.replace("http://", "");

    const config = [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: ingest-api",
      `    static_configs: [{ targets: ["${target}"] }]`,
      "  - job_name: stats-api",
      "    metrics_path: /metrics/stats-api",
      `    static_configs: [{ targets: ["${target}"] }]`,
      "",
    ].join("\n");
    await writeFile(join(dir, "prometheus.yml"), config);

    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    prometheus.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
    prometheus.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
    const exited = new Promise<never>((_, reject) =>
      prometheus?.once("exit", (code) => reject(new Error(`prometheus exited with ${code}:\n${output.join("").slice(-2000)}`))),
    );
    exited.catch(() => {});

    const client = createPrometheusClient({ url: prometheusUrl, timeoutMs: 2_000 });
    // Both targets up, and every series has at least two samples at its starting value (the baseline).
    await Promise.race([
      exited,
      waitFor("both targets up with a baseline of two samples per series", async () => {
        const up = await client.queryVector("up");
        if (up.length !== 2 || up.some((s) => s.value !== 1)) return undefined;
        const min = await client.queryScalar("min(count_over_time(http_requests_total[5m]))");
        const series = await client.queryScalar("count(http_requests_total)");
        return min !== null && min >= 2 && series === 4 ? true : undefined;
      }),
    ]);

    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${appUrl}/work?status=${i % 25 < 3 ? 500 : 200}`);
      await res.arrayBuffer();
    }
    await waitFor("Prometheus to scrape the 100 requests", async () =>
      (await client.queryScalar('sum(http_requests_total{service="ingest-api"})')) === 100 ? true : undefined,
    );
  }, 90_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const child = prometheus;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(killer);
    }
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it("reports ingest-api's 12% errors, stats-api's idle window as rate null, and the total", async () => {
    const signals = await createPrometheusErrorRate({ url: prometheusUrl, timeoutMs: 5_000, windowSeconds: 300 }).collect();
    const ingestApi = signals.find((s) => s.service === "ingest-api");
    const statsApi = signals.find((s) => s.service === "stats-api");
    const all = signals.find((s) => s.service === "all");

    // increase() extrapolates to the end of the window by up to one scrape interval, by the same
    // factor for every series of one scrape: the counts stretch a little, their ratio does not.
    expect(ingestApi).toMatchObject({ source: "prometheus", windowSeconds: 300 });
    expect(ingestApi?.requests).toBeGreaterThanOrEqual(99.9);
    expect(ingestApi?.requests).toBeLessThan(200);
    expect(ingestApi?.errors).toBeGreaterThanOrEqual(11.9);
    expect((ingestApi?.errors ?? 0) / (ingestApi?.requests ?? 1)).toBeCloseTo(0.12, 3);
    expect(ingestApi?.rate).toBe((ingestApi?.errors ?? 0) / (ingestApi?.requests ?? 1));

    expect(statsApi).toEqual({ service: "stats-api", source: "prometheus", windowSeconds: 300, requests: 0, errors: 0, rate: null });
    expect(all?.requests).toBe(ingestApi?.requests);
    expect(all?.errors).toBe(ingestApi?.errors);
    expect(all?.rate).toBeCloseTo(0.12, 3);
  });

  it("names the query and Prometheus' error type when the query is wrong", async () => {
    const err = await createPrometheusClient({ url: prometheusUrl })
      .queryVector("sum(http_requests_total")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ code: "query-error", retriable: false, status: 400, errorType: "bad_data" });
    expect((err as Error).message).toContain(`prometheus ${prometheusUrl}: query "sum(http_requests_total" failed: bad_data:`);
  });

  it("fails with a retriable error naming the URL when Prometheus is not there", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const err = await createPrometheusErrorRate({ url: dead, timeoutMs: 2_000, windowSeconds: 60 })
      .collect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ code: "unreachable", retriable: true, url: dead });
    expect((err as Error).message).toContain(`prometheus ${dead}:`);
    expect((err as Error).message).toContain("ECONNREFUSED");
  });
});
