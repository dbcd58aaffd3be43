/**
 * Kafka, both sides, in one place, over the kafkajs admin API: the reads the prober's collector makes
 * (brokers answering against those expected, under-replicated and offline partitions, per-partition lag)
 * and the runbook's KafkaPort built on the same reads. Lag is computed here and nowhere else.
 */
import { connect as tcpConnect } from "node:net";
import { Kafka, logLevel, type Admin } from "kafkajs";
import type { KafkaPort } from "@gm/runbook/ports";
import { type BrokerState, type PartitionLag, reconcileBrokers } from "@gm/runbook/snapshot";

export interface KafkaAdminOptions {
  brokers: string[];
  clientId: string;
  /** per request; the connection timeout is at most 2 s of it */
  timeoutMs: number;
}

/**
 * An admin client connected on first use. A broker restart leaves it with dead connections, so it is
 * dropped after any failure and the next call connects again.
 */
export function createKafkaAdmin(opts: KafkaAdminOptions): { use<T>(fn: (a: Admin) => Promise<T>): Promise<T>; close(): Promise<void> } {
  let admin: Admin | undefined;
  const get = async (): Promise<Admin> => {
    if (admin) return admin;
    const a = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      connectionTimeout: Math.min(2_000, opts.timeoutMs),
      requestTimeout: opts.timeoutMs,
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
    }).admin();
    await a.connect();
    admin = a;
    return a;
  };
  return {
    async use(fn) {
      try {
        return await fn(await get());
      } catch (err) {
        const a = admin;
        admin = undefined;
        void a?.disconnect().catch(() => undefined);
        throw err;
      }
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}

/**
 * The brokers the metadata knows, reconciled with the bootstrap list and the expected count, each `up`
 * when it accepts a TCP connection. The metadata keeps a killed broker until its session times out
 * (broker.session.timeout.ms, 9 s); a refused connection says it at once.
 */
export async function brokerStates(a: Admin, bootstrap: string[], expected: number, probeTimeoutMs: number): Promise<BrokerState[]> {
  const cluster = await a.describeCluster();
  const reachable = await Promise.all(cluster.brokers.map((b) => tcpReachable(`${b.host}:${b.port}`, probeTimeoutMs)));
  return reconcileBrokers(
    cluster.brokers.map((b, i) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}`, up: reachable[i] === true })),
    bootstrap,
    expected,
  );
}

/** Partitions of `topic` whose ISR is smaller than their replica set, and those whose leader is none of `alive` (node ids). */
export async function partitionHealth(
  a: Admin,
  topic: string,
  alive?: ReadonlySet<number>,
): Promise<{ underReplicated: number; offline: number }> {
  const meta = await a.fetchTopicMetadata({ topics: [topic] });
  const partitions = meta.topics[0]?.partitions ?? [];
  return {
    underReplicated: partitions.filter((p) => p.isr.length < p.replicas.length).length,
    offline: partitions.filter((p) => p.leader < 0 || (alive !== undefined && !alive.has(p.leader))).length,
  };
}

/** The topic's `min.insync.replicas` (1 when the broker does not say). */
export async function minInsyncReplicas(a: Admin, topic: string): Promise<number> {
  const cfg = await a.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: 2, name: topic, configNames: ["min.insync.replicas"] }],
  });
  return Number(cfg.resources[0]?.configEntries.find((e) => e.configName === "min.insync.replicas")?.configValue ?? 1);
}

/** The first and next offsets of each partition of a topic. */
export interface EndOffsets {
  partition: number;
  low: number;
  high: number;
}

export async function endOffsets(a: Admin, topic: string): Promise<EndOffsets[]> {
  return (await a.fetchTopicOffsets(topic)).map((e) => ({ partition: e.partition, low: Number(e.low), high: Number(e.high) }));
}

/**
 * Lag per partition, sorted by partition: end offset minus the group's committed offset. A partition
 * the group never committed (no offset, or kafkajs' -1) lags by everything still retained (end − low).
 */
export function partitionLag(ends: readonly EndOffsets[], committed: ReadonlyMap<number, number>): PartitionLag[] {
  return ends
    .map((e) => {
      const c = committed.get(e.partition);
      const committedOffset = c === undefined || c < 0 ? null : c;
      return { partition: e.partition, committedOffset, endOffset: e.high, lag: Math.max(0, e.high - (committedOffset ?? e.low)) };
    })
    .sort((x, y) => x.partition - y.partition);
}

/** A group's lag on a topic, per partition; `ends` when the caller already has them (several groups, one fetch). */
export async function groupLag(a: Admin, topic: string, group: string, ends?: readonly EndOffsets[]): Promise<PartitionLag[]> {
  const [e, fetched] = await Promise.all([ends ?? endOffsets(a, topic), a.fetchOffsets({ groupId: group, topics: [topic] })]);
  return partitionLag(e, new Map((fetched[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)])));
}

export function totalLag(parts: readonly PartitionLag[]): number {
  return parts.reduce((s, p) => s + p.lag, 0);
}

/** Whether a TCP connection to host:port is accepted within `timeoutMs`. */
export function tcpReachable(address: string, timeoutMs: number): Promise<boolean> {
  const i = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The runbook's KafkaPort on the reads above. */
export function createKafkaPort(opts: { brokers: string[]; topic: string; timeoutMs?: number }): KafkaPort & { close(): Promise<void> } {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const admin = createKafkaAdmin({ brokers: opts.brokers, clientId: "gm-chaos", timeoutMs });
  return {
    brokers: () => admin.use((a) => brokerStates(a, opts.brokers, opts.brokers.length, Math.min(1_000, timeoutMs))),
    underReplicatedPartitions: () => admin.use(async (a) => (await partitionHealth(a, opts.topic)).underReplicated),
    groupLag: (group) => admin.use(async (a) => totalLag(await groupLag(a, opts.topic, group))),
    groupMembers: (group) => admin.use(async (a) => (await a.describeGroups([group])).groups[0]?.members.length ?? 0),
    close: () => admin.close(),
  };
}
