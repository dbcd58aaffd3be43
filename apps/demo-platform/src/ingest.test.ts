import { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from "kafkajs";
import { describe, expect, it } from "vitest";
import { retriableWithinDeadline } from "./ingest.js";

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
    const tooLarge = new KafkaJSError("The request included a message larger than the max message size the server will accept", { retriable: false });
    expect(retriableWithinDeadline(new KafkaJSNonRetriableError(tooLarge))).toBe(false);
    expect(retriableWithinDeadline(new KafkaJSNumberOfRetriesExceeded(tooLarge, { retryCount: 5, retryTime: 2_000 }))).toBe(false);
    const bug = new TypeError("Cannot read properties of undefined");
    expect(retriableWithinDeadline(new KafkaJSNumberOfRetriesExceeded(bug, { retryCount: 0, retryTime: 0 }))).toBe(false);
  });
});
