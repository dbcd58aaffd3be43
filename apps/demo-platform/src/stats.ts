/**
 * stats-api: reads PostgreSQL through a bounded pool, so an exhausted pool answers 503 quickly
 * instead of hanging. GET /events/:id returns the stored event with the SHA-256 of its canonical content
 * (event-digest.ts), so the canary sees an event that came back altered. DELETE /admin/players/:id
 * erases a player's data and needs the bearer token.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Registry } from "prom-client";
import type { StatsConfig } from "./config.js";
import { createDb, DbUnavailable, migrate } from "./db.js";
import { storedEventDigest } from "./event-digest.js";
import { checkPathId, LIMITS } from "./events.js";
import { Router, type Reply, type Request } from "./http.js";
import { sleep } from "./kafka-clients.js";
import type { Logger } from "./log.js";
import type { ReadyResult, Service } from "./service.js";

// A key of this process only: the digests compared below mean nothing outside it.
const DIGEST_KEY = randomBytes(32);
const digest = (value: Buffer) => createHmac("sha256", DIGEST_KEY).update(value).digest();

/**
 * Whether an Authorization header carries `Bearer <token>`, in time independent of where the given
 * value first differs and of its length: both sides are reduced to an HMAC-SHA256 of 32 bytes and
 * those are compared with timingSafeEqual. Comparing the raw values needs equal lengths first
 * (timingSafeEqual throws otherwise), and that early "no" tells a caller the token's length.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const raw = header ?? "";
  const scheme = raw.slice(0, "Bearer ".length) === "Bearer ";
  const given = digest(Buffer.from(scheme ? raw.slice("Bearer ".length) : raw));
  const want = digest(Buffer.from(token));
  // Always compare, so a header without the scheme takes the same path as a wrong token.
  return timingSafeEqual(given, want) && scheme;
}

export async function startStats(cfg: StatsConfig, log: Logger, registry: Registry): Promise<Service> {
  const db = createDb(cfg.pg, registry, log, cfg.service);
  let migrated = false;
  let stopping = false;
  void (async () => {
    for (let backoff = 250; !stopping && !migrated; backoff = Math.min(backoff * 2, 10_000)) {
      try {
        await migrate(db, log);
        migrated = true;
      } catch (err) {
        log.warn("migrations failed, retrying", { err });
        await sleep(backoff);
      }
    }
  })();

  const guard =
    (fn: (req: Request) => Promise<Reply>) =>
    async (req: Request): Promise<Reply> => {
      try {
        return await fn(req);
      } catch (err) {
        if (err instanceof DbUnavailable || (err as { code?: string }).code === "57014") {
          return {
            status: 503,
            body: { error: "database unavailable; retry later", detail: (err as Error).message },
            headers: { "retry-after": "1" },
          };
        }
        if (err instanceof Error && /ECONNREFUSED|terminat|Connection/i.test(err.message)) {
          return {
            status: 503,
            body: { error: "database unavailable; retry later", detail: err.message },
            headers: { "retry-after": "1" },
          };
        }
        throw err;
      }
    };

  /** 400 naming the parameter, or undefined when PostgreSQL can be asked about it. */
  const badId = (name: "id" | "playerId", value: string): Reply | undefined => {
    const problem = checkPathId(value, name === "id" ? LIMITS.idLength : LIMITS.playerIdLength);
    return problem ? { status: 400, body: { error: `${name} ${JSON.stringify(value.slice(0, 64))}: ${problem}`, path: name } } : undefined;
  };

  const router = new Router()
    .add(
      "GET",
      "/players/:id/stats",
      guard(async (req) => {
        const playerId = req.params["id"] ?? "";
        const bad = badId("playerId", playerId);
        if (bad) return bad;
        const res = await db.withClient((c) =>
          c.query<{ type: string; n: string; first: Date; last: Date }>(
            "SELECT type, count(*) AS n, min(ts) AS first, max(ts) AS last FROM events WHERE player_id = $1 GROUP BY type ORDER BY type",
            [playerId],
          ),
        );
        if (res.rows.length === 0) return { status: 404, body: { error: `no events for player ${playerId}` } };
        const byType: Record<string, number> = {};
        let total = 0;
        let first: Date | undefined;
        let last: Date | undefined;
        for (const r of res.rows) {
          byType[r.type] = Number(r.n);
          total += Number(r.n);
          if (!first || r.first < first) first = r.first;
          if (!last || r.last > last) last = r.last;
        }
        return {
          status: 200,
          body: { playerId, totalEvents: total, byType, firstEventAt: first?.toISOString(), lastEventAt: last?.toISOString() },
        };
      }),
    )
    .add(
      "GET",
      "/events/:id",
      guard(async (req) => {
        const id = req.params["id"] ?? "";
        const bad = badId("id", id);
        if (bad) return bad;
        const res = await db.withClient((c) =>
          c.query<{ id: string; player_id: string; type: string; ts: Date; payload: Record<string, unknown>; stored_at: Date }>(
            "SELECT id, player_id, type, ts, payload, stored_at FROM events WHERE id = $1",
            [id],
          ),
        );
        const row = res.rows[0];
        if (!row) return { status: 404, body: { error: `no event ${id}` } };
        return {
          status: 200,
          body: {
            id: row.id,
            playerId: row.player_id,
            type: row.type,
            ts: row.ts.toISOString(),
            payload: row.payload,
            storedAt: row.stored_at.toISOString(),
            // what a client checks the stored content against what it sent (event-digest.ts)
            sha256: storedEventDigest({ id: row.id, playerId: row.player_id, type: row.type, ts: row.ts, payload: row.payload }),
          },
        };
      }),
    )
    .add(
      "DELETE",
      "/admin/players/:id",
      guard(async (req) => {
        if (!bearerMatches(req.headers.authorization, cfg.adminToken)) {
          return {
            status: 401,
            body: { error: "a valid bearer token is required" },
            headers: { "www-authenticate": 'Bearer realm="stats-api"' },
          };
        }
        const playerId = req.params["id"] ?? "";
        const bad = badId("playerId", playerId);
        if (bad) return bad;
        const res = await db.withClient((c) => c.query("DELETE FROM events WHERE player_id = $1", [playerId]));
        log.info("player data erased", { playerId, events: res.rowCount });
        return { status: 200, body: { playerId, erasedEvents: res.rowCount ?? 0 } };
      }),
    );

  return {
    router,
    async ready(): Promise<ReadyResult> {
      const dbCheck = await db
        .withClient((c) => c.query("SELECT 1"))
        .then(() => ({ ok: true }))
        .catch((err: Error) => ({ ok: false, detail: err.message }));
      return { ready: dbCheck.ok && migrated, checks: { database: dbCheck, migrations: { ok: migrated } } };
    },
    async stop() {
      stopping = true;
      await db.end().catch(() => undefined);
    },
  };
}
