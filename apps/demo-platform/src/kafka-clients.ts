/** kafkajs clients with bounded retries and logs routed to our JSON logger. */
import { Kafka, logLevel, type LogEntry } from "kafkajs";
import Runner from "kafkajs/src/consumer/runner.js";
import type { KafkaConfig } from "./config.js";
import type { Logger } from "./log.js";

/** What a stopped consumer's fetch throws (guardStoppedRunner); kafkajs' runner retries it once and exits. */
export class StoppedRunnerError extends Error {
  constructor() {
    super("kafkajs consumer runner stopped: its fetch loop ends here");
    this.name = "StoppedRunnerError";
  }
}

let guarded = false;
let guardLog: Logger | undefined;
const stoppedRunners = new WeakSet<object>();

/**
 * kafkajs 2.2.4 can leave a stopped consumer's fetchers spinning on the event loop forever. Its fetch
 * manager re-creates its fetchers after a KafkaJSFetcherRebalanceError (the partitions' leaders moved:
 * brokers died or came back) without asking whether the runner was stopped meanwhile; the runner's
 * `fetch` of a stopped consumer returns [] without any I/O, so each new fetcher loops on microtasks
 * only, and nothing else in the process runs again: no timer, no HTTP answer, no log line. Seen in the
 * game day (2026-12-04): the supervisor rebuilt the consumer while the majority drill killed two
 * brokers, and the processor sat at 100% CPU with /health unanswered; a CPU profile taken through the
 * inspector was fetcher.start → fetchManager's fetch → validateShouldRebalance → runner.fetch, nothing
 * else. kafkajs fixed the empty-broker-list variant of this loop (tulios/kafkajs#1384, #1402), not this
 * one, and 2.2.4 is its last release. The guard makes a stopped runner's fetch throw instead: the
 * fetcher ends, the fetch manager rethrows (it only re-creates on a rebalance error), and the runner's
 * retry sees it is stopped and exits as on a normal stop. Idempotent; applied by createKafka.
 */
export function guardStoppedRunner(log?: Logger): void {
  guardLog ??= log;
  if (guarded) return;
  guarded = true;
  const fetch = Runner.prototype.fetch;
  Runner.prototype.fetch = async function (this: Runner, nodeId: number) {
    if (!this.running) {
      // a normal stop ends its fetchers before they fetch again: this is the re-created ones, logged once per consumer
      if (!stoppedRunners.has(this)) {
        stoppedRunners.add(this);
        guardLog?.warn("a stopped Kafka consumer's fetcher asked to fetch; ending it (kafkajs fetch-loop guard)", { nodeId });
      }
      throw new StoppedRunnerError();
    }
    return fetch.call(this, nodeId);
  };
}

export function createKafka(cfg: KafkaConfig, log: Logger, clientIdSuffix = ""): Kafka {
  guardStoppedRunner(log);
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
