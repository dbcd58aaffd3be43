/**
 * Synthetic players and the end-to-end canary.
 *
 * "Users affected" is defined as the share of synthetic players whose journey failed in this round
 * (and, for "> 50% of users", the share of failed journeys over the prober's window as well):
 * a journey posts one event to ingest-api and reads the player's stats from stats-api; a 5xx, a
 * timeout or a refused connection on either step fails it (a 404 for a player whose first event is not
 * processed yet is a correct answer). The same requests give the "synthetic" error rate, over the
 * prober's window like every other error rate: one round is only a handful of requests, so a single
 * slow answer would otherwise read as a 12.5% error rate (P1).
 *
 * The canary is an event sent through ingest-api and read back from stats-api: its round trip and
 * freshness are measured; a canary acknowledged (202) but not readable after `lossDeadlineSeconds` is
 * counted as lost — data loss, P0. A canary read back with other content than was sent — its payload
 * differs from what was posted, or the `sha256` stats-api computes over the stored row differs from the
 * digest of what was sent (canonical form: @gm/stack/event-digest) — is counted as altered: corruption,
 * P0, with the ids. The last `recheckCanaries` canaries read back intact are read again every round,
 * so a row altered after it was stored (a bad migration, a stray UPDATE) is seen as well; an altered
 * canary stays counted until it reads back as sent again (repaired) or drops out of the newest 10.
 */
import type { CanarySignal, ErrorRateSignal, UsersSignal } from "@gm/runbook/snapshot";
import { canonicalJson, eventDigest } from "@gm/stack/event-digest";
import { Partitioners } from "kafkajs";

export interface SyntheticOptions {
  ingestUrl: string;
  statsUrl: string;
  players: number;
  timeoutMs: number;
  /** the error rate's window (default: one round) */
  windowSeconds?: number;
  /** the short window of the multiwindow error rate, in rounds (default 1: the last round) */
  recentRounds?: number;
  lossDeadlineSeconds: number;
  /** canaries read back intact that are read again every round (default 5) */
  recheckCanaries?: number;
  /** distinguishes this prober's players and canaries */
  runId: string;
  fetch?: typeof fetch;
}

function event(id: string, playerId: string, type: string, payload: Record<string, unknown> = { synthetic: true }) {
  return { id, playerId, type, ts: new Date().toISOString(), payload };
}

type SentEvent = ReturnType<typeof event>;

/** What a canary read back from stats-api is: not there (any status but 200), as sent, or altered (why). */
export type CanaryReadback = { state: "missing" } | { state: "intact" } | { state: "altered"; why: string };

/**
 * Compares the body of GET /events/:id with the event sent: the content (id, player, type, instant,
 * payload) in canonical form, and the `sha256` stats-api computed over the stored row when it gives one.
 */
export function compareReadback(sent: SentEvent, body: unknown): CanaryReadback {
  const b = (body ?? {}) as Record<string, unknown>;
  const differs: string[] = [];
  for (const field of ["id", "playerId", "type"] as const) if (b[field] !== sent[field]) differs.push(field);
  if (typeof b["ts"] !== "string" || Date.parse(b["ts"]) !== Date.parse(sent.ts)) differs.push("ts");
  if (canonicalJson(b["payload"]) !== canonicalJson(sent.payload)) differs.push("payload");
  if (typeof b["sha256"] === "string" && b["sha256"] !== eventDigest(sent)) differs.push("sha256");
  return differs.length === 0 ? { state: "intact" } : { state: "altered", why: `${differs.join(", ")} differ from what was sent` };
}

/**
 * Player ids whose events land on partitions spread evenly over the topic's `partitions` (murmur2 of
 * the key, as ingest-api's producer partitions them). With ids drawn at random, four players could all
 * hash onto the partitions of one broker, and that broker's failover would read as "every user
 * affected" (P1) when a third of them are; spread, they sample the partitions as users do.
 */
export function spreadPlayers(runId: string, players: number, partitions: number): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const meta = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    replicas: [],
    isr: [],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));
  const want = Array.from({ length: players }, (_, i) => Math.floor((i * partitions) / players));
  const out: string[] = [];
  for (const [i, target] of want.entries()) {
    for (let k = 0; k < 10_000; k++) {
      const id = `gm-synthetic-${runId}-${i}-${k}`;
      if (partitioner({ topic: "", partitionMetadata: meta, message: { key: id, value: null } }) === target) {
        out.push(id);
        break;
      }
    }
    if (out.length === i) out.push(`gm-synthetic-${runId}-${i}`);
  }
  return out;
}

export function createSynthetic(opts: SyntheticOptions) {
  const fetchFn = opts.fetch ?? fetch;
  const pending = new Map<string, number>(); // canary id → acknowledged at (ms)
  // Canaries past the deadline stay under watch for a while: one that shows up late was delayed, not lost.
  const overdue = new Map<string, number>();
  const sentEvents = new Map<string, SentEvent>(); // canary id → what was sent, while it is under watch
  const intact = new Map<string, SentEvent>(); // the newest canaries read back as sent, read again each round
  const altered = new Map<string, { sent: SentEvent; why: string }>(); // read again each round until repaired
  let seq = 0;
  let sent = 0;
  let lost = 0;
  let lastReadAt: number | null = null;
  let lastRoundTripMs: number | null = null;
  const rounds: { at: number; requests: number; errors: number; failedJourneys: number }[] = [];
  let ids = Array.from({ length: opts.players }, (_, i) => `gm-synthetic-${opts.runId}-${i}`);
  let spreadOver = 0;

  const call = async (url: string, init?: RequestInit): Promise<number | null> => {
    try {
      const res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    }
  };
  const readBack = async (id: string): Promise<CanaryReadback> => {
    try {
      const res = await fetchFn(`${opts.statsUrl}/events/${id}`, { signal: AbortSignal.timeout(opts.timeoutMs) });
      const text = await res.text();
      if (res.status !== 200) return { state: "missing" };
      const sentEvent = sentEvents.get(id) ?? intact.get(id) ?? altered.get(id)?.sent;
      if (!sentEvent) return { state: "intact" };
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { state: "altered", why: "the answer is not JSON" };
      }
      return compareReadback(sentEvent, body);
    } catch {
      return { state: "missing" };
    }
  };
  /** A canary read back with status 200: under re-read watch when intact, counted when altered. */
  const settle = (id: string, r: CanaryReadback) => {
    const sentEvent = sentEvents.get(id);
    sentEvents.delete(id);
    if (!sentEvent) return;
    if (r.state === "altered") altered.set(id, { sent: sentEvent, why: r.why });
    else intact.set(id, sentEvent);
    while (intact.size > (opts.recheckCanaries ?? 5)) intact.delete(intact.keys().next().value as string);
    while (altered.size > 10) altered.delete(altered.keys().next().value as string);
  };
  const post = (events: unknown[]) =>
    call(`${opts.ingestUrl}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) });
  const failed = (status: number | null) => status === null || status >= 500;

  return {
    /** the topic's partition count, once known: players are spread over the partitions from then on */
    spreadOver(partitions: number) {
      if (partitions > 0 && partitions !== spreadOver) {
        spreadOver = partitions;
        ids = spreadPlayers(opts.runId, opts.players, partitions);
      }
    },
    async round(now = Date.now()): Promise<{ users: UsersSignal; errorRate: ErrorRateSignal; canary: CanarySignal }> {
      // this round's number, taken now: a round the collector gave up on still runs beside the next one, and
      // reading `seq` after an await would give both the same canary id (two contents under one id: "altered")
      seq += 1;
      const n = seq;
      let requests = 0;
      let errors = 0;
      const journeys = await Promise.all(
        Array.from({ length: opts.players }, async (_, i) => {
          const player = ids[i]!;
          const s1 = await post([event(`${player}-${n}`, player, "synthetic_probe")]);
          const s2 = await call(`${opts.statsUrl}/players/${player}/stats`);
          requests += 2;
          errors += (failed(s1) ? 1 : 0) + (failed(s2) ? 1 : 0);
          return !(failed(s1) || failed(s2) || s1 !== 202);
        }),
      );

      // Canary: read back the pending ones, then send a new one. A round the collector's timeout gave up
      // on still runs beside the next one (a long stats-api outage: each read waits its timeout), so a
      // canary changes state only in the round that takes it out of its map: counted lost once, un-counted once.
      // Those read back before, intact or altered, are read again: a row can be altered after it was stored.
      for (const id of [...intact.keys(), ...altered.keys()]) {
        const r = await readBack(id);
        if (r.state === "altered" && !altered.has(id)) {
          const sentEvent = intact.get(id);
          intact.delete(id);
          if (sentEvent) sentEvents.set(id, sentEvent);
          settle(id, r);
        } else if (r.state === "intact" && altered.has(id)) altered.delete(id); // repaired (no longer under watch)
      }
      for (const [id, ackAt] of [...pending]) {
        const r = await readBack(id);
        if (r.state !== "missing") {
          if (pending.delete(id)) {
            lastReadAt = now;
            lastRoundTripMs = now - ackAt;
            settle(id, r);
          }
        } else if (now - ackAt > opts.lossDeadlineSeconds * 1000 && pending.delete(id)) {
          overdue.set(id, ackAt);
          lost += 1;
        }
      }
      for (const [id, ackAt] of [...overdue]) {
        const r = await readBack(id);
        if (r.state !== "missing") {
          if (overdue.delete(id)) {
            lost -= 1;
            settle(id, r);
          }
        } else if (now - ackAt > 10 * opts.lossDeadlineSeconds * 1000 && overdue.delete(id)) sentEvents.delete(id); // lost for good
      }
      const canaryId = `gm-canary-${opts.runId}-${n}`;
      const sentAt = performance.now();
      // a payload of several types and a nested object: what jsonb rewrites (key order, number text) must read back equal
      const canary = event(canaryId, `gm-canary-${opts.runId}`, "canary", {
        synthetic: true,
        seq: n,
        score: n * 0.5,
        tags: ["canary", String(n)],
        run: { id: opts.runId, at: sentAt },
      });
      const status = await post([canary]);
      sent += 1;
      if (status === 202) {
        sentEvents.set(canaryId, canary);
        // Read it back within this round when the pipeline is quick; otherwise the next rounds check it.
        const deadline = sentAt + Math.min(opts.timeoutMs, 3_000);
        let r: CanaryReadback = { state: "missing" };
        while (r.state === "missing" && performance.now() < deadline) {
          await new Promise((res) => setTimeout(res, 100));
          r = await readBack(canaryId);
        }
        if (r.state !== "missing") {
          lastReadAt = now;
          lastRoundTripMs = Math.round(performance.now() - sentAt);
          settle(canaryId, r);
        } else pending.set(canaryId, now);
      }

      const failing = journeys.filter((ok) => !ok).length;
      rounds.push({ at: now, requests, errors, failedJourneys: failing });
      const since = now - (opts.windowSeconds ?? 0) * 1000;
      while (rounds.length > 1 && rounds[0]!.at < since) rounds.shift();
      const wRequests = rounds.reduce((n, r) => n + r.requests, 0);
      const wErrors = rounds.reduce((n, r) => n + r.errors, 0);
      const recent = rounds.slice(-(opts.recentRounds ?? 1));
      const rRequests = recent.reduce((n, r) => n + r.requests, 0);
      const rErrors = recent.reduce((n, r) => n + r.errors, 0);
      // the span the recent rounds cover: from the round before the first of them (no short window until one exists)
      const before = rounds[rounds.length - recent.length - 1];
      const recentSeconds = before ? (now - before.at) / 1000 : null;
      return {
        users: {
          total: opts.players,
          failing,
          window: {
            windowSeconds: opts.windowSeconds ?? 0,
            journeys: rounds.length * opts.players,
            failed: rounds.reduce((n, r) => n + r.failedJourneys, 0),
          },
        },
        errorRate: {
          service: "all",
          source: "synthetic",
          windowSeconds: opts.windowSeconds ?? 0,
          requests: wRequests,
          errors: wErrors,
          rate: wRequests > 0 ? wErrors / wRequests : null,
          ...(recentSeconds !== null
            ? {
                recent: {
                  windowSeconds: Math.round(recentSeconds * 10) / 10,
                  requests: rRequests,
                  errors: rErrors,
                  rate: rRequests > 0 ? rErrors / rRequests : null,
                },
              }
            : {}),
        },
        canary: {
          sent,
          lost,
          lastRoundTripMs,
          freshnessSeconds: lastReadAt === null ? null : (now - lastReadAt) / 1000,
          altered: altered.size,
          alteredIds: [...altered.keys()],
        },
      };
    },
  };
}
