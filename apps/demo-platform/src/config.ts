/**
 * Environment configuration of the demo services, parsed and validated once at start by zod schemas
 * (one per group of variables; the config types are inferred from them). A bad value stops the service
 * with a message that names the variable and what was expected; every problem is listed at once.
 */
import { z } from "zod";

/**
 * The programs this image runs (SERVICE picks one): code, not the platform's topology. The platform's
 * services are a description (packages/runbook/src/topology.ts); a fourth service runs one of these
 * programs under a name of its own (the stack's `extraServices`).
 */
export const SERVICE_NAMES = ["ingest-api", "event-processor-service", "stats-api"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

// ---------------------------------------------------------------------------------------------
// One variable: a string or nothing, turned into its value or one problem (the message after "NAME: ").

type Raw = string | undefined;
const variable = <T>(read: (raw: Raw, problem: (message: string) => void) => T) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      let failed = false;
      const value = read(raw, (message) => {
        failed = true;
        ctx.addIssue({ code: "custom", message });
      });
      return failed ? z.NEVER : value;
    });
const unset = (raw: Raw): raw is undefined => raw === undefined || raw === "";

/** A string; required when there is no fallback. */
const str = (fallback?: string) =>
  variable((raw, problem) => {
    if (!unset(raw)) return raw;
    if (fallback === undefined) problem("required, not set");
    return fallback ?? "";
  });

const int = (fallback: number, min: number, max: number) =>
  variable((raw, problem) => {
    if (unset(raw)) return fallback;
    if (!/^-?\d+$/.test(raw.trim())) return problem(`expected an integer between ${min} and ${max}, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) return problem(`expected an integer between ${min} and ${max}, got ${value}`);
    return value;
  }) as z.ZodType<number, Raw>;

const oneOf = <T extends string>(allowed: readonly T[], fallback?: T) =>
  variable((raw, problem) => {
    if (unset(raw)) {
      if (fallback !== undefined) return fallback;
      problem(`required, expected one of ${allowed.join(", ")}`);
      return allowed[0] as T;
    }
    if (!(allowed as readonly string[]).includes(raw)) problem(`expected one of ${allowed.join(", ")}, got "${raw}"`);
    return raw as T;
  });

const brokers = variable((raw, problem) => {
  if (unset(raw)) return problem("required, not set") ?? [];
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) problem("expected a comma-separated list of host:port, got no broker");
  for (const b of list) {
    const m = /^[A-Za-z0-9_.\-[\]:]+:(\d{1,5})$/.exec(b);
    if (!m) problem(`expected a comma-separated list of host:port, got "${b}"`);
    else if (Number(m[1]) < 1 || Number(m[1]) > 65535) problem(`expected a port from 1 to 65535 in "${b}"`);
  }
  return list;
});

/**
 * A Kafka topic name: Kafka's legal characters, 1 to 249 of them (kafka.common.internals.Topic), not
 * "." or "..", and not an internal topic ("__consumer_offsets", "__transaction_state": names starting
 * with "__" are Kafka's own).
 */
const topic = (fallback: string) =>
  variable((raw, problem) => {
    if (unset(raw)) return fallback;
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(raw) || raw === "." || raw === "..")
      return problem(`expected a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -), got ${JSON.stringify(raw)}`) ?? fallback;
    if (raw.startsWith("__"))
      return (
        problem(`expected a topic of this platform, got Kafka's internal topic name "${raw}" (names starting with "__" are Kafka's own)`) ??
        fallback
      );
    return raw;
  });

const url = (protocols: string[]) =>
  variable((raw, problem) => {
    if (unset(raw)) return problem("required, not set") ?? "";
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) problem(`expected a ${protocols.join(" or ")} URL, got protocol "${u.protocol}"`);
      else if (u.hostname === "") problem("expected a URL with a host, such as postgres://user:pass@host:5432/db");
    } catch {
      problem("expected a URL such as postgres://user:pass@host:5432/db");
    }
    return raw;
  });

// ---------------------------------------------------------------------------------------------
// Groups of variables (loose objects: the environment holds much else), each shaped into its config.

/**
 * What one client may make the HTTP server hold (node:http's server options): headers larger than
 * `maxHeaderBytes` are answered 431, headers not complete within `headersTimeoutMs` and a request not
 * received whole within `requestTimeoutMs` (slowloris) are answered 408 and the connection closed.
 */
const httpEnv = z
  .object({
    // node:http's own default (16 KiB), stated so it is a choice and can be lowered
    HTTP_MAX_HEADER_BYTES: int(16_384, 1_024, 1_048_576),
    HTTP_HEADERS_TIMEOUT_MS: int(10_000, 1_000, 300_000),
    HTTP_REQUEST_TIMEOUT_MS: int(30_000, 1_000, 600_000),
  })
  .transform((e) => ({
    maxHeaderBytes: e.HTTP_MAX_HEADER_BYTES,
    headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
  }));
export type HttpLimits = z.output<typeof httpEnv>;

const commonEnv = z
  .object({
    PORT: int(8080, 1, 65535),
    LOG_LEVEL: oneOf(["debug", "info", "warn", "error"] as const, "info"),
    SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
  })
  .transform((e) => ({ port: e.PORT, logLevel: e.LOG_LEVEL, shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS }));

const kafkaEnv = (service: ServiceName) =>
  z
    .object({
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: topic("game-events"),
      KAFKA_CLIENT_ID: str(service),
      KAFKA_TOPIC_PARTITIONS: int(6, 1, 1000),
      KAFKA_REPLICATION_FACTOR: int(1, 1, 7),
      // Bound on one request/connection; kafkajs' own defaults can wait much longer.
      KAFKA_REQUEST_TIMEOUT_MS: int(10_000, 100, 300_000),
      KAFKA_CONNECTION_TIMEOUT_MS: int(3_000, 100, 60_000),
    })
    .transform((e) => ({
      brokers: e.KAFKA_BROKERS,
      topic: e.KAFKA_TOPIC,
      clientId: e.KAFKA_CLIENT_ID,
      topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
      requestTimeoutMs: e.KAFKA_REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: e.KAFKA_CONNECTION_TIMEOUT_MS,
    }));
export type KafkaConfig = z.output<ReturnType<typeof kafkaEnv>>;

const pgEnv = z
  .object({
    DATABASE_URL: url(["postgres:", "postgresql:"]),
    PG_POOL_MAX: int(10, 1, 1000),
    // node-postgres waits forever for a pooled connection unless this is set (node-postgres#2704).
    PG_CONNECTION_TIMEOUT_MS: int(2_000, 1, 120_000),
    PG_IDLE_TIMEOUT_MS: int(10_000, 0, 3_600_000),
    PG_STATEMENT_TIMEOUT_MS: int(5_000, 0, 3_600_000),
    // PostgreSQL ends a session left idle inside a transaction this long (0 = never): a consumer frozen
    // mid-batch (docker pause, a stopped node) otherwise holds its uncommitted rows, and every replica
    // that takes over its partitions waits on them until its statement timeout, over and over.
    PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(10_000, 0, 3_600_000),
  })
  .transform((e) => ({
    databaseUrl: e.DATABASE_URL,
    poolMax: e.PG_POOL_MAX,
    connectionTimeoutMs: e.PG_CONNECTION_TIMEOUT_MS,
    idleTimeoutMs: e.PG_IDLE_TIMEOUT_MS,
    statementTimeoutMs: e.PG_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: e.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  }));
/** idleInTransactionTimeoutMs is optional for callers that build a PgConfig themselves (tests, tools). */
export type PgConfig = Omit<z.output<typeof pgEnv>, "idleInTransactionTimeoutMs"> & { idleInTransactionTimeoutMs?: number };

const ingestEnv = z
  .object({
    MAX_BATCH_EVENTS: int(1000, 1, 100_000),
    MAX_BODY_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
    PRODUCE_TIMEOUT_MS: int(10_000, 100, 300_000),
  })
  .transform((e) => ({ maxBatchEvents: e.MAX_BATCH_EVENTS, maxBodyBytes: e.MAX_BODY_BYTES, produceTimeoutMs: e.PRODUCE_TIMEOUT_MS }));

const processorEnv = z
  .object({
    CONSUMER_GROUP: str("event-processor-service"),
    // A consumer that has not fetched for this long is rebuilt (kafkajs#267, #1163).
    CONSUMER_STALL_TIMEOUT_MS: int(30_000, 1_000, 3_600_000),
    // A commit or heartbeat (the group coordinator's calls) unanswered this long has the client rebuilt:
    // kafkajs keeps retrying a killed coordinator's broker instead of finding the new one.
    CONSUMER_COORDINATOR_TIMEOUT_MS: int(5_000, 500, 600_000),
    CONSUMER_MAX_RESTART_BACKOFF_MS: int(10_000, 100, 600_000),
  })
  .transform((e) => ({
    groupId: e.CONSUMER_GROUP,
    stallTimeoutMs: e.CONSUMER_STALL_TIMEOUT_MS,
    coordinatorTimeoutMs: e.CONSUMER_COORDINATOR_TIMEOUT_MS,
    maxRestartBackoffMs: e.CONSUMER_MAX_RESTART_BACKOFF_MS,
  }));

export interface CommonConfig extends z.output<typeof commonEnv> {
  service: ServiceName;
  http: HttpLimits;
}

export interface IngestConfig extends CommonConfig, z.output<typeof ingestEnv> {
  service: "ingest-api";
  kafka: KafkaConfig;
}

export interface ProcessorConfig extends CommonConfig, z.output<typeof processorEnv> {
  service: "event-processor-service";
  kafka: KafkaConfig;
  pg: PgConfig;
  /** Where messages PostgreSQL can never take go (poison), instead of blocking their partition. */
  dlqTopic: string;
}

export interface StatsConfig extends CommonConfig {
  service: "stats-api";
  pg: PgConfig;
  adminToken: string;
}

export type ServiceConfig = IngestConfig | ProcessorConfig | StatsConfig;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/** Reads one group of variables; its problems (`NAME: …`) are added to `problems`. */
function read<T>(schema: z.ZodType<T>, env: Env, problems: string[], fallback: T): T {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  for (const issue of r.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  return fallback;
}

/** Parse the environment for one service; throws ConfigError listing every problem. */
export function loadConfig(env: Env, serviceArg?: string): ServiceConfig {
  const vars = serviceArg ? { ...env, SERVICE: serviceArg } : env;
  const problems: string[] = [];
  const service = read(z.object({ SERVICE: oneOf(SERVICE_NAMES) }), vars, problems, { SERVICE: SERVICE_NAMES[0] }).SERVICE;
  const defaults = <T>(schema: z.ZodType<T>): T => schema.parse({});
  const common: CommonConfig = {
    service,
    ...read(commonEnv, vars, problems, defaults(commonEnv)),
    http: read(httpEnv, vars, problems, defaults(httpEnv)),
  };
  // node:http checks the headers' deadline only while the request's runs
  if (common.http.requestTimeoutMs < common.http.headersTimeoutMs)
    problems.push(
      `HTTP_REQUEST_TIMEOUT_MS: expected at least HTTP_HEADERS_TIMEOUT_MS (${common.http.headersTimeoutMs}), got ${common.http.requestTimeoutMs}`,
    );
  const kafka = () => read(kafkaEnv(service), vars, problems, undefined as unknown as KafkaConfig);
  const pg = () => read(pgEnv, vars, problems, undefined as unknown as PgConfig);
  let cfg: ServiceConfig;
  switch (service) {
    case "ingest-api":
      cfg = { ...common, service, kafka: kafka(), ...read(ingestEnv, vars, problems, defaults(ingestEnv)) };
      break;
    case "event-processor-service": {
      const k = kafka();
      const topicName = k?.topic ?? "game-events";
      const dlqTopic = vars["KAFKA_DLQ_TOPIC"] || `${topicName}.dlq`;
      // Kafka's rule for topic names (legal characters, at most 249); the DLQ must not be the topic it drains.
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(dlqTopic))
        problems.push(`KAFKA_DLQ_TOPIC: expected a Kafka topic name (letters, digits, '.', '_', '-'; at most 249), got "${dlqTopic}"`);
      else if (dlqTopic === topicName) problems.push(`KAFKA_DLQ_TOPIC: expected a topic other than KAFKA_TOPIC ("${topicName}")`);
      cfg = { ...common, service, kafka: k, pg: pg(), dlqTopic, ...read(processorEnv, vars, problems, defaults(processorEnv)) };
      break;
    }
    case "stats-api": {
      const adminToken = read(z.object({ ADMIN_TOKEN: str() }), vars, problems, { ADMIN_TOKEN: "" }).ADMIN_TOKEN;
      // the token itself is never quoted; whitespace cannot be sent as "Authorization: Bearer <token>"
      if (adminToken !== "" && (adminToken.length < 16 || /\s/.test(adminToken)))
        problems.push("ADMIN_TOKEN: expected at least 16 characters and no whitespace");
      cfg = { ...common, service, pg: pg(), adminToken };
      break;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return cfg;
}
