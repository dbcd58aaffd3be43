/**
 * The DatabasePort against a real PostgreSQL: "kill idle connections" terminates only idle sessions of
 * ordinary roles, idle long enough — never an active session, a superuser's, or a protected application's.
 */
import pg from "pg";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveImages } from "@gm/stack/images";
import { createDatabasePort } from "./postgres.js";

describe("postgres database port", { timeout: 120_000 }, () => {
  let container: StartedTestContainer;
  let admin: string;
  let user: string;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    const { postgres } = await resolveImages("3.9.1");
    container = await new GenericContainer(postgres)
      .withEnvironment({ POSTGRES_USER: "boss", POSTGRES_PASSWORD: "boss-password", POSTGRES_DB: "gm" })
      .withLabels({ "io.gamemetrics.managed": "true", "io.gamemetrics.stack": `t-pg-${Date.now().toString(36)}` })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forSuccessfulCommand("pg_isready -h 127.0.0.1 -U boss"))
      .withPullPolicy({ shouldPull: () => false })
      .start();
    admin = `postgres://boss:boss-password@127.0.0.1:${container.getMappedPort(5432)}/gm`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query("CREATE ROLE app LOGIN PASSWORD 'app-password'");
    await c.end();
    user = `postgres://app:app-password@127.0.0.1:${container.getMappedPort(5432)}/gm`;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await container?.stop();
  });

  const open = async (url: string, application: string) => {
    const c = new pg.Client({ connectionString: url, application_name: application });
    c.on("error", () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };
  const pidOf = async (c: pg.Client) => (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

  it("terminates idle ordinary sessions only", async () => {
    const idle = await open(user, "leaky");
    const idleInTx = await open(user, "leaky");
    await idleInTx.query("BEGIN");
    const superuser = await open(admin, "psql");
    const prober = await open(user, "gm-prober");
    const busy = await open(user, "worker");
    const pids = {
      idle: await pidOf(idle),
      idleInTx: await pidOf(idleInTx),
      superuser: await pidOf(superuser),
      prober: await pidOf(prober),
      busy: await pidOf(busy),
    };
    const sleeping = busy.query("SELECT pg_sleep(4)");
    await new Promise((r) => setTimeout(r, 1_500));

    const db = createDatabasePort({ url: admin });
    try {
      // Too fresh: nothing is idle for 60 s yet.
      expect(await db.terminateIdle({ minIdleSeconds: 60, protect: ["gm-prober"] })).toEqual([]);
      const killed = await db.terminateIdle({ minIdleSeconds: 1, protect: ["gm-prober"] });
      expect(killed.sort()).toEqual([pids.idle, pids.idleInTx].sort());
      // pg_terminate_backend only signals the backend: on a loaded machine it leaves a moment later
      await expect
        .poll(async () => (await db.connections()).map((r) => r.pid), { timeout: 10_000, interval: 200 })
        .not.toContain(pids.idle);
      const alive = (await db.connections()).map((r) => r.pid);
      expect(alive).toEqual(expect.arrayContaining([pids.superuser, pids.prober, pids.busy]));
      await sleeping; // the active session was left alone
      expect(await db.maxConnections()).toMatchObject({ max: 100, reserved: 3 });
    } finally {
      await db.close();
    }
  });

  it("retries a connection refused for want of a slot (53300) while one frees, and fails naming the attempts without the retry", async () => {
    // every slot taken, the superuser-reserved ones too: as when services connecting as the superuser exhaust the server
    const filler: pg.Client[] = [];
    try {
      for (;;) {
        const c = new pg.Client({ connectionString: admin, application_name: "filler" });
        c.on("error", () => undefined);
        try {
          await c.connect();
        } catch (err) {
          expect((err as { code?: string }).code).toBe("53300");
          break;
        }
        filler.push(c);
        if (filler.length > 200) throw new Error("more than 200 sessions: max_connections is not what this test expects");
      }
      expect(filler.length).toBeGreaterThanOrEqual(95);
      const once = createDatabasePort({ url: admin, connectRetryMs: 1_200 });
      await expect(once.connections()).rejects.toThrow(/too many clients.*\([23] attempts over [01]\.\d s\)/);
      await once.close();
      const db = createDatabasePort({ url: admin });
      try {
        const t0 = Date.now();
        const asked = db.connections();
        setTimeout(() => void filler.pop()?.end(), 2_000);
        const rows = await asked;
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
        expect(rows.filter((r) => r.application === "filler").length).toBe(filler.length);
      } finally {
        await db.close();
      }
    } finally {
      await Promise.all(filler.map((c) => c.end().catch(() => undefined)));
    }
  });
});
