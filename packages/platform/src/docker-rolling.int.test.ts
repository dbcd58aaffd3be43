/**
 * The Docker driver's pool-size change is a rolling update on the real engine: while every instance is
 * recreated with the new size, some instance of the service answers /health at every moment (the
 * prober's service-down is "every instance fails"), and no surge instance is left behind.
 */
import { GenericContainer, Network, type StartedNetwork } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@gm/docker-engine/net";
import { removeStack } from "@gm/stack/docker";
import { resolveImages } from "@gm/stack/images";
import { dockerode } from "@gm/docker-engine/docker";
import { createDockerPlatform, NEXT, SURGE } from "./docker.js";

const stackId = `t-roll-${Date.now().toString(36)}`;
// a service that takes 1.5 s to listen after its start, as a Node service connecting to its dependencies does
const SERVER = "setTimeout(()=>require('http').createServer((q,s)=>s.end(q.url==='/health'?'ok':'')).listen(8080),1500)";

describe("docker platform driver: rolling pool-size change", { timeout: 180_000 }, () => {
  const platform = createDockerPlatform({ stackId });
  let network: StartedNetwork;

  beforeAll(async () => {
    const { platformBase } = await resolveImages("3.9.1");
    // the stack's services live on a user-defined network (aliases need one)
    network = await new Network().start();
    const host = await freePort();
    await new GenericContainer(platformBase)
      .withName(`gm-${stackId}-stats-api`)
      .withLabels({
        "io.gamemetrics.managed": "true",
        "io.gamemetrics.stack": stackId,
        "io.gamemetrics.role": "stats-api",
        "io.gamemetrics.instance": "stats-api",
      })
      .withEnvironment({ PG_POOL_MAX: "10" })
      .withExposedPorts({ container: 8080, host })
      .withNetwork(network)
      .withNetworkAliases("stats-api")
      .withCommand(["node", "-e", SERVER])
      .withPullPolicy({ shouldPull: () => false })
      .start();
  }, 120_000);

  afterAll(async () => {
    await removeStack(stackId);
    await network?.stop();
  });

  it("keeps an instance answering while every instance takes the new size, and leaves no surge instance", async () => {
    const healthy = async () => {
      const urls = await platform.instanceUrls("stats-api");
      const answers = await Promise.all(
        urls.map((u) =>
          fetch(`${u}/health`, { signal: AbortSignal.timeout(500) }).then(
            (r) => r.status === 200,
            () => false,
          ),
        ),
      );
      return answers.some(Boolean);
    };
    await expect.poll(healthy, { timeout: 30_000, interval: 200 }).toBe(true);
    const before = await platform.instanceUrls("stats-api");

    let probes = 0;
    let noneAnswered = 0;
    let done = false;
    const watcher = (async () => {
      while (!done) {
        probes += 1;
        if (!(await healthy())) noneAnswered += 1;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await platform.setPoolSize("stats-api", 33);
    } finally {
      done = true;
      await watcher;
    }

    expect(probes).toBeGreaterThan(10);
    expect(noneAnswered, `${noneAnswered} of ${probes} probes found no instance answering`).toBe(0);
    expect(await platform.poolSize("stats-api")).toBe(33);
    const names = (await platform.listInstances("stats-api")).map((i) => i.name);
    expect(names).toEqual(["stats-api"]);
    expect(names.some((n) => n.endsWith(SURGE))).toBe(false);
    // the instance keeps its address (the prober's configuration names it)
    expect(await platform.instanceUrls("stats-api")).toEqual(before);
  });

  it("settles what a crash left mid-replacement: a lost instance comes back, a stray replacement or surge goes", async () => {
    const docker = await dockerode();
    const name = `gm-${stackId}-stats-api`;
    const original = await docker.getContainer(name).inspect();
    const spec = {
      Image: original.Config.Image,
      Env: [...original.Config.Env.filter((e) => !e.startsWith("PG_POOL_MAX=")), "PG_POOL_MAX=44"],
      Cmd: original.Config.Cmd,
      Labels: original.Config.Labels,
      HostConfig: { PortBindings: original.HostConfig.PortBindings, NetworkMode: original.HostConfig.NetworkMode },
    };
    // 1. killed after the replacement was created, before the original went: the replacement is dropped
    await docker.createContainer({ ...spec, name: `${name}${NEXT}` });
    expect((await platform.listInstances("stats-api")).map((i) => i.name)).toEqual(["stats-api"]);
    expect(await platform.settle()).toEqual([`dropped ${name}${NEXT} (its original ${name} is in place)`]);
    expect((await docker.listContainers({ all: true, filters: { name: [`${NEXT}$`] } })).length).toBe(0);
    expect(await platform.poolSize("stats-api")).toBe(33);

    // 2. killed after the original went, before the replacement took its place: the instance would be lost
    await docker.createContainer({ ...spec, name: `${name}${NEXT}` });
    await docker.getContainer(name).remove({ force: true });
    expect(await platform.listInstances("stats-api")).toEqual([]);
    expect(await platform.settle()).toEqual([`${name}${NEXT} took the place of ${name}, which a crash had removed`]);
    const back = await platform.listInstances("stats-api");
    expect(back.map((i) => [i.name, i.running])).toEqual([["stats-api", true]]);
    expect(await platform.poolSize("stats-api")).toBe(44);

    // 3. a surge instance of a rolling update that died: retired
    await docker.createContainer({
      ...spec,
      name: `gm-${stackId}-stats-api${SURGE}`,
      Labels: { ...spec.Labels, "io.gamemetrics.instance": `stats-api${SURGE}` },
      HostConfig: { NetworkMode: original.HostConfig.NetworkMode },
    });
    expect(await platform.settle()).toEqual([`retired stats-api${SURGE} (a rolling update's surge instance left behind)`]);
    expect((await platform.listInstances("stats-api")).map((i) => i.name)).toEqual(["stats-api"]);
    expect(await platform.settle()).toEqual([]);
  });
});
