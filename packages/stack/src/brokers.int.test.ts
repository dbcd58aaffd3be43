/**
 * Three brokers (replication factor 3, min.insync.replicas 2): SIGKILL one, producing still
 * succeeds; start it again, it rejoins on the same address and every partition is fully replicated.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvents, postEvents, waitStored } from "./load.js";
import { startStack, waitUntil, type Stack } from "./stack.js";

async function replication(brokers: string[], topic: string) {
  const admin = new Kafka({ clientId: "test-admin", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = meta.topics[0]!.partitions;
    return {
      brokerIds: cluster.brokers.map((b) => b.nodeId).sort(),
      addresses: Object.fromEntries(cluster.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`])),
      underReplicated: partitions.filter((p) => p.isr.length < p.replicas.length).length,
      partitions: partitions.length,
    };
  } finally {
    await admin.disconnect();
  }
}

describe("three brokers, one killed", { timeout: 300_000 }, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ brokers: 3, id: `t-brk-${Date.now().toString(36)}`, onProgress: (m) => console.log(m) });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it("keeps producing with a broker SIGKILLed, and the broker rejoins on the same address fully replicated", async () => {
    const { kafkaBootstrapServers: bootstrap, topic } = stack.endpoints;
    const initial = await replication(bootstrap, topic);
    expect(initial.brokerIds).toEqual([1, 2, 3]);
    expect(initial.underReplicated).toBe(0);

    await stack.killBroker(2);
    const state = await stack.inspect("kafka-2");
    expect(state.State.Running).toBe(false);
    expect(state.State.ExitCode).toBe(137);

    const runId = `kill-${Date.now().toString(36)}`;
    // Leaders on the dead broker move within the session timeout; a few 503s are allowed, not losses.
    const acked: string[] = [];
    let attempt = 0;
    await waitUntil(async () => {
      const r = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-${attempt++}`, 500), { batchSize: 250 });
      acked.push(...r.acknowledged);
      return r.acknowledged.length === 500;
    }, 60_000, "produce with one broker down");
    const during = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-b`, 2_000));
    expect(during.acknowledged).toHaveLength(2_000);
    acked.push(...during.acknowledged);
    const down = await replication(bootstrap.filter((_, i) => i !== 1), topic);
    expect(down.underReplicated).toBeGreaterThan(0);

    await stack.startBroker(2);
    await waitUntil(async () => (await replication(bootstrap, topic)).underReplicated === 0, 120_000, "no under-replicated partitions");
    const after = await replication(bootstrap, topic);
    expect(after.brokerIds).toEqual([1, 2, 3]);
    expect(after.addresses).toEqual(initial.addresses);

    const stored = await waitStored(stack.endpoints.postgresUrl, acked, 120_000);
    expect(stored.lost).toEqual([]);
    expect(stored.duplicates).toBe(0);
  });
});
