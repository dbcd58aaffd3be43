/** kafkajs clients with bounded retries and logs routed to our JSON logger. */
import { Kafka, logLevel, type LogEntry } from "kafkajs";
import type { KafkaConfig } from "./config.js";
import type { Logger } from "./log.js";

export function createKafka(cfg: KafkaConfig, log: Logger, clientIdSuffix = ""): Kafka {
  return new Kafka({
    clientId: cfg.clientId + clientIdSuffix,
    brokers: cfg.brokers,
    connectionTimeout: cfg.connectionTimeoutMs,
    requestTimeout: cfg.requestTimeoutMs,
    // Every retry is bounded: kafkajs' defaults keep going for a long time after a broker dies.
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const fields = { component: "kafkajs", ...rest };
        if (level <= logLevel.ERROR) log.error(message, fields);
        else log.warn(message, fields);
      },
  });
}

export async function ensureTopic(kafka: Kafka, cfg: KafkaConfig, log: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      timeout: cfg.requestTimeoutMs,
      topics: [{ topic: cfg.topic, numPartitions: cfg.topicPartitions, replicationFactor: cfg.replicationFactor }],
    });
    if (created) log.info("topic created", { topic: cfg.topic, partitions: cfg.topicPartitions, replicationFactor: cfg.replicationFactor });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
