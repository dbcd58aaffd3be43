/**
 * The runbook's actions as typed steps executed against the ports. A check that finds a problem is a
 * result with `ok: false`, not an exception; only a port that is itself broken throws (verification
 * steps absorb those too, because a broker or a database being restarted is expected to fail for a while).
 */
import type { Incident } from "./incident.js";
import type { Policy } from "./policy.js";
import { decideRollback, recentRevisions, type RevisionTiming, revisionTiming } from "./deployments.js";
import { type InstanceInfo, type PlatformPort, PortUnavailableError, type Ports, type Rollout } from "./ports.js";
import { detectDbPoolExhausted, detectHighErrorRate, detectServiceDown, errorRateSeverity } from "./rules.js";
import type { ServiceName, Snapshot } from "./snapshot.js";
import {
  consumersOf,
  DEFAULT_TOPOLOGY,
  INFRASTRUCTURE,
  poolServices as pooledIn,
  scalableServices,
  serviceNames,
  type Topology,
} from "./topology.js";

export type StepPhase = "triage" | "mitigation" | "verification";

/**
 * What a step is run for: the incident (its subject picks the service or group), the policy, and the
 * platform's description (topology.ts), whose roles pick the targets ("the consumer group's service",
 * "the services with a pool"). Without one, the snapshot's description is used, else GameMetrics Pro's.
 */
export interface StepContext {
  incident: Incident;
  policy: Policy;
  topology?: Topology;
  /** when the incident opened (ms since the epoch): deployments are judged against it; the steps' clock now when absent */
  openedAt?: number;
  /**
   * Records the undo of what a reversible step is about to change, durably, before it changes it (the
   * on-call mode writes it to the fault journal that `gm-chaos recover` reads). A drill leaves it out:
   * its fault's own recover returns the stack to its shape.
   */
  recordUndo?: (undo: UndoAction) => Promise<void>;
}

/**
 * What running a step does to the system, for graded autonomy: `read-only` steps run unasked;
 * `reversible` ones record their undo before they act (`undo` says in words what it does);
 * `irreversible` ones cannot be taken back (`why`), so a person confirms them.
 */
export type StepEffect = { type: "read-only" } | { type: "reversible"; undo: string } | { type: "irreversible"; why: string };

export const STEP_EFFECT_TYPES = ["read-only", "reversible", "irreversible"] as const satisfies readonly StepEffect["type"][];

const READ_ONLY: StepEffect = { type: "read-only" };

/** Whether running the step changes the system. */
export const mutates = (step: Pick<Step, "effect">): boolean => step.effect.type !== "read-only";

/** The undo of one change a reversible step made: what to set back, through the platform port. */
export type UndoAction =
  | { action: "scale"; service: ServiceName; replicas: number }
  | { action: "set-memory-limit"; service: InstanceInfo["service"]; bytes: number }
  | { action: "set-pool-size"; service: ServiceName; size: number }
  | { action: "rollback"; service: ServiceName; toRevision: number };

export const UNDO_ACTIONS = ["scale", "set-memory-limit", "set-pool-size", "rollback"] as const satisfies readonly UndoAction["action"][];

/** An undo in words, e.g. "scale stats-api back to 1 replica(s)". */
export function describeUndo(u: UndoAction): string {
  switch (u.action) {
    case "scale":
      return `scale ${u.service} back to ${u.replicas} replica(s)`;
    case "set-memory-limit":
      return `set the memory limit of ${u.service} back to ${mib(u.bytes)}`;
    case "set-pool-size":
      return `set the pool size of ${u.service} back to ${u.size}`;
    case "rollback":
      return `roll ${u.service} forward again to revision ${u.toRevision}`;
  }
}

/** Whether the newest revision of `history` is `revision` or a rollback to its template. */
export function runsRevision(history: readonly Rollout[], revision: number): boolean {
  const current = history.reduce<Rollout | undefined>((a, r) => (!a || r.revision > a.revision ? r : a), undefined);
  return current !== undefined && (current.revision === revision || current.rollbackOf === revision);
}

/** Applies a recorded undo; idempotent (setting a value it already has changes nothing). */
export async function applyUndo(platform: PlatformPort, u: UndoAction): Promise<void> {
  switch (u.action) {
    case "scale":
      return platform.scale(u.service, u.replicas);
    case "set-memory-limit":
      return platform.setMemoryLimit(u.service, u.bytes);
    case "set-pool-size":
      return platform.setPoolSize(u.service, u.size);
    case "rollback": {
      // idempotent: a service already running that revision's template is left alone
      if (runsRevision(platform.rollouts ? await platform.rollouts(u.service) : [], u.toRevision)) return;
      if (!platform.rollback) throw new PortUnavailableError(`roll ${u.service} forward: this platform cannot roll back`);
      await platform.rollback(u.service, u.toRevision);
      return;
    }
  }
}

/** A recorded undo read back from a file: undefined when it is not one (the caller names the file). */
export function parseUndoAction(v: unknown): UndoAction | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const okInt = (n: unknown, min: number) => typeof n === "number" && Number.isInteger(n) && n >= min;
  if (typeof o["service"] !== "string" || o["service"] === "") return undefined;
  if (o["action"] === "scale" && okInt(o["replicas"], 0)) return o as UndoAction;
  if (o["action"] === "set-memory-limit" && okInt(o["bytes"], 1)) return o as UndoAction;
  if (o["action"] === "set-pool-size" && okInt(o["size"], 1)) return o as UndoAction;
  if (o["action"] === "rollback" && okInt(o["toRevision"], 1)) return o as UndoAction;
  return undefined;
}

/**
 * What a step found or did: triage "problem" (it found the fault) or "healthy"; mitigation "acted" or
 * "not-needed" (it judged the action would not help, and says why).
 */
export type StepFinding = "problem" | "healthy" | "acted" | "not-needed";

/**
 * The outcome of a step. `ok` means the step did its job — triage: it could look (whatever it found,
 * which `finding` says); mitigation: the action was taken or judged not needed; verification: recovery
 * was observed before the deadline. `ok: false` is a step that could not do its job (a drill fails on it).
 */
export interface StepResult {
  ok: boolean;
  finding?: StepFinding;
  output: string[];
  data?: Record<string, unknown>;
}

/** One runbook action. */
export interface Step {
  id: string;
  phase: StepPhase;
  title: string;
  /** the runbook line it implements, verbatim */
  runbookAction: string;
  /** read-only, reversible (with its undo) or irreversible: what the on-call mode asks before and records */
  effect: StepEffect;
  /** only says what should be done; a human decides (e.g. scaling the database, a rollback) */
  advisory: boolean;
  run(ports: Ports, ctx: StepContext): Promise<StepResult>;
}

/** The prober's application_name: never terminated, or verification could not observe recovery. */
export const PROBER_APPLICATION = "gm-prober";

const ERROR_LINE = /"level":"error"|processing error/i;
const LEAK_LINE = /heap out of memory|allocation failed|out of memory|outofmemory|memory leak|MaxListenersExceeded/i;

/** The description the step judges by: the context's, the snapshot's, else GameMetrics Pro's. */
const topologyFor = (ctx: StepContext, s?: Pick<Snapshot, "topology">): Topology => ctx.topology ?? s?.topology ?? DEFAULT_TOPOLOGY;
/** The same for a step that has no snapshot at hand: the prober's is read only when the context has none. */
const described = async (ports: Ports, ctx: StepContext): Promise<Topology> =>
  ctx.topology ?? topologyFor(ctx, await ports.observe.snapshot());
const isServiceName = (t: Topology, s: string): s is ServiceName => serviceNames(t).includes(s);
/** The incident's service, or every described service when its subject is not one (e.g. "all"). */
const servicesOf = (ctx: StepContext, s?: Pick<Snapshot, "topology">): ServiceName[] => {
  const t = topologyFor(ctx, s);
  return isServiceName(t, ctx.incident.subject) ? [ctx.incident.subject] : serviceNames(t);
};
/** The services that consume the incident's group (its subject), by their `consumes` role. */
const consumerServices = (ctx: StepContext, s?: Pick<Snapshot, "topology">): ServiceName[] =>
  consumersOf(topologyFor(ctx, s), ctx.incident.subject);
/** A triage result: the check could look; `problem` says whether it found the fault. */
const looked = (problem: boolean, output: string[], data?: Record<string, unknown>): StepResult => ({
  ok: true,
  finding: problem ? "problem" : "healthy",
  output,
  ...(data ? { data } : {}),
});
const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const mib = (b: number | null): string => (b === null ? "none" : `${Math.round(b / 1024 ** 2)} MiB`);
/** Where the platform's logs come from ("docker", "loki" …), for the output of the log steps; nothing when unknown. */
const logSource = (ports: Ports): { text: string; data: { source?: string } } =>
  ports.platform.logSource
    ? { text: `, from ${ports.platform.logSource}`, data: { source: ports.platform.logSource } }
    : { text: "", data: {} };

/**
 * The services with a pg pool: those whose pool the current snapshot saw (what runs); when none was
 * seen (postgres or the metrics not observed), those whose `postgresPool` role says so; else every service.
 */
async function poolServices(ports: Ports, ctx: StepContext): Promise<ServiceName[]> {
  const s = await ports.observe.snapshot();
  const t = topologyFor(ctx, s);
  const seen = [...new Set((s.postgres?.pools ?? []).map((p) => p.service))];
  if (seen.length > 0) return seen;
  const pooled = pooledIn(t);
  return pooled.length > 0 ? pooled : serviceNames(t);
}

/**
 * Polls `probe` until it is done or the policy's verification deadline passes, with the injected
 * clock and sleep. A probe that throws counts as "not yet".
 */
async function waitUntil(
  ports: Ports,
  policy: Policy,
  what: string,
  probe: () => Promise<{ done: boolean; line: string }>,
): Promise<StepResult> {
  const { timeoutSeconds, pollSeconds } = policy.actions.verify;
  const start = ports.now();
  const deadline = start + timeoutSeconds * 1000;
  let first: string | null = null;
  for (let attempts = 1; ; attempts++) {
    let r: { done: boolean; line: string };
    try {
      r = await probe();
    } catch (e) {
      // waiting cannot help a check that can never be made here
      if (e instanceof PortUnavailableError)
        return {
          ok: false,
          output: [`${what}: cannot be checked: ${msg(e)}`],
          data: { attempts, elapsedSeconds: (ports.now() - start) / 1000 },
        };
      r = { done: false, line: `check failed: ${msg(e)}` };
    }
    first ??= r.line;
    const elapsed = (ports.now() - start) / 1000;
    if (r.done)
      return {
        ok: true,
        output: [`${what}: yes after ${elapsed} s (${attempts} check(s)): ${r.line}`],
        data: { attempts, elapsedSeconds: elapsed },
      };
    const left = deadline - ports.now();
    if (left <= 0) {
      return {
        ok: false,
        output: [`${what}: not within ${timeoutSeconds} s (${attempts} check(s))`, `first: ${first}`, `last: ${r.line}`],
        data: { attempts, elapsedSeconds: elapsed },
      };
    }
    await ports.sleep(Math.min(pollSeconds * 1000, left));
  }
}

// ------------------------------------------------------------------------------------- general

const checkHealthEndpoints: Step = {
  id: "check-health-endpoints",
  phase: "triage",
  title: "Check service health endpoints",
  runbookAction: "Check service health endpoints",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const s = await ports.observe.snapshot();
    const output: string[] = [];
    const failing: string[] = [];
    for (const service of servicesOf(ctx, s)) {
      const h = s.services.find((x) => x.service === service);
      if (!h || h.instances.length === 0) {
        output.push(`${service}: no instance probed (unknown)`);
        failing.push(service);
        continue;
      }
      for (const i of h.instances) {
        output.push(
          `${service} ${i.url}: ${i.ok ? "ok" : "FAIL"} (status ${i.status ?? "none"}${i.latencyMs === null ? "" : `, ${i.latencyMs} ms`}${i.error ? `, ${i.error}` : ""})`,
        );
        if (!i.ok) failing.push(i.url);
      }
    }
    return looked(failing.length > 0, output, { failing });
  },
};

/** The services whose revisions the deployment steps look at: the incident's, or every described one. */
async function deployedServices(ports: Ports, ctx: StepContext): Promise<ServiceName[]> {
  return servicesOf(ctx, { topology: await described(ports, ctx) });
}

/** A revision as one line: number, time, where it stands, what changed. */
const revisionLine = (service: string, r: Rollout, timing: RevisionTiming): string =>
  `${service} revision ${r.revision}${r.current ? " (current)" : ""}: created ${r.createdAt}${
    timing === "after-incident" ? " — after the incident opened" : ""
  }${r.rollbackOf !== undefined && r.rollbackOf !== null ? `, a rollback (restored revision ${r.rollbackOf})` : ""}; ${
    r.changes && r.changes.length > 0
      ? r.changes.join("; ")
      : r.changeCause
        ? `change cause: ${r.changeCause}`
        : `images ${r.images.join(", ")}`
  }`;

const reviewRecentDeployments: Step = {
  id: "review-recent-deployments",
  phase: "triage",
  title: "Review recent deployments",
  runbookAction: "Review recent deployments",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const openedAt = ctx.openedAt ?? ports.now();
    const window = ctx.policy.actions.recentDeploySeconds;
    const rollouts = ports.platform.rollouts?.bind(ports.platform);
    if (!rollouts)
      return {
        ok: false,
        output: ["this platform keeps no revisions (its driver has no rollout history); deployments cannot be reviewed"],
      };
    const changed: string[] = [];
    const quiet: string[] = [];
    const recent: { service: ServiceName; revision: number; inWindow: boolean; changes: string[] }[] = [];
    for (const service of await deployedServices(ports, ctx)) {
      const all = await rollouts(service);
      const list = recentRevisions(all, openedAt, window);
      // a change: a revision in the window that has one before it (a service's first revision changed nothing that ran)
      const isChange = (r: Rollout) =>
        revisionTiming(r.createdAt, openedAt, window) === "in-window" && all.some((x) => x.revision < r.revision);
      const lines = list.map((r) => revisionLine(service, r, revisionTiming(r.createdAt, openedAt, window)));
      if (list.length === 0) quiet.push(`${service}: no revision within ${window} s before the incident opened`);
      else (list.some(isChange) ? changed : quiet).push(...lines);
      for (const r of list) recent.push({ service, revision: r.revision, inWindow: isChange(r), changes: r.changes ?? [] });
    }
    // the services that changed first: they are what the on-call engineer reads
    return looked(
      recent.some((r) => r.inWindow),
      [...changed, ...quiet],
      {
        recent,
        openedAt: new Date(openedAt).toISOString(),
        windowSeconds: window,
      },
    );
  },
};

const checkConsumerLag: Step = {
  id: "check-consumer-lag",
  phase: "triage",
  title: "Check Kafka consumer lag",
  runbookAction: "Check Kafka consumer lag",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const s = await ports.observe.snapshot();
    if (!s.kafka) return { ok: false, output: ["Kafka was not observed (collector failed)"] };
    const above = ctx.policy.thresholds.consumerLag.above;
    const output = s.kafka.groups.map((g) => `${g.group} on ${g.topic}: lag ${g.totalLag}${g.totalLag > above ? ` (> ${above})` : ""}`);
    return looked(
      s.kafka.groups.some((g) => g.totalLag > above),
      output,
    );
  },
};

function connectionsStep(id: string, runbookAction: string, title: string): Step {
  return {
    id,
    phase: "triage",
    title,
    runbookAction,
    effect: READ_ONLY,
    advisory: false,
    async run(ports, ctx) {
      const rows = await ports.database.connections();
      const { max, reserved } = await ports.database.maxConnections();
      const usable = max - reserved;
      const byState: Record<string, number> = {};
      const byApplication: Record<string, number> = {};
      for (const r of rows) {
        byState[r.state] = (byState[r.state] ?? 0) + 1;
        const app = r.application === "" ? "(none)" : r.application;
        byApplication[app] = (byApplication[app] ?? 0) + 1;
      }
      const usage = usable > 0 ? rows.length / usable : 1;
      const output = [
        `${rows.length} connection(s) of ${usable} usable (max_connections ${max} − reserved ${reserved}): ${Math.round(usage * 100)}%`,
        ...Object.entries(byState).map(([s, n]) => `state ${s}: ${n}`),
        ...Object.entries(byApplication).map(([a, n]) => `application ${a}: ${n}`),
      ];
      return looked(usage >= ctx.policy.thresholds.dbPool.usageAtLeast, output, { total: rows.length, usable, byState, byApplication });
    },
  };
}

const reviewDatabaseConnections = connectionsStep(
  "review-database-connections",
  "Review database connections",
  "Review database connections",
);

const identifyAffectedServices: Step = {
  id: "identify-affected-services",
  phase: "triage",
  title: "Identify affected service(s)",
  runbookAction: "Identify affected service(s)",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const s = await ports.observe.snapshot();
    const affected = new Set<string>();
    const output: string[] = [];
    for (const e of s.errorRates) {
      if (e.rate === null || errorRateSeverity(e.rate, ctx.policy) === null) continue;
      affected.add(e.service);
      output.push(`${e.service}: error rate ${e.rate} (${e.errors}/${e.requests}, ${e.source})`);
    }
    for (const f of detectServiceDown(s, ctx.policy)) {
      affected.add(f.subject);
      output.push(f.summary);
    }
    if (output.length === 0) output.push("no service above the error-rate threshold or down");
    return looked(affected.size > 0, output, { services: [...affected].sort() });
  },
};

async function restartTargets(ports: Ports, ctx: StepContext, s: Snapshot, service: ServiceName): Promise<InstanceInfo[]> {
  const list = await ports.platform.listInstances(service);
  const stopped = list.filter((i) => !i.running);
  // Running instances are restarted only when the service is still completely down: they answer
  // nothing healthy, and a restart (delete pod) is the runbook's remedy for failing pods.
  const stillDown = ctx.incident.kind === "service-down" && detectServiceDown(s, ctx.policy).some((f) => f.subject === service);
  return stopped.length > 0 || !stillDown ? stopped : list;
}

const restartFailingInstances: Step = {
  id: "restart-failing-instances",
  phase: "mitigation",
  title: "Restart failing instances",
  runbookAction: "Restart failing pods",
  effect: { type: "irreversible", why: "a restarted instance cannot be un-restarted (its process and in-memory state are gone)" },
  advisory: false,
  async run(ports, ctx) {
    const s = await ports.observe.snapshot();
    const restarted: string[] = [];
    for (const service of servicesOf(ctx, s)) {
      for (const i of await restartTargets(ports, ctx, s, service)) {
        await ports.platform.restart(i.name);
        restarted.push(i.name);
      }
    }
    return {
      ok: true,
      finding: restarted.length > 0 ? "acted" : "not-needed",
      output: restarted.length > 0 ? restarted.map((n) => `restarted ${n}`) : ["no failing instance; nothing restarted"],
      data: { restarted },
    };
  },
};

const rollbackIfRecentChange: Step = {
  id: "rollback-if-recent-change",
  phase: "mitigation",
  title: "Roll back a recent deployment",
  runbookAction: "Rollback deployment if recent change",
  effect: { type: "reversible", undo: "roll forward: roll the service back again to the revision the rollback left" },
  advisory: false,
  async run(ports, ctx) {
    const openedAt = ctx.openedAt ?? ports.now();
    const window = ctx.policy.actions.recentDeploySeconds;
    const { rollouts, rollback } = ports.platform;
    if (!rollouts || !rollback)
      return { ok: false, output: ["this platform cannot roll back (its driver has no rollout history); roll back by hand"] };
    const output: string[] = [];
    const notRolledBack: string[] = [];
    const rolledBack: { service: ServiceName; from: number; to: number; undo: string }[] = [];
    for (const service of await deployedServices(ports, ctx)) {
      const decision = decideRollback(service, await rollouts.call(ports.platform, service), openedAt, window);
      if (decision.action === "none") {
        notRolledBack.push(decision.why);
        continue;
      }
      await ctx.recordUndo?.({ action: "rollback", service, toRevision: decision.revision.revision });
      const to = await rollback.call(ports.platform, service);
      // kubectl rollout undo's own undo is another undo: the roll forward, to the revision just left
      const undo = `roll forward: rollback ${service} to revision ${decision.revision.revision} (\`kubectl rollout undo deployment/${service} --to-revision=${decision.revision.revision}\`, or \`gm-chaos stack rollback ${service}\`)`;
      output.push(`rolled back: ${decision.why}; ${service} runs revision ${to}'s template again`, `undo: ${undo}`);
      rolledBack.push({ service, from: decision.revision.revision, to, undo });
    }
    return {
      ok: true,
      finding: rolledBack.length > 0 ? "acted" : "not-needed",
      // what was rolled back first, then why each other service was not
      output: [...output, ...notRolledBack],
      data: { rolledBack, openedAt: new Date(openedAt).toISOString(), windowSeconds: window },
    };
  },
};

async function scaleBy(
  ports: Ports,
  ctx: StepContext,
  service: ServiceName,
  bound: number,
  why: string,
): Promise<{ ok: boolean; line: string; to?: number }> {
  const current = await ports.platform.replicas(service);
  const target = Math.min(current + ctx.policy.actions.scale.step, bound);
  if (target <= current) return { ok: false, line: `${service}: already at ${current} replica(s), bound ${bound} (${why})` };
  await ctx.recordUndo?.({ action: "scale", service, replicas: current });
  await ports.platform.scale(service, target);
  return { ok: true, line: `${service}: scaled ${current} → ${target} replica(s)`, to: target };
}

const scaleUpServices: Step = {
  id: "scale-up-services",
  phase: "mitigation",
  title: "Scale up the affected services",
  runbookAction: "Scale up services if needed",
  effect: { type: "reversible", undo: "scale each service back to the replicas it had" },
  advisory: false,
  async run(ports, ctx) {
    const p = ctx.policy;
    let targets: ServiceName[];
    const t = await described(ports, ctx);
    if (isServiceName(t, ctx.incident.subject)) targets = [ctx.incident.subject];
    else {
      const s = await ports.observe.snapshot();
      targets = scalableServices(topologyFor(ctx, s)).filter((svc) =>
        s.errorRates.some((e) => e.service === svc && e.rate !== null && errorRateSeverity(e.rate, p) !== null),
      );
    }
    if (targets.length === 0) return { ok: true, output: ["no single service above the error-rate threshold; nothing scaled"] };
    const results = [];
    for (const svc of targets) results.push(await scaleBy(ports, ctx, svc, p.actions.scale.maxReplicas, "actions.scale.maxReplicas"));
    return { ok: results.every((r) => r.ok), output: results.map((r) => r.line) };
  },
};

const verifyErrorRateNormal: Step = {
  id: "verify-error-rate-normal",
  phase: "verification",
  title: "Verify the error rate is back below the threshold",
  runbookAction: "Verify resolution",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) =>
    waitUntil(ports, ctx.policy, `error rate of ${ctx.incident.subject} below ${ctx.policy.thresholds.errorRate.p2AtLeast}`, async () => {
      const s = await ports.observe.snapshot();
      const left = detectHighErrorRate(s, ctx.policy).filter((f) => ctx.incident.subject === "all" || f.subject === ctx.incident.subject);
      // No signal at all (the collector failed) is not recovery.
      const observed = s.errorRates.some((e) => e.rate !== null);
      return {
        done: observed && left.length === 0,
        line: observed ? left.map((f) => f.summary).join("; ") || "no error-rate finding" : "no error rate observed",
      };
    }),
};

const verifyServiceHealthy: Step = {
  id: "verify-service-healthy",
  phase: "verification",
  title: "Verify every instance answers its health check",
  runbookAction: "Verify resolution",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) =>
    waitUntil(ports, ctx.policy, `${servicesOf(ctx).join(", ")} healthy`, async () => {
      const s = await ports.observe.snapshot();
      const lines: string[] = [];
      let done = true;
      for (const svc of servicesOf(ctx, s)) {
        const inst = s.services.find((h) => h.service === svc)?.instances ?? [];
        const ok = inst.filter((i) => i.ok).length;
        if (inst.length === 0 || ok < inst.length) done = false;
        lines.push(`${svc} ${ok}/${inst.length} ok`);
      }
      return { done, line: lines.join(", ") };
    }),
};

// ------------------------------------------------------------------------------------- Kafka

const kafkaCheckBrokerStatus: Step = {
  id: "kafka-check-broker-status",
  phase: "triage",
  title: "Check broker status",
  runbookAction: "Check broker status: `kubectl get pods -n kafka`",
  effect: READ_ONLY,
  advisory: false,
  async run(ports) {
    // With a majority of brokers down the cluster may not answer a metadata request at all: that is a
    // finding, and the platform's view (`kubectl get pods -n kafka`) still tells which brokers are down.
    let metadataError: string | null = null;
    const brokers = await ports.kafka.brokers().catch((e: unknown) => {
      metadataError = msg(e);
      return [] as Awaited<ReturnType<Ports["kafka"]["brokers"]>>;
    });
    const instances = await ports.platform.listInstances("kafka");
    const down = brokers.filter((b) => !b.up).map((b) => b.nodeId);
    const notRunning = instances.filter((i) => !i.running).map((i) => i.name);
    const output = [
      ...(metadataError !== null ? [`Kafka metadata unavailable: ${metadataError}`] : []),
      ...brokers.map((b) => `broker ${b.nodeId} ${b.address}: ${b.up ? "up" : "DOWN"}`),
      ...instances.map((i) => `${i.name}: ${i.running ? "running" : `not running (exit ${i.exitCode ?? "?"})`}, restarts ${i.restarts}`),
    ];
    if (brokers.length === 0 && instances.length === 0)
      return { ok: false, output: [...output, "no broker in the metadata and no broker instance on the platform: nothing to check"] };
    return looked(down.length > 0 || notRunning.length > 0 || brokers.length === 0, output, { down, notRunning });
  },
};

const kafkaCheckBrokerLogs: Step = {
  id: "kafka-check-broker-logs",
  phase: "triage",
  title: "Check the logs of the down brokers",
  runbookAction: "Check logs: `kubectl logs -n kafka <broker-pod>`",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const instances = await ports.platform.listInstances("kafka");
    const stopped = instances.filter((i) => !i.running);
    // The metadata may call a broker down while its container runs (fenced, disk full): read them all then.
    const targets = stopped.length > 0 ? stopped : instances;
    const output: string[] = [];
    const logs: Record<string, string[]> = {};
    const src = logSource(ports);
    for (const i of targets) {
      const lines = await ports.platform.logs(i.name, ctx.policy.actions.logTail);
      logs[i.name] = lines;
      output.push(`== ${i.name} (last ${Math.min(20, lines.length)} of ${lines.length} lines${src.text})`, ...lines.slice(-20));
    }
    return { ok: true, output, data: { logs, ...src.data } };
  },
};

const kafkaRestartBroker: Step = {
  id: "kafka-restart-broker",
  phase: "mitigation",
  title: "Restart broker instances that are not running",
  runbookAction: "Restart broker if needed: `kubectl delete pod -n kafka <broker-pod>`",
  effect: { type: "irreversible", why: "starting a stopped broker is not undone by stopping it again: that would take a replica away" },
  advisory: false,
  async run(ports) {
    // Only stopped brokers: restarting a running one would take another replica away mid-incident.
    const targets = (await ports.platform.listInstances("kafka")).filter((i) => !i.running);
    for (const i of targets) await ports.platform.restart(i.name);
    const restarted = targets.map((i) => i.name);
    return {
      ok: true,
      finding: restarted.length > 0 ? "acted" : "not-needed",
      output: restarted.length > 0 ? restarted.map((n) => `restarted ${n}`) : ["every broker instance is running; nothing restarted"],
      data: { restarted },
    };
  },
};

async function brokersUp(ports: Ports): Promise<{ allUp: boolean; line: string }> {
  const b = await ports.kafka.brokers();
  const up = b.filter((x) => x.up).length;
  return { allUp: b.length > 0 && up === b.length, line: `${up}/${b.length} broker(s) up` };
}

const kafkaVerifyReplication: Step = {
  id: "kafka-verify-replication",
  phase: "verification",
  title: "Verify replication (no under-replicated partitions)",
  runbookAction: "Verify replication: Check Kafka UI",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) =>
    waitUntil(ports, ctx.policy, "all brokers up and 0 under-replicated partitions", async () => {
      const b = await brokersUp(ports);
      const urp = await ports.kafka.underReplicatedPartitions();
      return { done: b.allUp && urp === 0, line: `${b.line}, ${urp} under-replicated partition(s)` };
    }),
};

const verifyKafkaBrokerHealth: Step = {
  id: "verify-kafka-broker-health",
  phase: "verification",
  title: "Verify Kafka broker health",
  runbookAction: "Verify Kafka broker health",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) =>
    waitUntil(ports, ctx.policy, "all Kafka brokers up", async () => {
      const b = await brokersUp(ports);
      return { done: b.allUp, line: b.line };
    }),
};

const verifyLagDrains: Step = {
  id: "verify-lag-drains",
  phase: "verification",
  title: "Verify consumer lag drains below the threshold",
  runbookAction: "Verify resolution",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) => {
    const above = ctx.policy.thresholds.consumerLag.above;
    // A lag incident is about its group; after a broker outage every group must catch up.
    const only = ctx.incident.kind === "high-consumer-lag" ? ctx.incident.subject : null;
    return waitUntil(ports, ctx.policy, `lag of ${only ?? "every group"} <= ${above}`, async () => {
      const s = await ports.observe.snapshot();
      if (!s.kafka) return { done: false, line: "Kafka not observed" };
      const groups = s.kafka.groups.filter((g) => only === null || g.group === only);
      if (only !== null && groups.length === 0) return { done: false, line: `group ${only} not observed` };
      return { done: groups.every((g) => g.totalLag <= above), line: groups.map((g) => `${g.group} ${g.totalLag}`).join(", ") };
    });
  },
};

// ------------------------------------------------------------------------------------- Database

const dbCheckActiveConnections = connectionsStep(
  "db-check-active-connections",
  "Check active connections: `SELECT count(*) FROM pg_stat_activity;`",
  "Count connections by state and application",
);

/** What the pools may open at most (size × replicas per service), and the connections of anything else. */
async function poolDemand(
  ports: Ports,
  ctx: StepContext,
): Promise<{
  services: { service: ServiceName; size: number; replicas: number }[];
  other: number;
  usable: number;
  max: number;
  reserved: number;
}> {
  const names = await poolServices(ports, ctx);
  const services = [];
  for (const service of names)
    services.push({ service, size: await ports.platform.poolSize(service), replicas: await ports.platform.replicas(service) });
  const rows = await ports.database.connections();
  const { max, reserved } = await ports.database.maxConnections();
  const other = rows.filter((r) => !(names as string[]).includes(r.application)).length;
  return { services, other, usable: max - reserved, max, reserved };
}

const dbScaleUpDatabase: Step = {
  id: "db-scale-up-database",
  phase: "mitigation",
  title: "Scale up the database (advice)",
  runbookAction: "Scale up database if needed",
  effect: READ_ONLY,
  advisory: true,
  async run(ports, ctx) {
    const d = await poolDemand(ports, ctx);
    const pools = d.services.reduce((n, s) => n + s.size * s.replicas, 0);
    const needed = pools + d.other + d.reserved;
    const output = [
      ...d.services.map((s) => `${s.service}: pool ${s.size} × ${s.replicas} replica(s) = ${s.size * s.replicas}`),
      `pools ${pools} + other sessions ${d.other} + reserved ${d.reserved} = ${needed}; max_connections ${d.max}`,
      needed > d.max
        ? `would need max_connections >= ${needed} (a larger instance or a pooler such as PgBouncer)`
        : "max_connections covers every pool at full size; scaling the database is not needed for connections",
    ];
    return { ok: true, output, data: { needed, maxConnections: d.max, scaleNeeded: needed > d.max } };
  },
};

const dbIncreasePoolSize: Step = {
  id: "db-increase-pool-size",
  phase: "mitigation",
  title: "Increase the connection pool size, bounded by the usable connections",
  runbookAction: "Increase connection pool size in services",
  effect: { type: "reversible", undo: "set each pool back to the size it had (a rolling restart of the service)" },
  advisory: false,
  async run(ports, ctx) {
    const d = await poolDemand(ports, ctx);
    const instances = d.services.reduce((n, s) => n + s.replicas, 0);
    // Every instance may fill its pool at once, so pools × instances must fit the usable connections
    // left by other sessions; beyond that a bigger pool only moves the queue into PostgreSQL.
    const bound = instances > 0 ? Math.floor((d.usable - d.other) / instances) : 0;
    const output = [`bound per instance: (usable ${d.usable} − other ${d.other}) / ${instances} instance(s) = ${bound}`];
    const raised: Record<string, number> = {};
    for (const s of d.services) {
      const target = Math.min(Math.ceil(s.size * ctx.policy.actions.poolSize.factor), bound);
      if (target <= s.size) {
        output.push(`${s.service}: pool ${s.size} already at the bound; scale up the database instead`);
        continue;
      }
      await ctx.recordUndo?.({ action: "set-pool-size", service: s.service, size: s.size });
      await ports.platform.setPoolSize(s.service, target);
      raised[s.service] = target;
      output.push(`${s.service}: pool ${s.size} → ${target}`);
    }
    // Not raising a pool that is at its bound is the step's judgement (a bigger pool would only move the
    // queue into PostgreSQL), not a failure; the database-scaling advice says what would help.
    return { ok: true, finding: Object.keys(raised).length > 0 ? "acted" : "not-needed", output, data: { raised, bound } };
  },
};

const dbKillIdleConnections: Step = {
  id: "db-kill-idle-connections",
  phase: "mitigation",
  title: "Terminate idle connections (never active, superuser or the prober's)",
  runbookAction: "Kill idle connections if necessary",
  effect: { type: "irreversible", why: "a terminated session and its open transaction are gone" },
  advisory: false,
  async run(ports, ctx) {
    const { minIdleSeconds, protect } = ctx.policy.actions.killIdle;
    const all = [...new Set([PROBER_APPLICATION, ...protect])];
    const pids = await ports.database.terminateIdle({ minIdleSeconds, protect: all });
    return {
      ok: true,
      finding: pids.length > 0 ? "acted" : "not-needed",
      output: [
        `terminated ${pids.length} session(s) idle >= ${minIdleSeconds} s${pids.length > 0 ? `: ${pids.join(", ")}` : ""} (protected: ${all.join(", ")})`,
      ],
      data: { pids },
    };
  },
};

const dbVerifyErrorRate: Step = {
  id: "db-verify-error-rate",
  phase: "verification",
  title: "Verify the pool recovers and the error rate falls back",
  runbookAction: "Verify resolution",
  effect: READ_ONLY,
  advisory: false,
  run: (ports, ctx) =>
    waitUntil(ports, ctx.policy, "connection pool recovered and error rate normal", async () => {
      const s = await ports.observe.snapshot();
      if (!s.postgres) return { done: false, line: "PostgreSQL not observed" };
      const pool = detectDbPoolExhausted(s, ctx.policy);
      const rates = detectHighErrorRate(s, ctx.policy).filter((f) => f.evidence.some((e) => e.signal.startsWith("errorRates[")));
      const left = [...pool, ...rates].map((f) => f.summary);
      return { done: left.length === 0, line: left.join("; ") || `usage ${s.postgres.usage}, no pool queueing, error rate normal` };
    }),
};

// ------------------------------------------------------------------------------------- Consumer lag

const lagCheckConsumerStatus: Step = {
  id: "lag-check-consumer-status",
  phase: "triage",
  title: "Check consumer instances and group members",
  runbookAction: "Check consumer status: `kubectl get pods -n gamemetrics -l app=event-processor-service`",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const consumers = consumerServices(ctx, { topology: await described(ports, ctx) });
    const instances = (await Promise.all(consumers.map((svc) => ports.platform.listInstances(svc)))).flat();
    const members = await ports.kafka.groupMembers(ctx.incident.subject);
    const running = instances.filter((i) => i.running).length;
    const output = [
      ...instances.map((i) => `${i.name}: ${i.running ? "running" : `not running (exit ${i.exitCode ?? "?"})`}, restarts ${i.restarts}`),
      `group ${ctx.incident.subject}: ${members} member(s), ${running}/${instances.length} instance(s) running`,
    ];
    return looked(!(instances.length > 0 && running === instances.length && members > 0), output, {
      members,
      running,
      instances: instances.length,
    });
  },
};

const lagCheckProcessingErrors: Step = {
  id: "lag-check-processing-errors",
  phase: "triage",
  title: "Count processing errors in the consumers' logs",
  runbookAction: "Check for processing errors in logs",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const output: string[] = [];
    const errorLines: Record<string, number> = {};
    const src = logSource(ports);
    const consumers = consumerServices(ctx, { topology: await described(ports, ctx) });
    for (const i of (await Promise.all(consumers.map((svc) => ports.platform.listInstances(svc)))).flat()) {
      const hits = (await ports.platform.logs(i.name, ctx.policy.actions.logTail)).filter((l) => ERROR_LINE.test(l));
      errorLines[i.name] = hits.length;
      output.push(`${i.name}: ${hits.length} error line(s) in the last ${ctx.policy.actions.logTail}${src.text}`, ...hits.slice(-5));
    }
    return looked(
      Object.values(errorLines).some((n) => n > 0),
      output,
      { errorLines, ...src.data },
    );
  },
};

const lagScaleUpConsumers: Step = {
  id: "lag-scale-up-consumers",
  phase: "mitigation",
  title: "Scale up consumers, at most one per partition",
  runbookAction: "Scale up consumers: Increase HPA min replicas",
  effect: { type: "reversible", undo: "scale the consumers back to the replicas they had" },
  advisory: false,
  async run(ports, ctx) {
    const s = await ports.observe.snapshot();
    const partitions = s.kafka?.groups.find((g) => g.group === ctx.incident.subject)?.partitions.length ?? 0;
    const max = ctx.policy.actions.scale.maxReplicas;
    // A consumer beyond the partition count gets no partition and only adds rebalances.
    const bound = partitions > 0 ? Math.min(partitions, max) : max;
    // the group's service(s), by their `consumes` role (one in GameMetrics Pro: event-processor-service)
    const targets = consumerServices(ctx, s);
    if (targets.length === 0) return { ok: false, output: [`no described service consumes group ${ctx.incident.subject}`] };
    const why = partitions > 0 ? `${partitions} partition(s), maxReplicas ${max}` : `maxReplicas ${max}`;
    const results: Awaited<ReturnType<typeof scaleBy>>[] = [];
    for (const svc of targets) results.push(await scaleBy(ports, ctx, svc, bound, why));
    const ok = results.every((r) => r.ok);
    const output = results.map((r) => r.line);
    const replicas =
      results.length === 1 ? (results[0]?.to ?? null) : Object.fromEntries(targets.map((svc, i) => [svc, results[i]?.to ?? null]));
    // One consumer per partition already: another would get no partition, so not scaling is the judgement.
    if (results.every((r) => !r.ok) && partitions > 0 && bound === partitions)
      return { ok: true, finding: "not-needed", output, data: { replicas: null, bound } };
    return { ok, ...(ok ? { finding: "acted" as const } : {}), output, data: { replicas, bound } };
  },
};

// ------------------------------------------------------------------------------------- OOM

/**
 * The incident's subject when it is a described service, Kafka or PostgreSQL; null otherwise. Without a
 * description in the context, the snapshot's (the prober's) is asked, only for a name GameMetrics Pro lacks.
 */
async function oomService(ports: Ports, ctx: StepContext): Promise<InstanceInfo["service"] | null> {
  const s = ctx.incident.subject;
  const known = (t: Topology) => [...serviceNames(t), ...INFRASTRUCTURE].includes(s);
  if (known(topologyFor(ctx))) return s;
  return !ctx.topology && known(await described(ports, ctx)) ? s : null;
}

const oomCheckMemoryLimits: Step = {
  id: "oom-check-memory-limits",
  phase: "triage",
  title: "Check memory limits, usage and OOM kills",
  runbookAction: "Check memory limits: `kubectl describe pod <pod-name>`",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const service = await oomService(ports, ctx);
    if (!service) return { ok: false, output: [`unknown service ${ctx.incident.subject}`] };
    const list = await ports.platform.listInstances(service);
    const at = ctx.policy.thresholds.memory.usageAtLeast;
    let problem = false;
    const output = list.map((i) => {
      const usage = i.memoryUsageBytes !== null && i.memoryLimitBytes ? i.memoryUsageBytes / i.memoryLimitBytes : null;
      if (i.oomKilled || (usage !== null && usage >= at)) problem = true;
      return `${i.name}: limit ${mib(i.memoryLimitBytes)}, usage ${mib(i.memoryUsageBytes)}${usage === null ? "" : ` (${Math.round(usage * 100)}%)`}, oomKilled ${i.oomKilled}, restarts ${i.restarts}`;
    });
    return looked(problem, output);
  },
};

const oomCheckMemoryLeaks: Step = {
  id: "oom-check-memory-leaks",
  phase: "triage",
  title: "Look for memory leaks in the application logs",
  runbookAction: "Check for memory leaks in application logs",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const service = await oomService(ports, ctx);
    if (!service) return { ok: false, output: [`unknown service ${ctx.incident.subject}`] };
    const output: string[] = [];
    let total = 0;
    const src = logSource(ports);
    for (const i of await ports.platform.listInstances(service)) {
      // an OOM-killed container that restarted: its last words are in the previous run (`kubectl logs --previous`)
      const previous = i.oomKilled && i.restarts > 0;
      const lines = await ports.platform.logs(i.name, ctx.policy.actions.logTail, previous ? { previous } : undefined);
      const hits = lines.filter((l) => LEAK_LINE.test(l));
      total += hits.length;
      output.push(
        `${i.name}: ${hits.length} memory-related line(s) in the last ${ctx.policy.actions.logTail}${previous ? " of the OOM-killed run (--previous)" : ""}${src.text}`,
        ...hits.slice(-5),
      );
    }
    return looked(total > 0, output, { lines: total, ...src.data });
  },
};

const oomIncreaseMemoryLimits: Step = {
  id: "oom-increase-memory-limits",
  phase: "mitigation",
  title: "Raise the memory limit, up to the policy's maximum",
  runbookAction: "Increase memory limits if needed",
  effect: { type: "reversible", undo: "set the memory limit back to what it was" },
  advisory: false,
  async run(ports, ctx) {
    const service = await oomService(ports, ctx);
    if (!service) return { ok: false, output: [`unknown service ${ctx.incident.subject}`] };
    const limits = (await ports.platform.listInstances(service)).map((i) => i.memoryLimitBytes).filter((b): b is number => b !== null);
    if (limits.length === 0)
      return { ok: false, output: [`${service}: no memory limit set; the host ran out of memory, raising a limit cannot help`] };
    const current = Math.max(...limits);
    const { factor, maxBytes } = ctx.policy.actions.memory;
    const target = Math.min(Math.floor(current * factor), maxBytes);
    if (target <= current)
      return { ok: false, output: [`${service}: limit ${mib(current)} already at the maximum ${mib(maxBytes)} (actions.memory.maxBytes)`] };
    await ctx.recordUndo?.({ action: "set-memory-limit", service, bytes: current });
    await ports.platform.setMemoryLimit(service, target);
    return { ok: true, output: [`${service}: memory limit ${mib(current)} → ${mib(target)}`], data: { from: current, to: target } };
  },
};

const oomScaleHorizontally: Step = {
  id: "oom-scale-horizontally",
  phase: "mitigation",
  title: "Scale horizontally, if the service is stateless",
  runbookAction: "Scale horizontally if possible",
  effect: { type: "reversible", undo: "scale the service back to the replicas it had" },
  advisory: false,
  async run(ports, ctx) {
    const subject = ctx.incident.subject;
    // Kafka and PostgreSQL are stateful: another replica is a cluster change, not a mitigation; so is
    // a service the description says is stateful or not scalable.
    if (!scalableServices(await described(ports, ctx)).includes(subject))
      return { ok: true, output: [`${subject} cannot be scaled horizontally; skipped`], data: { skipped: true } };
    const r = await scaleBy(ports, ctx, subject, ctx.policy.actions.scale.maxReplicas, "actions.scale.maxReplicas");
    return { ok: r.ok, output: [r.line], data: { replicas: r.to ?? null } };
  },
};

const oomVerifyNoOom: Step = {
  id: "oom-verify-no-oom",
  phase: "verification",
  title: "Verify every instance runs without a new OOM kill through the window",
  runbookAction: "Verify resolution",
  effect: READ_ONLY,
  advisory: false,
  async run(ports, ctx) {
    const service = await oomService(ports, ctx);
    if (!service) return { ok: false, output: [`unknown service ${ctx.incident.subject}`] };
    const window = ctx.policy.actions.oomWindowSeconds;
    const poll = ctx.policy.actions.verify.pollSeconds * 1000;
    const baseline = new Map((await ports.platform.listInstances(service)).map((i) => [i.name, i.restarts]));
    const start = ports.now();
    const end = start + window * 1000;
    // After the window, instances still starting (a rolling update the raised limit began: Kubernetes
    // replaces every pod) are waited for up to the verification timeout, still watching for a new kill.
    const settleBy = Math.max(end, start + ctx.policy.actions.verify.timeoutSeconds * 1000);
    for (;;) {
      const list = await ports.platform.listInstances(service);
      // A restart since the baseline with oomKilled set is a new kill (new instances start at 0 restarts).
      const again = list.filter((i) => i.oomKilled && i.restarts > (baseline.get(i.name) ?? 0));
      if (again.length > 0) return { ok: false, output: again.map((i) => `${i.name}: OOM-killed again (restarts ${i.restarts})`) };
      const now = ports.now();
      const running = list.filter((i) => i.running).length;
      const ok = list.length > 0 && running === list.length;
      if (now >= end && (ok || now >= settleBy)) {
        const more =
          now - end >= poll
            ? ` (every instance running ${((now - start) / 1000).toFixed(0)} s after the start: a rollout in progress)`
            : "";
        return { ok, output: [`${service}: ${running}/${list.length} running, no new OOM kill in ${window} s${ok ? more : ""}`] };
      }
      await ports.sleep(Math.min(poll, (now < end ? end : settleBy) - now));
    }
  },
};

// ------------------------------------------------------------------------------------- data loss, security

const checkCanary: Step = {
  id: "check-canary",
  phase: "triage",
  title: "Check the canary events (sent, lost, altered, round trip)",
  runbookAction: "Identify affected service(s)",
  effect: READ_ONLY,
  advisory: false,
  async run(ports) {
    const c = (await ports.observe.snapshot()).canary;
    if (!c) return { ok: false, output: ["canary not observed (collector failed)"] };
    const altered = c.altered ?? 0;
    return looked(
      c.lost > 0 || altered > 0,
      [
        `canaries sent ${c.sent}, lost ${c.lost}, altered ${c.altered ?? "not compared"}, last round trip ${c.lastRoundTripMs ?? "none"} ms, freshness ${c.freshnessSeconds ?? "none"} s`,
        ...(altered > 0 ? [`read back altered: ${(c.alteredIds ?? []).join(", ")}`] : []),
      ],
      { ...c },
    );
  },
};

const checkSecurityExposure: Step = {
  id: "check-security-exposure",
  phase: "triage",
  title: "List failed security checks, leaked secret names and security alerts",
  runbookAction: "Identify affected service(s)",
  effect: READ_ONLY,
  advisory: false,
  async run(ports) {
    const s = await ports.observe.snapshot();
    const output = [
      ...(s.security?.checks ?? []).filter((c) => !c.ok).map((c) => `${c.endpoint}: expected ${c.expectation}, observed ${c.observed}`),
      ...(s.security?.leakedSecrets ?? []).map((l) => `${l.endpoint}: leaks secret ${l.secret}`),
      ...s.externalAlerts.filter((a) => a.security).map((a) => `alert ${a.name} (security)`),
    ];
    return looked(output.length > 0, output.length > 0 ? output : ["no security finding"]);
  },
};

const reviewExternalAlerts: Step = {
  id: "review-external-alerts",
  phase: "triage",
  title: "List the non-security alerts raised elsewhere, with their labels",
  runbookAction: "Identify affected service(s)",
  effect: READ_ONLY,
  advisory: false,
  async run(ports) {
    const s = await ports.observe.snapshot();
    const output = s.externalAlerts
      .filter((a) => !a.security)
      .map(
        (a) =>
          `alert ${a.name}: ${Object.entries(a.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}`,
      );
    return looked(output.length > 0, output.length > 0 ? output : ["no external alert firing"]);
  },
};

/** Every step implementation (the catalog orders them per incident; `stepById` looks them up). */
export const STEPS = {
  reviewExternalAlerts,
  checkHealthEndpoints,
  reviewRecentDeployments,
  checkConsumerLag,
  reviewDatabaseConnections,
  identifyAffectedServices,
  restartFailingInstances,
  rollbackIfRecentChange,
  scaleUpServices,
  verifyErrorRateNormal,
  verifyServiceHealthy,
  kafkaCheckBrokerStatus,
  kafkaCheckBrokerLogs,
  kafkaRestartBroker,
  kafkaVerifyReplication,
  verifyKafkaBrokerHealth,
  verifyLagDrains,
  dbCheckActiveConnections,
  dbScaleUpDatabase,
  dbIncreasePoolSize,
  dbKillIdleConnections,
  dbVerifyErrorRate,
  lagCheckConsumerStatus,
  lagCheckProcessingErrors,
  lagScaleUpConsumers,
  oomCheckMemoryLimits,
  oomCheckMemoryLeaks,
  oomIncreaseMemoryLimits,
  oomScaleHorizontally,
  oomVerifyNoOom,
  checkCanary,
  checkSecurityExposure,
} as const satisfies Record<string, Step>;
