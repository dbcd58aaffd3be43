/**
 * The prober's PostgreSQL role, as startStack creates it, against the real server: its reads work and
 * see every session (the pool-exhaustion signal needs other roles' states), and every write is refused
 * with "permission denied" even after the session turned its read-only default off.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMISSION_DENIED, READ_ATTEMPTS, tryAsRole, WRITE_ATTEMPTS } from "./prober-role.js";
import { PROBER_ROLE, startStack, type Stack } from "./stack.js";

describe("the prober's PostgreSQL role", { timeout: 120_000 }, () => {
  let stack: Stack;
  let superuser: pg.Client;

  beforeAll(async () => {
    stack = await startStack({ brokers: 1, processorReplicas: 0, id: `t-role-${Date.now().toString(36)}`, onProgress: (m) => console.log(m) });
    // a session of another role (the services' superuser) for the prober to see and fail to end
    superuser = new pg.Client({ connectionString: stack.endpoints.postgresUrl, application_name: "role-test-other" });
    await superuser.connect();
  }, 300_000);

  afterAll(async () => {
    await superuser?.end().catch(() => undefined);
    await stack?.stop();
  }, 60_000);

  it("connects as gm_prober, which is no superuser and holds pg_monitor", async () => {
    const [r] = await tryAsRole(stack.endpoints.proberPostgresUrl, [
      { what: "who", sql: "SELECT current_user AS u, r.rolsuper AS su, pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS monitor FROM pg_roles r WHERE r.rolname = current_user" },
    ]);
    expect(r!.ok).toBe(true);
    expect(JSON.parse(r!.message!)).toEqual({ u: PROBER_ROLE, su: false, monitor: true });
  });

  it("reads what the collector needs, other roles' sessions included", async () => {
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, READ_ATTEMPTS);
    expect(out.map((o) => [o.what, o.ok, o.code])).toEqual(READ_ATTEMPTS.map((a) => [a.what, true, undefined]));
    const seen = JSON.parse(out[1]!.message!) as { hidden: string; n: string };
    expect(Number(seen.hidden)).toBe(0);
    expect(Number(seen.n)).toBeGreaterThan(1);
  });

  it("is refused every write with permission denied, although the session turned read-only off", async () => {
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, WRITE_ATTEMPTS);
    for (const o of out) console.log(`${o.what}: ${o.ok ? "ALLOWED" : `${o.code} ${o.message}`}`);
    expect(out.map((o) => [o.what, o.ok, o.code])).toEqual(WRITE_ATTEMPTS.map((a) => [a.what, false, PERMISSION_DENIED]));
  });

  it("is refused writes in its default session too (read-only transactions)", async () => {
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, WRITE_ATTEMPTS.slice(0, 1), { readOnlyOff: false });
    expect(out[0]).toMatchObject({ ok: false, code: "25006" }); // read_only_sql_transaction
  });
});
