/**
 * Poison events against the real stack (1 broker; the services run the image bundled from this
 * package's src by `npm run build`): ingest-api refuses what PostgreSQL cannot store, and what still
 * reaches the topic — written straight to Kafka by another producer — goes to the dead-letter topic
 * with a metric and a log line, while the good events after it on the same partition are stored.
 */
import { execFileSync } from "node:child_process";
import { Kafka, logLevel, type KafkaMessage } from "kafkajs";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStored, makeEvents, waitStored } from "@gm/stack/load-generator";
import { startStack, waitFor, type Stack } from "@gm/stack/stack";
import { createDb, DbUnavailable } from "./db.js";
import { createLogger } from "./log.js";
import { storeIsolating } from "./processor.js";

const STARTUP = 300_000;

describe("poison events", { timeout: 240_000 }, () => {
  let stack: Stack;
  let ingest: string;
  let processor: string;
  const runId = `poison-${Date.now().toString(36)}`;

  beforeAll(async () => {
    stack = await startStack({ brokers: 1, id: `t-poison-${Date.now().toString(36)}`, onProgress: (m) => console.log(m) });
    ingest = stack.endpoints.services["ingest-api"];
    processor = stack.endpoints.services["event-processor-service"][0]!;
  }, STARTUP);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  const post = async (body: string) => {
    const res = await fetch(`${ingest}/events`, { method: "POST", body, headers: { "content-type": "application/json" } });
    return { status: res.status, body: (await res.json()) as { problems?: { path: string; message: string }[] } };
  };

  it("ingest-api answers 400 with the path of each field PostgreSQL could not store, and acknowledges none of it", async () => {
    const [a, b, c] = makeEvents(`${runId}-ingest`, 3);
    const res = await post(
      JSON.stringify([
        { ...a!, id: `${a!.id}\u0000`, payload: { ["k\u0000"]: 1, s: "x\ud800" } },
        { ...b!, playerId: "\udc00", ts: "0000-01-01T00:00:00Z" },
        { ...c!, ts: "2026-02-30T10:00:00+16:00" },
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.problems?.map((p) => p.path)).toEqual([
      "[0].id",
      '[0].payload["k\\u0000"]',
      "[0].payload.s",
      "[1].playerId",
      "[1].ts",
      "[2].ts",
    ]);
    // A payload 10,000 levels deep: 400 naming the bound (it was a 500, RangeError, before).
    const deep = `[{"id":"${runId}-deep","playerId":"p","type":"t","ts":"2026-11-27T10:00:00Z","payload":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}]`;
    const tooDeep = await post(deep);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.problems).toEqual([
      { path: `[0].payload${".a".repeat(32)}`, message: "expected at most 32 levels of nested objects and arrays in payload, got more" },
    ]);
    expect((await checkStored(stack.endpoints.postgresUrl, [a!.id, b!.id, c!.id, `${runId}-deep`])).found).toBe(0);
  });

  it("dead-letters poison written straight to the topic and stores the good events after it on the same partition", async () => {
    const { topic, kafkaBootstrapServers } = stack.endpoints;
    const dlqTopic = `${topic}.dlq`;
    const kafka = new Kafka({ clientId: `${runId}-test`, brokers: kafkaBootstrapServers, logLevel: logLevel.NOTHING });
    const good = makeEvents(`${runId}-good`, 20);
    const [p1, p2, p3] = makeEvents(`${runId}-bad`, 3);
    // The ids of the poison that parses, to find them in the dead-letter topic.
    const poison: { value: string | null; why: RegExp }[] = [
      { value: "{not json", why: /^not valid JSON: / },
      { value: null, why: /^message has no value$/ },
      { value: JSON.stringify({ ...p1!, id: `${p1!.id}\u0000` }), why: /^invalid event: \$\.id: contains a NUL character/ },
      { value: JSON.stringify({ ...p2!, ts: "0000-01-01T00:00:00Z" }), why: /^invalid event: \$\.ts: year 0000 is out of range/ },
      {
        value: JSON.stringify({ ...p3!, payload: { s: "x\ud800" } }),
        why: /^invalid event: \$\.payload\.s: contains a lone UTF-16 surrogate/,
      },
    ];
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const offsets: string[] = [];
    try {
      // One send: the poison first, then half of the good events, all on partition 0 (one fetch batch);
      // then the other half in a later batch, behind it on the same partition.
      const first = await producer.send({
        topic,
        acks: -1,
        messages: [
          ...poison.map((p, i) => ({ key: `${runId}-poison-${i}`, value: p.value, partition: 0 })),
          ...good.slice(0, 10).map((e) => ({ key: e.playerId, value: JSON.stringify(e), partition: 0 })),
        ],
      });
      const base = BigInt(first[0]!.baseOffset!);
      for (let i = 0; i < poison.length; i++) offsets.push((base + BigInt(i)).toString());
      await producer.send({
        topic,
        acks: -1,
        messages: good.slice(10).map((e) => ({ key: e.playerId, value: JSON.stringify(e), partition: 0 })),
      });
    } finally {
      await producer.disconnect();
    }

    const stored = await waitStored(
      stack.endpoints.postgresUrl,
      good.map((e) => e.id),
      60_000,
    );
    expect(stored.lost).toEqual([]);
    expect(stored.duplicates).toBe(0);

    // Every poison message is in the dead-letter topic, once, with where it came from and why.
    const consumer = kafka.consumer({ groupId: `${runId}-dlq-reader` });
    const dead: KafkaMessage[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.key?.toString().startsWith(`${runId}-poison-`)) dead.push(message);
        },
      });
      await waitFor("the poison messages in the dead-letter topic", () => (dead.length >= poison.length ? true : undefined), 30_000);
    } finally {
      await consumer.disconnect();
    }
    const byKey = new Map(dead.map((m) => [m.key!.toString(), m]));
    expect(dead).toHaveLength(poison.length);
    poison.forEach((p, i) => {
      const m = byKey.get(`${runId}-poison-${i}`);
      expect(m, `poison ${i}`).toBeDefined();
      expect(m!.value === null ? null : m!.value.toString()).toBe(p.value);
      expect(m!.headers?.["gm-dlq-source"]?.toString()).toBe(`${topic}/0/${offsets[i]}`);
      expect(m!.headers?.["gm-dlq-reason"]?.toString()).toMatch(p.why);
    });

    // The metric counts them, by reason.
    const metrics = await (await fetch(`${processor}/metrics`)).text();
    const count = (reason: string) =>
      Number(new RegExp(`^processing_dead_lettered_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
    expect({ unparseable: count("unparseable"), invalid: count("invalid"), refused_by_database: count("refused_by_database") }).toEqual({
      unparseable: 2,
      invalid: 3,
      refused_by_database: 0,
    });

    // A JSON log line per poison message, naming topic, partition, offset and the reason.
    const id = stack.containers.find((c) => c.role === "event-processor-service")!.id;
    const lines = execFileSync("docker", ["logs", id], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l["msg"] === "poison message dead-lettered");
    expect(
      lines.map((l) => ({ topic: l["topic"], partition: l["partition"], offset: l["offset"], dlqTopic: l["dlqTopic"], level: l["level"] })),
    ).toEqual(offsets.map((offset) => ({ topic, partition: 0, offset, dlqTopic, level: "error" })));
    lines.forEach((l, i) => {
      expect(String(l["reason"])).toMatch(poison[i]!.why);
    });
  });

  it("finds the rows PostgreSQL refuses in a batch, stores the rest, and leaves a lost database to redelivery", async () => {
    const log = createLogger("test", "error", () => undefined);
    const db = createDb(
      { databaseUrl: stack.endpoints.postgresUrl, poolMax: 2, connectionTimeoutMs: 2_000, idleTimeoutMs: 1_000, statementTimeoutMs: 5_000 },
      new Registry(),
      log,
      "poison-test",
    );
    const events = makeEvents(`${runId}-iso`, 8);
    // Rows no validation has seen (as if a future check missed something): PostgreSQL itself refuses them.
    events[1] = { ...events[1]!, id: `${events[1]!.id}\u0000` };
    events[4] = { ...events[4]!, ts: "0000-01-01T00:00:00Z" };
    events[6] = { ...events[6]!, payload: { s: "x\ud800" } };
    try {
      const r = await storeIsolating(
        db,
        events.map((event, i) => ({ event, partition: 0, offset: String(i) })),
      );
      expect(r.inserted).toBe(5);
      expect(r.refused.map((x) => [x.row.offset, /SQLSTATE (\w+)/.exec(x.reason)?.[1]])).toEqual([
        ["1", "22021"],
        ["4", "22008"],
        ["6", "22P02"],
      ]);
      const goodIds = events.filter((_, i) => ![1, 4, 6].includes(i)).map((e) => e.id);
      expect((await checkStored(stack.endpoints.postgresUrl, goodIds)).found).toBe(5);
    } finally {
      await db.end();
    }
    // No database at all: thrown (the batch is redelivered), never taken for poison.
    const gone = createDb(
      {
        databaseUrl: "postgres://u:p@127.0.0.1:1/none",
        poolMax: 1,
        connectionTimeoutMs: 500,
        idleTimeoutMs: 1_000,
        statementTimeoutMs: 1_000,
      },
      new Registry(),
      log,
      "poison-test",
    );
    try {
      await expect(storeIsolating(gone, [{ event: makeEvents(`${runId}-gone`, 1)[0]!, partition: 0, offset: "0" }])).rejects.toBeInstanceOf(
        DbUnavailable,
      );
    } finally {
      await gone.end();
    }
  });

  it("ends a session left idle in a transaction, so a replica taking over its rows is not blocked behind a frozen one", async () => {
    const log = createLogger("test", "error", () => undefined);
    // no statement timeout: without the frozen session's end, the takeover would wait for ever (the test's timeout fails it)
    const cfg = {
      databaseUrl: stack.endpoints.postgresUrl,
      poolMax: 2,
      connectionTimeoutMs: 2_000,
      idleTimeoutMs: 10_000,
      statementTimeoutMs: 0,
    };
    const frozen = createDb({ ...cfg, idleInTransactionTimeoutMs: 1_000 }, new Registry(), log, "frozen-test");
    const takeover = createDb(cfg, new Registry(), log, "takeover-test");
    const [event] = makeEvents(`${runId}-frozen`, 1);
    const insert =
      "INSERT INTO events (id, player_id, type, ts, payload, kafka_partition, kafka_offset) VALUES ($1, $2, $3, $4, $5, 0, 0) ON CONFLICT (id) DO NOTHING";
    const args = [event!.id, event!.playerId, event!.type, event!.ts, JSON.stringify(event!.payload)];
    const held = await frozen.pool.connect();
    held.on("error", () => undefined); // the server ends this session: expected
    try {
      // a replica frozen mid-batch: its insert done, its COMMIT never sent
      await held.query("BEGIN");
      await held.query(insert, args);
      // the replica that takes over inserts the same event: it waits on the uncommitted row until PostgreSQL
      // ends the frozen session (after 1 s idle in its transaction)
      await takeover.pool.query(insert, args);
      expect((await checkStored(stack.endpoints.postgresUrl, [event!.id])).found).toBe(1);
      await expect(held.query("COMMIT")).rejects.toThrow(/idle-in-transaction|terminat|connection error/i);
    } finally {
      held.release(true);
      await Promise.all([frozen.end(), takeover.end()]);
    }
  });
});
