/**
 * Kafka signals through the kafkajs admin API: brokers alive against those expected, under-replicated
 * and offline partitions, per group/topic/partition lag and its total, the trend of the total, lag in
 * seconds behind the newest message, and consumer progress judged the way Burrow does, in seconds.
 * The reads themselves (and the lag) are the Kafka module's of packages/platform; this file keeps what
 * only the prober needs: history, trends, lag in seconds and the progress verdict.
 */
import {
  brokerStates,
  createKafkaAdmin,
  endOffsets,
  groupLag,
  minInsyncReplicas,
  partitionHealth,
  tcpReachable,
  totalLag,
} from "@gm/platform/kafka-admin";
import type { ConsumerProgress, GroupLag, KafkaSignal } from "@gm/runbook/snapshot";
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
  const admin = createKafkaAdmin({ brokers: opts.brokers, clientId: "gm-prober", timeoutMs: opts.timeoutMs });
  let minIsr: number | undefined;
  const lagTrend = new Map<string, Series>();
  const committedSeries = new Map<string, Series>();
  const endHistory = new Map<number, { t: number; v: number }[]>();
  const historyMs = 30 * 60_000;
  const probeMs = Math.min(1_000, opts.timeoutMs);
  const expected = opts.expectedBrokers ?? opts.brokers.length;

  const read = (now: number) =>
    admin.use(async (a): Promise<{ kafka: KafkaSignal; consumers: ConsumerProgress[] }> => {
      const brokers = await brokerStates(a, opts.brokers, expected, probeMs);
      const { underReplicated, offline } = await partitionHealth(a, opts.topic, new Set(brokers.filter((b) => b.up).map((b) => b.nodeId)));
      if (minIsr === undefined) minIsr = await minInsyncReplicas(a, opts.topic);

      const ends = await endOffsets(a, opts.topic);
      for (const e of ends) {
        const h = endHistory.get(e.partition) ?? [];
        h.push({ t: now, v: e.high });
        while (h.length > 2 && h[0]!.t < now - historyMs) h.shift();
        endHistory.set(e.partition, h);
      }
      const described = await a.describeGroups(opts.groups);
      const groups: GroupLag[] = [];
      const consumers: ConsumerProgress[] = [];
      for (const group of opts.groups) {
        const parts = await groupLag(a, opts.topic, group, ends);
        const total = totalLag(parts);
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
        consumers.push(
          judgeProgress({
            group,
            members,
            committed: cs.all(),
            totalLag: total,
            lagTrend: trend.slopePerSecond(),
            stallSeconds: opts.stallSeconds,
            now,
          }),
        );
      }
      return {
        kafka: {
          brokersExpected: expected,
          brokers,
          underReplicatedPartitions: underReplicated,
          offlinePartitions: offline,
          minInsyncReplicas: minIsr,
          groups,
        },
        consumers,
      };
    });

  return {
    async collect(now = Date.now()): Promise<{ kafka: KafkaSignal; consumers: ConsumerProgress[] }> {
      try {
        return await read(now);
      } catch (err) {
        // A broker refusing connections is a finding, not a failed collection: the admin client often
        // fails first on the broker that just died, and the next round would come seconds later.
        const reachable = await Promise.all(opts.brokers.map((b) => tcpReachable(b, probeMs)));
        if (reachable.some((r) => !r)) {
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
    close: () => admin.close(),
  };
}
