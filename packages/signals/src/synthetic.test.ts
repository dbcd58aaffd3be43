import { classify } from "@gm/runbook/classify";
import { emptySnapshot } from "@gm/runbook/snapshot";
import { eventDigest } from "@gm/stack/event-digest";
import { describe, expect, it } from "vitest";
import { compareReadback, createSynthetic } from "./synthetic.js";

/** ingest-api and stats-api as fetch: every POST 202 unless `failPosts` says so, reads 200. */
function fakeFetch(state: { failPosts: number }): typeof fetch {
  return (async (url: string | URL, init?: RequestInit) => {
    if (init?.method === "POST" && !String(init.body).includes("canary") && state.failPosts > 0) {
      state.failPosts -= 1;
      return new Response("{}", { status: 503 });
    }
    return new Response("{}", { status: init?.method === "POST" ? 202 : 200 });
  }) as typeof fetch;
}

describe("synthetic players", () => {
  it("measure the error rate over the prober's window, and users affected per round", async () => {
    const state = { failPosts: 1 };
    const syn = createSynthetic({
      ingestUrl: "http://ingest",
      statsUrl: "http://stats",
      players: 4,
      timeoutMs: 1_000,
      windowSeconds: 60,
      lossDeadlineSeconds: 120,
      runId: "t",
      fetch: fakeFetch(state),
    });
    const r1 = await syn.round(0);
    expect(r1.errorRate).toMatchObject({ requests: 8, errors: 1, rate: 0.125, windowSeconds: 60 });
    expect(r1.users).toMatchObject({ total: 4, failing: 1 });
    const r2 = await syn.round(5_000);
    // one slow answer among the window's requests, not 12.5% for a whole round
    expect(r2.errorRate).toMatchObject({ requests: 16, errors: 1, rate: 0.0625 });
    expect(r2.users).toMatchObject({ total: 4, failing: 0 });
    const r3 = await syn.round(70_000);
    expect(r3.errorRate).toMatchObject({ requests: 8, errors: 0, rate: 0 });
  });

  it("count failed journeys over the window for users affected", async () => {
    const state = { failPosts: 0 };
    const syn = createSynthetic({
      ingestUrl: "http://ingest",
      statsUrl: "http://stats",
      players: 4,
      timeoutMs: 1_000,
      windowSeconds: 60,
      lossDeadlineSeconds: 120,
      runId: "t",
      fetch: fakeFetch(state),
    });
    await syn.round(0);
    state.failPosts = 4;
    expect((await syn.round(5_000)).users).toEqual({ total: 4, failing: 4, window: { windowSeconds: 60, journeys: 8, failed: 4 } });
    expect((await syn.round(10_000)).users).toEqual({ total: 4, failing: 0, window: { windowSeconds: 60, journeys: 12, failed: 4 } });
    // the failed round leaves the window
    expect((await syn.round(66_000)).users.window).toEqual({ windowSeconds: 60, journeys: 8, failed: 0 });
  });

  it("keep the last round as the short window of the multiwindow rate", async () => {
    const state = { failPosts: 0 };
    const syn = createSynthetic({
      ingestUrl: "http://ingest",
      statsUrl: "http://stats",
      players: 4,
      timeoutMs: 1_000,
      windowSeconds: 60,
      lossDeadlineSeconds: 120,
      runId: "t",
      fetch: fakeFetch(state),
    });
    // the first round has no round before it: no short window yet
    expect((await syn.round(0)).errorRate.recent).toBeUndefined();
    state.failPosts = 4;
    expect((await syn.round(5_000)).errorRate).toMatchObject({
      requests: 16,
      errors: 4,
      rate: 0.25,
      recent: { windowSeconds: 5, requests: 8, errors: 4, rate: 0.5 },
    });
    // the errors stopped: the window still averages them in, the last round does not
    expect((await syn.round(10_000)).errorRate).toMatchObject({
      requests: 24,
      errors: 4,
      recent: { windowSeconds: 5, requests: 8, errors: 0, rate: 0 },
    });
  });
});

describe("the canary", () => {
  it("counts a canary lost once, though two rounds overlap (a round the collector's timeout gave up on still runs): once it is readable nothing is lost", async () => {
    // During a long stats-api outage a round's sequential canary reads outlast the collector's timeout
    // and the next round starts beside it. Both saw the same overdue canary and counted it lost twice;
    // read back later it was un-counted once: data-loss P0 for ever after the outage.
    let statsUp = false;
    const f = (async (url: string | URL, init?: RequestInit) => {
      if (init?.method === "POST") return new Response("{}", { status: 202 });
      return new Response("{}", { status: statsUp || !String(url).includes("/events/") ? 200 : 503 });
    }) as typeof fetch;
    const syn = createSynthetic({
      ingestUrl: "http://ingest",
      statsUrl: "http://stats",
      players: 1,
      timeoutMs: 50,
      windowSeconds: 60,
      lossDeadlineSeconds: 120,
      runId: "t",
      fetch: f,
    });
    await syn.round(0); // its canary is acknowledged, not readable
    const [a, b] = await Promise.all([syn.round(200_000), syn.round(200_000)]);
    expect(Math.max(a.canary.lost, b.canary.lost)).toBe(1);
    statsUp = true;
    expect((await syn.round(205_000)).canary.lost).toBe(0);
  });
});

describe("synthetic players spread over the partitions", () => {
  it("lands one player per chosen partition, as ingest-api's producer partitions their events", async () => {
    const { Partitioners } = await import("kafkajs");
    const { spreadPlayers } = await import("./synthetic.js");
    const p = Partitioners.DefaultPartitioner();
    const meta = Array.from({ length: 6 }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [],
      isr: [],
      partitionErrorCode: 0,
      offlineReplicas: [],
    }));
    const ids = spreadPlayers("run1", 4, 6);
    expect(ids.map((id) => p({ topic: "", partitionMetadata: meta, message: { key: id, value: null } }))).toEqual([0, 1, 3, 4]);
    // so one broker of three (two partitions) holds at most half of them: never "> 50% of users"
  });
});

/**
 * ingest-api → PostgreSQL → stats-api as one fetch: events posted are stored as jsonb would keep them
 * (keys reordered, parsed again), GET /events/:id answers the stored row with the sha256 of its content.
 * `tamper` alters a stored row by id, as a stray UPDATE would.
 */
function fakePipeline() {
  const rows = new Map<string, { id: string; playerId: string; type: string; ts: string; payload: Record<string, unknown> }>();
  const jsonbLike = (v: Record<string, unknown>) =>
    JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1))))) as Record<
      string,
      unknown
    >;
  const f = (async (url: string | URL, init?: RequestInit) => {
    const u = String(url);
    if (init?.method === "POST") {
      // the processor's insert keeps the first row of an id (ON CONFLICT DO NOTHING)
      for (const e of JSON.parse(String(init.body)) as {
        id: string;
        playerId: string;
        type: string;
        ts: string;
        payload: Record<string, unknown>;
      }[])
        if (!rows.has(e.id)) rows.set(e.id, { ...e, payload: jsonbLike(e.payload) });
      return new Response("{}", { status: 202 });
    }
    const m = /\/events\/(.+)$/.exec(u);
    if (!m) return new Response("{}", { status: 200 });
    const row = rows.get(decodeURIComponent(m[1]!));
    if (!row) return new Response("{}", { status: 404 });
    return new Response(JSON.stringify({ ...row, storedAt: row.ts, sha256: eventDigest(row) }), { status: 200 });
  }) as typeof fetch;
  const canary = (seq: number) => [...rows.keys()].find((id) => id.startsWith("gm-canary-") && id.endsWith(`-${seq}`))!;
  return { f, rows, canary };
}

const synthetic = (f: typeof fetch) =>
  createSynthetic({
    ingestUrl: "http://ingest",
    statsUrl: "http://stats",
    players: 1,
    timeoutMs: 500,
    lossDeadlineSeconds: 120,
    runId: "t",
    fetch: f,
  });

describe("the canary compares content", () => {
  it("a canary stored as sent (keys reordered by jsonb) is intact: nothing altered, no incident", async () => {
    const p = fakePipeline();
    const syn = synthetic(p.f);
    for (let i = 0; i < 3; i++) {
      const r = await syn.round(i * 5_000);
      expect(r.canary).toMatchObject({ lost: 0, altered: 0, alteredIds: [] });
    }
  });

  it("two rounds that overlap (the collector gave up on a slow one) send two canaries under two ids: nothing altered", async () => {
    const p = fakePipeline();
    let slow = true;
    const f = (async (url: string | URL, init?: RequestInit) => {
      // the first round's stats read is slow (a locked table), so the next round starts beside it
      if (slow && String(url).includes("/players/")) {
        slow = false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return p.f(url, init);
    }) as typeof fetch;
    const syn = synthetic(f);
    await Promise.all([syn.round(0), syn.round(1_000)]);
    const r = await syn.round(2_000);
    expect([...p.rows.keys()].filter((id) => id.startsWith("gm-canary-")).sort()).toEqual([
      "gm-canary-t-1",
      "gm-canary-t-2",
      "gm-canary-t-3",
    ]);
    expect(r.canary).toMatchObject({ lost: 0, altered: 0, alteredIds: [] });
  });

  it("a canary whose stored payload was altered after it was read back is altered on the next round, P0 data-loss naming its id; repaired, it is not", async () => {
    const p = fakePipeline();
    const syn = synthetic(p.f);
    await syn.round(0);
    const id = p.canary(1);
    const original = p.rows.get(id)!;
    p.rows.set(id, { ...original, payload: { ...original.payload, seq: 999 } }); // behind the prober's back
    const r = await syn.round(5_000);
    expect(r.canary).toMatchObject({ lost: 0, altered: 1, alteredIds: [id] });
    const snapshot = { ...emptySnapshot(new Date(5_000).toISOString()), canary: r.canary };
    const incidents = classify(snapshot);
    expect(incidents).toMatchObject([{ kind: "data-loss", severity: "P0", subject: "event-pipeline" }]);
    expect(JSON.stringify(incidents[0]!.evidence)).toContain(id);
    expect((await syn.round(10_000)).canary.altered).toBe(1); // still altered: still counted
    p.rows.set(id, original);
    expect((await syn.round(15_000)).canary).toMatchObject({ altered: 0, alteredIds: [] });
  });

  it("a canary stored altered (the pipeline rewrote it) is altered on its first read back", async () => {
    const p = fakePipeline();
    const f = (async (url: string | URL, init?: RequestInit) => {
      const res = await p.f(url, init);
      // the processor drops a payload key of canaries on the way
      for (const [id, row] of p.rows)
        if (id.startsWith("gm-canary-") && "tags" in row.payload) p.rows.set(id, { ...row, payload: { ...row.payload, tags: undefined } });
      return res;
    }) as typeof fetch;
    const r = await synthetic(f).round(0);
    expect(r.canary).toMatchObject({ altered: 1, alteredIds: [p.canary(1)] });
  });
});

describe("compareReadback", () => {
  const sent = { id: "c-1", playerId: "p", type: "canary", ts: "2026-11-27T10:00:00.000Z", payload: { a: 1, b: [1, 2] } };
  const stored = { ...sent, ts: "2026-11-27T10:00:00.000Z", payload: { b: [1, 2], a: 1.0 }, sha256: eventDigest(sent) };
  it("intact when content and checksum match whatever the key order; names what differs otherwise", () => {
    expect(compareReadback(sent, stored)).toEqual({ state: "intact" });
    expect(compareReadback(sent, { ...stored, payload: { a: 2, b: [1, 2] } })).toEqual({
      state: "altered",
      why: "payload differ from what was sent",
    });
    expect(compareReadback(sent, { ...stored, sha256: "0".repeat(64) })).toEqual({
      state: "altered",
      why: "sha256 differ from what was sent",
    });
    expect(compareReadback(sent, { ...stored, type: "x", ts: "2026-11-27T10:00:01.000Z" })).toEqual({
      state: "altered",
      why: "type, ts differ from what was sent",
    });
    // an older stats-api without sha256: the content is still compared
    const { sha256: _, ...withoutChecksum } = stored;
    expect(compareReadback(sent, withoutChecksum)).toEqual({ state: "intact" });
  });
});
