/**
 * docker-compose.yml as the README offers it: the committed file, brought up by the Compose this machine
 * has (the v2 plugin `docker compose` where installed, else Debian's `docker-compose` 1.29, which
 * scripts/setup.sh --k8s installs) on the locally built images, under a project name of its own and
 * free host ports (the file's variables), so it never meets another stack on a shared engine. Events
 * posted to ingest-api are read back from PostgreSQL and stats-api; `down -v` runs in afterAll, also
 * when a step failed, and a clean-up by label catches whatever it left.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listStackContainers } from "@gm/docker-engine/docker";
import { freePort } from "@gm/docker-engine/net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { composeHostPorts, STACK_ID_VARIABLE } from "./compose.js";
import { IMAGE_VARIABLES } from "./definition.js";
import { removeStack } from "./docker.js";
import { ensurePlatformImage, resolveImages } from "./images.js";
import { makeEvents, postEvents, waitStored } from "./load-generator.js";

const COMPOSE_FILE = fileURLToPath(new URL("../../../docker-compose.yml", import.meta.url));
const STARTUP = 420_000;
/** How long the services may take to answer /ready: three Kafka brokers on a loaded 2-core machine. */
const READY_DEADLINE_MS = 300_000;

interface Run {
  code: number;
  output: string;
}

/** Runs a command; never throws on a non-zero exit: the code and the output are the result. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}${err && code === -1 ? err.message : ""}` });
    });
  });
}

/** The Compose on this machine: the v2 plugin if present (what the README says), else docker-compose v1. */
async function findCompose(): Promise<{ argv: string[]; version: string }> {
  const plugin = await run("docker", ["compose", "version"]);
  if (plugin.code === 0) return { argv: ["docker", "compose"], version: plugin.output.trim() };
  const v1 = await run("docker-compose", ["version", "--short"]);
  if (v1.code === 0) return { argv: ["docker-compose"], version: `docker-compose ${v1.output.trim()}` };
  throw new Error(
    "no Compose on this machine: neither `docker compose` nor `docker-compose` runs; `bash scripts/setup.sh --k8s` installs Debian's docker-compose",
  );
}

async function waitReady(urls: string[], deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const ok = await Promise.all(
      urls.map((u) =>
        fetch(`${u}/ready`, { signal: AbortSignal.timeout(5_000) }).then(
          (r) => r.status === 200,
          () => false,
        ),
      ),
    );
    if (ok.every(Boolean)) return true;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  return false;
}

describe("docker-compose.yml with docker-compose", { timeout: 240_000 }, () => {
  const project = `gm-compose-${Date.now().toString(36)}`;
  const ports: Record<string, number> = {};
  let compose: (...args: string[]) => Promise<Run>;
  let url: (service: string) => string;
  let postgresUrl: string;

  beforeAll(async () => {
    const found = await findCompose();
    const images = await resolveImages("3.9.1");
    const platform = images.platform || (await ensurePlatformImage(images.platformBase, (m) => console.log(m)));
    for (const p of composeHostPorts()) ports[p.variable] = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [IMAGE_VARIABLES.kafka]: images.kafka,
      [IMAGE_VARIABLES.postgres]: images.postgres,
      [IMAGE_VARIABLES.platform]: platform,
      [STACK_ID_VARIABLE]: project,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    compose = (...args) => run(found.argv[0]!, [...found.argv.slice(1), "-p", project, "-f", COMPOSE_FILE, ...args], env);
    url = (service) => {
      const port = composeHostPorts().find((p) => p.service === service);
      if (!port) throw new Error(`docker-compose.yml publishes no port for ${service}`);
      return `http://127.0.0.1:${ports[port.variable]}`;
    };
    const pg = (parse(readFileSync(COMPOSE_FILE, "utf8")) as { services: Record<string, { environment: Record<string, string> }> })
      .services["postgres"]!.environment;
    const pgPort = composeHostPorts().find((p) => p.service === "postgres")!.variable;
    postgresUrl = `postgres://${pg["POSTGRES_USER"]}:${pg["POSTGRES_PASSWORD"]}@127.0.0.1:${ports[pgPort]}/${pg["POSTGRES_DB"]}`;
    console.log(`${found.version}; project ${project}; ${images.kafka}, ${images.postgres}, ${platform}`);

    const t0 = performance.now();
    // --no-build: the demo image was built above (a build here would pull the public node image).
    const up = await compose("up", "-d", "--no-build");
    if (up.code !== 0) throw new Error(`compose up exited ${up.code}:\n${up.output}`);
    const services = ["ingest-api", "event-processor-service", "stats-api"].map(url);
    if (!(await waitReady(services, READY_DEADLINE_MS))) {
      const ps = await compose("ps");
      const logs = await compose("logs", "--tail", "20", "--no-color");
      throw new Error(`not every service answered /ready with 200 within ${READY_DEADLINE_MS / 1000} s:\n${ps.output}\n${logs.output}`);
    }
    console.log(`compose up → every service ready: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, STARTUP);

  afterAll(async () => {
    if (compose) {
      const down = await compose("down", "-v", "--remove-orphans", "-t", "5");
      console.log(`compose down -v exited ${down.code}${down.code ? `:\n${down.output}` : ""}`);
    }
    // Whatever `down` could not remove (or a run that failed before it): by the stack label.
    const left = await removeStack(project);
    if (left.containers || left.networks) console.log(`removed by label: ${left.containers} container(s), ${left.networks} network(s)`);
  }, 120_000);

  it("runs every service of the file, labelled with the project's stack id", async () => {
    const containers = await listStackContainers(project);
    const names = Object.keys((parse(readFileSync(COMPOSE_FILE, "utf8")) as { services: Record<string, unknown> }).services);
    expect(containers.map((c) => c.instance).sort()).toEqual([...names].sort());
    expect(containers.filter((c) => c.state !== "running")).toEqual([]);
  });

  it("stores posted events in PostgreSQL and serves them through stats-api", async () => {
    const runId = `compose-${Date.now().toString(36)}`;
    const events = makeEvents(runId, 1_000, 0, 10);
    const sent = await postEvents(url("ingest-api"), events, { batchSize: 250, concurrency: 2 });
    expect(sent.statusCounts).toEqual({ "202": 4 });

    const stored = await waitStored(postgresUrl, sent.acknowledged, 120_000);
    expect(stored.lost).toEqual([]);
    expect(stored.duplicates).toBe(0);

    const stats = url("stats-api");
    for (const e of [events[0]!, events[999]!]) {
      const res = await fetch(`${stats}/events/${e.id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: e.id, playerId: e.playerId, type: e.type, payload: e.payload });
    }
    const player = await fetch(`${stats}/players/${runId}-player-3/stats`);
    expect(player.status).toBe(200);
    expect(await player.json()).toMatchObject({ playerId: `${runId}-player-3`, totalEvents: 100 });
  });
});
