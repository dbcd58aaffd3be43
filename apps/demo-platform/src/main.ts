/**
 * Entry point of the demo platform image: `SERVICE=ingest-api|event-processor-service|stats-api`
 * (or the first argument). /health, /ready and /metrics on every service; SIGTERM shuts down gracefully.
 */
import { collectDefaultMetrics, Registry } from "prom-client";
import { ConfigError, loadConfig, type ServiceConfig } from "./config.js";
import { startHttpServer } from "./http.js";
import { startIngest } from "./ingest.js";
import { withTimeout } from "./kafka-clients.js";
import { createLogger } from "./log.js";
import { startProcessor } from "./processor.js";
import type { Service } from "./service.js";
import { startStats } from "./stats.js";

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  let cfg: ServiceConfig;
  try {
    cfg = loadConfig(env, argv[0]);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`demo-platform: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(cfg.service, cfg.logLevel);
  const registry = new Registry();
  registry.setDefaultLabels({ service: cfg.service });
  collectDefaultMetrics({ register: registry });

  let service: Service;
  switch (cfg.service) {
    case "ingest-api":
      service = await startIngest(cfg, log, registry);
      break;
    case "event-processor-service":
      service = await startProcessor(cfg, log, registry);
      break;
    case "stats-api":
      service = await startStats(cfg, log, registry);
      break;
  }
  let shuttingDown = false;
  service.router
    .add("GET", "/health", () => ({
      status: shuttingDown ? 503 : 200,
      body: { status: shuttingDown ? "stopping" : "ok", service: cfg.service },
    }))
    .add("GET", "/ready", async () => {
      const r = await service.ready();
      const ready = r.ready && !shuttingDown;
      return { status: ready ? 200 : 503, body: { ready, service: cfg.service, checks: r.checks } };
    })
    .add("GET", "/metrics", async () => ({
      status: 200,
      text: await registry.metrics(),
      headers: { "content-type": registry.contentType },
    }));
  const server = await startHttpServer({ port: cfg.port, router: service.router, registry, log, limits: cfg.http });
  log.info("listening", { port: cfg.port });

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info("shutting down", { signal });
    const force = setTimeout(() => {
      log.error("shutdown timed out, exiting", { timeoutMs: cfg.shutdownTimeoutMs });
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    force.unref();
    server.close();
    server.closeIdleConnections();
    await withTimeout(service.stop(), cfg.shutdownTimeoutMs, "service stop").catch((err) => log.warn("stop incomplete", { err }));
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("unhandledRejection", (err) => log.error("unhandled rejection", { err }));
}

// kafkajs#1751: a harmless TimeoutNegativeWarning on every connection under Node 24; drop only that one.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
  if (rest[0] === "TimeoutNegativeWarning" || (w instanceof Error && w.name === "TimeoutNegativeWarning")) return;
  emitWarning(w, ...rest);
}) as typeof process.emitWarning;

main(process.argv.slice(2), process.env).catch((err) => {
  process.stderr.write(`demo-platform: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
