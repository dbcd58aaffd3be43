/**
 * Three brokers (replication factor 3, min.insync.replicas 2): SIGKILL one, producing still
 * succeeds; start it again, it rejoins on the same address and every partition is fully replicated.
 * SIGKILL the active KRaft controller under steady load: ingest-api, the example of a well-built
 * producer, still answers 202 to at least 99% of requests (the failover outlasts kafkajs' own retries).
 * The processor consumes again while its group's coordinator stays SIGKILLed, and comes back from a
 * pause past its session as one member of its group; in both, every acknowledged event is stored.
 */
import { Kafka, logLevel } from "kafkajs";
import { dockerode } from "@gm/docker-engine/docker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PORTS } from "./definition.js";
import { makeEvents, postEvents, waitStored } from "./load-generator.js";
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

/** How many members the group has, as its coordinator says. */
async function groupMembers(brokers: string[], group: string): Promise<number> {
  const admin = new Kafka({ clientId: "test-admin", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    return (await admin.describeGroups([group])).groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** The broker that is KRaft's active controller, as the quorum itself says (LeaderId). */
async function activeController(stack: Stack): Promise<number> {
  const running = stack.containers.find((c) => c.role === "kafka")!;
  const r = await running.container.exec([
    "kafka-metadata-quorum.sh",
    "--bootstrap-server",
    `${running.name}:${PORTS.kafkaInternal}`,
    "describe",
    "--status",
  ]);
  const id = /LeaderId:\s*(\d+)/.exec(r.output)?.[1];
  if (!id) throw new Error(`no LeaderId in kafka-metadata-quorum.sh output (exit ${r.exitCode}): ${r.output.slice(-500)}`);
  return Number(id);
}

/** The broker coordinating a consumer group, as the group's own describe says ("COORDINATOR (ID)"). */
async function groupCoordinator(stack: Stack, group: string): Promise<number> {
  for (const c of stack.containers.filter((x) => x.role === "kafka")) {
    const r = await c.container
      .exec([
        "kafka-consumer-groups.sh",
        "--bootstrap-server",
        `${c.name}:${PORTS.kafkaInternal}`,
        "--describe",
        "--group",
        group,
        "--state",
      ])
      .catch(() => null);
    const id = r && new RegExp(`^${group}\\s+\\S+\\s+\\((\\d+)\\)`, "m").exec(r.output)?.[1];
    if (id) return Number(id);
  }
  throw new Error(`no broker named the coordinator of group ${group}`);
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
    await waitUntil(
      async () => {
        const r = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-${attempt++}`, 500), { batchSize: 250 });
        acked.push(...r.acknowledged);
        return r.acknowledged.length === 500;
      },
      60_000,
      "produce with one broker down",
    );
    const during = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-b`, 2_000));
    expect(during.acknowledged).toHaveLength(2_000);
    acked.push(...during.acknowledged);
    const down = await replication(
      bootstrap.filter((_, i) => i !== 1),
      topic,
    );
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

  /** Posts events until `count` are acknowledged within `timeoutMs`; returns their ids. */
  async function acknowledge(runId: string, count: number, timeoutMs: number, what: string): Promise<string[]> {
    const acked: string[] = [];
    let attempt = 0;
    const t0 = Date.now();
    await waitUntil(
      async () => {
        const r = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-${attempt++}`, 100), { batchSize: 50 });
        acked.push(...r.acknowledged);
        return acked.length >= count;
      },
      timeoutMs,
      what,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (${acked.length} acknowledged in ${attempt} posts)`);
    });
    console.log(`${what}: ${acked.length} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${attempt} posts`);
    return acked;
  }

  /** Fully replicated, and the processor storing: the state each coordinator test starts from. */
  async function settled(tag: string) {
    await waitUntil(
      async () => (await replication(stack.endpoints.kafkaBootstrapServers, stack.endpoints.topic)).underReplicated === 0,
      120_000,
      "fully replicated before the fault",
    );
    const warm = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${tag}-warm-${Date.now().toString(36)}`, 200));
    expect((await waitStored(stack.endpoints.postgresUrl, warm.acknowledged, 60_000)).lost).toEqual([]);
  }

  it("the processor consumes again while the broker that coordinated its group stays SIGKILLed", async () => {
    // A drill found the processor stuck with its group's coordinator killed (lag past 10,000, the group
    // empty at the new coordinator). How kafkajs notices varies: a closed socket makes it reconnect, fail
    // to resolve the dead broker's name and crash (the supervisor rebuilds it); a hung one is the
    // coordinator watchdog's case (CONSUMER_COORDINATOR_TIMEOUT_MS). Either way, it must consume again.
    const group = stack.endpoints.consumerGroup;
    await settled("coord-kill");
    const coordinator = await groupCoordinator(stack, group);
    console.log(`group ${group} coordinated by broker ${coordinator}: SIGKILLed, kept down`);
    await stack.killBroker(coordinator);
    try {
      const acked = await acknowledge(
        `coord-kill-${Date.now().toString(36)}`,
        1_000,
        60_000,
        "1,000 events acknowledged with the coordinator's broker down",
      );
      // stored by the processor while the broker is still down
      const stored = await waitStored(stack.endpoints.postgresUrl, acked, 60_000);
      expect(stored.lost).toEqual([]);
      expect((await stack.inspect(`kafka-${coordinator}`)).State.Running).toBe(false);
    } finally {
      await stack.startBroker(coordinator);
    }
  });

  it("a processor frozen past its session comes back as one member of its group, every acknowledged event stored", async () => {
    // What the high-consumer-lag drill does (docker pause). On the unpause the supervisor gives up the
    // client (stalled, its commit unanswered for the whole pause) and builds a new one. In a game day the old
    // one rejoined beside its replacement (two member ids in one process's log, on every rebuild). (The
    // majority-kill drill's hang that followed it was kafkajs' stopped-runner fetch loop: kafka-clients.ts.)
    // At this test's lighter load the double member did not reproduce without the fix either: it guards
    // the outcome, one member and nothing lost, not the mechanism.
    const group = stack.endpoints.consumerGroup;
    await settled("proc-pause");
    const processor = (await dockerode()).getContainer(stack.container("event-processor-service").container.getId());
    const runId = `proc-pause-${Date.now().toString(36)}`;
    const acked: string[] = [];
    let attempt = 0;
    const load = (async () => {
      const t0 = Date.now();
      while (Date.now() - t0 < 25_000) {
        const r = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(`${runId}-${attempt++}`, 50), { batchSize: 50 });
        acked.push(...r.acknowledged);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await new Promise((r) => setTimeout(r, 2_000));
    await processor.pause();
    try {
      await new Promise((r) => setTimeout(r, 15_000));
    } finally {
      await processor.unpause();
    }
    await load;
    expect(acked.length).toBeGreaterThan(1_000);
    const stored = await waitStored(stack.endpoints.postgresUrl, acked, 90_000);
    expect(stored.lost).toEqual([]);
    const members: number[] = [];
    for (let i = 0; i < 12; i++) {
      members.push(await groupMembers(stack.endpoints.kafkaBootstrapServers, group));
      await new Promise((r) => setTimeout(r, 2_500));
    }
    console.log(`group members every 2.5 s after the events were stored: ${members.join(" ")}`);
    expect(Math.max(...members.slice(4))).toBe(1);
  });

  it("answers 202 to at least 99% of requests under steady load while the active controller broker is SIGKILLed", async () => {
    await waitUntil(
      async () => (await replication(stack.endpoints.kafkaBootstrapServers, stack.endpoints.topic)).underReplicated === 0,
      120_000,
      "fully replicated before the kill",
    );
    const controller = await activeController(stack);
    const ingest = stack.endpoints.services["ingest-api"];
    const runId = `ctl-${Date.now().toString(36)}`;
    const statuses: Record<string, number> = {};
    const latencies: number[] = [];
    const acked: string[] = [];
    const inFlight = new Set<Promise<void>>();
    // 10 requests/s of 20 events (every partition), each allowed 15 s as a patient client would, for 25 s;
    // the controller dies 5 s in.
    const started = Date.now();
    let n = 0;
    let killed = false;
    while (Date.now() - started < 25_000) {
      if (!killed && Date.now() - started > 5_000) {
        killed = true;
        void stack.killBroker(controller);
      }
      const events = makeEvents(`${runId}-${n++}`, 20);
      const p = (async () => {
        let status = "error";
        const t0 = performance.now();
        try {
          const res = await fetch(`${ingest}/events`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(events),
            signal: AbortSignal.timeout(15_000),
          });
          await res.arrayBuffer();
          status = String(res.status);
          if (res.status === 202) acked.push(...events.map((e) => e.id));
        } catch {
          // no answer: counted as "error"
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
        latencies.push(performance.now() - t0);
      })();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(inFlight);
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    latencies.sort((a, b) => a - b);
    const q = (x: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))]!);
    console.log(
      `controller kafka-${controller} killed: ${JSON.stringify(statuses)} of ${total}; latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms, over 2 s: ${latencies.filter((l) => l > 2_000).length}`,
    );
    expect((statuses["202"] ?? 0) / total, JSON.stringify(statuses)).toBeGreaterThanOrEqual(0.99);

    await stack.startBroker(controller);
    const stored = await waitStored(stack.endpoints.postgresUrl, acked, 120_000);
    expect(stored.lost).toEqual([]);
    expect(stored.duplicates).toBe(0);
  });
});
