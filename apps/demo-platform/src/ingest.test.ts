import { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from "kafkajs";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { IngestConfig } from "./config.js";
import { retriableWithinDeadline, startIngest } from "./ingest.js";
import { createLogger } from "./log.js";

describe("retriableWithinDeadline", () => {
  it("tries again when kafkajs ran out of its own retries on a retriable cause (a leader still moving)", () => {
    const gone = new KafkaJSConnectionError("Connection error: getaddrinfo ENOTFOUND kafka-3");
    expect(gone.retriable).toBe(true);
    const exhausted = new KafkaJSNumberOfRetriesExceeded(gone, { retryCount: 5, retryTime: 2_000 });
    // kafkajs marks the exhaustion itself non-retriable: our produce deadline decides instead
    expect(exhausted.retriable).toBe(false);
    expect(retriableWithinDeadline(exhausted)).toBe(true);
    expect(retriableWithinDeadline(new Error("produce timed out after 900 ms"))).toBe(true);
  });

  it("gives up on what no retry can fix", () => {
    const tooLarge = new KafkaJSError("The request included a message larger than the max message size the server will accept", {
      retriable: false,
    });
    expect(retriableWithinDeadline(new KafkaJSNonRetriableError(tooLarge))).toBe(false);
    expect(retriableWithinDeadline(new KafkaJSNumberOfRetriesExceeded(tooLarge, { retryCount: 5, retryTime: 2_000 }))).toBe(false);
    const bug = new TypeError("Cannot read properties of undefined");
    expect(retriableWithinDeadline(new KafkaJSNumberOfRetriesExceeded(bug, { retryCount: 0, retryTime: 0 }))).toBe(false);
  });
});

describe("POST /events refuses a number it could not store as sent", () => {
  // Kafka is never reached: a batch that validation lets through answers 503 here (nothing listens on port 1).
  const cfg: IngestConfig = {
    service: "ingest-api",
    port: 0,
    logLevel: "error",
    shutdownTimeoutMs: 1_000,
    kafka: {
      brokers: ["127.0.0.1:1"],
      topic: "game-events",
      clientId: "test",
      topicPartitions: 1,
      replicationFactor: 1,
      requestTimeoutMs: 200,
      connectionTimeoutMs: 100,
    },
    maxBatchEvents: 10,
    maxBodyBytes: 1_048_576,
    produceTimeoutMs: 300,
    http: { maxHeaderBytes: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
  };
  const post = async (text: string) => {
    const svc = await startIngest(
      cfg,
      createLogger("ingest-api", "error", () => undefined),
      new Registry(),
    );
    try {
      const found = svc.router.match("POST", "/events");
      if (!("route" in found)) throw new Error("no POST /events route");
      return await found.route.handler({
        method: "POST",
        path: "/events",
        params: {},
        headers: {},
        readBody: async () => Buffer.from(text),
      });
    } finally {
      await svc.stop();
    }
  };
  const event = (payload: string) => `[{"id":"e1","playerId":"p1","type":"kill","ts":"2026-11-27T10:00:00Z","payload":${payload}}]`;

  // JSON.parse turns each of these into another number, which ingest-api then handed to Kafka and
  // PostgreSQL stored: 202 for an event stored with content other than what was sent.
  it.each([
    ['{"big":12345678901234567890}', "[0].payload.big", "12345678901234567890"],
    ['{"nested":{"list":[1,1e400]}}', "[0].payload.nested.list[1]", "1e400"],
    ['{"tiny":1e-400}', "[0].payload.tiny", "1e-400"],
    ['{"pi":3.14159265358979323846264338327950288}', "[0].payload.pi", "3.14159265358979323846264338327950288"],
  ])("%s: 400 naming %s", async (payload, path, text) => {
    const reply = await post(event(payload));
    expect(reply.status).toBe(400);
    const problems = (reply.body as { problems: { path: string; message: string }[] }).problems;
    expect(problems).toEqual([{ path, message: expect.stringContaining(`number ${text} cannot be stored exactly`) }]);
  });
});
