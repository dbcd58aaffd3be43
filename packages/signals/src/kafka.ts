/**
 * Kafka signals through the kafkajs admin API: brokers alive against those expected, under-replicated
 * and offline partitions, per group/topic/partition lag and its total, the trend of the total, lag in
 * seconds behind the newest message, and consumer progress judged the way Burrow does, in seconds.
 */
import { connect as tcpConnect } from "node:net";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { type ConsumerProgress, type GroupLag, type KafkaSignal, type PartitionLag, reconcileBrokers } from "@gm/runbook/snapshot";
import { Series } from "./collect.js";
import { judgeProgress, lagSeconds } from "./progress.js";

export interface KafkaCollectorOptions {
  brokers: string[];
  /** brokers the cluster should have (default: the number of bootstrap servers) */
  expectedBrokers?: number;
  topic: string;
  groups: string[];
  windowSeconds: number;
  /** a group whose committed offsets have not moved for this long while lagging is stalled */
  stallSeconds: number;
  timeoutMs: number;
}

export function createKafkaCollector(opts: KafkaCollectorOptions) {
  let admin: Admin | undefined;
  let minIsr: number | undefined;
  const lagTrend = new Map<string, Series>();
  const committedSeries = new Map<string, Series>();
  const endHistory = new Map<number, { t: number; v: number }[]>();
  const historyMs = 30 * 60_000;

  const connect = async (): Promise<Admin> => {
    if (admin) return admin;
    const a = new Kafka({
      clientId: "gm-prober",
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
  const reset = () => {
    const a = admin;
    admin = undefined;
    void a?.disconnect().catch(() => undefined);
  };

  return {
    async collect(now = Date.now()): Promise<{ kafka: KafkaSignal; consumers: ConsumerProgress[] }> {
      try {
        const a = await connect();
        const cluster = await a.describeCluster();
        // The metadata keeps a killed broker until its session times out (broker.session.timeout.ms, 9 s);
        // a refused TCP connection says it at once, so detection does not wait for the controller.
        const reachable = await Promise.all(cluster.brokers.map((b) => tcpReachable(`${b.host}:${b.port}`, Math.min(1_000, opts.timeoutMs))));
        const expected = opts.expectedBrokers ?? opts.brokers.length;
        const brokers = reconcileBrokers(
          cluster.brokers.map((b, i) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}`, up: reachable[i] === true })),
          opts.brokers,
          expected,
        );

        const meta = await a.fetchTopicMetadata({ topics: [opts.topic] });
        const partitions = meta.topics[0]?.partitions ?? [];
        const aliveIds = new Set(brokers.filter((b) => b.up).map((b) => b.nodeId));
        const underReplicated = partitions.filter((p) => p.isr.length < p.replicas.length).length;
        const offline = partitions.filter((p) => p.leader < 0 || !aliveIds.has(p.leader)).length;
        if (minIsr === undefined) {
          const cfg = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: opts.topic, configNames: ["min.insync.replicas"] }] });
          minIsr = Number(cfg.resources[0]?.configEntries.find((e) => e.configName === "min.insync.replicas")?.configValue ?? 1);
        }

        const ends = await a.fetchTopicOffsets(opts.topic);
        for (const e of ends) {
          const h = endHistory.get(e.partition) ?? [];
          h.push({ t: now, v: Number(e.high) });
          while (h.length > 2 && h[0]!.t < now - historyMs) h.shift();
          endHistory.set(e.partition, h);
        }
        const described = await a.describeGroups(opts.groups);
        const groups: GroupLag[] = [];
        const consumers: ConsumerProgress[] = [];
        for (const group of opts.groups) {
          const fetched = await a.fetchOffsets({ groupId: group, topics: [opts.topic] });
          const committedByPartition = new Map((fetched[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          const parts: PartitionLag[] = ends
            .map((e) => {
              const c = committedByPartition.get(e.partition);
              const committed = c === undefined || c < 0 ? null : c;
              const end = Number(e.high);
              return { partition: e.partition, committedOffset: committed, endOffset: end, lag: Math.max(0, end - (committed ?? Number(e.low))) };
            })
            .sort((x, y) => x.partition - y.partition);
          const total = parts.reduce((s, p) => s + p.lag, 0);
          const trend = lagTrend.get(group) ?? new Series(opts.windowSeconds * 1000);
          trend.add(now, total);
          lagTrend.set(group, trend);
          const committedSum = parts.reduce((s, p) => s + (p.committedOffset ?? 0), 0);
          const cs = committedSeries.get(group) ?? new Series(historyMs);
          cs.add(now, committedSum);
          committedSeries.set(group, cs);
          const secs = parts.map((p) => lagSeconds(endHistory.get(p.partition) ?? [], p.committedOffset ?? 0, p.endOffset, now));
          groups.push({
            group,
            topic: opts.topic,
            totalLag: total,
            partitions: parts,
            trendPerSecond: trend.slopePerSecond(),
            lagSeconds: total === 0 ? 0 : Math.max(0, ...secs.filter((x): x is number => x !== null)),
          });
          const members = described.groups.find((g) => g.groupId === group)?.members.length ?? 0;
          consumers.push(judgeProgress({ group, members, committed: cs.all(), totalLag: total, lagTrend: trend.slopePerSecond(), stallSeconds: opts.stallSeconds, now }));
        }
        return {
          kafka: { brokersExpected: expected, brokers, underReplicatedPartitions: underReplicated, offlinePartitions: offline, minInsyncReplicas: minIsr, groups },
          consumers,
        };
      } catch (err) {
        reset();
        // A broker refusing connections is a finding, not a failed collection: the admin client often
        // fails first on the broker that just died, and the next round would come seconds later.
        const reachable = await Promise.all(opts.brokers.map((b) => tcpReachable(b, Math.min(1_000, opts.timeoutMs))));
        if (reachable.some((r) => !r)) {
          const expected = opts.expectedBrokers ?? opts.brokers.length;
          return {
            kafka: {
              brokersExpected: expected,
              brokers: opts.brokers.map((address, i) => ({ nodeId: -1, address, up: reachable[i] === true })),
              // unknown without metadata: counted as none rather than guessed
              underReplicatedPartitions: 0,
              offlinePartitions: 0,
              minInsyncReplicas: minIsr ?? 1,
              groups: [],
            },
            consumers: [],
          };
        }
        throw err;
      }
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
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
