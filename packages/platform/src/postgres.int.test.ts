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
});
