/**
 * The PostgreSQL faults against a real PostgreSQL, run as its superuser as in a drill: a drill file's
 * table name reaches SQL only quoted, so a name carrying SQL is refused before anything changes and
 * nothing of it runs; a plain name still takes its lock, and recovery leaves nothing.
 */
import pg from "pg";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveImages } from "@gm/stack/images";
import { createFault, FAULT_ROLE } from "./faults.js";

describe("PostgreSQL faults", { timeout: 120_000 }, () => {
  let container: StartedTestContainer;
  let admin: string;
  const stackId = `t-faults-${Date.now().toString(36)}`;

  const sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      return (await c.query<R>(text, params)).rows;
    } finally {
      await c.end();
    }
  };
  const tableExists = async (name: string) => (await sql<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [name]))[0]!.t !== null;

  beforeAll(async () => {
    const { postgres } = await resolveImages("3.9.1");
    container = await new GenericContainer(postgres)
      .withEnvironment({ POSTGRES_USER: "boss", POSTGRES_PASSWORD: "boss-password", POSTGRES_DB: "gm" })
      .withLabels({ "io.gamemetrics.managed": "true", "io.gamemetrics.stack": stackId })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forSuccessfulCommand("pg_isready -h 127.0.0.1 -U boss"))
      .withPullPolicy({ shouldPull: () => false })
      .start();
    admin = `postgres://boss:boss-password@127.0.0.1:${container.getMappedPort(5432)}/gm`;
    await sql("CREATE TABLE events (id text PRIMARY KEY)");
  }, 120_000);

  afterAll(async () => {
    await container?.stop();
  });

  it("refuses a table name carrying SQL before anything changes: the table survives, PUBLIC gets nothing", async () => {
    for (const table of ["events TO PUBLIC; DROP TABLE events; --", 'events"; DROP TABLE events; --']) {
      const fault = createFault({ type: "lock-table", params: { table } }, { stackId, brokers: 1, postgresUrl: admin });
      await expect(fault.apply({})).rejects.toThrow(
        `fault.params.table: expected a table name ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified), got ${JSON.stringify(table)}`,
      );
      await fault.recover({});
    }
    expect(await tableExists("events")).toBe(true);
    expect((await sql<{ ok: boolean }>("SELECT has_table_privilege('public', 'events', 'UPDATE') AS ok"))[0]!.ok).toBe(false);
    // Refused before the role was created or re-keyed.
    expect(await sql("SELECT 1 FROM pg_roles WHERE rolname = $1", [FAULT_ROLE])).toEqual([]);
  });

  it("takes the lock on a plain name (quoted, folded like an unquoted name) and recovery leaves nothing", async () => {
    const fault = createFault({ type: "lock-table", params: { table: "Public.Events" } }, { stackId, brokers: 1, postgresUrl: admin });
    try {
      await fault.apply(await fault.prepare());
      const locks = await sql<{ usename: string }>(
        `SELECT a.usename FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.relation = 'public.events'::regclass AND l.mode = 'AccessExclusiveLock' AND l.granted`,
      );
      expect(locks).toEqual([{ usename: FAULT_ROLE }]);
      expect((await sql<{ ok: boolean }>("SELECT has_table_privilege($1, 'events', 'UPDATE') AS ok", [FAULT_ROLE]))[0]!.ok).toBe(true);
    } finally {
      await fault.recover({});
    }
    expect(await fault.leftovers({})).toEqual([]);
    expect(await tableExists("events")).toBe(true);
  });
});
