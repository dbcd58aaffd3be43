/** PostgreSQL access: a bounded pool with metrics, and idempotent migrations. */
import pg from "pg";
import { Counter, Gauge, type Registry } from "prom-client";
import type { PgConfig } from "./config.js";
import type { Logger } from "./log.js";

export interface Db {
  pool: pg.Pool;
  /** Runs fn with a pooled client; pool timeouts are counted and rethrown as DbUnavailable. */
  withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

export class DbUnavailable extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DbUnavailable";
  }
}

export function createDb(cfg: PgConfig, registry: Registry, log: Logger, applicationName: string): Db {
  const pool = new pg.Pool({
    connectionString: cfg.databaseUrl,
    max: cfg.poolMax,
    // Without it node-postgres waits forever for a free connection (node-postgres#2704).
    connectionTimeoutMillis: cfg.connectionTimeoutMs,
    idleTimeoutMillis: cfg.idleTimeoutMs,
    statement_timeout: cfg.statementTimeoutMs || undefined,
    idle_in_transaction_session_timeout: cfg.idleInTransactionTimeoutMs || undefined,
    application_name: applicationName,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it kills the process.
  pool.on("error", (err) => log.warn("idle database client failed", { err }));
  const timeouts = new Counter({
    name: "pg_pool_connection_timeouts_total",
    help: "Times a request waited longer than the connection timeout for a pooled connection",
    registers: [registry],
  });
  const errors = new Counter({
    name: "pg_pool_connect_errors_total",
    help: "Failed attempts to get a pooled connection",
    registers: [registry],
  });
  new Gauge({
    name: "pg_pool_max",
    help: "Configured pool size",
    registers: [registry],
    collect() {
      this.set(cfg.poolMax);
    },
  });
  new Gauge({
    name: "pg_pool_total",
    help: "Connections open in the pool",
    registers: [registry],
    collect() {
      this.set(pool.totalCount);
    },
  });
  new Gauge({
    name: "pg_pool_idle",
    help: "Idle connections in the pool",
    registers: [registry],
    collect() {
      this.set(pool.idleCount);
    },
  });
  new Gauge({
    name: "pg_pool_waiting",
    help: "Requests waiting for a pooled connection",
    registers: [registry],
    collect() {
      this.set(pool.waitingCount);
    },
  });

  return {
    pool,
    async withClient(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        errors.inc();
        const msg = err instanceof Error ? err.message : String(err);
        if (/timeout/i.test(msg)) timeouts.inc();
        throw new DbUnavailable(`database unavailable: ${msg}`, { cause: err });
      }
      let broken: Error | undefined;
      // A checked-out client whose session is terminated (pg_terminate_backend, a restart) emits
      // 'error' on itself; without a listener that kills the process (node-postgres docs, "Pool").
      const onError = (err: Error) => {
        broken = err;
        log.warn("database session ended while in use", { err });
      };
      client.on("error", onError);
      try {
        return await fn(client);
      } catch (err) {
        // A connection-level failure must not go back to the pool.
        if (err instanceof Error && /terminat|Connection|ECONNRESET|EPIPE/i.test(err.message)) broken = err;
        throw err;
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
    },
    end: () => pool.end(),
  };
}

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "events",
    sql: `CREATE TABLE IF NOT EXISTS events (
            id text PRIMARY KEY,
            player_id text NOT NULL,
            type text NOT NULL,
            ts timestamptz NOT NULL,
            payload jsonb NOT NULL,
            kafka_partition integer,
            kafka_offset bigint,
            stored_at timestamptz NOT NULL DEFAULT now()
          );
          CREATE INDEX IF NOT EXISTS events_player_id_idx ON events (player_id);`,
  },
];

/** Applies pending migrations under an advisory lock, so concurrent replicas are safe. Idempotent. */
export async function migrate(db: Db, log: Logger): Promise<number[]> {
  return db.withClient(async (c) => {
    await c.query("SELECT pg_advisory_lock(7345219)");
    try {
      await c.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set((await c.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query("BEGIN");
        try {
          await c.query(m.sql);
          await c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
          await c.query("COMMIT");
        } catch (err) {
          await c.query("ROLLBACK");
          throw err;
        }
        applied.push(m.version);
        log.info("migration applied", { version: m.version, name: m.name });
      }
      return applied;
    } finally {
      await c.query("SELECT pg_advisory_unlock(7345219)");
    }
  });
}
