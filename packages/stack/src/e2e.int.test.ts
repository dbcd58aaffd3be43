/**
 * End to end against the real stack (1 broker): ingest-api → Kafka → event-processor-service →
 * PostgreSQL → stats-api, bad input, and Kafka or PostgreSQL stopped underneath the services.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStored, makeEvents, postEvents, waitStored } from "./load-generator.js";
import { startStack, waitUntil, type Stack } from "./stack.js";

const STARTUP = 300_000;

describe("the stack end to end", { timeout: 240_000 }, () => {
  let stack: Stack;
  let ingest: string;
  let stats: string;

  beforeAll(async () => {
    stack = await startStack({ brokers: 1, id: `t-e2e-${Date.now().toString(36)}`, onProgress: (m) => console.log(m) });
    ingest = stack.endpoints.services["ingest-api"];
    stats = stack.endpoints.services["stats-api"];
  }, STARTUP);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it("stores 10,000 acknowledged events exactly once and serves them through stats-api", async () => {
    const runId = `e2e-${Date.now().toString(36)}`;
    const events = makeEvents(runId, 10_000, 0, 100);
    const sent = await postEvents(ingest, events, { batchSize: 500, concurrency: 4 });
    expect(sent.statusCounts).toEqual({ "202": 20 });
    expect(sent.acknowledged).toHaveLength(10_000);

    const stored = await waitStored(stack.endpoints.postgresUrl, sent.acknowledged, 120_000);
    expect(stored.lost).toEqual([]);
    expect(stored.found).toBe(10_000);
    expect(stored.duplicates).toBe(0);

    // Readable through stats-api: single events and per-player totals.
    for (const e of [events[0]!, events[4_321]!, events[9_999]!]) {
      const res = await fetch(`${stats}/events/${e.id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: e.id, playerId: e.playerId, type: e.type, payload: e.payload });
    }
    const player = await fetch(`${stats}/players/${runId}-player-7/stats`);
    expect(player.status).toBe(200);
    expect(await player.json()).toMatchObject({ playerId: `${runId}-player-7`, totalEvents: 100 });
    expect((await fetch(`${stats}/events/${runId}-nope`)).status).toBe(404);

    // Re-sending the same events (a client retry) creates no duplicates.
    const again = await postEvents(ingest, events.slice(0, 500));
    expect(again.acknowledged).toHaveLength(500);
    await waitUntil(
      async () =>
        (await fetch(`${stack.endpoints.services["event-processor-service"][0]}/metrics`).then((r) => r.text())).includes(
          "events_processed_total",
        ),
      10_000,
      "metrics",
    );
    const recheck = await checkStored(stack.endpoints.postgresUrl, sent.acknowledged);
    expect(recheck.duplicates).toBe(0);
    expect(recheck.found).toBe(10_000);
  });

  it("answers bad input with 400 naming each field, 413 for oversized batches, 401 without the token", async () => {
    const malformed = await fetch(`${ingest}/events`, { method: "POST", body: "[{", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ problems: [{ path: "$" }] });

    const invalid = await fetch(`${ingest}/events`, {
      method: "POST",
      body: JSON.stringify([
        { id: "ok-1", playerId: "p", type: "t", ts: "2026-11-27T10:00:00Z", payload: {} },
        { id: "bad", playerId: 5, type: "t", ts: "soon", payload: {} },
      ]),
    });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { problems: { path: string }[] };
    expect(body.problems.map((p) => p.path).sort()).toEqual(["[1].playerId", "[1].ts"]);
    // Nothing of a refused batch was produced: its valid event is not stored.
    expect((await checkStored(stack.endpoints.postgresUrl, ["ok-1"])).found).toBe(0);

    const tooMany = await fetch(`${ingest}/events`, { method: "POST", body: JSON.stringify(makeEvents("big", 1001)) });
    expect(tooMany.status).toBe(413);
    const tooBig = await fetch(`${ingest}/events`, { method: "POST", body: JSON.stringify([{ pad: "x".repeat(2_000_000) }]) });
    expect(tooBig.status).toBe(413);

    const admin = `${stats}/admin/players/nobody`;
    expect((await fetch(admin, { method: "DELETE" })).status).toBe(401);
    expect((await fetch(admin, { method: "DELETE", headers: { authorization: "Bearer wrong-token-wrong-token" } })).status).toBe(401);
    expect((await fetch(admin, { method: "DELETE", headers: { authorization: `Bearer ${stack.endpoints.adminToken}` } })).status).toBe(200);
  });

  it("answers 503 while Kafka is down and loses nothing acknowledged once it returns", async () => {
    const runId = `kdown-${Date.now().toString(36)}`;
    const before = await postEvents(ingest, makeEvents(runId, 1_000, 0));
    expect(before.acknowledged).toHaveLength(1_000);

    await stack.stopContainer("kafka-1");
    const during = await postEvents(ingest, makeEvents(runId, 200, 1_000), { batchSize: 100, concurrency: 1 });
    expect(during.statusCounts["503"]).toBeGreaterThan(0);
    expect(during.acknowledged).toEqual([]);

    await stack.startContainer("kafka-1");
    await waitUntil(async () => (await fetch(`${ingest}/ready`)).status === 200, 90_000, "ingest-api ready again");
    const after = await postEvents(ingest, makeEvents(runId, 1_000, 2_000));
    expect(after.acknowledged).toHaveLength(1_000);

    const stored = await waitStored(stack.endpoints.postgresUrl, [...before.acknowledged, ...after.acknowledged], 120_000);
    expect(stored.lost).toEqual([]);
    expect(stored.duplicates).toBe(0);
  });

  it("keeps ingesting while PostgreSQL is down (readiness fails), then the processor catches up", async () => {
    const runId = `pgdown-${Date.now().toString(36)}`;
    const processor = stack.endpoints.services["event-processor-service"][0]!;
    await stack.stopContainer("postgres");
    await waitUntil(async () => (await fetch(`${stats}/ready`)).status === 503, 30_000, "stats-api /ready = 503");
    expect((await fetch(`${processor}/ready`)).status).toBe(503);
    const started = Date.now();
    const res = await fetch(`${stats}/players/x/stats`);
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(15_000);

    const during = await postEvents(ingest, makeEvents(runId, 2_000));
    expect(during.acknowledged).toHaveLength(2_000);

    await stack.startContainer("postgres");
    const stored = await waitStored(stack.endpoints.postgresUrl, during.acknowledged, 120_000);
    expect(stored.lost).toEqual([]);
    await waitUntil(async () => (await fetch(`${stats}/ready`)).status === 200, 60_000, "stats-api ready again");
  });
});
