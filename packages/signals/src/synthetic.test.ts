import { describe, expect, it } from "vitest";
import { createSynthetic } from "./synthetic.js";

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
