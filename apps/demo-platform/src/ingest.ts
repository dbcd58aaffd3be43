/**
 * ingest-api: POST /events → Kafka topic `game-events` with acks=all and an idempotent producer.
 * 202 only after Kafka acknowledged; 400 names each bad field; 413 for oversized batches; 503 when
 * Kafka cannot take them.
 */
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { Counter, Gauge, type Registry } from "prom-client";
import type { IngestConfig } from "./config.js";
import { parseJson, validateBatch } from "./events.js";
import { BodyTooLarge, Router } from "./http.js";
import { createKafka, ensureTopic, sleep, withTimeout } from "./kafka-clients.js";
import type { Logger } from "./log.js";
import type { ReadyResult, Service } from "./service.js";

type Message = { key: string; value: string };
/** Upper bound of events in one coalesced produce request (keeps record batches well under 1 MB). */
const MAX_COALESCED = 5_000;

/** Causes kafkajs itself never retries (src/retry/index.js, UNRECOVERABLE_ERRORS): bugs, not a moving leader. */
const UNRECOVERABLE = ["RangeError", "ReferenceError", "SyntaxError", "TypeError"];

/**
 * Whether a failed send may be tried again before the produce deadline. kafkajs gives up after its own
 * retries (5 here, about 5 s) with KafkaJSNumberOfRetriesExceeded, which it marks non-retriable
 * (kafkajs src/retry/index.js) although its cause — a leader that is gone, metadata not yet moved — is
 * retriable. When the killed broker is also KRaft's active controller, the quorum first elects a new
 * controller (controller.quorum.fetch.timeout.ms, 2 s) and only then fences the broker (its session, 3 s),
 * which outlasts kafkajs' budget: giving up then answered 503 and rebuilt the producer under every
 * other partition's send.
 */
export function retriableWithinDeadline(err: unknown): boolean {
  const e = err as { name?: string; retriable?: boolean; cause?: { retriable?: boolean; name?: string } } | null;
  if (!e || typeof e !== "object") return true;
  if (e.name === "KafkaJSNumberOfRetriesExceeded") return e.cause?.retriable !== false && !UNRECOVERABLE.includes(e.cause?.name ?? "");
  return e.retriable !== false;
}

/** A producer that rebuilds its client when it is broken or stuck instead of staying so. */
class ResilientProducer {
  private kafka: Kafka | undefined;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private partitions = 0;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private failures = 0;
  lastSuccessAt = 0;
  lastFailureAt = 0;
  constructor(
    private readonly cfg: IngestConfig,
    private readonly log: Logger,
    private readonly rebuilds: Counter,
  ) {}

  private get(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const kafka = createKafka(this.cfg.kafka, this.log);
      // kafkajs retries a failed send only to brokers that did not answer the first attempt
      // (src/producer/sendMessages.js, `brokersWithoutResponse`): when a killed broker's partition moves
      // to a broker that already answered, its messages are dropped and send() still resolves — 202 for
      // events that never reached Kafka, which our first broker-kill drill caught. So sendPartition() sends
      // one partition per send(): a single partition has a single leader, and a retry always reaches it.
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
      });
      const admin = kafka.admin();
      try {
        await withTimeout(admin.connect(), this.cfg.produceTimeoutMs, "admin connect");
        const meta = await withTimeout(
          admin.fetchTopicMetadata({ topics: [this.cfg.kafka.topic] }),
          this.cfg.produceTimeoutMs,
          "topic metadata",
        );
        this.partitions = meta.topics[0]?.partitions.length ?? 0;
        if (this.partitions === 0) throw new Error(`topic ${this.cfg.kafka.topic} has no partitions`);
      } finally {
        void admin.disconnect().catch(() => undefined);
      }
      try {
        await withTimeout(producer.connect(), this.cfg.produceTimeoutMs, "producer connect");
      } catch (err) {
        void producer.disconnect().catch(() => undefined);
        throw err;
      }
      this.kafka = kafka;
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private rebuild(reason: string): void {
    const old = this.producer;
    this.producer = undefined;
    this.kafka = undefined;
    this.failures = 0;
    this.rebuilds.inc();
    this.log.warn("rebuilding Kafka producer", { reason });
    if (old) void old.disconnect().catch(() => undefined);
  }

  /** One queue per partition: a partition whose leader is gone holds back only the requests that wait for it. */
  private queues = new Map<number, { messages: Message[]; resolve: () => void; reject: (err: unknown) => void }[]>();
  private flushing = new Set<number>();

  /**
   * Resolves when every message is acknowledged by Kafka. Messages go to their partition's queue
   * (murmur2 of the key, as kafkajs' default partitioner, so a player's events keep their order);
   * requests that arrive while a partition's send is in flight are coalesced into its next send
   * (Kafka's linger, without a timer). Partitions send independently: when a broker dies, only the
   * partitions it led wait for the new leader — before, one coalesced send waited for its slowest
   * partition, so every request stalled behind the dead broker's (our first broker-kill drill under
   * the prober's own settings saw every synthetic player time out).
   */
  async send(messages: Message[]): Promise<void> {
    await this.get();
    const byPartition = new Map<number, Message[]>();
    const meta = Array.from({ length: this.partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [],
      isr: [],
      partitionErrorCode: 0,
      offlineReplicas: [],
    }));
    for (const m of messages) {
      const p = this.partitioner({ topic: this.cfg.kafka.topic, partitionMetadata: meta, message: m });
      const list = byPartition.get(p) ?? [];
      list.push(m);
      byPartition.set(p, list);
    }
    await Promise.all(
      [...byPartition].map(
        ([partition, msgs]) =>
          new Promise<void>((resolve, reject) => {
            const q = this.queues.get(partition) ?? [];
            this.queues.set(partition, q);
            q.push({ messages: msgs, resolve, reject });
            if (!this.flushing.has(partition)) void this.flush(partition);
          }),
      ),
    );
  }

  private async flush(partition: number): Promise<void> {
    this.flushing.add(partition);
    const queue = this.queues.get(partition)!;
    try {
      while (queue.length > 0) {
        const group: typeof queue = [];
        let count = 0;
        while (queue.length > 0 && (group.length === 0 || count + queue[0]!.messages.length <= MAX_COALESCED)) {
          const next = queue.shift()!;
          group.push(next);
          count += next.messages.length;
        }
        try {
          await this.sendNow(
            partition,
            group.flatMap((g) => g.messages),
          );
          for (const g of group) g.resolve();
        } catch (err) {
          for (const g of group) g.reject(err);
        }
      }
    } finally {
      this.flushing.delete(partition);
    }
  }

  /**
   * One partition's send, retried alone until produceTimeoutMs: after a leader dies, kafkajs refreshes
   * its metadata on the error and the retry reaches the new leader; the idempotent producer dedups what
   * a broker already has. One partition per send() because kafkajs retries a multi-partition send only
   * to the brokers that did not answer (src/producer/sendMessages.js, `brokersWithoutResponse`), so when
   * a partition moves to a broker that already answered its messages are dropped while send() resolves.
   */
  private async sendPartition(partition: number, msgs: Message[]): Promise<void> {
    const deadline = Date.now() + this.cfg.produceTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        // the current producer at each attempt: another partition's failure may have rebuilt it
        const producer = await this.get();
        const left = Math.max(100, deadline - Date.now());
        await withTimeout(
          producer.send({ topic: this.cfg.kafka.topic, acks: -1, timeout: left, messages: msgs.map((m) => ({ ...m, partition })) }),
          left,
          "produce",
        );
        return;
      } catch (err) {
        const wait = Math.min(200 * attempt, 1_000);
        if (!retriableWithinDeadline(err) || Date.now() + wait >= deadline) throw err;
        await sleep(wait);
      }
    }
  }

  private async sendNow(partition: number, messages: Message[]): Promise<void> {
    try {
      await this.sendPartition(partition, messages);
      this.failures = 0;
      this.lastSuccessAt = Date.now();
    } catch (err) {
      this.failures += 1;
      this.lastFailureAt = Date.now();
      // Rebuild only a producer that is broken (a fatal error) or stuck (nothing acknowledged on any
      // partition for a whole produce timeout): one partition whose leader is still moving is not that,
      // and a rebuild disconnects the producer under every other partition's send.
      const stuck = Date.now() - this.lastSuccessAt > this.cfg.produceTimeoutMs;
      if (!retriableWithinDeadline(err) || (this.failures >= 3 && stuck)) this.rebuild(err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}

export async function startIngest(cfg: IngestConfig, log: Logger, registry: Registry): Promise<Service> {
  const accepted = new Counter({
    name: "ingest_events_accepted_total",
    help: "Events acknowledged by Kafka and answered 202",
    registers: [registry],
  });
  const rejected = new Counter({
    name: "ingest_events_rejected_total",
    help: "Batches refused, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const rebuilds = new Counter({
    name: "kafka_producer_rebuilds_total",
    help: "Times the Kafka producer was rebuilt after failures",
    registers: [registry],
  });
  const producer = new ResilientProducer(cfg, log, rebuilds);
  new Gauge({
    name: "kafka_producer_last_success_age_seconds",
    help: "Seconds since the last acknowledged produce (-1 before the first)",
    registers: [registry],
    collect() {
      this.set(producer.lastSuccessAt ? (Date.now() - producer.lastSuccessAt) / 1000 : -1);
    },
  });

  // The topic is created at start when missing; bounded retries, in the background.
  let topicReady = false;
  void (async () => {
    for (let attempt = 1; attempt <= 30 && !topicReady; attempt++) {
      try {
        await ensureTopic(createKafka(cfg.kafka, log, "-admin"), cfg.kafka, log);
        topicReady = true;
      } catch (err) {
        log.warn("topic check failed, retrying", { attempt, err });
        await sleep(Math.min(500 * attempt, 5_000));
      }
    }
  })();

  const router = new Router().add("POST", "/events", async (req) => {
    let raw: Buffer;
    try {
      raw = await req.readBody(cfg.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) rejected.inc({ reason: "too_large" });
      throw err;
    }
    let body: unknown;
    try {
      // numbers a double cannot hold as sent are marked, and refused by validation (400), never altered
      body = parseJson(raw.toString("utf8"));
    } catch (err) {
      rejected.inc({ reason: "malformed" });
      return { status: 400, body: { error: "request body is not valid JSON", problems: [{ path: "$", message: (err as Error).message }] } };
    }
    const result = validateBatch(body, cfg.maxBatchEvents);
    if (!result.ok) {
      rejected.inc({ reason: result.tooLarge ? "too_large" : "invalid" });
      return {
        status: result.tooLarge ? 413 : 400,
        body: { error: result.tooLarge ? "batch too large" : "invalid events", problems: result.problems },
      };
    }
    try {
      await producer.send(result.events.map((e) => ({ key: e.playerId, value: JSON.stringify(e) })));
    } catch (err) {
      rejected.inc({ reason: "kafka_unavailable" });
      log.warn("produce failed", { events: result.events.length, err });
      return {
        status: 503,
        body: { error: "Kafka cannot take events now; retry later", detail: (err as Error).message },
        headers: { "retry-after": "1" },
      };
    }
    accepted.inc(result.events.length);
    return { status: 202, body: { accepted: result.events.length } };
  });

  return {
    router,
    async ready(): Promise<ReadyResult> {
      const kafkaOk = await withTimeout(
        (async () => {
          const admin = createKafka({ ...cfg.kafka, requestTimeoutMs: 2_000, connectionTimeoutMs: 1_000 }, log, "-ready").admin({
            retry: { retries: 0 },
          });
          try {
            await admin.connect();
            await admin.fetchTopicMetadata({ topics: [cfg.kafka.topic] });
            return { ok: true };
          } finally {
            void admin.disconnect().catch(() => undefined);
          }
        })(),
        3_000,
        "kafka metadata",
      ).catch((err: Error) => ({ ok: false, detail: err.message }));
      return { ready: kafkaOk.ok, checks: { kafka: kafkaOk } };
    },
    stop: () => producer.close(),
  };
}
