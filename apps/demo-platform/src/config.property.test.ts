/**
 * Property-based tests of the services' environment (fast-check): a generated valid environment
 * round-trips (the config holds exactly the values the variables said, defaults for the rest); no
 * environment makes loadConfig throw anything but a ConfigError whose every problem names a variable.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, SERVICE_NAMES } from "./config.js";

const VARS = [
  "SERVICE",
  "PORT",
  "LOG_LEVEL",
  "SHUTDOWN_TIMEOUT_MS",
  "KAFKA_BROKERS",
  "KAFKA_TOPIC",
  "KAFKA_CLIENT_ID",
  "KAFKA_TOPIC_PARTITIONS",
  "KAFKA_REPLICATION_FACTOR",
  "KAFKA_REQUEST_TIMEOUT_MS",
  "KAFKA_CONNECTION_TIMEOUT_MS",
  "DATABASE_URL",
  "PG_POOL_MAX",
  "PG_CONNECTION_TIMEOUT_MS",
  "PG_IDLE_TIMEOUT_MS",
  "PG_STATEMENT_TIMEOUT_MS",
  "PG_IDLE_IN_TRANSACTION_TIMEOUT_MS",
  "MAX_BATCH_EVENTS",
  "MAX_BODY_BYTES",
  "PRODUCE_TIMEOUT_MS",
  "CONSUMER_GROUP",
  "KAFKA_DLQ_TOPIC",
  "CONSUMER_STALL_TIMEOUT_MS",
  "CONSUMER_COORDINATOR_TIMEOUT_MS",
  "CONSUMER_MAX_RESTART_BACKOFF_MS",
  "ADMIN_TOKEN",
] as const;

const int = (min: number, max: number) => fc.integer({ min, max });
const hostPort = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/), int(1, 65535)).map(([h, p]) => `${h}:${p}`);
const topic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/).filter((t) => t !== "." && t !== ".." && !t.startsWith("__"));

describe("loadConfig, over generated environments", { timeout: 120_000 }, () => {
  it("a valid environment round-trips: the config holds what each variable said", () => {
    fc.assert(
      fc.property(
        fc.record({
          service: fc.constantFrom(...SERVICE_NAMES),
          port: int(1, 65535),
          logLevel: fc.constantFrom("debug", "info", "warn", "error"),
          brokers: fc.array(hostPort, { minLength: 1, maxLength: 4 }),
          topic,
          poolMax: int(1, 1000),
          statementTimeout: int(0, 3_600_000),
          maxBatch: int(1, 100_000),
          token: fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/),
          db: fc
            .tuple(
              fc.stringMatching(/^[a-z]{1,8}$/),
              fc.stringMatching(/^[a-z0-9.-]{1,20}$/).filter((h) => /^[a-z0-9]/.test(h)),
              int(1, 65535),
            )
            .map(([u, h, p]) => `postgres://${u}@${h}:${p}/gm`),
        }),
        (g) => {
          const env = {
            SERVICE: g.service,
            PORT: String(g.port),
            LOG_LEVEL: g.logLevel,
            KAFKA_BROKERS: g.brokers.join(", "),
            KAFKA_TOPIC: g.topic,
            PG_POOL_MAX: String(g.poolMax),
            PG_STATEMENT_TIMEOUT_MS: String(g.statementTimeout),
            MAX_BATCH_EVENTS: String(g.maxBatch),
            ADMIN_TOKEN: g.token,
            DATABASE_URL: g.db,
          };
          const c = loadConfig(env);
          expect(c).toMatchObject({ service: g.service, port: g.port, logLevel: g.logLevel, shutdownTimeoutMs: 10_000 });
          if (c.service !== "stats-api")
            expect(c.kafka).toEqual({
              brokers: g.brokers,
              topic: g.topic,
              clientId: g.service,
              topicPartitions: 6,
              replicationFactor: 1,
              requestTimeoutMs: 10_000,
              connectionTimeoutMs: 3_000,
            });
          if (c.service === "ingest-api") expect(c.maxBatchEvents).toBe(g.maxBatch);
          if (c.service !== "ingest-api")
            expect(c.pg).toEqual({
              databaseUrl: g.db,
              poolMax: g.poolMax,
              connectionTimeoutMs: 2_000,
              idleTimeoutMs: 10_000,
              statementTimeoutMs: g.statementTimeout,
              idleInTransactionTimeoutMs: 10_000,
            });
          if (c.service === "event-processor-service") expect(c.dlqTopic).toBe(`${g.topic}.dlq`);
          if (c.service === "stats-api") expect(c.adminToken).toBe(g.token);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("no environment throws anything but a ConfigError, and every problem names a variable", () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: "binary", maxLength: 30 }),
      fc.integer().map(String),
      fc.double().map(String),
      fc.constantFrom(",", " ", "host:99999", "__consumer_offsets", "postgres://", " ".repeat(16), "1e3", "0x10", "-0", "stats-api"),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...VARS), value),
        fc.option(fc.constantFrom(...SERVICE_NAMES, "x"), { nil: undefined }),
        (env, service) => {
          try {
            loadConfig(env, service);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            for (const p of (err as ConfigError).problems) expect(VARS.some((v) => p.startsWith(`${v}: `))).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
