/** The runbook's KafkaPort over the kafkajs admin API. */
import { Kafka, logLevel, type Admin } from "kafkajs";
import type { KafkaPort } from "@gm/runbook/ports";
import { reconcileBrokers } from "@gm/runbook/snapshot";

export function createKafkaPort(opts: { brokers: string[]; topic: string; timeoutMs?: number }): KafkaPort & { close(): Promise<void> } {
  let admin: Admin | undefined;
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const get = async (): Promise<Admin> => {
    if (admin) return admin;
    const a = new Kafka({ clientId: "gm-chaos", brokers: opts.brokers, logLevel: logLevel.NOTHING, connectionTimeout: Math.min(2_000, timeoutMs), requestTimeout: timeoutMs, retry: { retries: 1 } }).admin();
    await a.connect();
    admin = a;
    return a;
  };
  // A broker restart leaves the admin client with dead connections: rebuild it after any failure.
  const withAdmin = async <T>(fn: (a: Admin) => Promise<T>): Promise<T> => {
    try {
      return await fn(await get());
    } catch (err) {
      const a = admin;
      admin = undefined;
      void a?.disconnect().catch(() => undefined);
      throw err;
    }
  };
  return {
    brokers: () =>
      withAdmin(async (a) => {
        const cluster = await a.describeCluster();
        const known = cluster.brokers.map((b) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}`, up: true }));
        return reconcileBrokers(known, opts.brokers, opts.brokers.length);
      }),
    underReplicatedPartitions: () =>
      withAdmin(async (a) => {
        const meta = await a.fetchTopicMetadata({ topics: [opts.topic] });
        return (meta.topics[0]?.partitions ?? []).filter((p) => p.isr.length < p.replicas.length).length;
      }),
    groupLag: (group) =>
      withAdmin(async (a) => {
        const [ends, committed] = await Promise.all([a.fetchTopicOffsets(opts.topic), a.fetchOffsets({ groupId: group, topics: [opts.topic] })]);
        const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        return ends.reduce((sum, e) => {
          const c = byPartition.get(e.partition);
          return sum + Math.max(0, Number(e.high) - (c === undefined || c < 0 ? Number(e.low) : c));
        }, 0);
      }),
    groupMembers: (group) => withAdmin(async (a) => (await a.describeGroups([group])).groups[0]?.members.length ?? 0),
    async close() {
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}
