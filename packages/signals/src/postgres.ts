/**
 * PostgreSQL connections by state against max_connections less the reserved ones. The prober's own
 * access must keep working while the pool is exhausted: it holds one long-lived connection (reconnected
 * when lost) as a read-only role (gm_prober: pg_monitor, default_transaction_read_only), so an
 * exhaustion that starts after it connected never locks it out.
 */
import pg from "pg";

export interface PostgresCounts {
  maxConnections: number;
  reservedConnections: number;
  byState: Record<string, number>;
  totalConnections: number;
  usage: number;
}

export const PROBER_APPLICATION_NAME = "gm-prober";

export function createPostgresCollector(opts: { url: string; timeoutMs: number }) {
  let client: pg.Client | undefined;
  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({ connectionString: opts.url, connectionTimeoutMillis: opts.timeoutMs, application_name: PROBER_APPLICATION_NAME, statement_timeout: opts.timeoutMs });
    c.on("error", () => {
      if (client === c) client = undefined;
    });
    await c.connect();
    // Read-only even if the role was not set up so: the prober never writes.
    await c.query("SET default_transaction_read_only = on");
    client = c;
    return c;
  };
  return {
    async collect(): Promise<PostgresCounts> {
      try {
        const c = await connect();
        const settings = await c.query<{ max: number; reserved: number }>(
          "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
        );
        const rows = await c.query<{ state: string; n: number }>(
          "SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1",
        );
        const byState: Record<string, number> = {};
        let total = 0;
        for (const r of rows.rows) {
          byState[r.state] = r.n;
          total += r.n;
        }
        const { max, reserved } = settings.rows[0]!;
        return { maxConnections: max, reservedConnections: reserved, byState, totalConnections: total, usage: total / Math.max(1, max - reserved) };
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
