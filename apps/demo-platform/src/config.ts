/**
 * Environment configuration of the demo services, parsed and validated once at start.
 * A bad value stops the service with a message that names the variable and what was expected.
 */

/**
 * The programs this image runs (SERVICE picks one): code, not the platform's topology. The platform's
 * services are a description (packages/runbook/src/topology.ts); a fourth service runs one of these
 * programs under a name of its own (the stack's `extraServices`).
 */
export const SERVICE_NAMES = ["ingest-api", "event-processor-service", "stats-api"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface CommonConfig {
  service: ServiceName;
  port: number;
  logLevel: "debug" | "info" | "warn" | "error";
  shutdownTimeoutMs: number;
  http: HttpLimits;
}

/**
 * What one client may make the HTTP server hold (node:http's server options): headers larger than
 * `maxHeaderBytes` are answered 431, headers not complete within `headersTimeoutMs` and a request not
 * received whole within `requestTimeoutMs` (slowloris) are answered 408 and the connection closed.
 */
export interface HttpLimits {
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface KafkaConfig {
  brokers: string[];
  topic: string;
  clientId: string;
  topicPartitions: number;
  replicationFactor: number;
  /** Bound on one request/connection; kafkajs' own defaults can wait much longer. */
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
}

export interface PgConfig {
  databaseUrl: string;
  poolMax: number;
  /** node-postgres waits forever for a pooled connection unless this is set (node-postgres#2704). */
  connectionTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
  /**
   * PostgreSQL ends a session left idle inside a transaction this long (0 = never): a consumer frozen
   * mid-batch (docker pause, a stopped node) otherwise holds its uncommitted rows, and every replica
   * that takes over its partitions waits on them until its statement timeout, over and over.
   */
  idleInTransactionTimeoutMs?: number;
}

export interface IngestConfig extends CommonConfig {
  service: "ingest-api";
  kafka: KafkaConfig;
  maxBatchEvents: number;
  maxBodyBytes: number;
  produceTimeoutMs: number;
}

export interface ProcessorConfig extends CommonConfig {
  service: "event-processor-service";
  kafka: KafkaConfig;
  pg: PgConfig;
  groupId: string;
  /** Where messages PostgreSQL can never take go (poison), instead of blocking their partition. */
  dlqTopic: string;
  /** A consumer that has not fetched for this long is rebuilt (kafkajs#267, #1163). */
  stallTimeoutMs: number;
  maxRestartBackoffMs: number;
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

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback?: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === "") {
      if (fallback !== undefined) return fallback;
      this.problems.push(`${name}: required, not set`);
      return "";
    }
    return raw;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^-?\d+$/.test(raw.trim())) {
      this.problems.push(`${name}: expected an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      this.problems.push(`${name}: expected an integer between ${min} and ${max}, got ${value}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") {
      if (fallback !== undefined) return fallback;
      this.problems.push(`${name}: required, expected one of ${allowed.join(", ")}`);
      return allowed[0] as T;
    }
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}: expected one of ${allowed.join(", ")}, got "${raw}"`);
      return (fallback ?? allowed[0]) as T;
    }
    return raw as T;
  }

  brokers(name: string): string[] {
    const raw = this.string(name);
    if (raw === "") return [];
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) this.problems.push(`${name}: expected a comma-separated list of host:port, got no broker`);
    for (const b of list) {
      const m = /^[A-Za-z0-9_.\-[\]:]+:(\d{1,5})$/.exec(b);
      if (!m) {
        this.problems.push(`${name}: expected a comma-separated list of host:port, got "${b}"`);
      } else if (Number(m[1]) < 1 || Number(m[1]) > 65535) {
        this.problems.push(`${name}: expected a port from 1 to 65535 in "${b}"`);
      }
    }
    return list;
  }

  /**
   * A Kafka topic name: Kafka's legal characters, 1 to 249 of them (kafka.common.internals.Topic), not
   * "." or "..", and not an internal topic ("__consumer_offsets", "__transaction_state": names starting
   * with "__" are Kafka's own).
   */
  topic(name: string, fallback: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(raw) || raw === "." || raw === "..") {
      this.problems.push(`${name}: expected a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -), got ${JSON.stringify(raw)}`);
      return fallback;
    }
    if (raw.startsWith("__")) {
      this.problems.push(
        `${name}: expected a topic of this platform, got Kafka's internal topic name "${raw}" (names starting with "__" are Kafka's own)`,
      );
      return fallback;
    }
    return raw;
  }

  url(name: string, protocols: string[]): string {
    const raw = this.string(name);
    if (raw === "") return raw;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        this.problems.push(`${name}: expected a ${protocols.join(" or ")} URL, got protocol "${u.protocol}"`);
      } else if (u.hostname === "") {
        this.problems.push(`${name}: expected a URL with a host, such as postgres://user:pass@host:5432/db`);
      }
    } catch {
      this.problems.push(`${name}: expected a URL such as postgres://user:pass@host:5432/db`);
    }
    return raw;
  }
}

function kafkaConfig(r: EnvReader, service: ServiceName): KafkaConfig {
  return {
    brokers: r.brokers("KAFKA_BROKERS"),
    topic: r.topic("KAFKA_TOPIC", "game-events"),
    clientId: r.string("KAFKA_CLIENT_ID", service),
    topicPartitions: r.int("KAFKA_TOPIC_PARTITIONS", 6, 1, 1000),
    replicationFactor: r.int("KAFKA_REPLICATION_FACTOR", 1, 1, 7),
    requestTimeoutMs: r.int("KAFKA_REQUEST_TIMEOUT_MS", 10_000, 100, 300_000),
    connectionTimeoutMs: r.int("KAFKA_CONNECTION_TIMEOUT_MS", 3_000, 100, 60_000),
  };
}

function pgConfig(r: EnvReader): PgConfig {
  return {
    databaseUrl: r.url("DATABASE_URL", ["postgres:", "postgresql:"]),
    poolMax: r.int("PG_POOL_MAX", 10, 1, 1000),
    connectionTimeoutMs: r.int("PG_CONNECTION_TIMEOUT_MS", 2_000, 1, 120_000),
    idleTimeoutMs: r.int("PG_IDLE_TIMEOUT_MS", 10_000, 0, 3_600_000),
    statementTimeoutMs: r.int("PG_STATEMENT_TIMEOUT_MS", 5_000, 0, 3_600_000),
    idleInTransactionTimeoutMs: r.int("PG_IDLE_IN_TRANSACTION_TIMEOUT_MS", 10_000, 0, 3_600_000),
  };
}

function httpLimits(r: EnvReader): HttpLimits {
  const limits = {
    // node:http's own default (16 KiB), stated so it is a choice and can be lowered
    maxHeaderBytes: r.int("HTTP_MAX_HEADER_BYTES", 16_384, 1_024, 1_048_576),
    headersTimeoutMs: r.int("HTTP_HEADERS_TIMEOUT_MS", 10_000, 1_000, 300_000),
    requestTimeoutMs: r.int("HTTP_REQUEST_TIMEOUT_MS", 30_000, 1_000, 600_000),
  };
  // node:http checks the headers' deadline only while the request's runs
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    r.problems.push(
      `HTTP_REQUEST_TIMEOUT_MS: expected at least HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}), got ${limits.requestTimeoutMs}`,
    );
  }
  return limits;
}

/** Parse the environment for one service; throws ConfigError listing every problem. */
export function loadConfig(env: Env, serviceArg?: string): ServiceConfig {
  const r = new EnvReader(serviceArg ? { ...env, SERVICE: serviceArg } : env);
  const service = r.oneOf("SERVICE", SERVICE_NAMES);
  const common: CommonConfig = {
    service,
    port: r.int("PORT", 8080, 1, 65535),
    logLevel: r.oneOf("LOG_LEVEL", ["debug", "info", "warn", "error"] as const, "info"),
    shutdownTimeoutMs: r.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    http: httpLimits(r),
  };
  let cfg: ServiceConfig;
  switch (service) {
    case "ingest-api":
      cfg = {
        ...common,
        service,
        kafka: kafkaConfig(r, service),
        maxBatchEvents: r.int("MAX_BATCH_EVENTS", 1000, 1, 100_000),
        maxBodyBytes: r.int("MAX_BODY_BYTES", 1_048_576, 1024, 64 * 1_048_576),
        produceTimeoutMs: r.int("PRODUCE_TIMEOUT_MS", 10_000, 100, 300_000),
      };
      break;
    case "event-processor-service": {
      const kafka = kafkaConfig(r, service);
      const dlqTopic = r.string("KAFKA_DLQ_TOPIC", `${kafka.topic}.dlq`);
      // Kafka's rule for topic names (legal characters, at most 249); the DLQ must not be the topic it drains.
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(dlqTopic))
        r.problems.push(`KAFKA_DLQ_TOPIC: expected a Kafka topic name (letters, digits, '.', '_', '-'; at most 249), got "${dlqTopic}"`);
      else if (dlqTopic === kafka.topic) r.problems.push(`KAFKA_DLQ_TOPIC: expected a topic other than KAFKA_TOPIC ("${kafka.topic}")`);
      cfg = {
        ...common,
        service,
        kafka,
        pg: pgConfig(r),
        groupId: r.string("CONSUMER_GROUP", "event-processor-service"),
        dlqTopic,
        stallTimeoutMs: r.int("CONSUMER_STALL_TIMEOUT_MS", 30_000, 1_000, 3_600_000),
        maxRestartBackoffMs: r.int("CONSUMER_MAX_RESTART_BACKOFF_MS", 10_000, 100, 600_000),
      };
      break;
    }
    case "stats-api": {
      const adminToken = r.string("ADMIN_TOKEN");
      // the token itself is never quoted; whitespace cannot be sent as "Authorization: Bearer <token>"
      if (adminToken !== "" && (adminToken.length < 16 || /\s/.test(adminToken))) {
        r.problems.push("ADMIN_TOKEN: expected at least 16 characters and no whitespace");
      }
      cfg = { ...common, service, pg: pgConfig(r), adminToken };
      break;
    }
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return cfg;
}
