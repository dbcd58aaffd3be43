/**
 * The runbook's DatabasePort over node-postgres, with an administrative connection (the drill runner
 * and the on-call engineer act; the prober only reads). Idle sessions are terminated with
 * pg_terminate_backend — never active ones, never a superuser's, never a protected application's.
 */
import pg from "pg";
import type { ConnectionRow, DatabasePort } from "@gm/runbook/ports";

export function createDatabasePort(opts: { url: string; timeoutMs?: number; applicationName?: string }): DatabasePort & { close(): Promise<void> } {
  let client: pg.Client | undefined;
  const app = opts.applicationName ?? "gm-chaos";
  const get = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({ connectionString: opts.url, connectionTimeoutMillis: opts.timeoutMs ?? 5_000, application_name: app });
    c.on("error", () => {
      if (client === c) client = undefined;
    });
    await c.connect();
    client = c;
    return c;
  };
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => {
    try {
      return (await (await get()).query<R>(sql, params)).rows;
    } catch (err) {
      const c = client;
      client = undefined;
      void c?.end().catch(() => undefined);
      throw err;
    }
  };
  return {
    async connections(): Promise<ConnectionRow[]> {
      const rows = await query<{ pid: number; state: string | null; application: string; user: string; superuser: boolean; state_seconds: number }>(
        `SELECT a.pid, a.state, a.application_name AS application, coalesce(a.usename, '') AS user,
                coalesce(r.rolsuper, false) AS superuser,
                coalesce(extract(epoch FROM now() - a.state_change), 0)::float AS state_seconds
           FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
          WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()`,
      );
      return rows.map((r) => ({ pid: r.pid, state: r.state ?? "unknown", application: r.application, user: r.user, superuser: r.superuser, stateSeconds: r.state_seconds }));
    },
    async maxConnections() {
      const [r] = await query<{ max: number; reserved: number }>(
        "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
      );
      return { max: r!.max, reserved: r!.reserved };
    },
    async terminateIdle({ minIdleSeconds, protect }) {
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
        [minIdleSeconds, [...protect, app]],
      );
      return rows.map((r) => r.pid);
    },
    async close() {
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
