/**
 * event-processor-service: a kafkajs consumer group on `game-events` writing into PostgreSQL,
 * idempotently by event id, committing offsets only after the database commit.
 *
 * kafkajs 2.2.4 is unmaintained and has recovery bugs drills hit: consumers that stop after a broker
 * restart (kafkajs#267), hang on a silently dropped connection (#1163) or restart endlessly (#1721).
 * So kafkajs never restarts the consumer itself (restartOnFailure → false); a supervisor rebuilds the
 * whole client on a crash or when no fetch happened for `stallTimeoutMs`, with a capped backoff.
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ProcessorConfig } from "./config.js";
import { createDb, migrate, type Db } from "./db.js";
import type { GameEvent } from "./events.js";
import { createKafka, sleep, withTimeout } from "./kafka.js";
import type { Logger } from "./log.js";
import type { ReadyResult, Service } from "./service.js";
import { Router } from "./http.js";

const INSERT_CHUNK = 1000;

interface Row {
  event: GameEvent;
  partition: number;
  offset: string;
}

/** One multi-row INSERT … ON CONFLICT DO NOTHING per chunk, all in one transaction. */
export async function storeEvents(db: Db, rows: Row[]): Promise<number> {
  if (rows.length === 0) return 0;
  return db.withClient(async (c) => {
    await c.query("BEGIN");
    try {
      let inserted = 0;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const chunk = rows.slice(i, i + INSERT_CHUNK);
        const ids: string[] = [], players: string[] = [], types: string[] = [], ts: string[] = [], payloads: string[] = [], parts: number[] = [], offsets: string[] = [];
        for (const r of chunk) {
          ids.push(r.event.id); players.push(r.event.playerId); types.push(r.event.type); ts.push(r.event.ts);
          payloads.push(JSON.stringify(r.event.payload)); parts.push(r.partition); offsets.push(r.offset);
        }
        const res = await c.query(
          `INSERT INTO events (id, player_id, type, ts, payload, kafka_partition, kafka_offset)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::int[], $7::bigint[])
           ON CONFLICT (id) DO NOTHING`,
          [ids, players, types, ts, payloads, parts, offsets],
        );
        inserted += res.rowCount ?? 0;
      }
      await c.query("COMMIT");
      return inserted;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  });
}

function parseEvent(value: Buffer | null): GameEvent | undefined {
  if (!value) return undefined;
  try {
    const e = JSON.parse(value.toString("utf8")) as GameEvent;
    if (typeof e.id !== "string" || typeof e.playerId !== "string" || typeof e.type !== "string" || typeof e.ts !== "string") return undefined;
    return e;
  } catch {
    return undefined;
  }
}

export async function startProcessor(cfg: ProcessorConfig, log: Logger, registry: Registry): Promise<Service> {
  const processed = new Counter({ name: "events_processed_total", help: "Events read from Kafka and committed to PostgreSQL", registers: [registry] });
  const inserted = new Counter({ name: "events_inserted_total", help: "Events newly inserted (not duplicates)", registers: [registry] });
  const errors = new Counter({ name: "processing_errors_total", help: "Processing errors by reason", labelNames: ["reason"] as const, registers: [registry] });
  const restarts = new Counter({ name: "kafka_consumer_restarts_total", help: "Consumer rebuilds by reason", labelNames: ["reason"] as const, registers: [registry] });
  const batchSeconds = new Histogram({ name: "processor_batch_duration_seconds", help: "Time to store and commit one batch", buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const db = createDb(cfg.pg, registry, log, cfg.service);

  let lastActivity = Date.now();
  let joined = false;
  let migrated = false;
  let stopping = false;
  let current: { kafka: Kafka; consumer: Consumer } | undefined;
  let wake: ((reason: string) => void) | undefined;

  new Gauge({
    name: "kafka_consumer_last_fetch_age_seconds",
    help: "Seconds since the consumer last fetched from Kafka",
    registers: [registry],
    collect() {
      this.set((Date.now() - lastActivity) / 1000);
    },
  });
  new Gauge({ name: "kafka_consumer_joined", help: "1 when the consumer is a member of its group", registers: [registry], collect() { this.set(joined ? 1 : 0); } });

  async function eachBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const end = batchSeconds.startTimer();
    const rows: Row[] = [];
    for (const m of batch.messages) {
      const event = parseEvent(m.value);
      if (event) rows.push({ event, partition: batch.partition, offset: m.offset });
      else {
        // A poison message is logged and skipped: it can never be stored, and must not block the partition.
        errors.inc({ reason: "unparseable" });
        log.error("unparseable message skipped", { partition: batch.partition, offset: m.offset });
      }
    }
    try {
      inserted.inc(await storeEvents(db, rows));
    } catch (err) {
      errors.inc({ reason: "database" });
      log.warn("database write failed; batch will be redelivered", { partition: batch.partition, err });
      throw err;
    }
    const last = batch.messages[batch.messages.length - 1]!;
    resolveOffset(last.offset);
    // Offsets are committed only after the database commit above.
    await current?.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
    await heartbeat();
    processed.inc(batch.messages.length);
    lastActivity = Date.now();
    end();
  }

  async function runOnce(): Promise<string> {
    const kafka = createKafka(cfg.kafka, log);
    const consumer = kafka.consumer({
      groupId: cfg.groupId,
      sessionTimeout: 15_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 30_000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000, restartOnFailure: async () => false },
    });
    current = { kafka, consumer };
    const ended = new Promise<string>((resolve) => {
      wake = resolve;
    });
    const { CRASH, FETCH_START, GROUP_JOIN, HEARTBEAT, STOP, REBALANCING } = consumer.events;
    consumer.on(CRASH, (e) => {
      errors.inc({ reason: "consumer_crash" });
      log.error("consumer crashed", { err: e.payload.error, restart: e.payload.restart });
      wake?.("crash");
    });
    consumer.on(FETCH_START, () => { lastActivity = Date.now(); });
    consumer.on(HEARTBEAT, () => { lastActivity = Date.now(); });
    consumer.on(GROUP_JOIN, (e) => { joined = true; lastActivity = Date.now(); log.info("joined consumer group", { memberId: e.payload.memberId, assignment: e.payload.memberAssignment }); });
    consumer.on(REBALANCING, () => { joined = false; });
    consumer.on(STOP, () => { joined = false; });
    const watchdog = setInterval(() => {
      if (Date.now() - lastActivity > cfg.stallTimeoutMs) wake?.("stalled");
    }, 1_000);
    try {
      lastActivity = Date.now();
      await withTimeout(consumer.connect(), cfg.kafka.requestTimeoutMs * 2, "consumer connect");
      await withTimeout(consumer.subscribe({ topics: [cfg.kafka.topic], fromBeginning: true }), cfg.kafka.requestTimeoutMs * 2, "subscribe");
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 3, eachBatch });
      return await ended;
    } catch (err) {
      log.warn("consumer start failed", { err });
      return "start_failed";
    } finally {
      clearInterval(watchdog);
      joined = false;
      wake = undefined;
      await withTimeout(consumer.disconnect(), 5_000, "consumer disconnect").catch(() => undefined);
    }
  }

  const supervisor = (async () => {
    let backoff = 250;
    // Migrations first (PostgreSQL may start later than us): bounded backoff, forever until stopped.
    while (!stopping && !migrated) {
      try {
        await migrate(db, log);
        migrated = true;
      } catch (err) {
        log.warn("migrations failed, retrying", { err });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, cfg.maxRestartBackoffMs);
      }
    }
    backoff = 250;
    while (!stopping) {
      const started = Date.now();
      const reason = await runOnce();
      if (stopping) break;
      restarts.inc({ reason });
      // A run that lasted a while resets the backoff: only a crash loop grows it.
      if (Date.now() - started > 60_000) backoff = 250;
      log.warn("rebuilding Kafka consumer", { reason, backoffMs: backoff });
      await sleep(backoff);
      backoff = Math.min(backoff * 2, cfg.maxRestartBackoffMs);
    }
  })();

  return {
    router: new Router(),
    async ready(): Promise<ReadyResult> {
      const dbCheck = await db
        .withClient((c) => c.query("SELECT 1"))
        .then(() => ({ ok: true }))
        .catch((err: Error) => ({ ok: false, detail: err.message }));
      return {
        ready: dbCheck.ok && migrated && joined,
        checks: { database: dbCheck, migrations: { ok: migrated }, consumerGroup: { ok: joined } },
      };
    },
    async stop() {
      stopping = true;
      wake?.("stopping");
      await withTimeout(supervisor, 10_000, "consumer shutdown").catch(() => undefined);
      await db.end().catch(() => undefined);
    },
  };
}
