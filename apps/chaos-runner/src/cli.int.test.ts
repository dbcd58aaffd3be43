/** gm-chaos stack up / status / down as real processes against the Docker engine. */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { listStackContainers, removeStack } from "@gm/stack/docker";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const prober = fileURLToPath(new URL("../../prober/dist/cli.js", import.meta.url));
const env = { ...process.env, GM_STATE_DIR: mkdtempSync(join(tmpdir(), "gm-state-")), TESTCONTAINERS_RYUK_DISABLED: "true" };
const gm = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env, timeout: 240_000 });
const id = `t-cli-${Date.now().toString(36)}`;

describe("gm-chaos stack as a process", { timeout: 300_000 }, () => {
  afterAll(async () => {
    await removeStack(id);
  }, 60_000);

  it("brings a stack up, leaves it running after the process exits, reports it and takes it down", async () => {
    const proberConfig = join(env.GM_STATE_DIR, "prober.yaml");
    const up = gm("stack", "up", "--brokers", "1", "--id", id, "--json", "--prober-config", proberConfig);
    expect(up.status, up.stderr).toBe(0);
    const endpoints = JSON.parse(up.stdout) as {
      stackId: string;
      kafkaBootstrapServers: string[];
      postgresUrl: string;
      services: Record<string, string | string[]>;
    };
    expect(endpoints.stackId).toBe(id);
    expect(endpoints.kafkaBootstrapServers).toHaveLength(1);
    expect(endpoints.postgresUrl).toMatch(/^postgres:\/\//);
    expect(up.stderr).toMatch(/stack .* ready/);

    // The process has exited; the stack still serves.
    const ingest = endpoints.services["ingest-api"] as string;
    const res = await fetch(`${ingest}/events`, {
      method: "POST",
      body: JSON.stringify([{ id: `${id}-1`, playerId: "p", type: "login", ts: new Date().toISOString(), payload: {} }]),
    });
    expect(res.status).toBe(202);

    // The configuration the stack wrote works as it is: one classified snapshot, healthy (exit 0).
    const once = spawnSync(process.execPath, [prober, "once", "--config", proberConfig, "--json"], {
      encoding: "utf8",
      env,
      timeout: 60_000,
    });
    expect(once.status, once.stderr + once.stdout.slice(-2000)).toBe(0);
    const classified = JSON.parse(once.stdout) as { snapshot: { services: unknown[] }; incidents: unknown[] };
    expect(classified.incidents).toEqual([]);
    expect(classified.snapshot.services).toHaveLength(3);

    const status = gm("stack", "status", "--id", id, "--json");
    expect(status.status, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout) as { stacks: { stackId: string; containers: { state: string; role: string }[] }[] };
    expect(st.stacks).toHaveLength(1);
    expect(st.stacks[0]!.containers.map((c) => c.role).sort()).toEqual([
      "event-processor-service",
      "ingest-api",
      "kafka",
      "postgres",
      "stats-api",
    ]);
    expect(st.stacks[0]!.containers.every((c) => c.state === "running")).toBe(true);

    const down = gm("stack", "down");
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`stack ${id}: removed 5 container`));
    expect(await listStackContainers(id)).toEqual([]);
    expect(gm("stack", "down").status).toBe(2); // nothing recorded any more
  });
});
