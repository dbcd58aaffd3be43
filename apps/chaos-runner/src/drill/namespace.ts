/**
 * A drill against a Kubernetes namespace, through the Kubernetes driver of the platform port.
 *
 * Two ways, by what the runner can reach:
 * - API server only (no cluster DNS given): what it observes is what the API server knows — pods
 *   (running, OOMKilled in the last terminated state, restarts, memory limits) and the Kafka brokers as
 *   the StatefulSet's pods. It sends no load and reads neither Kafka nor PostgreSQL, so the faults it
 *   drills are the platform's own (the broker kill, the memory limit) and integrity is reported as not
 *   run, never as passed.
 * - Reached through the cluster's DNS (`clusterDns`, e.g. a node's host with kube-proxy, or a pod): the
 *   stack drill's whole target — gm-prober's own round over the services' Service names, Kafka's
 *   advertised brokers and PostgreSQL (the services' own settings, read from their workloads' env and
 *   Secrets), the runbook's real Kafka and PostgreSQL ports, the built-in load through ingest-api's
 *   Service, and every acknowledged event checked in PostgreSQL (run.ts's loadAndIntegrity).
 *
 * Same lifecycle as the stack drill: steady state → the undo written durably → the fault → detection
 * by the runbook's classification → the runbook's steps → steady state again → undo → report.
 */
import { redactUrl } from "@gm/runbook/redact";
import { SERVICE_NAMES } from "@gm/runbook/rules";
import { classify } from "@gm/runbook/classify";
import type { Policy } from "@gm/runbook/policy";
import { type DatabasePort, type KafkaPort, type PlatformPort, PortUnavailableError, type Ports } from "@gm/runbook/ports";
import { emptySnapshot, type Snapshot } from "@gm/runbook/snapshot";
import { instances } from "@gm/signals/collect-round";
import { runsRevision } from "@gm/runbook/steps";
import { createConnectionFault, deployMistake, digest, type Fault } from "./faults.js";
import type { KubernetesPlatform } from "@gm/platform/kubernetes";
import type { DrillReport } from "@gm/report/schema";
import { createAlertmanagerSink } from "@gm/monitor/alertmanager";
import type { RunningAlertmanager } from "@gm/monitor/alertmanager-run";
import { PROBER_DEFAULTS } from "@gm/monitor/config";
import { createIncidentTracker } from "@gm/monitor/hysteresis";
import { useClusterDns } from "@gm/platform/cluster-dns";
import { createKafkaPort } from "@gm/platform/kafka-admin";
import { createDatabasePort } from "@gm/platform/postgres";
import type { StackEndpoints } from "@gm/stack/stack";
import { type DrillProgress, type DrillTarget, runLifecycle } from "./lifecycle.js";
import { createRoundObserver, createStackObserver } from "./observe.js";
import { loadAndIntegrity, observingConfig } from "./run.js";
import type { DeployMistake, FaultSpec, FaultType, Scenario } from "./scenario.js";

/** Faults a namespace drill can inject and observe through the API server alone. */
export const NAMESPACE_FAULTS: readonly FaultType[] = ["kill-broker", "memory-limit"];

/**
 * Faults a namespace drill can inject when it reaches the namespace through its cluster DNS: PostgreSQL's
 * (the leaking client, the lock holder) and the consumers scaled to zero (lag read from Kafka).
 */
export const REACHED_NAMESPACE_FAULTS: readonly FaultType[] = [...NAMESPACE_FAULTS, "hold-connections", "lock-table", "pause-consumers"];

/**
 * Why a fault the stack drills is not a namespace drill. The bad deployment is injected the same way
 * (createNamespaceFault), but on Kubernetes the new revision's readiness probe (/ready: PostgreSQL
 * refuses the password) keeps it out of its Service and the rolling update waits for it: the old pods go
 * on serving, no request fails, and there is no incident to detect. kubernetes-node.int.test.ts checks
 * that containment and the undo on a real node.
 */
export const NAMESPACE_CONTAINED: Partial<Record<FaultType, string>> = {
  "bad-deployment":
    "is contained on Kubernetes: the new revision's readiness probe (/ready checks PostgreSQL) keeps it out of the Service and the rollout waits, so no request fails and there is no incident to drill (checked on a real node: docs/kubernetes-node.md)",
};

export interface KubernetesTargetRecord {
  kubeconfig?: string;
  context: string;
  namespaces: { kafka: string; platform: string };
  allow: { contexts: string[]; namespaces: string[] };
  /**
   * The cluster's DNS server (the kubelet's clusterDNS, e.g. 10.0.0.10), reachable from the runner:
   * the drill then reaches the services, Kafka and PostgreSQL by their cluster names (load, integrity,
   * the prober's round, the runbook's Kafka and PostgreSQL ports). Absent: the API server only.
   */
  clusterDns?: string;
}

/** A namespace fault has the same shape as the stack's (faults.ts). */
export type NamespaceFault = Fault;

/**
 * The broker kill (`kubectl delete pod -n kafka`) and the lowered memory limit, each with its undo; with
 * `reach` (the namespace's PostgreSQL by its cluster name) also the leaking client and the lock holder.
 */
export function createNamespaceFault(spec: FaultSpec, k8s: KubernetesPlatform, reach?: { postgresUrl: string }): NamespaceFault {
  switch (spec.type) {
    case "hold-connections":
    case "lock-table":
      // the Deployment controller finishes a rolling update by itself: nothing to settle before the sessions are cut
      if (reach) return createConnectionFault(spec, reach.postgresUrl, async () => {});
      throw new Error(
        `fault ${spec.type} cannot be drilled against a namespace through the API server alone: it needs PostgreSQL connections; give the cluster's DNS (--cluster-dns) to reach it by its cluster name, or run it against the testcontainers stack (supported here: ${NAMESPACE_FAULTS.join(", ")})`,
      );
    case "kill-broker": {
      const count = Number(spec.params["count"] ?? 1);
      return {
        describe: () => `delete ${count} Kafka broker pod(s) in namespace ${k8s.targets.kafka.namespace} (the StatefulSet recreates them)`,
        async prepare() {
          const brokers = (await k8s.listInstances("kafka")).filter((b) => b.running);
          if (brokers.length < count) throw new Error(`kill-broker: ${count} broker pod(s) asked, ${brokers.length} running`);
          // the highest ordinals: kafka-0 is often the one a client bootstraps from
          return { pods: brokers.slice(-count).map((b) => b.name) };
        },
        async apply(undo) {
          for (const pod of undo["pods"] as string[]) await k8s.restart(pod);
        },
        // a deleted pod is recreated by its controller: nothing of the fault itself stays
        async recover() {},
        async leftovers() {
          return [];
        },
      };
    }
    case "memory-limit": {
      const service = String(spec.params["service"]) as "ingest-api" | "event-processor-service" | "stats-api";
      const bytes = Number(spec.params["bytes"]);
      return {
        describe: () =>
          `lower the memory limit of ${service} (${k8s.targets[service].workload.kind} in ${k8s.targets[service].namespace}) to ${bytes} bytes`,
        async prepare() {
          const limit = await k8s.workloadMemoryLimit(service);
          if (limit === null)
            throw new Error(`memory-limit: ${service} has no memory limit to restore afterwards; set one in its manifest`);
          return { service, originalBytes: limit };
        },
        async apply() {
          await k8s.setMemoryLimit(service, bytes);
        },
        async recover(undo) {
          // never lower what the runbook's remediation raised: restore at least the original
          const now = await k8s.workloadMemoryLimit(service);
          if (now !== null && now >= Number(undo["originalBytes"])) return;
          await k8s.setMemoryLimit(service, Number(undo["originalBytes"]));
        },
        async leftovers(undo) {
          // what the fault changed is the workload's template; its pods follow by rollout
          const now = await k8s.workloadMemoryLimit(service);
          const w = k8s.targets[service].workload;
          return now !== null && now < Number(undo["originalBytes"])
            ? [`${w.kind.toLowerCase()}/${w.name}: memory limit ${now} below the original ${undo["originalBytes"]}`]
            : [];
        },
      };
    }
    case "pause-consumers":
    case "bad-deployment":
      if (!reach)
        throw new Error(
          `fault ${spec.type} cannot be drilled against a namespace through the API server alone: it needs ${spec.type === "pause-consumers" ? "Kafka consumer lag" : "the services' error rates"}, which the API server does not show; give the cluster's DNS (--cluster-dns) to reach them by their cluster names, or run it against the testcontainers stack (supported here: ${NAMESPACE_FAULTS.join(", ")})`,
        );
      return spec.type === "pause-consumers" ? consumersToZero(k8s) : badDeployment(spec, k8s);
  }
}

/**
 * The consumers stopped while load goes on: `kubectl scale deployment/event-processor-service --replicas=0`.
 * Its HPA stays as it is and, with its target at zero, stops acting (ScalingDisabled) until the runbook's
 * "increase HPA min replicas" scales it up. The undo puts back the HPA's bounds and the replicas.
 */
function consumersToZero(k8s: KubernetesPlatform): NamespaceFault {
  const service = "event-processor-service";
  const w = k8s.targets[service].workload;
  return {
    describe: () =>
      `scale ${w.kind.toLowerCase()}/${w.name} in ${k8s.targets[service].namespace} to 0 replicas (its HPA, if any, left as it is: at zero it stops acting) while load goes on`,
    async prepare() {
      const h = await k8s.hpa(service);
      return { replicas: await k8s.replicas(service), hpa: h ? { minReplicas: h.minReplicas, maxReplicas: h.maxReplicas } : null };
    },
    async apply() {
      await k8s.scaleWorkload(service, 0);
    },
    async recover(undo) {
      const h = undo["hpa"] as { minReplicas: number; maxReplicas: number } | null;
      if (h) await k8s.setHpaReplicas(service, h);
      // Below the floor (the HPA's min, or without one the count before), the count before is restored; what
      // the runbook's scale-up left above it is the HPA's to bring down.
      if ((await k8s.replicas(service)) < replicaFloor(undo)) await k8s.scaleWorkload(service, Number(undo["replicas"]));
    },
    async leftovers(undo) {
      const out: string[] = [];
      const h = undo["hpa"] as { minReplicas: number; maxReplicas: number } | null;
      const now = await k8s.hpa(service);
      if (h && (now?.minReplicas !== h.minReplicas || now.maxReplicas !== h.maxReplicas))
        out.push(`hpa of ${w.name}: min ${now?.minReplicas} max ${now?.maxReplicas}, not min ${h.minReplicas} max ${h.maxReplicas}`);
      // With an HPA the count is the HPA's own: once its bounds are back it may scale below the count
      // before the drill (load-driven), never below its min.
      const n = await k8s.replicas(service);
      if (n < replicaFloor(undo))
        out.push(
          `${w.kind.toLowerCase()}/${w.name} has ${n} replicas, fewer than ${h ? `its HPA's min ${Math.max(1, h.minReplicas)}` : String(undo["replicas"])}`,
        );
      return out;
    },
  };
}

/** The fewest replicas that are not a leftover: the HPA's min (at least 1: at zero it stops acting), else the count before. */
function replicaFloor(undo: Record<string, unknown>): number {
  const h = undo["hpa"] as { minReplicas: number } | null;
  return h ? Math.max(1, h.minReplicas) : Number(undo["replicas"]);
}

/**
 * A new revision of a Deployment with a mistake in its environment (faults.ts's deployMistake: a wrong
 * database password, a pool of one), made as `kubectl set env` with a change-cause. The undo is the
 * rollback to the revision before, unless the service already runs its template (the runbook's rollback).
 */
function badDeployment(spec: FaultSpec, k8s: KubernetesPlatform): NamespaceFault {
  const service = String(spec.params["service"] ?? "stats-api") as "stats-api" | "event-processor-service";
  const mistake = String(spec.params["mistake"] ?? "wrong-database-password") as DeployMistake;
  const variable = mistake === "pool-size-1" ? "PG_POOL_MAX" : "DATABASE_URL";
  const w = k8s.targets[service].workload;
  return {
    describe: () =>
      `a new revision of ${w.kind.toLowerCase()}/${w.name} in ${k8s.targets[service].namespace} with ${mistake === "pool-size-1" ? "a pool of one connection (PG_POOL_MAX=1)" : "a wrong database password in DATABASE_URL"}; its undo is the rollback to the revision before`,
    async prepare() {
      const current = (await k8s.rollouts(service)).find((r) => r.current);
      if (!current) throw new Error(`bad-deployment: ${w.kind.toLowerCase()}/${w.name} has no current revision to roll back to`);
      // the variable's digest, not its value: the journal holds no password
      return {
        service,
        revision: current.revision,
        replicas: await k8s.replicas(service),
        variable,
        digest: digest((await k8s.workloadEnv(service))[variable]),
      };
    },
    async apply() {
      const bad = deployMistake(mistake, await k8s.workloadEnv(service));
      await k8s.deploy(service, { env: { [bad.name]: bad.value } }, `bad-deployment drill: ${mistake}`);
    },
    async recover(undo) {
      const before = Number(undo["revision"]);
      if (!runsRevision(await k8s.rollouts(service), before)) await k8s.rollback(service, before);
      if ((await k8s.replicas(service)) !== Number(undo["replicas"])) await k8s.scaleWorkload(service, Number(undo["replicas"]));
    },
    async leftovers(undo) {
      const out: string[] = [];
      if (digest((await k8s.workloadEnv(service))[String(undo["variable"])]) !== undo["digest"])
        out.push(`${w.kind.toLowerCase()}/${w.name}'s ${String(undo["variable"])} is not what it was before the bad deployment`);
      const n = await k8s.replicas(service);
      if (n !== Number(undo["replicas"])) out.push(`${w.kind.toLowerCase()}/${w.name} has ${n} replicas, not ${String(undo["replicas"])}`);
      return out;
    },
  };
}

/** A snapshot of what the API server shows: every pod as an instance, the brokers as Kafka's. */
export async function platformSnapshot(k8s: PlatformPort, brokersExpected: number, minInsyncReplicas: number): Promise<Snapshot> {
  const s = emptySnapshot(new Date().toISOString());
  try {
    s.instances = await instances(k8s);
    // a service's health as the API server shows it: each pod, ok while its container runs
    s.services = SERVICE_NAMES.map((service) => ({
      service,
      instances: s.instances
        .filter((i) => i.service === service)
        .map((i) => ({ url: `pod/${i.instance}`, ok: i.running, status: null, latencyMs: null })),
    }));
    const brokers = s.instances.filter((i) => i.service === "kafka");
    s.kafka = {
      brokersExpected,
      brokers: brokers.map((b) => ({ nodeId: Number(/-(\d+)$/.exec(b.instance)?.[1] ?? -2) + 1, address: b.instance, up: b.running })),
      underReplicatedPartitions: 0,
      offlinePartitions: 0,
      minInsyncReplicas,
      groups: [],
    };
    for (let n = brokers.length; n < brokersExpected; n++) s.kafka.brokers.push({ nodeId: -1, address: "unknown", up: false });
  } catch (err) {
    s.collectionErrors.push({ collector: "instances", error: err instanceof Error ? err.message : String(err) });
  }
  return s;
}

const unavailable = (what: string) => () =>
  Promise.reject(new PortUnavailableError(`${what} is not reachable through the Kubernetes API (it shows pods, not Kafka or PostgreSQL)`));

/** The runbook's ports over the API server alone: the platform, and a snapshot of what the API shows. */
export function namespacePorts(k8s: PlatformPort, brokersExpected: number, onSnapshot?: (s: Snapshot) => void): Ports {
  return {
    platform: k8s,
    // the brokers as the API server knows them: the StatefulSet's pods, up when running
    kafka: {
      brokers: async () =>
        (await k8s.listInstances("kafka")).map((b) => ({
          nodeId: Number(/-(\d+)$/.exec(b.name)?.[1] ?? -2) + 1,
          address: `pod/${b.name}`,
          up: b.running,
        })),
      underReplicatedPartitions: unavailable("Kafka"),
      groupLag: unavailable("Kafka"),
      groupMembers: unavailable("Kafka"),
    } satisfies KafkaPort,
    database: {
      connections: unavailable("PostgreSQL"),
      maxConnections: unavailable("PostgreSQL"),
      terminateIdle: unavailable("PostgreSQL"),
    } satisfies DatabasePort,
    observe: {
      snapshot: async () => {
        const s = await platformSnapshot(k8s, brokersExpected, Math.min(2, brokersExpected));
        onSnapshot?.(s);
        return s;
      },
    },
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

export interface NamespaceDrillOptions {
  scenario: Scenario;
  platform: KubernetesPlatform;
  target: KubernetesTargetRecord;
  policy: Policy;
  onProgress?: (p: DrillProgress) => void;
  signal?: AbortSignal;
  /** round interval (default: the prober's, 5 s); tests shorten it */
  pollMs?: number;
  /** rounds without an incident before it is resolved (default: the prober's hysteresis) */
  resolveAfter?: number;
  /** an Alertmanager the rounds alert (time to page) */
  alertmanager?: RunningAlertmanager;
}

/**
 * A drill against a namespace: the same lifecycle as the stack's, with the rounds built from what the
 * API server shows (classified and tracked with the prober's hysteresis) and no load nor integrity.
 */
export async function runNamespaceDrill(o: NamespaceDrillOptions): Promise<DrillReport> {
  if (o.target.clusterDns) return runReachedNamespaceDrill(o, o.target.clusterDns);
  const k8s = o.platform;
  // gm-prober's own defaults (a file with `services: {}` is refused: it would probe nothing)
  const defaults = PROBER_DEFAULTS;
  const resolveAfter = o.resolveAfter ?? defaults.hysteresis.resolveAfter;
  const intervalMs = o.pollMs ?? defaults.intervalSeconds * 1000;
  const brokersExpected = (await k8s.listInstances("kafka")).length;
  const tracker = createIncidentTracker(resolveAfter);
  const sink = o.alertmanager
    ? createAlertmanagerSink({
        urls: [o.alertmanager.url],
        timeoutMs: defaults.timeoutMs,
        generatorURL: `http://${defaults.listen.host}:${defaults.listen.port}/metrics`,
      })
    : undefined;
  const observer = createRoundObserver(async () => {
    const snapshot = await platformSnapshot(k8s, brokersExpected, Math.min(2, brokersExpected));
    const incidents = classify(snapshot, o.policy);
    const transitions = tracker.update(incidents);
    const active = tracker.active();
    await sink
      ?.send(
        active,
        transitions.filter((x) => x.type === "resolved").map((x) => x.incident),
      )
      .catch(() => undefined);
    return { snapshot, incidents, active };
  }, intervalMs);
  const ports = { ...namespacePorts(k8s, brokersExpected), observe: observer.observe };
  const target: DrillTarget = {
    kind: "kubernetes",
    name: `${o.target.context}/${o.target.namespaces.kafka},${o.target.namespaces.platform}`,
    ports,
    observer,
    observerInfo: {
      source: "the API server's pods, classified by the runbook (namespace rounds)",
      intervalSeconds: intervalMs / 1000,
      timeoutMs: defaults.timeoutMs,
      windowSeconds: defaults.windowSeconds,
      resolveAfterRounds: resolveAfter,
      alertmanager: o.alertmanager ? redactUrl(o.alertmanager.url) : null,
    },
    fault: createNamespaceFault(o.scenario.fault, k8s),
    journal: { stackId: `k8s:${o.target.context}`, postgresUrl: "", kubernetes: o.target },
    ...(o.scenario.kubernetes?.expect ? { expect: o.scenario.kubernetes.expect } : {}),
    ...(o.scenario.kubernetes?.mayFail ? { mayFail: o.scenario.kubernetes.mayFail } : {}),
    ...(o.scenario.kubernetes?.alsoExpected ? { alsoExpected: o.scenario.kubernetes.alsoExpected } : {}),
    steady: (x) => x.snapshot.collectionErrors.length === 0,
    steadyState: {
      timeoutMs: 90_000,
      what: `every pod in ${k8s.targets.kafka.namespace} and ${k8s.targets["stats-api"].namespace} to run with no incident`,
    },
    close: async () => {},
  };
  return runLifecycle({
    scenario: o.scenario,
    target,
    policy: o.policy,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.alertmanager ? { alertmanager: o.alertmanager } : {}),
  });
}

/**
 * The namespace's GameMetrics endpoints by their cluster names, from the services' own settings: the
 * brokers and topic ingest-api produces to, the DATABASE_URL and consumer group of the processor, the
 * admin token of stats-api (their workloads' env and Secrets), each service at
 * `http://<service>.<namespace>.svc:<PORT>` (its Service; the manifests give Service and container the
 * same port).
 */
export async function namespaceEndpoints(k8s: KubernetesPlatform): Promise<StackEndpoints> {
  const [ingest, processor, stats] = await Promise.all([
    k8s.workloadEnv("ingest-api"),
    k8s.workloadEnv("event-processor-service"),
    k8s.workloadEnv("stats-api"),
  ]);
  const where = (s: "ingest-api" | "event-processor-service" | "stats-api") =>
    `${k8s.targets[s].workload.kind.toLowerCase()}/${k8s.targets[s].workload.name} -n ${k8s.targets[s].namespace}`;
  const brokers = (ingest["KAFKA_BROKERS"] ?? "")
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw new Error(`${where("ingest-api")}: no KAFKA_BROKERS in its container's env (expected host:port,…)`);
  const postgresUrl = processor["DATABASE_URL"];
  if (!postgresUrl) throw new Error(`${where("event-processor-service")}: no DATABASE_URL in its container's env (expected postgres://…)`);
  const url = (s: "ingest-api" | "event-processor-service" | "stats-api", env: Record<string, string>) =>
    `http://${k8s.targets[s].workload.name}.${k8s.targets[s].namespace}.svc:${env["PORT"] ?? "8080"}`;
  return {
    stackId: `k8s:${k8s.context}`,
    kafkaBootstrapServers: brokers,
    kafkaInternalBootstrapServers: brokers,
    postgresUrl,
    // the services' own role: a namespace has no separate monitoring role to lend a drill
    proberPostgresUrl: postgresUrl,
    services: {
      "ingest-api": url("ingest-api", ingest),
      "stats-api": url("stats-api", stats),
      "event-processor-service": [url("event-processor-service", processor)],
    },
    topic: ingest["KAFKA_TOPIC"] ?? "game-events",
    consumerGroup: processor["CONSUMER_GROUP"] ?? "event-processor-service",
    adminToken: stats["ADMIN_TOKEN"] ?? "",
    network: "",
  };
}

/** The namespace reached through the cluster's DNS: the stack drill's target with the Kubernetes driver and fault. */
async function runReachedNamespaceDrill(o: NamespaceDrillOptions, clusterDns: string): Promise<DrillReport> {
  const k8s = o.platform;
  const dns = useClusterDns({ server: clusterDns });
  try {
    const e = await namespaceEndpoints(k8s);
    // gm-prober's own round, with its defaults (or the interval a test gives), over the Service names
    const given = observingConfig({ endpoints: e, ...(o.alertmanager ? { alertmanager: o.alertmanager } : {}) });
    const config = o.pollMs ? { ...given, intervalSeconds: o.pollMs / 1000 } : given;
    if (o.resolveAfter) config.hysteresis = { ...config.hysteresis, resolveAfter: o.resolveAfter };
    const observer = await createStackObserver({ endpoints: e, policy: o.policy, platform: k8s, config });
    const kafka = createKafkaPort({ brokers: e.kafkaBootstrapServers, topic: e.topic });
    const database = createDatabasePort({ url: e.postgresUrl });
    const target: DrillTarget = {
      kind: "kubernetes",
      name: `${o.target.context}/${o.target.namespaces.kafka},${o.target.namespaces.platform}`,
      ports: {
        platform: k8s,
        kafka,
        database,
        observe: observer.observe,
        now: Date.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      },
      observer,
      observerInfo: {
        source: `gm-prober round (@gm/monitor createProber) over the cluster's Service names (cluster DNS ${clusterDns}), pods from the API server`,
        intervalSeconds: config.intervalSeconds,
        timeoutMs: config.timeoutMs,
        windowSeconds: config.windowSeconds,
        resolveAfterRounds: config.hysteresis.resolveAfter,
        alertmanager: o.alertmanager ? redactUrl(o.alertmanager.url) : null,
      },
      fault: createNamespaceFault(o.scenario.fault, k8s, { postgresUrl: e.postgresUrl }),
      journal: { stackId: `k8s:${o.target.context}`, postgresUrl: "", kubernetes: o.target },
      ...(o.scenario.kubernetes?.expect ? { expect: o.scenario.kubernetes.expect } : {}),
      ...(o.scenario.kubernetes?.mayFail ? { mayFail: o.scenario.kubernetes.mayFail } : {}),
      ...(o.scenario.kubernetes?.alsoExpected ? { alsoExpected: o.scenario.kubernetes.alsoExpected } : {}),
      ...loadAndIntegrity(e, o.scenario, kafka),
      steadyState: {
        timeoutMs: Math.max(90_000, 6 * config.intervalSeconds * 1000),
        what: `the prober to classify ${o.target.namespaces.kafka} and ${o.target.namespaces.platform} as healthy`,
      },
      close: async () => {
        await Promise.all([kafka.close(), database.close()]);
      },
    };
    return await runLifecycle({
      scenario: o.scenario,
      target,
      policy: o.policy,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.alertmanager ? { alertmanager: o.alertmanager } : {}),
    });
  } finally {
    dns.restore();
  }
}

/**
 * What a recovery (gm-chaos recover, halt, the watchdog) needs to undo a journal's fault on a namespace
 * reached through its cluster DNS: the cluster names resolved (for this short-lived process) and the
 * namespace's PostgreSQL URL. Undefined for a target without cluster DNS.
 */
export async function reachNamespace(t: KubernetesTargetRecord, k8s: KubernetesPlatform): Promise<{ postgresUrl: string } | undefined> {
  if (!t.clusterDns) return undefined;
  useClusterDns({ server: t.clusterDns });
  return { postgresUrl: (await namespaceEndpoints(k8s)).postgresUrl };
}
