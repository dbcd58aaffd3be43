/**
 * The prober's PostgreSQL role, as startStack creates it, against the real server: its reads work and
 * see every session (the pool-exhaustion signal needs other roles' states), and every write is refused
 * with "permission denied" even after the session turned its read-only default off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMISSION_DENIED, READ_ATTEMPTS, tryAsRole, WRITE_ATTEMPTS } from "./prober-role.js";
import { PROBER_ROLE, startStack, type Stack } from "./stack.js";

describe("the prober's PostgreSQL role", { timeout: 120_000 }, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      brokers: 1,
      processorReplicas: 0,
      id: `t-role-${Date.now().toString(36)}`,
      onProgress: (m) => console.log(m),
    });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it("connects as gm_prober, which is no superuser and holds pg_monitor", async () => {
    const [r] = await tryAsRole(stack.endpoints.proberPostgresUrl, [
      {
        what: "who",
        sql: "SELECT current_user AS u, r.rolsuper AS su, pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS monitor FROM pg_roles r WHERE r.rolname = current_user",
      },
    ]);
    expect(r!.ok).toBe(true);
    expect(JSON.parse(r!.message!)).toEqual({ u: PROBER_ROLE, su: false, monitor: true });
  });

  it("reads what the collector needs, other roles' sessions included", async () => {
    // a session of the services' role (a superuser) held open meanwhile, for the prober to see
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, READ_ATTEMPTS, { otherUrl: stack.endpoints.postgresUrl });
    expect(out.map((o) => [o.what, o.ok, o.code])).toEqual(READ_ATTEMPTS.map((a) => [a.what, true, undefined]));
    const seen = JSON.parse(out[1]!.message!) as { hidden: string; n: string };
    expect(Number(seen.hidden)).toBe(0);
    expect(Number(seen.n)).toBeGreaterThan(1);
  });

  it("is refused every write with permission denied, although the session turned read-only off", async () => {
    // a session of the services' role held open meanwhile, for the prober to fail to terminate
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, WRITE_ATTEMPTS, { otherUrl: stack.endpoints.postgresUrl });
    for (const o of out) console.log(`${o.what}: ${o.ok ? "ALLOWED" : `${o.code} ${o.message}`}`);
    expect(out.map((o) => [o.what, o.ok, o.code])).toEqual(WRITE_ATTEMPTS.map((a) => [a.what, false, PERMISSION_DENIED]));
  });

  it("is refused writes in its default session too (read-only transactions)", async () => {
    const out = await tryAsRole(stack.endpoints.proberPostgresUrl, WRITE_ATTEMPTS.slice(0, 1), { readOnlyOff: false });
    expect(out[0]).toMatchObject({ ok: false, code: "25006" }); // read_only_sql_transaction
  });
});
