/**
 * The built-in load generator: posts game events to ingest-api in batches and remembers every
 * event that was acknowledged (202) with the digest of its content, so integrity can be checked
 * against PostgreSQL afterwards: none lost, none stored twice, none stored altered.
 */
import pg from "pg";
import { eventDigest } from "./event-digest.js";

export interface GameEventLike {
  id: string;
  playerId: string;
  type: string;
  ts: string;
  payload: Record<string, unknown>;
}

const TYPES = ["session_start", "match_start", "kill", "death", "level_up", "purchase", "match_end", "session_end"];

/** Deterministic events: ids are `${runId}-${i}`, spread over `players` players. */
export function makeEvents(runId: string, count: number, start = 0, players = 500): GameEventLike[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, k) => {
    const i = start + k;
    return {
      id: `${runId}-${i}`,
      playerId: `${runId}-player-${i % players}`,
      type: TYPES[i % TYPES.length]!,
      ts: new Date(now + i).toISOString(),
      payload: { seq: i, score: (i * 7919) % 1000 },
    };
  });
}

export interface PostResult {
  acknowledged: string[];
  /** id → digest of the content sent (event-digest.ts), for every acknowledged event */
  digests: Map<string, string>;
  rejected: number;
  statusCounts: Record<string, number>;
  seconds: number;
}

/** Posts `events` in batches with `concurrency` requests in flight; records what was acknowledged. */
export async function postEvents(
  ingestUrl: string,
  events: GameEventLike[],
  opts: { batchSize?: number; concurrency?: number; timeoutMs?: number } = {},
): Promise<PostResult> {
  const batchSize = opts.batchSize ?? 500;
  const concurrency = opts.concurrency ?? 4;
  const batches: GameEventLike[][] = [];
  for (let i = 0; i < events.length; i += batchSize) batches.push(events.slice(i, i + batchSize));
  const acknowledged: string[] = [];
  const digests = new Map<string, string>();
  const statusCounts: Record<string, number> = {};
  let rejected = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      let status = "error";
      try {
        const res = await fetch(`${ingestUrl}/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
        });
        status = String(res.status);
        await res.arrayBuffer();
      } catch {
        status = "error";
      }
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (status === "202")
        for (const e of batch) {
          acknowledged.push(e.id);
          digests.set(e.id, eventDigest(e));
        }
      else rejected += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acknowledged, digests, rejected, statusCounts, seconds: (performance.now() - t0) / 1000 };
}

export interface IntegrityResult {
  expected: number;
  found: number;
  lost: string[];
  duplicates: number;
  /** acknowledged events stored with other content than was sent (only those whose digest was given) */
  altered: string[];
  /** stored events whose content was compared with what was sent (0: ids only, no digests given) */
  compared: number;
}

/** Ids per query: a bounded parameter and result set however many events a drill acknowledged. */
const CHECK_BATCH = 10_000;

/** What one stored row's id and, when asked, content digest are; pure, so the comparison is unit-tested. */
export interface StoredRow {
  id: string;
  digest?: string;
}

/**
 * Lost, duplicated and altered: every acknowledged id must be stored exactly once, and, for the ids in
 * `sent` (id → digest of the content sent), with the same content.
 */
export function compareStored(ids: readonly string[], rows: Iterable<StoredRow>, sent?: ReadonlyMap<string, string>): IntegrityResult {
  const seen = new Map<string, number>();
  const altered = new Set<string>();
  let compared = 0;
  for (const r of rows) {
    seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    const want = sent?.get(r.id);
    if (want === undefined || r.digest === undefined) continue;
    compared += 1;
    if (r.digest !== want) altered.add(r.id);
  }
  const lost = ids.filter((id) => !seen.has(id));
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  return { expected: ids.length, found: seen.size, lost, duplicates, altered: ids.filter((id) => altered.has(id)), compared };
}

/**
 * Every acknowledged id must be in PostgreSQL exactly once (the primary key guarantees at most once)
 * and, given `sent` (id → eventDigest of what was sent), stored with that content: each stored row is
 * read in batches and its canonical content hashed here, as the sender hashed it (see event-digest.ts
 * for why not in SQL: jsonb's own text form orders keys by length and keeps numbers' scale).
 */
export async function checkStored(postgresUrl: string, ids: string[], sent?: ReadonlyMap<string, string>): Promise<IntegrityResult> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const rows: StoredRow[] = [];
    for (let i = 0; i < ids.length; i += CHECK_BATCH) {
      const chunk = ids.slice(i, i + CHECK_BATCH);
      if (sent && sent.size > 0) {
        const res = await client.query<{ id: string; player_id: string; type: string; ts: Date; payload: unknown }>(
          "SELECT id, player_id, type, ts, payload FROM events WHERE id = ANY($1::text[])",
          [chunk],
        );
        for (const r of res.rows)
          rows.push({ id: r.id, digest: eventDigest({ id: r.id, playerId: r.player_id, type: r.type, ts: r.ts, payload: r.payload }) });
      } else {
        const res = await client.query<{ id: string; n: string }>(
          "SELECT e.id, count(*) AS n FROM events e WHERE e.id = ANY($1::text[]) GROUP BY e.id",
          [chunk],
        );
        for (const r of res.rows) for (let k = 0; k < Number(r.n); k++) rows.push({ id: r.id });
      }
    }
    return compareStored(ids, rows, sent);
  } finally {
    await client.end();
  }
}

/**
 * Waits until every id is stored (or the deadline passes) and returns the final integrity result; the
 * content (given `sent`) is compared once, at the end, not on every poll.
 */
export async function waitStored(
  postgresUrl: string,
  ids: string[],
  timeoutMs: number,
  sent?: ReadonlyMap<string, string>,
): Promise<IntegrityResult> {
  const deadline = Date.now() + timeoutMs;
  let last: IntegrityResult | undefined;
  while (true) {
    try {
      last = await checkStored(postgresUrl, ids);
      if (last.lost.length === 0) return sent ? await checkStored(postgresUrl, ids, sent) : last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) {
      if (last && sent) return await checkStored(postgresUrl, ids, sent);
      return last ?? { expected: ids.length, found: 0, lost: ids, duplicates: 0, altered: [], compared: 0 };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
