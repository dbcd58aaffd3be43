/**
 * stats-api against a real PostgreSQL (a throwaway container), in process: an id PostgreSQL cannot take
 * (NUL: SQLSTATE 22021) or a path segment that is not percent-encoded UTF-8 is a 400 naming the
 * parameter, never a 500; ids it can take still reach the database (404 for one not stored).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveImages } from "@gm/stack/images";
import { loadConfig, type StatsConfig } from "./config.js";
import { startHttpServer } from "./http.js";
import { createLogger } from "./log.js";
import type { Service } from "./service.js";
import { startStats } from "./stats.js";

describe("stats-api: ids PostgreSQL cannot take", { timeout: 180_000 }, () => {
  let container: StartedTestContainer;
  let service: Service;
  let server: Server;
  let base: string;
  const token = "fuzz-token-0123456789";
  const lines: string[] = [];

  beforeAll(async () => {
    const { postgres } = await resolveImages("3.9.1");
    container = await new GenericContainer(postgres)
      .withEnvironment({ POSTGRES_USER: "gm", POSTGRES_PASSWORD: "gm-password", POSTGRES_DB: "gm" })
      .withLabels({ "io.gamemetrics.managed": "true", "io.gamemetrics.stack": `t-stats-${Date.now().toString(36)}` })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forSuccessfulCommand("pg_isready -h 127.0.0.1 -U gm"))
      .withPullPolicy({ shouldPull: () => false })
      .start();
    const cfg = loadConfig({
      SERVICE: "stats-api",
      DATABASE_URL: `postgres://gm:gm-password@127.0.0.1:${container.getMappedPort(5432)}/gm`,
      ADMIN_TOKEN: token,
      PORT: "1",
    }) as StatsConfig;
    const registry = new Registry();
    const log = createLogger("stats-api", "info", (l) => lines.push(l));
    service = await startStats(cfg, log, registry);
    server = await startHttpServer({ port: 0, router: service.router, registry, log });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // migrations run in the background: ready once the events table exists
    for (const deadline = Date.now() + 60_000; !(await service.ready()).ready; ) {
      if (Date.now() > deadline) throw new Error("stats-api not ready");
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 180_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await service?.stop();
    await container?.stop();
  }, 60_000);

  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, body: (await res.json()) as { error?: string; path?: string } };
  };

  it("GET /events/%00 is 400 naming the id, not 500", async () => {
    const r = await get("/events/%00");
    expect(r).toEqual({
      status: 400,
      body: { error: 'id "\\u0000": contains a NUL character (\\u0000) at index 0, which PostgreSQL cannot store', path: "id" },
    });
    expect(lines.filter((l) => l.includes("unhandled error"))).toEqual([]);
  });

  it("a NUL in a player id is 400 on the stats and on the admin erase", async () => {
    expect((await get("/players/a%00b/stats")).body.path).toBe("playerId");
    const del = await get("/admin/players/%00", { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(400);
    expect(del.body.error).toMatch(/^playerId "\\u0000": contains a NUL character/);
  });

  it("a segment that is not percent-encoded UTF-8 (%ZZ, a lone surrogate) is 400 naming the parameter", async () => {
    expect(await get("/events/%ZZ")).toEqual({
      status: 400,
      body: { error: "id: expected a percent-encoded UTF-8 path segment", path: "id" },
    });
    expect((await get("/events/%ED%A0%80")).status).toBe(400);
    expect((await get(`/events/${"x".repeat(129)}`)).body.error).toMatch(/expected at most 128 characters, got 129$/);
  });

  it("an id PostgreSQL can take still reaches it: 404 for one not stored", async () => {
    expect(await get("/events/no-such-event")).toEqual({ status: 404, body: { error: "no event no-such-event" } });
  });
});
