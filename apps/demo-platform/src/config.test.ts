import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

const base = { KAFKA_BROKERS: "kafka-1:19092,kafka-2:19092", DATABASE_URL: "postgres://u:p@pg:5432/gm", ADMIN_TOKEN: "0123456789abcdef" };

function problems(env: Record<string, string>, service?: string): string[] {
  try {
    loadConfig(env, service);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("loadConfig", () => {
  it("parses each service with defaults", () => {
    const ingest = loadConfig(base, "ingest-api");
    expect(ingest).toMatchObject({
      service: "ingest-api",
      port: 8080,
      maxBatchEvents: 1000,
      kafka: { topic: "game-events", brokers: ["kafka-1:19092", "kafka-2:19092"] },
    });
    const proc = loadConfig({ ...base, PG_POOL_MAX: "4" }, "event-processor-service");
    expect(proc).toMatchObject({ groupId: "event-processor-service", pg: { poolMax: 4, connectionTimeoutMs: 2000 } });
    expect(loadConfig(base, "stats-api")).toMatchObject({ adminToken: "0123456789abcdef" });
  });

  it("names the variable and the expectation for each bad value", () => {
    expect(problems({ ...base, PORT: "eighty" }, "ingest-api")).toEqual(['PORT: expected an integer between 1 and 65535, got "eighty"']);
    expect(problems({ ...base, PG_POOL_MAX: "0" }, "stats-api")).toEqual(["PG_POOL_MAX: expected an integer between 1 and 1000, got 0"]);
    expect(problems({ ...base, KAFKA_BROKERS: "kafka-1" }, "ingest-api")[0]).toMatch(
      /^KAFKA_BROKERS: expected a comma-separated list of host:port/,
    );
    expect(problems({ ...base, DATABASE_URL: "mysql://x" }, "stats-api")[0]).toMatch(
      /^DATABASE_URL: expected a postgres: or postgresql: URL/,
    );
    expect(problems({ ...base, ADMIN_TOKEN: "short" }, "stats-api")).toEqual([
      "ADMIN_TOKEN: expected at least 16 characters and no whitespace",
    ]);
    expect(problems({}, "nope")[0]).toMatch(/^SERVICE: expected one of ingest-api, event-processor-service, stats-api/);
  });

  it("takes the processor's dead-letter topic, by default the topic's name with .dlq", () => {
    expect(loadConfig(base, "event-processor-service")).toMatchObject({ dlqTopic: "game-events.dlq" });
    expect(loadConfig({ ...base, KAFKA_TOPIC: "t" }, "event-processor-service")).toMatchObject({ dlqTopic: "t.dlq" });
    expect(loadConfig({ ...base, KAFKA_DLQ_TOPIC: "poison_1" }, "event-processor-service")).toMatchObject({ dlqTopic: "poison_1" });
    expect(problems({ ...base, KAFKA_DLQ_TOPIC: "dead letters" }, "event-processor-service")).toEqual([
      "KAFKA_DLQ_TOPIC: expected a Kafka topic name (letters, digits, '.', '_', '-'; at most 249), got \"dead letters\"",
    ]);
    expect(problems({ ...base, KAFKA_DLQ_TOPIC: "game-events" }, "event-processor-service")).toEqual([
      'KAFKA_DLQ_TOPIC: expected a topic other than KAFKA_TOPIC ("game-events")',
    ]);
  });

  it("lists every problem at once", () => {
    expect(problems({ PORT: "0" }, "event-processor-service")).toHaveLength(3);
  });

  it("refuses values that look set but are not usable", () => {
    expect(problems({ ...base, KAFKA_BROKERS: "," }, "ingest-api")).toEqual([
      "KAFKA_BROKERS: expected a comma-separated list of host:port, got no broker",
    ]);
    expect(problems({ ...base, KAFKA_BROKERS: "kafka-1:19092,host:99999" }, "ingest-api")).toEqual([
      'KAFKA_BROKERS: expected a port from 1 to 65535 in "host:99999"',
    ]);
    expect(problems({ ...base, KAFKA_TOPIC: " " }, "ingest-api")).toEqual([
      'KAFKA_TOPIC: expected a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -), got " "',
    ]);
    expect(problems({ ...base, KAFKA_TOPIC: "x".repeat(250) }, "ingest-api")[0]).toMatch(/^KAFKA_TOPIC: expected a Kafka topic name/);
    expect(problems({ ...base, KAFKA_TOPIC: "__consumer_offsets" }, "event-processor-service")).toEqual([
      'KAFKA_TOPIC: expected a topic of this platform, got Kafka\'s internal topic name "__consumer_offsets" (names starting with "__" are Kafka\'s own)',
    ]);
    expect(loadConfig({ ...base, KAFKA_TOPIC: "game.events_v2-a" }, "ingest-api")).toMatchObject({ kafka: { topic: "game.events_v2-a" } });
    const spaces = problems({ ...base, ADMIN_TOKEN: " ".repeat(16) }, "stats-api");
    expect(spaces).toEqual(["ADMIN_TOKEN: expected at least 16 characters and no whitespace"]);
    expect(problems({ ...base, DATABASE_URL: "postgres://" }, "stats-api")).toEqual([
      "DATABASE_URL: expected a URL with a host, such as postgres://user:pass@host:5432/db",
    ]);
  });

  it("bounds what one HTTP client can make a service hold, node:http's defaults unless set", () => {
    expect(loadConfig(base, "ingest-api").http).toEqual({ maxHeaderBytes: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    expect(
      loadConfig({ ...base, HTTP_MAX_HEADER_BYTES: "8192", HTTP_HEADERS_TIMEOUT_MS: "2000", HTTP_REQUEST_TIMEOUT_MS: "4000" }, "stats-api")
        .http,
    ).toEqual({ maxHeaderBytes: 8192, headersTimeoutMs: 2000, requestTimeoutMs: 4000 });
    expect(problems({ ...base, HTTP_MAX_HEADER_BYTES: "0" }, "ingest-api")).toEqual([
      "HTTP_MAX_HEADER_BYTES: expected an integer between 1024 and 1048576, got 0",
    ]);
    expect(problems({ ...base, HTTP_HEADERS_TIMEOUT_MS: "20000", HTTP_REQUEST_TIMEOUT_MS: "5000" }, "ingest-api")).toEqual([
      "HTTP_REQUEST_TIMEOUT_MS: expected at least HTTP_HEADERS_TIMEOUT_MS (20000), got 5000",
    ]);
  });
});
