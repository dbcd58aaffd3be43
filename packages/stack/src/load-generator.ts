/**
 * The built-in load generator: posts game events to ingest-api in batches and remembers every
 * event that was acknowledged (202), so integrity can be checked against PostgreSQL afterwards.
 */
import pg from "pg";

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
      if (status === "202") for (const e of batch) acknowledged.push(e.id);
      else rejected += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acknowledged, rejected, statusCounts, seconds: (performance.now() - t0) / 1000 };
}

export interface IntegrityResult {
  expected: number;
  found: number;
  lost: string[];
  duplicates: number;
}

/** Every acknowledged id must be in PostgreSQL exactly once (the primary key guarantees at most once). */
export async function checkStored(postgresUrl: string, ids: string[]): Promise<IntegrityResult> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const res = await client.query<{ id: string; n: string }>(
      "SELECT e.id, count(*) AS n FROM events e WHERE e.id = ANY($1::text[]) GROUP BY e.id",
      [ids],
    );
    const seen = new Map(res.rows.map((r) => [r.id, Number(r.n)]));
    const lost = ids.filter((id) => !seen.has(id));
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    return { expected: ids.length, found: seen.size, lost, duplicates };
  } finally {
    await client.end();
  }
}

/** Waits until every id is stored (or the deadline passes) and returns the final integrity result. */
export async function waitStored(postgresUrl: string, ids: string[], timeoutMs: number): Promise<IntegrityResult> {
  const deadline = Date.now() + timeoutMs;
  let last: IntegrityResult | undefined;
  while (true) {
    try {
      last = await checkStored(postgresUrl, ids);
      if (last.lost.length === 0) return last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) return last ?? { expected: ids.length, found: 0, lost: ids, duplicates: 0 };
    await new Promise((r) => setTimeout(r, 500));
  }
}
