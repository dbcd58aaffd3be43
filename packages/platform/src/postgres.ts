/**
 * PostgreSQL, both sides, in one place: the connection reads the prober's collector makes (sessions by
 * state against max_connections less the reserved ones) and the runbook's DatabasePort, which acts
 * through an administrative connection (the drill runner and the on-call engineer act; the prober only
 * reads). Idle sessions are terminated with pg_terminate_backend — never active ones, never a
 * superuser's, never a protected application's.
 */
import pg from "pg";
import type { ConnectionRow, DatabasePort } from "@gm/runbook/ports";

/** One query on a session: its rows. */
export type Query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>;

export interface PgSessionOptions {
  url: string;
  /** connection timeout, and the statement timeout when `statementTimeoutMs` is not given separately; default 5000 */
  timeoutMs?: number;
  /** a server-side limit per statement (none by default) */
  statementTimeoutMs?: number;
  applicationName: string;
  /** `SET default_transaction_read_only = on` after connecting: a reader that never writes, whatever its role allows */
  readOnly?: boolean;
  /** how long to keep retrying a connection PostgreSQL refuses for want of a slot (SQLSTATE 53300, "too many
   * clients"), every 500 ms, before failing; default 0 (fail at once) */
  connectRetryMs?: number;
}

/** SQLSTATE too_many_connections: every slot this role may use is taken. */
const TOO_MANY_CONNECTIONS = "53300";

/**
 * One long-lived connection, opened on first use and rebuilt after any failure. Holding it (rather than
 * connecting per query) is what keeps a reader working while the pool is exhausted: a session opened
 * before the exhaustion is never locked out.
 */
export function createPgSession(opts: PgSessionOptions): { query: Query; close(): Promise<void> } {
  let client: pg.Client | undefined;
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({
      connectionString: opts.url,
      connectionTimeoutMillis: opts.timeoutMs ?? 5_000,
      application_name: opts.applicationName,
      ...(opts.statementTimeoutMs === undefined ? {} : { statement_timeout: opts.statementTimeoutMs }),
    });
    c.on("error", () => {
      if (client === c) client = undefined;
    });
    await c.connect();
    return c;
  };
  const get = async (): Promise<pg.Client> => {
    if (client) return client;
    // An exhausted server refuses new sessions, the runbook's own included (where the services connect as a
    // superuser, even the reserved slots fill): like an on-call engineer, retry while the pools' churn frees one.
    const t0 = Date.now();
    let c: pg.Client;
    for (let attempt = 1; ; attempt++) {
      try {
        c = await connect();
        break;
      } catch (err) {
        const waited = Date.now() - t0;
        if ((err as { code?: string }).code !== TOO_MANY_CONNECTIONS || waited + 500 > (opts.connectRetryMs ?? 0)) {
          if (attempt > 1 && err instanceof Error) err.message += ` (${attempt} attempts over ${(waited / 1000).toFixed(1)} s)`;
          throw err;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (opts.readOnly) await c.query("SET default_transaction_read_only = on");
    client = c;
    return c;
  };
  return {
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
      try {
        return (await (await get()).query<R>(sql, params)).rows;
      } catch (err) {
        const c = client;
        client = undefined;
        void c?.end().catch(() => undefined);
        throw err;
      }
    },
    async close() {
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}

/** max_connections and superuser_reserved_connections: the slots ordinary roles can use are max − reserved. */
export async function connectionLimits(query: Query): Promise<{ max: number; reserved: number }> {
  const [r] = await query<{ max: number; reserved: number }>(
    "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
  );
  return { max: r!.max, reserved: r!.reserved };
}

/**
 * Every client session (`pg_stat_activity`, backend type "client backend"), with its role and how long it
 * has been in its state. `includeOwn`: the asking session too (it takes a slot like any other).
 */
export async function clientConnections(query: Query, opts: { includeOwn: boolean }): Promise<ConnectionRow[]> {
  const rows = await query<{
    pid: number;
    state: string | null;
    application: string;
    user: string;
    superuser: boolean;
    state_seconds: number;
  }>(
    `SELECT a.pid, a.state, a.application_name AS application, coalesce(a.usename, '') AS user,
            coalesce(r.rolsuper, false) AS superuser,
            coalesce(extract(epoch FROM now() - a.state_change), 0)::float AS state_seconds
       FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
      WHERE a.backend_type = 'client backend' AND ($1 OR a.pid <> pg_backend_pid())`,
    [opts.includeOwn],
  );
  return rows.map((r) => ({
    pid: r.pid,
    state: r.state ?? "unknown",
    application: r.application,
    user: r.user,
    superuser: r.superuser,
    stateSeconds: r.state_seconds,
  }));
}

/** Connection use as the runbook measures it: sessions by state against max_connections less the reserved ones. */
export interface ConnectionUsage {
  maxConnections: number;
  reservedConnections: number;
  byState: Record<string, number>;
  totalConnections: number;
  /** totalConnections / (maxConnections − reservedConnections) */
  usage: number;
}

/** Every session counted, the asking one included, against the usable slots. */
export async function connectionUsage(query: Query): Promise<ConnectionUsage> {
  const [{ max, reserved }, rows] = await Promise.all([connectionLimits(query), clientConnections(query, { includeOwn: true })]);
  const byState: Record<string, number> = {};
  for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
  return {
    maxConnections: max,
    reservedConnections: reserved,
    byState,
    totalConnections: rows.length,
    usage: rows.length / Math.max(1, max - reserved),
  };
}

/**
 * Terminates idle sessions (idle or idle in transaction, for at least `minIdleSeconds`) of ordinary
 * roles whose application is not in `protect`; the asking session never. Returns the pids terminated.
 */
export async function terminateIdleSessions(query: Query, opts: { minIdleSeconds: number; protect: string[] }): Promise<number[]> {
  // Candidates first, terminations after: as one WHERE clause the planner may evaluate
  // pg_terminate_backend(pid) before the other conditions (quals on pg_stat_activity are pushed
  // below the join with pg_roles), which terminated superuser and fresh sessions in a drill.
  // MATERIALIZED keeps the CTE a fence. The state is re-checked at the moment of terminating.
  const rows = await query<{ pid: number }>(
    `WITH candidates AS MATERIALIZED (
       SELECT a.pid FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
        WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
          AND a.state IN ('idle', 'idle in transaction', 'idle in transaction (aborted)')
          AND now() - a.state_change >= make_interval(secs => $1)
          AND NOT coalesce(r.rolsuper, false)
          AND NOT (a.application_name = ANY($2::text[])))
     SELECT c.pid FROM candidates c
      WHERE (SELECT s.state FROM pg_stat_activity s WHERE s.pid = c.pid) IN ('idle', 'idle in transaction', 'idle in transaction (aborted)')
        AND pg_terminate_backend(c.pid)`,
    [opts.minIdleSeconds, opts.protect],
  );
  return rows.map((r) => r.pid);
}

/** Terminates every session of one role, whatever its state (a fault's own clients); the asking session never. */
export async function terminateRoleSessions(query: Query, role: string): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    `WITH candidates AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid())
     SELECT pid FROM candidates WHERE pg_terminate_backend(pid)`,
    [role],
  );
  return rows.map((r) => r.pid);
}

/** The DatabasePort over one administrative session, and the wider verbs a drill's faults use. */
export interface DatabaseDriver extends DatabasePort {
  /** terminate every session of `role` (any state); returns the pids terminated */
  terminateRole(role: string): Promise<number[]>;
  /** a statement on the administrative session (role set-up by a fault) */
  query: Query;
  close(): Promise<void>;
}

export function createDatabasePort(opts: {
  url: string;
  timeoutMs?: number;
  applicationName?: string;
  /** see PgSessionOptions.connectRetryMs; default 30 s: the runbook's steps run while the pool is exhausted */
  connectRetryMs?: number;
}): DatabaseDriver {
  const app = opts.applicationName ?? "gm-chaos";
  const session = createPgSession({
    url: opts.url,
    timeoutMs: opts.timeoutMs ?? 5_000,
    applicationName: app,
    connectRetryMs: opts.connectRetryMs ?? 30_000,
  });
  const query = session.query;
  return {
    connections: () => clientConnections(query, { includeOwn: false }),
    maxConnections: () => connectionLimits(query),
    // The driver's own application is always protected: the remediation must not cut its own session.
    terminateIdle: ({ minIdleSeconds, protect }) => terminateIdleSessions(query, { minIdleSeconds, protect: [...protect, app] }),
    terminateRole: (role) => terminateRoleSessions(query, role),
    query,
    close: () => session.close(),
  };
}
