/**
 * Corruption, against a real stack (1 broker): genuine events sent through ingest-api → Kafka → the
 * processor → PostgreSQL jsonb never read as altered (content compared for every one of them), and rows
 * altered in PostgreSQL behind the sender's back are found — by the drill's integrity check (naming
 * exactly the altered ids) and by the canary (P0 data-loss naming the canary's id). `GM_CORRUPTION_EVENTS`
 * sets the size of the normal load (default 30,000); the time each content check took is printed.
 */
import { classify } from "@gm/runbook/classify";
import { emptySnapshot } from "@gm/runbook/snapshot";
import { eventDigest } from "@gm/stack/event-digest";
import { checkStored, makeEvents, postEvents, waitStored } from "@gm/stack/load-generator";
import { startStack, type Stack } from "@gm/stack/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSynthetic } from "./synthetic.js";

const EVENTS = Number(process.env["GM_CORRUPTION_EVENTS"] ?? 30_000);

describe("content integrity against a real stack", { timeout: 600_000 }, () => {
  let stack: Stack;
  let db: pg.Client;

  beforeAll(async () => {
    stack = await startStack({ brokers: 1, id: `t-corruption-${Date.now().toString(36)}`, onProgress: (m) => console.log(m) });
    db = new pg.Client({ connectionString: stack.endpoints.postgresUrl });
    await db.connect();
  }, 300_000);

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  }, 60_000);

  let runId = "";
  let acknowledged: string[] = [];
  let digests = new Map<string, string>();

  it(`a normal load of ${EVENTS.toLocaleString("en")} events and payloads jsonb rewrites: every one compared, none altered`, async () => {
    runId = `corr-${Date.now().toString(36)}`;
    // What jsonb reorders and rewrites: keys of different lengths, floats, exponents, -0, nesting, non-ASCII.
    const tricky = makeEvents(`${runId}-tricky`, 200).map((e, i) => ({
      ...e,
      payload: {
        zzz: i,
        a: 0.1 + i / 3,
        big: 1e21 * (i + 1),
        neg: -0,
        nested: { y: [i, { b: "é✓", a: null }], x: true },
        ключ: "значение",
      },
    }));
    const events = [...tricky, ...makeEvents(runId, EVENTS - tricky.length, 0, 500)];
    const sent = await postEvents(stack.endpoints.services["ingest-api"], events, { batchSize: 500, concurrency: 4 });
    expect(sent.acknowledged).toHaveLength(events.length);
    console.log(`posted ${sent.acknowledged.length} events in ${sent.seconds.toFixed(1)} s`);
    await waitStored(stack.endpoints.postgresUrl, sent.acknowledged, 300_000);
    const t0 = performance.now();
    const stored = await checkStored(stack.endpoints.postgresUrl, sent.acknowledged, sent.digests);
    console.log(
      `content check of ${stored.compared} stored events: ${stored.lost.length} lost, ${stored.duplicates} duplicated, ${stored.altered.length} altered, in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
    expect(stored).toMatchObject({
      expected: events.length,
      found: events.length,
      lost: [],
      duplicates: 0,
      altered: [],
      compared: events.length,
    });
    acknowledged = sent.acknowledged;
    digests = sent.digests;

    // stats-api's checksum over the stored row is the digest of what was sent
    for (const e of [tricky[7]!, events.at(-1)!]) {
      const body = (await (await fetch(`${stack.endpoints.services["stats-api"]}/events/${e.id}`)).json()) as { sha256: string };
      expect(body.sha256).toBe(eventDigest(e));
    }
  });

  it("rows altered behind the sender's back fail integrity, naming exactly the altered ids", async () => {
    expect(acknowledged.length).toBeGreaterThan(0);
    const victims = [acknowledged[3]!, acknowledged[Math.floor(acknowledged.length / 2)]!, acknowledged.at(-2)!];
    await db.query(`UPDATE events SET payload = jsonb_set(payload, '{score}', '-1') WHERE id = ANY($1::text[])`, [victims.slice(0, 2)]);
    // one altered in a way that keeps the payload's value but not its type: "7" is not 7
    await db.query(`UPDATE events SET payload = payload || jsonb_build_object('seq', (payload->>'seq')) WHERE id = $1`, [victims[2]]);
    const t0 = performance.now();
    const r = await checkStored(stack.endpoints.postgresUrl, acknowledged, digests);
    console.log(
      `content check after the UPDATEs: ${r.altered.length} altered of ${r.compared} (${r.altered.join(", ")}) in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
    expect(r.lost).toEqual([]);
    expect(r.altered).toEqual([...victims].sort((a, b) => acknowledged.indexOf(a) - acknowledged.indexOf(b)));
    // ids only (no digests), the same rows pass: what this test guards is the content comparison
    expect((await checkStored(stack.endpoints.postgresUrl, acknowledged)).altered).toEqual([]);
  });

  it("a canary altered in PostgreSQL after it was read back is P0 data-loss naming its id, and clears once repaired", async () => {
    const synthetic = createSynthetic({
      ingestUrl: stack.endpoints.services["ingest-api"],
      statsUrl: stack.endpoints.services["stats-api"],
      players: 2,
      timeoutMs: 5_000,
      lossDeadlineSeconds: 120,
      runId: `corr-canary-${Date.now().toString(36)}`,
    });
    const first = await synthetic.round(Date.now());
    expect(first.canary).toMatchObject({ sent: 1, lost: 0, altered: 0 });
    expect(first.canary.lastRoundTripMs).not.toBeNull();
    const canary = (await db.query<{ id: string }>("SELECT id FROM events WHERE type = 'canary' ORDER BY stored_at DESC LIMIT 1")).rows[0]!
      .id;
    const before = (await db.query<{ payload: unknown }>("SELECT payload FROM events WHERE id = $1", [canary])).rows[0]!.payload;
    await db.query(`UPDATE events SET payload = jsonb_set(payload, '{synthetic}', 'false') WHERE id = $1`, [canary]);

    const second = await synthetic.round(Date.now());
    expect(second.canary).toMatchObject({ lost: 0, altered: 1, alteredIds: [canary] });
    const incidents = classify({ ...emptySnapshot(new Date().toISOString()), canary: second.canary });
    expect(incidents).toMatchObject([{ kind: "data-loss", severity: "P0", subject: "event-pipeline" }]);
    expect(incidents[0]!.evidence).toContainEqual(expect.objectContaining({ signal: "canary.altered", observed: `1 (${canary})` }));
    console.log(`canary: ${incidents[0]!.summary}`);

    await db.query("UPDATE events SET payload = $2 WHERE id = $1", [canary, JSON.stringify(before)]);
    expect((await synthetic.round(Date.now())).canary).toMatchObject({ altered: 0, alteredIds: [] });
  });
});
