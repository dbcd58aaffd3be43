/**
 * PostgreSQL connections by state against max_connections less the reserved ones, read through the
 * PostgreSQL module of packages/platform (the same SQL the runbook's DatabasePort uses). The prober's own
 * access must keep working while the pool is exhausted: it holds one long-lived connection (reconnected
 * when lost) as a read-only role (gm_prober: pg_monitor, default_transaction_read_only), so an
 * exhaustion that starts after it connected never locks it out.
 */
import { type ConnectionUsage, connectionUsage, createPgSession } from "@gm/platform/postgres";

/** What the collector returns: the platform's connection usage. */
export type PostgresCounts = ConnectionUsage;

export const PROBER_APPLICATION_NAME = "gm-prober";

export function createPostgresCollector(opts: { url: string; timeoutMs: number }) {
  // Read-only even if the role was not set up so: the prober never writes.
  const session = createPgSession({
    url: opts.url,
    timeoutMs: opts.timeoutMs,
    statementTimeoutMs: opts.timeoutMs,
    applicationName: PROBER_APPLICATION_NAME,
    readOnly: true,
  });
  return {
    collect: (): Promise<PostgresCounts> => connectionUsage(session.query),
    close: () => session.close(),
  };
}
