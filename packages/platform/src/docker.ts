/**
 * The Docker driver of the platform port, for stacks started by packages/stack (found by label).
 *
 * OOM: exit code 137 alone does not mean OOM (a plain SIGKILL gives it too) and Docker's
 * State.OOMKilled is known to be unreliable (moby#38768, #41163), so an OOM kill is confirmed by the
 * engine's `oom` event for the container, after its current start.
 *
 * Besides the port, the driver has the engine's own verbs a fault needs (kill, pause, unpause, start,
 * state), each idempotent in the Chaos Mesh way: acting on a container already in the wanted state does
 * nothing, and an instance that does not exist is a PlatformError with code "not-found".
 */
import type Dockerode from "dockerode";
import type { InstanceInfo, PlatformPort, Rollout } from "@gm/runbook/ports";
import type { ServiceName } from "@gm/runbook/snapshot";
import { demuxDockerLogs, dockerode, isNotFound, isNotModified, LABEL } from "@gm/docker-engine/docker";
import { freePort } from "@gm/docker-engine/net";
import {
  currentRevision,
  type DeployChange,
  HISTORY_LABEL,
  nextRevision,
  readHistory,
  REVISION_LABEL,
  type RevisionRecord,
  rollbackTarget,
  toRollouts,
} from "./docker-revisions.js";
import { PlatformError } from "./errors.js";

type Role = InstanceInfo["service"];

export { PlatformError };

export interface DockerPlatformOptions {
  stackId: string;
  /** how far back to look for `oom` events (default 1 h) */
  oomLookbackSeconds?: number;
}

/** Whether an instance's container is running and whether it is frozen (`docker pause`). */
export interface ContainerState {
  running: boolean;
  paused: boolean;
}

/** The Docker driver: the platform port and the engine verbs faults act through. */
export interface DockerPlatform extends PlatformPort {
  /** finishes a replacement or rolling update that a crash interrupted (see createDockerPlatform); what it did */
  settle(): Promise<string[]>;
  /** container ids with an `oom` event at or after `sinceMs`, with the event time */
  oomEvents(sinceMs: number): Promise<Map<string, number>>;
  containerName(instance: string): string;
  /** base URLs (host side) of a service's instances, for probing the ones a scale-up added */
  instanceUrls(service: Role, containerPort?: number): Promise<string[]>;
  /** `docker kill --signal` (SIGKILL by default); nothing when the container is not running */
  kill(instance: string, signal?: string): Promise<void>;
  /** `docker pause`: frozen by the cgroup freezer; nothing when already paused or not running */
  pause(instance: string): Promise<void>;
  /** `docker unpause`; nothing when not paused */
  unpause(instance: string): Promise<void>;
  /** `docker start`; nothing when already running */
  start(instance: string): Promise<void>;
  /** the container's state now; null when the instance does not exist */
  state(instance: string): Promise<ContainerState | null>;
  /**
   * A new revision of a service (changed variables, null to unset, and/or another local image), rolled out
   * to every instance and recorded on them; null when it changes nothing. `gm-chaos stack deploy`.
   */
  deploy(service: Role, change: DeployChange, cause?: string): Promise<Rollout | null>;
  rollouts(service: ServiceName): Promise<Rollout[]>;
  /** `rolling: false` replaces every instance at once without waiting for health: a drill's undo, bounded to seconds */
  rollback(service: ServiceName, toRevision?: number, opts?: { rolling?: boolean }): Promise<number>;
  /** the environment a service's newest revision runs (its secrets included: never print it) */
  serviceEnv(service: Role): Promise<Record<string, string>>;
}

export type { DeployChange };

/** The instance-name suffix of a rolling update's temporary extra instance. */
export const SURGE = "-surge";
/** The container-name suffix of an instance's replacement before it takes the instance's place. */
export const NEXT = "-next";

export function createDockerPlatform(opts: DockerPlatformOptions): DockerPlatform {
  const lookback = opts.oomLookbackSeconds ?? 3600;
  const prefix = `gm-${opts.stackId}-`;
  const d = async (): Promise<Dockerode> => dockerode();

  const nameOf = (c: Dockerode.ContainerInfo) => (c.Names[0] ?? "").replace(/^\//, "");
  /** A replacement not yet in place (recreate's first step): not an instance until it is renamed. */
  const isNext = (c: Dockerode.ContainerInfo) => nameOf(c).endsWith(NEXT);
  const containersOf = async (role?: Role) => {
    const labels = [`${LABEL.stack}=${opts.stackId}`];
    if (role) labels.push(`${LABEL.role}=${role}`);
    return (await (await d()).listContainers({ all: true, filters: { label: labels } })).filter((c) => !isNext(c));
  };
  const findInstance = async (instance: string): Promise<Dockerode.Container | undefined> => {
    const list = (
      await (
        await d()
      ).listContainers({ all: true, filters: { label: [`${LABEL.stack}=${opts.stackId}`, `${LABEL.instance}=${instance}`] } })
    ).filter((c) => !isNext(c));
    const c = list[0];
    return c ? (await d()).getContainer(c.Id) : undefined;
  };
  /**
   * Finishes what a recreate interrupted by a crash left (a runner SIGKILLed between removing an instance
   * and starting its replacement lost the instance for good): a replacement whose original is still there
   * is dropped (rolled back), one whose original is gone takes its name and starts (rolled forward). Also
   * retires a rolling update's surge instance left by a run that died mid-update. Returns what it did.
   */
  const settle = async (): Promise<string[]> => {
    const docker = await d();
    const all = await docker.listContainers({ all: true, filters: { label: [`${LABEL.stack}=${opts.stackId}`] } });
    const names = new Set(all.map(nameOf));
    const done: string[] = [];
    for (const c of all.filter(isNext)) {
      const final = nameOf(c).slice(0, -NEXT.length);
      const next = docker.getContainer(c.Id);
      if (names.has(final)) {
        await next.remove({ force: true }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        done.push(`dropped ${nameOf(c)} (its original ${final} is in place)`);
      } else {
        await next.rename({ name: final });
        await next.start().catch((err: unknown) => {
          if (!isNotModified(err)) throw err;
        });
        done.push(`${nameOf(c)} took the place of ${final}, which a crash had removed`);
      }
    }
    for (const c of all.filter((x) => (x.Labels[LABEL.instance] ?? "").endsWith(SURGE))) {
      await retire(c.Labels[LABEL.instance]!);
      done.push(`retired ${c.Labels[LABEL.instance]} (a rolling update's surge instance left behind)`);
    }
    return done;
  };
  const missing = (instance: string, cause?: unknown) =>
    new PlatformError(`no instance "${instance}" in stack ${opts.stackId}`, "not-found", false, { cause });
  const byInstance = async (instance: string): Promise<Dockerode.Container> => {
    const c = await findInstance(instance);
    if (!c) throw missing(instance);
    return c;
  };
  /**
   * One engine verb on an instance, made idempotent: skipped when `done` says the state is already the
   * wanted one; the engine's 304 and its "not running" / "already paused" conflicts (a race with the
   * container's own exit) count as done; its 404 (removed in between) is "not-found".
   */
  const act = async (
    instance: string,
    done: (s: ContainerState) => boolean,
    verb: (c: Dockerode.Container) => Promise<unknown>,
    alreadyDone: RegExp,
  ) => {
    const c = await byInstance(instance);
    for (let attempt = 1; ; attempt++) {
      try {
        const st = (await c.inspect()).State;
        if (done({ running: st.Running, paused: st.Paused })) return;
        await verb(c);
        return;
      } catch (err) {
        if (isNotFound(err)) throw missing(instance, err);
        if (isNotModified(err) || alreadyDone.test(String((err as Error).message))) return;
        // runc's freezer gives up when a task does not freeze in time ("unable to freeze"), as right after
        // a start: transient, so a few tries before it is an error.
        if (/unable to freeze/.test(String((err as Error).message)) && attempt < 5) {
          await new Promise((r) => setTimeout(r, 300 * attempt));
          continue;
        }
        throw new PlatformError(`docker: ${instance}: ${(err as Error).message}`, "docker", true, { cause: err });
      }
    }
  };

  const oomEvents = async (sinceMs: number): Promise<Map<string, number>> => {
    const docker = await d();
    const since = Math.floor(sinceMs / 1000);
    const until = Math.ceil(Date.now() / 1000);
    // A bounded query (since/until) returns the buffered events and ends, unlike a stream.
    const raw = (await docker.getEvents({
      since,
      until,
      filters: { event: ["oom"], label: [`${LABEL.stack}=${opts.stackId}`] },
    })) as unknown;
    const text = await new Promise<string>((resolve, reject) => {
      if (Buffer.isBuffer(raw)) return resolve(raw.toString("utf8"));
      const stream = raw as NodeJS.ReadableStream;
      let buf = "";
      stream.on("data", (c: Buffer) => {
        buf += c.toString("utf8");
      });
      stream.on("end", () => resolve(buf));
      stream.on("error", reject);
    });
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const ev = JSON.parse(line) as { id?: string; Actor?: { ID?: string }; timeNano?: number; time?: number };
      const id = ev.Actor?.ID ?? ev.id;
      const t = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : (ev.time ?? 0) * 1000;
      if (id) out.set(id, Math.max(out.get(id) ?? 0, t));
    }
    return out;
  };

  const info = async (c: Dockerode.ContainerInfo, ooms: Map<string, number>): Promise<InstanceInfo> => {
    const docker = await d();
    const ins = await docker.getContainer(c.Id).inspect();
    const running = ins.State.Running;
    const startedAt = ins.State.StartedAt && !ins.State.StartedAt.startsWith("0001") ? ins.State.StartedAt : null;
    const oomAt = ooms.get(c.Id);
    // The OOM must have hit the current run: an OOM before a restart is history, not the state now.
    const oomKilled = oomAt !== undefined && (startedAt === null || oomAt >= Date.parse(startedAt) - 1000) && !running;
    let usage: number | null = null;
    if (running) {
      const stats = (await docker.getContainer(c.Id).stats({ stream: false, "one-shot": true } as never)) as unknown as {
        memory_stats?: { usage?: number; stats?: { cache?: number } };
      };
      const u = stats.memory_stats?.usage;
      usage = u === undefined ? null : u - (stats.memory_stats?.stats?.cache ?? 0);
    }
    return {
      name: c.Labels[LABEL.instance] ?? c.Names[0]?.replace(/^\//, "") ?? c.Id,
      service: (c.Labels[LABEL.role] ?? "unknown") as Role,
      running,
      restarts: Number(c.Labels["io.gamemetrics.restarts"] ?? 0) + ins.RestartCount,
      exitCode: running ? null : ins.State.ExitCode,
      oomKilled,
      memoryLimitBytes: ins.HostConfig.Memory ? ins.HostConfig.Memory : null,
      memoryUsageBytes: usage,
      startedAt,
    };
  };

  /**
   * Recreates a container with changed environment (null: unset), same name, labels, network and host
   * ports; `revision` also changes its image and labels (a new revision, docker-revisions.ts).
   */
  const recreate = async (
    instance: string,
    env: Record<string, string | null>,
    newName?: string,
    newInstance?: string,
    memoryBytes?: number,
    revision?: { image: string; labels: Record<string, string> },
  ) => {
    const docker = await d();
    const c = await byInstance(instance);
    const ins = await c.inspect();
    const envMap = new Map(ins.Config.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    for (const [k, v] of Object.entries(env)) {
      if (v === null) envMap.delete(k);
      else envMap.set(k, v);
    }
    // testcontainers attaches the stack's network next to the default bridge: take the stack's.
    const networks = Object.keys(ins.NetworkSettings.Networks);
    const network = networks.find((n) => n === `gm-${opts.stackId}`) ?? networks.find((n) => n !== "bridge") ?? networks[0];
    const aliases = network ? (ins.NetworkSettings.Networks[network]?.Aliases ?? []).filter((a: string) => !/^[0-9a-f]{12}$/.test(a)) : [];
    const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const [port, binds] of Object.entries(ins.HostConfig.PortBindings ?? {})) {
      portBindings[port] = newName
        ? [{ HostIp: "", HostPort: String(await freePort()) }]
        : ((binds as { HostIp: string; HostPort: string }[]) ?? []);
    }
    const labels = { ...ins.Config.Labels, ...revision?.labels };
    if (newInstance) labels[LABEL.instance] = newInstance;
    const create: Dockerode.ContainerCreateOptions = {
      name: newName ?? ins.Name.replace(/^\//, ""),
      Image: revision?.image ?? ins.Config.Image,
      Env: [...envMap].map(([k, v]) => `${k}=${v}`),
      Cmd: ins.Config.Cmd ?? undefined,
      Entrypoint: ins.Config.Entrypoint ?? undefined,
      Labels: labels,
      ExposedPorts: ins.Config.ExposedPorts,
      Hostname: newInstance ?? ins.Config.Hostname,
      HostConfig: {
        PortBindings: portBindings,
        NetworkMode: network,
        Memory: memoryBytes ?? ins.HostConfig.Memory,
        MemorySwap: memoryBytes ?? ins.HostConfig.MemorySwap,
      },
      NetworkingConfig: network ? { EndpointsConfig: { [network]: { Aliases: newInstance ? [newInstance] : aliases } } } : undefined,
    };
    if (newName) {
      await (await docker.createContainer(create)).start();
      return;
    }
    // The same instance, replaced so that no crash between two steps loses it (settle() finishes any
    // step): the replacement is created first under <name>-next (not started, so it holds no host port),
    // then the original goes, then the replacement takes its name and starts.
    const finalName = ins.Name.replace(/^\//, "");
    const stale = (await docker.listContainers({ all: true, filters: { name: [`^/${finalName}${NEXT}$`] } }))[0];
    if (stale) await docker.getContainer(stale.Id).remove({ force: true });
    const created = await docker.createContainer({ ...create, name: `${finalName}${NEXT}` });
    await c.remove({ force: true });
    await created.rename({ name: finalName });
    await created.start();
  };

  /** Polls an instance's /health on its host port until it answers 200: a rolling update's readiness gate. */
  const waitHealthy = async (instance: string, timeoutMs = 60_000, containerPort = 8080) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await findInstance(instance);
      const ins = c ? await c.inspect().catch(() => null) : null;
      const port = ins?.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.[0]?.HostPort;
      if (port) {
        const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) })
          .then(async (r) => (await r.arrayBuffer(), r.status === 200))
          .catch(() => false);
        if (ok) return;
      }
      if (Date.now() > deadline)
        throw new PlatformError(`${instance} did not answer /health with 200 within ${timeoutMs / 1000} s of its restart`, "docker", true);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  /** Stops (SIGTERM, so a consumer leaves its group cleanly) and removes an instance; nothing when it is gone. */
  const retire = async (instance: string) => {
    const c = await findInstance(instance);
    if (!c) return;
    await c.stop({ t: 5 }).catch((err: unknown) => {
      if (!isNotFound(err) && !isNotModified(err)) throw err;
    });
    await c.remove({ force: true }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  };

  /**
   * A rolling update, as a Deployment's (maxSurge 1, maxUnavailable 0): a surge instance with the new
   * template starts and answers /health before each instance is recreated in turn (and answers again), then
   * the surge instance leaves. Recreating every instance at once left the service with none answering
   * for a few seconds — the runbook's own step paged service-down P0 in the lock drill. The stack has no
   * load balancer: a client of one instance's address still sees that instance restart.
   */
  const rollingUpdate = async (
    service: Role,
    env: Record<string, string | null>,
    labels?: Record<string, string>,
    image?: string,
    rolling = true,
  ): Promise<void> => {
    const surge = `${service}${SURGE}`;
    await settle(); // a replacement or a surge instance left by an earlier run that died here
    const originals = (await containersOf(service)).map((c) => c.Labels[LABEL.instance] ?? "").filter((i) => i !== "" && i !== surge);
    const first = originals[0];
    if (!first) throw new PlatformError(`service ${service} has no instance`, "not-found", false);
    const revision = labels ? { image: image ?? "", labels } : undefined;
    if (revision && !revision.image) revision.image = (await (await byInstance(first)).inspect()).Config.Image;
    if (!rolling) {
      // an emergency undo (a drill's, bounded to seconds): every instance replaced at once, no health gate
      for (const inst of originals) await recreate(inst, env, undefined, undefined, undefined, revision);
      return;
    }
    await recreate(first, { ...env, KAFKA_CLIENT_ID: surge }, `${prefix}${surge}`, surge, undefined, revision);
    try {
      await waitHealthy(surge);
      for (const inst of originals) {
        await recreate(inst, env, undefined, undefined, undefined, revision);
        await waitHealthy(inst);
      }
    } finally {
      await retire(surge);
    }
  };

  /** A service's revisions as its instances' labels hold them (the newest an instance runs), with what runs now. */
  const revisionsOf = async (service: Role) => {
    await settle();
    const list = (await containersOf(service)).filter((c) => !(c.Labels[LABEL.instance] ?? "").endsWith(SURGE));
    if (list.length === 0) throw new PlatformError(`service ${service} has no instance in stack ${opts.stackId}`, "not-found", false);
    const newest = [...list].sort((a, b) => Number(b.Labels[REVISION_LABEL] ?? 1) - Number(a.Labels[REVISION_LABEL] ?? 1))[0]!;
    const ins = await (await d()).getContainer(newest.Id).inspect();
    const history = readHistory(ins.Config.Labels ?? {}, ins.Config.Image, new Date(ins.Created).toISOString());
    const env = Object.fromEntries(ins.Config.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    return { history, current: currentRevision(ins.Config.Labels ?? {}, history), image: ins.Config.Image, env };
  };
  const revisionLabels = (next: { history: RevisionRecord[]; record: RevisionRecord }) => ({
    [REVISION_LABEL]: String(next.record.revision),
    [HISTORY_LABEL]: JSON.stringify(next.history),
  });
  /** A new revision of a service (`gm-chaos stack deploy`): the changed template rolled out to every instance. */
  const deploy = async (service: Role, change: DeployChange, cause = "gm-chaos stack deploy"): Promise<Rollout | null> => {
    if (change.image) {
      try {
        await (await d()).getImage(change.image).inspect();
      } catch (err) {
        if (isNotFound(err))
          throw new PlatformError(
            `image ${change.image} is not on this Docker engine (nothing is pulled; build or load it first)`,
            "not-found",
            false,
          );
        throw err;
      }
    }
    const { history, image, env } = await revisionsOf(service);
    const next = nextRevision(history, image, env, change, new Date().toISOString(), cause);
    if (!next) return null;
    await rollingUpdate(service, change.env ?? {}, revisionLabels(next), next.record.template.image);
    return toRollouts(service as ServiceName, next.history, next.record.revision)[0] ?? null;
  };

  return {
    logSource: "docker",
    oomEvents,
    kill: (instance, signal = "SIGKILL") =>
      act(
        instance,
        (s) => !s.running,
        (c) => c.kill({ signal }),
        /is not running/,
      ),
    pause: (instance) =>
      act(
        instance,
        (s) => s.paused || !s.running,
        (c) => c.pause(),
        /already paused|is not running/,
      ),
    unpause: (instance) =>
      act(
        instance,
        (s) => !s.paused,
        (c) => c.unpause(),
        /is not paused/,
      ),
    start: (instance) =>
      act(
        instance,
        (s) => s.running,
        (c) => c.start(),
        /already started|already running/,
      ),
    async state(instance) {
      const c = await findInstance(instance);
      if (!c) return null;
      try {
        const st = (await c.inspect()).State;
        return { running: st.Running, paused: st.Paused };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    containerName: (instance) => `${prefix}${instance}`,
    async instanceUrls(service, containerPort = 8080) {
      const list = await containersOf(service);
      return list
        .map((c) => c.Ports.find((p) => p.PrivatePort === containerPort && p.PublicPort))
        .filter((p): p is NonNullable<typeof p> => p !== undefined)
        .map((p) => `http://127.0.0.1:${p.PublicPort}`)
        .filter((u, i, all) => all.indexOf(u) === i);
    },
    async listInstances(service) {
      const [list, ooms] = await Promise.all([containersOf(service), oomEvents(Date.now() - lookback * 1000)]);
      return Promise.all(list.map((c) => info(c, ooms)));
    },
    async logs(instance, tail) {
      const c = await byInstance(instance);
      const buf = (await c.logs({ stdout: true, stderr: true, tail })) as unknown as Buffer;
      return demuxDockerLogs(buf)
        .split("\n")
        .filter((l) => l.length > 0);
    },
    async restart(instance) {
      const c = await byInstance(instance);
      const ins = await c.inspect();
      if (ins.State.Paused) await c.unpause();
      else if (ins.State.Running) await c.restart({ t: 10 });
      else await c.start();
    },
    async memoryLimit(instance) {
      const ins = await (await byInstance(instance)).inspect();
      return ins.HostConfig.Memory ? ins.HostConfig.Memory : null;
    },
    settle,
    async setMemoryLimit(service, bytes) {
      await settle();
      for (const c of await containersOf(service)) {
        try {
          // MemorySwap equal to Memory: no swap, so the limit is what the kernel enforces.
          await (await d()).getContainer(c.Id).update({ Memory: bytes, MemorySwap: bytes });
        } catch (err) {
          // cgroup v1 refuses a limit below the current usage (EBUSY): apply it the way Kubernetes
          // applies a changed limit, by replacing the container with one that has it.
          if (!/unable to set memory limit|current usage/i.test(String((err as Error).message))) throw err;
          await recreate(c.Labels[LABEL.instance] ?? "", {}, undefined, undefined, bytes);
          continue;
        }
        // A changed limit rolls out like a Kubernetes Deployment patch: an instance that is down
        // (an OOM-killed one, typically) starts again with the new limit.
        const ins = await (await d()).getContainer(c.Id).inspect();
        if (!ins.State.Running) await (await d()).getContainer(c.Id).start();
      }
    },
    async replicas(service) {
      // The desired count, like a Deployment's spec.replicas: every instance of the service, whatever
      // its state (a paused or crashed replica is still one; restarting it is another step).
      return (await containersOf(service)).length;
    },
    async scale(service: ServiceName, replicas: number) {
      await settle();
      const list = (await containersOf(service)).sort((a, b) =>
        (a.Labels[LABEL.instance] ?? "").localeCompare(b.Labels[LABEL.instance] ?? "", undefined, { numeric: true }),
      );
      const template = list[0];
      if (!template) throw new PlatformError(`service ${service} has no instance to scale from`, "not-found", false);
      for (let n = list.length + 1; n <= replicas; n++) {
        const inst = `${service}-x${n}`;
        await recreate(template.Labels[LABEL.instance] ?? "", { KAFKA_CLIENT_ID: inst }, `${prefix}${inst}`, inst);
      }
      // Scaling down removes the instances added last, never the original ones.
      for (const c of list.slice(replicas).reverse()) {
        if ((c.Labels[LABEL.instance] ?? "").includes("-x")) await (await d()).getContainer(c.Id).remove({ force: true });
      }
    },
    async poolSize(service) {
      const list = await containersOf(service);
      const first = list[0];
      if (!first) throw new PlatformError(`service ${service} has no instance`, "not-found", false);
      const ins = await (await d()).getContainer(first.Id).inspect();
      const v = ins.Config.Env.find((e) => e.startsWith("PG_POOL_MAX="));
      return v ? Number(v.split("=")[1]) : 10;
    },
    /** A rolling update of the pool size (rollingUpdate): not a revision, as the stack records them. */
    async setPoolSize(service, size) {
      await rollingUpdate(service, { PG_POOL_MAX: String(size) });
    },
    deploy,
    serviceEnv: async (service) => (await revisionsOf(service)).env,
    async rollouts(service) {
      const { history, current } = await revisionsOf(service);
      return toRollouts(service, history, current);
    },
    async rollback(service, toRevision, opts) {
      const { history, current, image, env } = await revisionsOf(service);
      const target = rollbackTarget(history, current, toRevision);
      if (typeof target === "string") throw new PlatformError(`${service}: ${target}`, "not-found", false);
      const next = nextRevision(
        history,
        image,
        env,
        target.template,
        new Date().toISOString(),
        `rollback to revision ${target.revision}`,
        target.revision,
      );
      // the template is the one running already (a rollback of a no-op): nothing to replace
      if (!next) return target.revision;
      await rollingUpdate(service, target.template.env, revisionLabels(next), target.template.image, opts?.rolling ?? true);
      return target.revision;
    },
  };
}
