/**
 * event-processor-service: a kafkajs consumer group on `game-events` writing into PostgreSQL,
 * idempotently by event id, committing offsets only after the database commit. A poison message (not
 * an event, or content PostgreSQL refuses) goes to the dead-letter topic instead of blocking its
 * partition; an infrastructure failure (connection lost, timeout) has the batch redelivered.
 *
 * kafkajs 2.2.4 is unmaintained and has recovery bugs drills hit: consumers that stop after a broker
 * restart (kafkajs#267), hang on a silently dropped connection (#1163) or restart endlessly (#1721).
 * So kafkajs never restarts the consumer itself (restartOnFailure → false); a supervisor rebuilds the
 * whole client on a crash, when no fetch happened for `stallTimeoutMs`, or when a call to the group
 * coordinator (the offset commit, the heartbeat) has gone unanswered for `coordinatorTimeoutMs`, with a
 * capped backoff. The last one is what a drill found: with the broker that coordinated the group
 * SIGKILLed, kafkajs kept retrying that broker's address for its commits (about 20 s, until the broker
 * came back and answered NOT_COORDINATOR), its fetches still going, while the new coordinator saw a group
 * with no member and the lag passed 10,000 (high-consumer-lag P1). A rebuilt client asks for the
 * coordinator again and joins once that coordinator has dropped the member it replaced (the session
 * timeout: its LeaveGroup went to the dead broker).
 */
import { type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage, Partitioners, type Producer } from "kafkajs";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ProcessorConfig } from "./config.js";
import { createDb, migrate, type Db } from "./db.js";
import { checkEvent, type FieldProblem, type GameEvent, parseJson } from "./events.js";
import { createKafka, ensureTopic, sleep, withTimeout } from "./kafka-clients.js";
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
        const ids: string[] = [],
          players: string[] = [],
          types: string[] = [],
          ts: string[] = [],
          payloads: string[] = [],
          parts: number[] = [],
          offsets: string[] = [];
        for (const r of chunk) {
          ids.push(r.event.id);
          players.push(r.event.playerId);
          types.push(r.event.type);
          ts.push(r.event.ts);
          payloads.push(JSON.stringify(r.event.payload));
          parts.push(r.partition);
          offsets.push(r.offset);
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

/** Why a message can never be stored: the `reason` label of the metrics, and the words of the log line and DLQ header. */
export type PoisonKind = "unparseable" | "invalid" | "refused_by_database";
export interface Poison {
  kind: PoisonKind;
  reason: string;
}

/**
 * A message's event, or why it is poison: not JSON, or not an event ingest-api would have acknowledged
 * (the same checkEvent: fields, and nothing PostgreSQL cannot store). Another producer may write
 * straight to the topic, so nothing read from Kafka is trusted.
 */
export function parseMessage(value: Buffer | null): { event: GameEvent } | Poison {
  if (!value) return { kind: "unparseable", reason: "message has no value" };
  let parsed: unknown;
  try {
    // another producer may write a number a double cannot hold: invalid (dead-lettered), never stored altered
    parsed = parseJson(value.toString("utf8"));
  } catch (err) {
    return { kind: "unparseable", reason: `not valid JSON: ${(err as Error).message}` };
  }
  const problems: FieldProblem[] = [];
  if (checkEvent(parsed, "$", problems)) return { event: parsed };
  return { kind: "invalid", reason: `invalid event: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}` };
}

/**
 * SQLSTATEs that say PostgreSQL refuses the row's content (https://www.postgresql.org/docs/15/errcodes-appendix.html):
 * class 22, data exception, and the two integrity checks on a value. Storing the row again can never
 * succeed, so it is poison; anything else (a lost connection, 57014 statement timeout, 57P01 a
 * terminated session, a pool timeout) is the infrastructure's and is retried by redelivery.
 */
const REFUSED_CONTENT: Record<string, string> = {
  "22001": "string_data_right_truncation",
  "22003": "numeric_value_out_of_range",
  "22007": "invalid_datetime_format",
  "22008": "datetime_field_overflow",
  "22009": "invalid_time_zone_displacement_value",
  "22021": "character_not_in_repertoire",
  "22P02": "invalid_text_representation",
  "22P05": "untranslatable_character",
  "23502": "not_null_violation",
  "23514": "check_violation",
};

/** The reason when `err` is PostgreSQL refusing a row's content; undefined for an infrastructure failure. */
export function refusedContent(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !(code in REFUSED_CONTENT || code.startsWith("22"))) return undefined;
  return `PostgreSQL refused the row: SQLSTATE ${code} ${REFUSED_CONTENT[code] ?? "data_exception"}: ${(err as Error).message}`;
}

/**
 * storeEvents, and when PostgreSQL refuses a row's content, the rows it refuses found by halving the
 * batch (each half its own transaction, so about 2·log2(n) statements for one poison row among n)
 * while every other row is stored. Infrastructure failures are thrown, as from storeEvents.
 */
export async function storeIsolating(db: Db, rows: Row[]): Promise<{ inserted: number; refused: { row: Row; reason: string }[] }> {
  try {
    return { inserted: await storeEvents(db, rows), refused: [] };
  } catch (err) {
    const reason = refusedContent(err);
    if (reason === undefined) throw err;
    if (rows.length === 1) return { inserted: 0, refused: [{ row: rows[0]!, reason }] };
    const half = Math.ceil(rows.length / 2);
    const a = await storeIsolating(db, rows.slice(0, half));
    const b = await storeIsolating(db, rows.slice(half));
    return { inserted: a.inserted + b.inserted, refused: [...a.refused, ...b.refused] };
  }
}

/** The first wait before rebuilding the consumer, and where it starts again after a run that worked. */
export const INITIAL_RESTART_BACKOFF_MS = 250;

/**
 * The wait before the next rebuild of the consumer, given the one before (0 for none) and how the
 * run that just ended went. Only a crash loop grows it: a run that joined its group, or lasted a minute, worked, and a
 * new fault ended it, so the next rebuild comes at once. Rolling broker restarts (one broker every
 * 20 s, the cluster available throughout) crash a kafkajs consumer at every restart, so no run lasted
 * a minute: with the minute as the only reset the wait stayed at its 10 s cap, a rebuild came after the
 * next broker was already down, and the processors stored nothing for minutes (npm run torture:platform).
 */
export function restartBackoff(previousMs: number, run: { joined: boolean; ranMs: number }, maxMs: number): number {
  if (run.joined || run.ranMs > 60_000) return INITIAL_RESTART_BACKOFF_MS;
  return Math.min(Math.max(previousMs * 2, INITIAL_RESTART_BACKOFF_MS), maxMs);
}

export async function startProcessor(cfg: ProcessorConfig, log: Logger, registry: Registry): Promise<Service> {
  const processed = new Counter({
    name: "events_processed_total",
    help: "Events read from Kafka and committed to PostgreSQL",
    registers: [registry],
  });
  const inserted = new Counter({ name: "events_inserted_total", help: "Events newly inserted (not duplicates)", registers: [registry] });
  const errors = new Counter({
    name: "processing_errors_total",
    help: "Processing errors by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const restarts = new Counter({
    name: "kafka_consumer_restarts_total",
    help: "Consumer rebuilds by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: "processing_dead_lettered_total",
    help: "Poison messages (never storable) written to the dead-letter topic instead of blocking their partition, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: "processor_batch_duration_seconds",
    help: "Time to store and commit one batch",
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const db = createDb(cfg.pg, registry, log, cfg.service);

  let lastActivity = Date.now();
  /** the group coordinator's calls in flight (commit + heartbeat of a batch), by when each began */
  const coordinatorCalls = new Map<object, number>();
  let joined = false;
  let migrated = false;
  let stopping = false;
  /**
   * One consumer's client. `retired` rejects once the supervisor gives the client up: its batch handler
   * abandons the calls it still awaits (a commit hung on a dead coordinator), so the old consumer stops
   * instead of living on beside its replacement as a second member of the group.
   */
  type Run = { kafka: Kafka; consumer: Consumer; dlq?: Promise<Producer>; retired: Promise<never>; isRetired: boolean };
  let wake: ((reason: string) => void) | undefined;
  let dlqTopicReady = false;

  /** The dead-letter topic, created like the main topic (its partitions and replication factor); once it exists, never asked again. */
  async function ensureDlqTopic(): Promise<void> {
    if (dlqTopicReady) return;
    await ensureTopic(createKafka(cfg.kafka, log, "-admin"), { ...cfg.kafka, topic: cfg.dlqTopic }, log);
    dlqTopicReady = true;
  }

  /** The dead-letter producer of the current client, connected on first use (acks=all, idempotent, like ingest-api's). */
  function dlqProducer(run: Run): Promise<Producer> {
    run.dlq ??= (async () => {
      await ensureDlqTopic();
      const producer = run.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await withTimeout(producer.connect(), cfg.kafka.requestTimeoutMs * 2, "dead-letter producer connect");
      return producer;
    })().catch((err: unknown) => {
      run.dlq = undefined;
      throw err;
    });
    return run.dlq;
  }

  /**
   * Writes poison messages to the dead-letter topic (key, value and headers as read, plus where they
   * came from and why) and resolves once Kafka acknowledged them; throws otherwise, so the batch is
   * redelivered and its offset not committed.
   */
  async function deadLetter(
    run: Run,
    topic: string,
    partition: number,
    poison: { message: KafkaMessage; kind: PoisonKind; reason: string }[],
  ): Promise<void> {
    const producer = await dlqProducer(run);
    await producer.send({
      topic: cfg.dlqTopic,
      acks: -1,
      timeout: cfg.kafka.requestTimeoutMs,
      messages: poison.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers as IHeaders | undefined),
          "gm-dlq-reason": reason,
          "gm-dlq-source": `${topic}/${partition}/${message.offset}`,
        },
      })),
    });
    for (const { message, kind, reason } of poison) {
      deadLettered.inc({ reason: kind });
      errors.inc({ reason: kind });
      log.error("poison message dead-lettered", { topic, partition, offset: message.offset, dlqTopic: cfg.dlqTopic, reason });
    }
  }

  new Gauge({
    name: "kafka_consumer_last_fetch_age_seconds",
    help: "Seconds since the consumer last fetched from Kafka",
    registers: [registry],
    collect() {
      this.set((Date.now() - lastActivity) / 1000);
    },
  });
  new Gauge({
    name: "kafka_consumer_joined",
    help: "1 when the consumer is a member of its group",
    registers: [registry],
    collect() {
      this.set(joined ? 1 : 0);
    },
  });

  async function eachBatch(run: Run, { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (run.isRetired || !isRunning() || isStale() || batch.messages.length === 0) return;
    const end = batchSeconds.startTimer();
    const rows: Row[] = [];
    const byOffset = new Map<string, KafkaMessage>();
    // A poison message can never be stored and must not block its partition: it goes to the dead-letter
    // topic, with its reason, before the batch's offset is committed.
    const poison: { message: KafkaMessage; kind: PoisonKind; reason: string }[] = [];
    for (const m of batch.messages) {
      const parsed = parseMessage(m.value);
      if ("event" in parsed) {
        rows.push({ event: parsed.event, partition: batch.partition, offset: m.offset });
        byOffset.set(m.offset, m);
      } else poison.push({ message: m, ...parsed });
    }
    try {
      const stored = await storeIsolating(db, rows);
      inserted.inc(stored.inserted);
      for (const { row, reason } of stored.refused)
        poison.push({ message: byOffset.get(row.offset)!, kind: "refused_by_database", reason });
    } catch (err) {
      errors.inc({ reason: "database" });
      log.warn("database write failed; batch will be redelivered", { partition: batch.partition, err });
      throw err;
    }
    if (poison.length > 0) {
      try {
        await Promise.race([deadLetter(run, batch.topic, batch.partition, poison), run.retired]);
      } catch (err) {
        errors.inc({ reason: "dead_letter" });
        log.warn("dead-letter write failed; batch will be redelivered", { partition: batch.partition, dlqTopic: cfg.dlqTopic, err });
        throw err;
      }
    }
    const last = batch.messages[batch.messages.length - 1]!;
    resolveOffset(last.offset);
    // Offsets are committed only after the database commit and the dead-letter write above. Both calls go
    // to the group coordinator; the watchdog in runOnce rebuilds the client when one hangs (see above).
    const call = {};
    coordinatorCalls.set(call, Date.now());
    try {
      await Promise.race([
        (async () => {
          await run.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
          ]);
          await heartbeat();
        })(),
        run.retired,
      ]);
    } finally {
      coordinatorCalls.delete(call);
    }
    processed.inc(batch.messages.length);
    lastActivity = Date.now();
    end();
  }

  /** One consumer's life: why it ended, and whether it ever joined its group. */
  async function runOnce(): Promise<{ reason: string; joined: boolean }> {
    let joinedThisRun = false;
    const kafka = createKafka(cfg.kafka, log);
    const consumer = kafka.consumer({
      groupId: cfg.groupId,
      // 10 s: a rebuilt consumer (see the coordinator watchdog) joins once the coordinator has dropped the
      // member it replaced, whose LeaveGroup went to the dead broker: at 15 s the lag passed 10,000 meanwhile.
      // A batch never holds the loop that long (statements end at PG_STATEMENT_TIMEOUT_MS, 5 s).
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 30_000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000, restartOnFailure: async () => false },
    });
    let retire!: (err: Error) => void;
    const run: Run = {
      kafka,
      consumer,
      isRetired: false,
      retired: new Promise<never>((_, reject) => {
        retire = reject;
      }),
    };
    run.retired.catch(() => undefined);
    const ended = new Promise<string>((resolve) => {
      wake = resolve;
    });
    const { CRASH, FETCH_START, GROUP_JOIN, HEARTBEAT, STOP, REBALANCING } = consumer.events;
    consumer.on(CRASH, (e) => {
      errors.inc({ reason: "consumer_crash" });
      log.error("consumer crashed", { err: e.payload.error, restart: e.payload.restart });
      wake?.("crash");
    });
    consumer.on(FETCH_START, () => {
      lastActivity = Date.now();
    });
    consumer.on(HEARTBEAT, () => {
      lastActivity = Date.now();
    });
    consumer.on(GROUP_JOIN, (e) => {
      if (run.isRetired) {
        // the guard behind `retired`: a given-up client must never be a member beside its replacement
        log.warn("a retired consumer joined its group; disconnecting it", { memberId: e.payload.memberId });
        void consumer.disconnect().catch(() => undefined);
        return;
      }
      joined = true;
      joinedThisRun = true;
      lastActivity = Date.now();
      log.info("joined consumer group", { memberId: e.payload.memberId, assignment: e.payload.memberAssignment });
    });
    consumer.on(REBALANCING, () => {
      joined = false;
    });
    consumer.on(STOP, () => {
      joined = false;
    });
    coordinatorCalls.clear();
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (now - lastActivity > cfg.stallTimeoutMs) wake?.("stalled");
      const oldest = Math.min(...coordinatorCalls.values());
      if (now - oldest > cfg.coordinatorTimeoutMs) {
        log.warn("group coordinator not answering; rebuilding the consumer to find it again", {
          waitedMs: now - oldest,
          coordinatorTimeoutMs: cfg.coordinatorTimeoutMs,
        });
        coordinatorCalls.clear();
        wake?.("coordinator_unanswered");
      }
    }, 500);
    try {
      lastActivity = Date.now();
      await withTimeout(consumer.connect(), cfg.kafka.requestTimeoutMs * 2, "consumer connect");
      await withTimeout(
        consumer.subscribe({ topics: [cfg.kafka.topic], fromBeginning: true }),
        cfg.kafka.requestTimeoutMs * 2,
        "subscribe",
      );
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 3,
        eachBatch: (payload) => eachBatch(run, payload),
      });
      return { reason: await ended, joined: joinedThisRun };
    } catch (err) {
      log.warn("consumer start failed", { err });
      return { reason: "start_failed", joined: joinedThisRun };
    } finally {
      clearInterval(watchdog);
      joined = false;
      wake = undefined;
      // before disconnecting: kafkajs' disconnect waits for the batch in flight, which may be waiting on
      // a coordinator that will never answer (with the wait timed out, that consumer used to rejoin later
      // beside its replacement, a second member of the group in this process)
      run.isRetired = true;
      retire(new Error("consumer retired by the supervisor; its calls to Kafka are abandoned"));
      await withTimeout(consumer.disconnect(), 5_000, "consumer disconnect").catch(() => undefined);
      const dlq = run.dlq;
      if (dlq)
        await withTimeout(
          dlq.then((p) => p.disconnect()),
          5_000,
          "dead-letter producer disconnect",
        ).catch(() => undefined);
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
    backoff = 0; // no rebuild yet: the first waits INITIAL_RESTART_BACKOFF_MS
    // Created at start (in the background: the consumer does not wait for it), so it exists before the
    // first poison message; if Kafka cannot yet, the first dead-letter write creates it.
    void ensureDlqTopic().catch((err: unknown) =>
      log.warn("dead-letter topic check failed; retried on first use", { topic: cfg.dlqTopic, err }),
    );
    while (!stopping) {
      const started = Date.now();
      const { reason, joined: worked } = await runOnce();
      if (stopping) break;
      restarts.inc({ reason });
      // only a crash loop grows the wait: see restartBackoff
      const wait = restartBackoff(backoff, { joined: worked, ranMs: Date.now() - started }, cfg.maxRestartBackoffMs);
      log.warn("rebuilding Kafka consumer", { reason, backoffMs: wait });
      await sleep(wait);
      backoff = wait;
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
