/**
 * The Docker driver against the real engine: an OOM kill is confirmed by the engine's `oom` event, and a
 * plain SIGKILL (also exit 137) is not taken for one; limits, logs and restart act on real containers.
 */
import { GenericContainer, type StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerode } from "@gm/docker-engine/docker";
import { removeStack } from "@gm/stack/docker";
import { resolveImages } from "@gm/stack/images";
import { waitUntil } from "@gm/stack/stack";
import { createDockerPlatform } from "./docker.js";

const stackId = `t-plat-${Date.now().toString(36)}`;
const labels = (instance: string) => ({
  "io.gamemetrics.managed": "true",
  "io.gamemetrics.stack": stackId,
  "io.gamemetrics.role": "stats-api",
  "io.gamemetrics.instance": instance,
});

describe("docker platform driver", { timeout: 180_000 }, () => {
  let hog: StartedTestContainer;
  let killed: StartedTestContainer;
  const platform = createDockerPlatform({ stackId });

  beforeAll(async () => {
    const { platformBase } = await resolveImages("3.9.1");
    const start = (name: string, script: string) =>
      new GenericContainer(platformBase)
        .withName(`gm-${stackId}-${name}`)
        .withLabels(labels(name))
        .withCommand(["node", "-e", script])
        .withResourcesQuota({ memory: 0.25 })
        .withPullPolicy({ shouldPull: () => false })
        .start();
    [hog, killed] = await Promise.all([
      start(
        "hog",
        "console.log('hog ready');const a=[];setInterval(()=>{},1000);process.on('SIGUSR2',()=>setInterval(()=>a.push(Buffer.alloc(16<<20,1)),20))",
      ),
      start("victim", "console.log('victim ready');setInterval(()=>{},1000)"),
    ]);
  }, 120_000);

  afterAll(async () => {
    await removeStack(stackId);
  });

  it("reads instances, limits and logs", async () => {
    const list = await platform.listInstances("stats-api");
    expect(list.map((i) => i.name).sort()).toEqual(["hog", "victim"]);
    expect(list.every((i) => i.running && i.memoryLimitBytes === 256 * 1024 * 1024)).toBe(true);
    expect(await platform.logs("victim", 5)).toContain("victim ready");
    await expect(platform.logs("nope", 5)).rejects.toThrow(/no instance "nope"/);
  });

  it("confirms an OOM kill by the engine's event, and does not mistake a SIGKILL for one", async () => {
    const docker = await dockerode();
    await docker.getContainer(hog.getId()).kill({ signal: "SIGUSR2" });
    await docker.getContainer(killed.getId()).kill({ signal: "SIGKILL" });
    await waitUntil(async () => (await platform.listInstances("stats-api")).every((i) => !i.running), 60_000, "both containers ended");
    const byName = Object.fromEntries((await platform.listInstances("stats-api")).map((i) => [i.name, i]));
    expect(byName["hog"]).toMatchObject({ running: false, exitCode: 137, oomKilled: true });
    expect(byName["victim"]).toMatchObject({ running: false, exitCode: 137, oomKilled: false });

    // Remediation: raise the limit and restart; the old OOM is history, not the current state.
    await platform.setMemoryLimit("stats-api", 512 * 1024 * 1024);
    await platform.restart("hog");
    const after = (await platform.listInstances("stats-api")).find((i) => i.name === "hog")!;
    expect(after).toMatchObject({ running: true, oomKilled: false, memoryLimitBytes: 512 * 1024 * 1024 });
  });

  it("kills, pauses, unpauses and starts an instance, each idempotent; a missing one is not-found", async () => {
    await platform.start("victim"); // the SIGKILL above left it stopped
    expect(await platform.state("victim")).toEqual({ running: true, paused: false });
    await platform.pause("victim");
    await platform.pause("victim");
    expect(await platform.state("victim")).toEqual({ running: true, paused: true });
    await platform.unpause("victim");
    await platform.unpause("victim");
    expect(await platform.state("victim")).toEqual({ running: true, paused: false });
    await platform.kill("victim");
    await platform.kill("victim");
    expect(await platform.state("victim")).toEqual({ running: false, paused: false });
    await platform.start("victim");
    await platform.start("victim");
    expect(await platform.state("victim")).toEqual({ running: true, paused: false });
    expect(await platform.state("nope")).toBeNull();
    await expect(platform.kill("nope")).rejects.toMatchObject({ name: "PlatformError", code: "not-found" });
  });
});
