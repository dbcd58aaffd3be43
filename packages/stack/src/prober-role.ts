/**
 * What the prober's PostgreSQL role (gm_prober, created by startStack) may do, tried against the real
 * server: the reads the prober's collector needs, and every kind of write — each in a session that first
 * turns `default_transaction_read_only` off, since any session may, so that what stops it is the role's
 * privileges and not a default it can change. Used by the stack's test and by `npm run security`.
 */
import pg from "pg";

/** One statement tried as the prober's role. */
export interface RoleAttempt {
  /** what is tried, in words */
  what: string;
  /** `$1`, when present, is the pid of a session of another role (tryAsRole's `otherUrl`) */
  sql: string;
}

/** What came of one attempt: ok, or the server's SQLSTATE and message. */
export interface RoleOutcome extends RoleAttempt {
  ok: boolean;
  code?: string;
  message?: string;
}

/** SQLSTATE insufficient_privilege: "permission denied …". */
export const PERMISSION_DENIED = "42501";

/** Every way to write that a role could reach without privileges on the tables (each must be refused). */
export const WRITE_ATTEMPTS: readonly RoleAttempt[] = [
  {
    what: "INSERT a row into events",
    sql: "INSERT INTO events (id, player_id, type, ts, payload) VALUES ('gm-prober-write', 'p', 't', now(), '{}')",
  },
  { what: "UPDATE events", sql: "UPDATE events SET type = 'x' WHERE id = 'gm-prober-write'" },
  { what: "DELETE FROM events", sql: "DELETE FROM events WHERE id = 'gm-prober-write'" },
  { what: "TRUNCATE events", sql: "TRUNCATE events" },
  { what: "COPY events FROM STDIN", sql: "COPY events (id) FROM STDIN" },
  { what: "COPY events FROM a server file", sql: "COPY events (id) FROM '/etc/hostname'" },
  { what: "COPY TO a server file", sql: "COPY (SELECT 1) TO '/tmp/gm-prober-write'" },
  { what: "CREATE TABLE in public", sql: "CREATE TABLE public.gm_prober_write (a int)" },
  { what: "CREATE TEMP TABLE", sql: "CREATE TEMP TABLE gm_prober_write (a int)" },
  { what: "CREATE SCHEMA", sql: "CREATE SCHEMA gm_prober_write" },
  { what: "CREATE FUNCTION in public", sql: "CREATE FUNCTION public.gm_prober_write() RETURNS int LANGUAGE sql AS 'SELECT 1'" },
  { what: "ALTER TABLE events", sql: "ALTER TABLE events ADD COLUMN gm_prober_write int" },
  { what: "CREATE INDEX on events", sql: "CREATE INDEX gm_prober_write ON events (type)" },
  { what: "a large object (lo_create)", sql: "SELECT lo_create(0)" },
  { what: "GRANT itself the services' role", sql: "GRANT gamemetrics TO gm_prober" },
  { what: "terminate a session of the services' role", sql: "SELECT pg_terminate_backend($1)" },
];

/** The reads the prober's PostgreSQL collector makes (packages/platform/src/postgres.ts), and what they must see. */
export const READ_ATTEMPTS: readonly RoleAttempt[] = [
  {
    what: "read max_connections and superuser_reserved_connections",
    sql: "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
  },
  {
    what: "read every session's state in pg_stat_activity (other roles' too)",
    sql: "SELECT count(*) FILTER (WHERE state IS NULL AND backend_type = 'client backend') AS hidden, count(*) AS n FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid",
  },
];

/**
 * Runs each attempt as `url`'s role, each in its own transaction with read-only turned off first. With
 * `otherUrl`, a session of that role is held open meanwhile and its pid is `$1` of the attempts that use it.
 */
export async function tryAsRole(
  url: string,
  attempts: readonly RoleAttempt[],
  opts: { readOnlyOff?: boolean; otherUrl?: string } = {},
): Promise<RoleOutcome[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 10_000,
    application_name: "gm-role-check",
  });
  client.on("error", () => undefined);
  const other = opts.otherUrl
    ? new pg.Client({ connectionString: opts.otherUrl, connectionTimeoutMillis: 10_000, application_name: "gm-role-check-other" })
    : undefined;
  other?.on("error", () => undefined);
  await client.connect();
  const out: RoleOutcome[] = [];
  try {
    await other?.connect();
    const otherPid = other ? (await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid : undefined;
    if (opts.readOnlyOff ?? true) await client.query("SET default_transaction_read_only = off");
    for (const a of attempts) {
      await client.query("BEGIN");
      try {
        const usesPid = a.sql.includes("$1");
        if (usesPid && otherPid === undefined) throw new Error(`${a.what}: needs a session of another role (otherUrl)`);
        const res = await client.query(a.sql, usesPid ? [otherPid] : []);
        out.push({ ...a, ok: true, message: JSON.stringify(res.rows[0] ?? null) });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        out.push({ ...a, ok: false, ...(e.code ? { code: e.code } : {}), message: e.message ?? String(err) });
      } finally {
        // nothing an attempt did survives it
        await client.query("ROLLBACK").catch(() => undefined);
      }
    }
  } finally {
    await client.end().catch(() => undefined);
    await other?.end().catch(() => undefined);
  }
  return out;
}
