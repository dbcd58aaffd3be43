/**
 * The Kubernetes driver of the platform port: what the runbook does with kubectl, as API calls through
 * @kubernetes/client-node.
 *
 *   kubectl get pods -n kafka / -l app=event-processor-service   listInstances(service)
 *   kubectl logs --tail N                                         logs(pod, N)
 *   kubectl delete pod (broker kill, restart failing pods)        restart(pod)
 *   kubectl describe pod → limits; OOMKilled, restarts            memoryLimit(pod), listInstances()
 *   kubectl top pod --containers → memory in use                  listInstances() (metrics.k8s.io, when served)
 *   "increase memory limits"                                      setMemoryLimit(service, bytes)
 *   kubectl scale / "increase HPA min replicas"                   scale(service, n)
 *   kubectl scale alone / kubectl patch hpa                       scaleWorkload(service, n), setHpaReplicas(service, r)
 *   kubectl set env + change-cause (a new revision)               deploy(service, { env }, cause)
 *   kubectl rollout history / rollout undo                        rollouts(service), rollback(service)
 *
 * Nothing is sent before the context and every namespace the driver may touch are checked against the
 * allowlist: a driver for anything else is refused at creation.
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import type { InstanceInfo, PlatformPort, Rollout } from "@gm/runbook/ports";
import type { ServiceName } from "@gm/runbook/snapshot";
import { DEFAULT_TOPOLOGY, INFRASTRUCTURE, serviceNames } from "@gm/runbook/topology";
import { describeEnvDiff } from "@gm/runbook/deployments";
import { PlatformError } from "./errors.js";

type Role = InstanceInfo["service"];
/** GameMetrics Pro's services and its infrastructure: each has a default target; any other service one of its name. */
type KnownRole = "ingest-api" | "event-processor-service" | "stats-api" | (typeof INFRASTRUCTURE)[number];
/** The targets by service: every known one, and whichever other service was given one. */
export type KubeTargets = Record<KnownRole, KubeTarget> & Partial<Record<Role, KubeTarget>>;
/** GameMetrics Pro's services and its infrastructure; any other service has the default target of its name (targetFor). */
const ROLES = [...serviceNames(DEFAULT_TOPOLOGY), ...INFRASTRUCTURE] as readonly KnownRole[];

/** Where a service lives: its namespace, the label selector of its pods, its workload and container. */
export interface KubeTarget {
  namespace: string;
  selector: string;
  workload: { kind: "Deployment" | "StatefulSet"; name: string };
  container: string;
}

export interface KubernetesPlatformOptions {
  /** a kubeconfig file; "in-cluster" for the pod's service account; absent: in-cluster inside a pod, else the default kubeconfig */
  kubeconfig?: string;
  /** the context to use (default: the kubeconfig's current context; "inClusterContext" in a pod) */
  context?: string;
  /** what the driver may act on; anything else is refused before a request is sent */
  allow: { contexts: string[]; namespaces: string[] };
  /** namespaces of the runbook: Kafka (default "kafka") and the platform's services (default "gamemetrics") */
  namespaces?: { kafka?: string; platform?: string };
  /** per-service overrides of the default targets (label app=<service>, a workload of the same name) */
  targets?: Partial<Record<Role, Partial<KubeTarget>>>;
  /** an OOM kill counts while the container is down after it, or for this long after it (default 300 s) */
  oomWindowSeconds?: number;
  /** where the pod's service-account files are (default: the root, /var/run/secrets/kubernetes.io/serviceaccount/) */
  inClusterRoot?: string;
  /** the field manager recorded on every change (default "gm-chaos") */
  fieldManager?: string;
  now?: () => number;
}

export interface RefusedTarget {
  field: string;
  value: string;
  allowed: string[];
}

/** The default targets: the runbook's namespaces, `app=<name>` labels, Kafka and PostgreSQL as StatefulSets. */
export function defaultTargets(namespaces: KubernetesPlatformOptions["namespaces"] = {}): KubeTargets {
  const out = {} as KubeTargets;
  for (const role of ROLES) out[role] = targetFor(role, namespaces);
  return out;
}

/** The default target of one service, described or not: `app=<name>` in the platform's namespace, a Deployment of its name. */
export function targetFor(role: Role, namespaces: KubernetesPlatformOptions["namespaces"] = {}): KubeTarget {
  const stateful = role === "kafka" || role === "postgres";
  return {
    namespace: role === "kafka" ? (namespaces.kafka ?? "kafka") : (namespaces.platform ?? "gamemetrics"),
    selector: `app=${role}`,
    workload: { kind: stateful ? "StatefulSet" : "Deployment", name: role },
    container: role,
  };
}

/** Every check of the allowlist, pure: the refusals (empty when allowed). */
export function checkAllowlist(context: string, targets: KubeTargets, allow: KubernetesPlatformOptions["allow"]): RefusedTarget[] {
  const refused: RefusedTarget[] = [];
  if (!allow.contexts.includes(context)) refused.push({ field: "context", value: context, allowed: allow.contexts });
  for (const role of ROLES) {
    const ns = (targets[role] ?? targetFor(role)).namespace;
    if (!allow.namespaces.includes(ns)) refused.push({ field: `targets.${role}.namespace`, value: ns, allowed: allow.namespaces });
  }
  return refused;
}

/** A Kubernetes quantity (`512Mi`, `1G`, `1.5Gi`, `268435456`, `1e9`) in bytes; null when absent. */
export function parseQuantity(q: string | undefined): number | null {
  if (q === undefined || q === "") return null;
  const m = /^([0-9]+(?:\.[0-9]+)?(?:[eE][0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?$/.exec(q.trim());
  if (!m) throw new PlatformError(`memory quantity "${q}" is not a Kubernetes quantity (such as 512Mi or 1G)`, "kubernetes", false);
  const n = Number(m[1]);
  const unit = m[2] ?? "";
  const pow: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Math.round(n * (pow[unit] ?? 1));
}

/** One PodMetrics of the metrics API (metrics.k8s.io/v1beta1, served by metrics-server): usage per container. */
export interface PodMetrics {
  metadata?: { name?: string };
  containers?: { name?: string; usage?: Record<string, string> }[];
}

/**
 * pod name → its container's memory in use (the working set, bytes) from a PodMetricsList: what
 * `kubectl top pod --containers` shows. Container-level on purpose: on a cgroup v1 node the kubelet
 * reports a pod-level working set of 0 (docs/kubernetes-node.md). A pod or container missing from the
 * list (not scraped yet) has no entry.
 */
export function memoryUsageByPod(items: readonly PodMetrics[], container: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of items) {
    const c = m.containers?.find((x) => x.name === container) ?? (m.containers?.length === 1 ? m.containers[0] : undefined);
    const bytes = parseQuantity(c?.usage?.["memory"]);
    if (m.metadata?.name && bytes !== null) out.set(m.metadata.name, bytes);
  }
  return out;
}

/** The runbook's view of one pod, pure: running, restarts, OOMKilled from the (last) terminated state, limits,
 * and the memory in use when the metrics API gave it (`memoryUsageBytes`, else null). */
export function instanceFromPod(
  pod: V1Pod,
  role: Role,
  container: string,
  nowMs: number,
  oomWindowSeconds: number,
  memoryUsageBytes: number | null = null,
): InstanceInfo {
  const spec = pod.spec?.containers.find((c) => c.name === container) ?? pod.spec?.containers[0];
  const status: V1ContainerStatus | undefined =
    pod.status?.containerStatuses?.find((c) => c.name === (spec?.name ?? container)) ?? pod.status?.containerStatuses?.[0];
  const running = pod.metadata?.deletionTimestamp === undefined && pod.status?.phase === "Running" && status?.state?.running !== undefined;
  const terminated = status?.state?.terminated;
  const last = status?.lastState?.terminated;
  const lastAt = last?.finishedAt ? new Date(last.finishedAt).getTime() : null;
  // OOMKilled stays in lastState for the pod's life: it counts while the container is down after it
  // (terminated or waiting in CrashLoopBackOff), or for a window after it, never as old history.
  const oomKilled =
    terminated?.reason === "OOMKilled" ||
    (last?.reason === "OOMKilled" && (!running || (lastAt !== null && nowMs - lastAt <= oomWindowSeconds * 1000)));
  const startedAt = status?.state?.running?.startedAt ?? pod.status?.startTime;
  return {
    name: pod.metadata?.name ?? "?",
    service: role,
    running,
    restarts: (pod.status?.containerStatuses ?? []).reduce((s, c) => s + (c.restartCount ?? 0), 0),
    exitCode: running ? null : (terminated?.exitCode ?? last?.exitCode ?? null),
    oomKilled,
    memoryLimitBytes: parseQuantity(spec?.resources?.limits?.["memory"]),
    // from the metrics API (metrics-server) when it is served; the runbook's steps do not depend on it
    memoryUsageBytes: running ? memoryUsageBytes : null,
    startedAt: startedAt ? new Date(startedAt).toISOString() : null,
  };
}

/**
 * What a ReplicaSet's template changed from the one before (`older`, null for the first): each container's
 * image and its literal environment variables (a variable from a Secret or ConfigMap shows by its source,
 * never a value), secrets masked (deployments.ts).
 */
export function templateChanges(older: V1PodTemplateSpec | undefined | null, newer: V1PodTemplateSpec | undefined | null): string[] {
  if (!older || !newer) return [];
  const out: string[] = [];
  const envOf = (c: { env?: { name: string; value?: string; valueFrom?: object }[] } | undefined) =>
    Object.fromEntries(
      (c?.env ?? []).map((e) => [e.name, e.value ?? (e.valueFrom ? `(from ${Object.keys(e.valueFrom).join(", ")})` : "")]),
    );
  const olderContainers = new Map((older.spec?.containers ?? []).map((c) => [c.name, c]));
  for (const c of newer.spec?.containers ?? []) {
    const o = olderContainers.get(c.name);
    if (!o) {
      out.push(`container ${c.name} added (${c.image ?? "?"})`);
      continue;
    }
    const prefix = (newer.spec?.containers ?? []).length > 1 ? `${c.name}: ` : "";
    if (o.image !== c.image) out.push(`${prefix}image ${o.image ?? "?"} → ${c.image ?? "?"}`);
    for (const line of describeEnvDiff(envOf(o), envOf(c))) out.push(`${prefix}${line}`);
  }
  for (const name of olderContainers.keys())
    if (!(newer.spec?.containers ?? []).some((c) => c.name === name)) out.push(`container ${name} removed`);
  return out;
}

/**
 * The revision a ReplicaSet restored, when a rollback reused it: the controller keeps the numbers it had
 * before in `deployment.kubernetes.io/revision-history` (comma-separated); null when it never was reused.
 */
export function restoredRevision(annotations: Record<string, string> | undefined): number | null {
  const last = (annotations?.["deployment.kubernetes.io/revision-history"] ?? "").split(",").filter(Boolean).at(-1);
  return last === undefined || !Number.isInteger(Number(last)) ? null : Number(last);
}

/** A pod template as `kubectl rollout undo` restores it: without the ReplicaSet's pod-template-hash label. */
export function templateForRollback(t: V1PodTemplateSpec): V1PodTemplateSpec {
  const labels = { ...(t.metadata?.labels ?? {}) };
  delete labels["pod-template-hash"];
  return { ...t, metadata: { ...t.metadata, labels } };
}

function apiError(err: unknown, what: string): never {
  if (err instanceof PlatformError) throw err;
  const e = err as { code?: number; body?: unknown; message?: string };
  let detail = e.message ?? String(err);
  try {
    const b = typeof e.body === "string" ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
    if (b?.message) detail = b.message;
  } catch {
    /* the raw message stays */
  }
  const code = e.code === 404 ? "not-found" : e.code === 403 ? "forbidden" : "kubernetes";
  throw new PlatformError(
    `${what}: ${e.code ? `HTTP ${e.code}: ` : ""}${detail}`,
    code,
    e.code === undefined || e.code >= 500 || e.code === 429,
    { cause: err },
  );
}

/** Loads the kubeconfig the way kubectl and a pod do, and selects the context. */
export function loadKubeConfig(kubeconfig: string | undefined, context: string | undefined, inClusterRoot?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig === "in-cluster" || (kubeconfig === undefined && process.env["KUBERNETES_SERVICE_HOST"])) {
    // the pod's service account; its context is named "inClusterContext"
    if (!process.env["KUBERNETES_SERVICE_HOST"])
      throw new PlatformError("kubeconfig in-cluster: KUBERNETES_SERVICE_HOST is not set (not in a pod?)", "refused", false);
    kc.loadFromCluster(inClusterRoot);
  } else if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new PlatformError(
        `context "${context}" is not in the kubeconfig (has: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        })`,
        "refused",
        false,
      );
    }
    kc.setCurrentContext(context);
  }
  return kc;
}

export type KubernetesPlatform = PlatformPort &
  Required<Pick<PlatformPort, "rollouts" | "rollback">> & {
    readonly context: string;
    readonly targets: KubeTargets;
    /** the HPA of a service's workload, when it has one */
    hpa(service: ServiceName): Promise<{ name: string; minReplicas: number; maxReplicas: number; currentReplicas: number } | null>;
    /** the memory limit in the workload's pod template (what its next pods get), bytes or null */
    workloadMemoryLimit(service: Role): Promise<number | null>;
    /** pods of a service, raw, for what the port does not model */
    pods(service: Role): Promise<V1Pod[]>;
    /**
     * The environment the workload's container gets, as its pods see it: literal values and Secret keys
     * (`secretKeyRef`, read from the workload's namespace); field references are left out. A drill on the
     * node's host reads the services' own Kafka, PostgreSQL and token settings from here.
     */
    workloadEnv(service: Role): Promise<Record<string, string>>;
    /**
     * `kubectl scale deployment/<service> --replicas N` alone, the HPA left as it is: at 0 replicas an HPA
     * stops acting on its target (condition ScalingActive False, ScalingDisabled) until it is scaled up again.
     */
    scaleWorkload(service: ServiceName, replicas: number): Promise<void>;
    /** `kubectl patch hpa`: the HPA's min and max replicas, exactly as given (the service must have an HPA) */
    setHpaReplicas(service: ServiceName, r: { minReplicas: number; maxReplicas: number }): Promise<void>;
    /**
     * A new revision of a Deployment: `kubectl set env deployment/<service> NAME=value …` (a literal value
     * replaces a Secret reference of the same name) and `kubernetes.io/change-cause` set to `cause`.
     */
    deploy(service: ServiceName, change: { env: Record<string, string> }, cause: string): Promise<void>;
  };

export function createKubernetesPlatform(opts: KubernetesPlatformOptions): KubernetesPlatform {
  const targets = defaultTargets(opts.namespaces);
  for (const [role, t] of Object.entries(opts.targets ?? {})) {
    if (!(ROLES as readonly string[]).includes(role))
      throw new PlatformError(`targets.${role}: unknown service (expected one of ${ROLES.join(", ")})`, "refused", false);
    const base = targets[role] ?? targetFor(role, opts.namespaces);
    targets[role] = { ...base, ...t, workload: { ...base.workload, ...t?.workload } };
  }
  // a service outside GameMetrics Pro's (the description's fourth) lives where its name says
  const target = (role: Role): KubeTarget => targets[role] ?? targetFor(role, opts.namespaces);
  const kc = loadKubeConfig(opts.kubeconfig, opts.context, opts.inClusterRoot);
  const context = kc.getCurrentContext();
  const refused = checkAllowlist(context, targets, opts.allow);
  if (refused.length > 0) {
    throw new PlatformError(
      `refused: not on the allowlist: ${refused.map((r) => `${r.field} "${r.value}" (allowed: ${r.allowed.length ? r.allowed.join(", ") : "none"})`).join("; ")}`,
      "refused",
      false,
    );
  }
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const autoscaling = kc.makeApiClient(AutoscalingV2Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const fieldManager = opts.fieldManager ?? "gm-chaos";
  const now = opts.now ?? Date.now;
  const oomWindow = opts.oomWindowSeconds ?? 300;
  const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
  const namespaces = [...new Set(Object.values(targets).flatMap((t) => (t ? [t.namespace] : [])))];
  /** pod name → its service, learned from listings, so a pod is found without a search */
  const known = new Map<string, Role>();

  const guard = (ns: string) => {
    // the targets were checked at creation; this is the last line, on every request
    if (!opts.allow.namespaces.includes(ns))
      throw new PlatformError(`refused: namespace "${ns}" is not on the allowlist (${opts.allow.namespaces.join(", ")})`, "refused", false);
    return ns;
  };

  const pods = async (role: Role): Promise<V1Pod[]> => {
    const t = target(role);
    try {
      const list = await core.listNamespacedPod({ namespace: guard(t.namespace), labelSelector: t.selector });
      for (const p of list.items) if (p.metadata?.name) known.set(p.metadata.name, role);
      return list.items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "", undefined, { numeric: true }));
    } catch (err) {
      return apiError(err, `list pods -n ${t.namespace} -l ${t.selector}`);
    }
  };

  /**
   * The service's pods' memory in use from metrics.k8s.io (get/list on pods.metrics.k8s.io: read-only, no
   * node access). Empty when the metrics API is not served or not allowed (404, 403, 503: no
   * metrics-server), so usage is then unknown (null), as before, and nothing else fails.
   */
  const memoryUsage = async (role: Role): Promise<Map<string, number>> => {
    const t = target(role);
    try {
      const list = (await custom.listNamespacedCustomObject({
        group: "metrics.k8s.io",
        version: "v1beta1",
        namespace: guard(t.namespace),
        plural: "pods",
        labelSelector: t.selector,
      })) as { items?: PodMetrics[] };
      return memoryUsageByPod(list.items ?? [], t.container);
    } catch (err) {
      if (err instanceof PlatformError) throw err;
      return new Map();
    }
  };

  /** A pod by name, in the namespace of the service it belongs to. */
  const findPod = async (name: string): Promise<{ pod: V1Pod; role: Role }> => {
    const hint = known.get(name);
    const order = hint ? [hint, ...ROLES.filter((r) => r !== hint)] : [...ROLES];
    for (const role of order) {
      const list = await pods(role);
      const pod = list.find((p) => p.metadata?.name === name);
      if (pod) return { pod, role };
    }
    throw new PlatformError(`no pod "${name}" of the platform's services in namespace(s) ${namespaces.join(", ")}`, "not-found", false);
  };

  const readWorkload = async (role: Role) => {
    const t = target(role);
    const ns = guard(t.namespace);
    try {
      return t.workload.kind === "Deployment"
        ? await apps.readNamespacedDeployment({ name: t.workload.name, namespace: ns })
        : await apps.readNamespacedStatefulSet({ name: t.workload.name, namespace: ns });
    } catch (err) {
      return apiError(err, `get ${t.workload.kind.toLowerCase()}/${t.workload.name} -n ${ns}`);
    }
  };

  const patchWorkload = async (role: Role, body: object, what: string) => {
    const t = target(role);
    const ns = guard(t.namespace);
    try {
      if (t.workload.kind === "Deployment")
        await apps.patchNamespacedDeployment({ name: t.workload.name, namespace: ns, body, fieldManager }, strategic);
      else await apps.patchNamespacedStatefulSet({ name: t.workload.name, namespace: ns, body, fieldManager }, strategic);
    } catch (err) {
      apiError(err, `${what} ${t.workload.kind.toLowerCase()}/${t.workload.name} -n ${ns}`);
    }
  };

  const containerOf = async (role: Role): Promise<V1Container> => {
    const w = await readWorkload(role);
    const name = target(role).container;
    const c = w.spec?.template.spec?.containers.find((x) => x.name === name) ?? w.spec?.template.spec?.containers[0];
    if (!c) throw new PlatformError(`${target(role).workload.kind} ${target(role).workload.name} has no container`, "not-found", false);
    return c;
  };

  const hpa = async (service: ServiceName) => {
    const t = target(service);
    const ns = guard(t.namespace);
    try {
      const list = await autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ns });
      const h = list.items.find((x) => x.spec?.scaleTargetRef.kind === t.workload.kind && x.spec.scaleTargetRef.name === t.workload.name);
      if (!h?.metadata?.name || !h.spec) return null;
      return {
        name: h.metadata.name,
        minReplicas: h.spec.minReplicas ?? 1,
        maxReplicas: h.spec.maxReplicas,
        currentReplicas: h.status?.currentReplicas ?? 0,
      };
    } catch (err) {
      return apiError(err, `list hpa -n ${ns}`);
    }
  };

  /** ReplicaSets of a Deployment with their revision, newest first. */
  const replicaSets = async (service: ServiceName) => {
    const t = target(service);
    if (t.workload.kind !== "Deployment")
      throw new PlatformError(`${service} is a ${t.workload.kind}: rollouts are tracked for Deployments`, "refused", false);
    const ns = guard(t.namespace);
    const dep = await readWorkload(service);
    const match = dep.spec?.selector.matchLabels ?? {};
    const selector = Object.entries(match)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    try {
      const list = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: selector });
      const depRevision = Number(dep.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0);
      return list.items
        .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === "Deployment" && o.uid === dep.metadata?.uid))
        .map((rs) => ({ rs, revision: Number(rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0), depRevision }))
        .sort((a, b) => b.revision - a.revision);
    } catch (err) {
      return apiError(err, `list replicasets -n ${ns} -l ${selector}`);
    }
  };

  const checkReplicas = (replicas: number) => {
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new PlatformError(`replicas must be a whole number >= 0, got ${replicas}`, "refused", false);
  };

  const setHpa = async (service: ServiceName, r: { minReplicas: number; maxReplicas: number }) => {
    const ns = guard(target(service).namespace);
    const h = await hpa(service);
    if (!h) throw new PlatformError(`${service} has no HPA in namespace ${ns}`, "not-found", false);
    try {
      await autoscaling.patchNamespacedHorizontalPodAutoscaler(
        { name: h.name, namespace: ns, body: { spec: { minReplicas: r.minReplicas, maxReplicas: r.maxReplicas } }, fieldManager },
        strategic,
      );
    } catch (err) {
      apiError(err, `patch hpa/${h.name} -n ${ns}`);
    }
  };

  const scaleWorkload = async (service: ServiceName, replicas: number) => {
    const t = target(service);
    const ns = guard(t.namespace);
    try {
      const body = { spec: { replicas } };
      if (t.workload.kind === "Deployment")
        await apps.patchNamespacedDeploymentScale({ name: t.workload.name, namespace: ns, body, fieldManager }, strategic);
      else await apps.patchNamespacedStatefulSetScale({ name: t.workload.name, namespace: ns, body, fieldManager }, strategic);
    } catch (err) {
      apiError(err, `scale ${t.workload.kind.toLowerCase()}/${t.workload.name} -n ${ns} --replicas ${replicas}`);
    }
  };

  return {
    context,
    targets,
    pods,
    hpa,
    async workloadMemoryLimit(service) {
      return parseQuantity((await containerOf(service)).resources?.limits?.["memory"]);
    },
    async listInstances(service) {
      const t = target(service);
      const [list, usage] = await Promise.all([pods(service), memoryUsage(service)]);
      return list.map((p) => instanceFromPod(p, service, t.container, now(), oomWindow, usage.get(p.metadata?.name ?? "") ?? null));
    },
    async logs(instance, tail, o) {
      const { pod, role } = await findPod(instance);
      const ns = guard(target(role).namespace);
      const previous = o?.previous === true;
      try {
        const text = await core.readNamespacedPodLog({
          name: instance,
          namespace: ns,
          container: target(role).container,
          tailLines: tail,
          ...(previous ? { previous: true } : {}),
        });
        return String(text)
          .split("\n")
          .filter((l) => l.length > 0);
      } catch (err) {
        // a container that has not started yet (a recreated pod, ContainerCreating) has no logs: that is the answer, not a failure
        const waiting = pod.status?.containerStatuses?.find((c) => c.name === target(role).container)?.state?.waiting;
        if (!previous && (err as { code?: number }).code === 400 && waiting)
          return [
            `(no logs: container ${target(role).container} of pod ${instance} is waiting to start: ${waiting.reason ?? "unknown reason"})`,
          ];
        return apiError(err, `logs ${pod.metadata?.name} -n ${ns} --tail ${tail}${previous ? " --previous" : ""}`);
      }
    },
    async workloadEnv(service) {
      const c = await containerOf(service);
      const ns = guard(target(service).namespace);
      const env: Record<string, string> = {};
      const secrets = new Map<string, Record<string, string>>();
      for (const e of c.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref?.name) continue;
        const secretName = ref.name;
        if (!secrets.has(secretName)) {
          try {
            const s = await core.readNamespacedSecret({ name: secretName, namespace: ns });
            secrets.set(
              secretName,
              Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")])),
            );
          } catch (err) {
            if (ref.optional) secrets.set(secretName, {});
            else apiError(err, `get secret ${secretName} -n ${ns}`);
          }
        }
        const v = secrets.get(secretName)?.[ref.key];
        if (v !== undefined) env[e.name] = v;
      }
      return env;
    },
    async restart(instance) {
      const { role } = await findPod(instance);
      const ns = guard(target(role).namespace);
      try {
        // the controller (ReplicaSet, StatefulSet) recreates it: `kubectl delete pod`
        await core.deleteNamespacedPod({ name: instance, namespace: ns });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return; // already gone: done
        apiError(err, `delete pod ${instance} -n ${ns}`);
      }
      known.delete(instance);
    },
    async memoryLimit(instance) {
      const { pod, role } = await findPod(instance);
      const c = pod.spec?.containers.find((x) => x.name === target(role).container) ?? pod.spec?.containers[0];
      return parseQuantity(c?.resources?.limits?.["memory"]);
    },
    async setMemoryLimit(service, bytes) {
      if (!Number.isInteger(bytes) || bytes <= 0)
        throw new PlatformError(`memory limit must be a positive whole number of bytes, got ${bytes}`, "refused", false);
      const c = await containerOf(service);
      const request = parseQuantity(c.resources?.requests?.["memory"]);
      const resources: { limits: Record<string, string>; requests?: Record<string, string> } = { limits: { memory: String(bytes) } };
      // a request above the limit is invalid: lower it with the limit
      if (request !== null && request > bytes) resources.requests = { memory: String(bytes) };
      await patchWorkload(service, { spec: { template: { spec: { containers: [{ name: c.name, resources }] } } } }, "set memory limit of");
    },
    async replicas(service) {
      const w = await readWorkload(service);
      return w.spec?.replicas ?? 1;
    },
    async scale(service, replicas) {
      checkReplicas(replicas);
      const h = await hpa(service);
      // the runbook's "increase HPA min replicas": the HPA would undo a plain scale
      if (h) await setHpa(service, { minReplicas: Math.max(1, replicas), maxReplicas: Math.max(h.maxReplicas, replicas) });
      await scaleWorkload(service, replicas);
    },
    scaleWorkload: async (service, replicas) => {
      checkReplicas(replicas);
      await scaleWorkload(service, replicas);
    },
    async setHpaReplicas(service, r) {
      if (!Number.isInteger(r.minReplicas) || r.minReplicas < 1 || !Number.isInteger(r.maxReplicas) || r.maxReplicas < r.minReplicas)
        throw new PlatformError(
          `HPA replicas must be whole numbers with 1 <= minReplicas <= maxReplicas, got min ${r.minReplicas}, max ${r.maxReplicas}`,
          "refused",
          false,
        );
      await setHpa(service, r);
    },
    async deploy(service, change, cause) {
      const t = target(service);
      if (t.workload.kind !== "Deployment")
        throw new PlatformError(`${service} is a ${t.workload.kind}: a deploy makes a Deployment revision`, "refused", false);
      if (Object.keys(change.env).length === 0)
        throw new PlatformError(`deploy of ${service}: no variable to change (env is empty); a revision needs a change`, "refused", false);
      const c = await containerOf(service);
      const env = Object.entries(change.env).map(([name, value]) =>
        // a literal value in place of a Secret reference: the reference is removed, else the pair is invalid
        c.env?.some((e) => e.name === name && e.valueFrom) ? { name, value, valueFrom: null } : { name, value },
      );
      await patchWorkload(
        service,
        {
          metadata: { annotations: { "kubernetes.io/change-cause": cause } },
          spec: { template: { spec: { containers: [{ name: c.name, env }] } } },
        },
        "set env of",
      );
    },
    async poolSize(service) {
      const c = await containerOf(service);
      const v = c.env?.find((e) => e.name === "PG_POOL_MAX")?.value;
      return v ? Number(v) : 10;
    },
    async setPoolSize(service, size) {
      if (!Number.isInteger(size) || size < 1)
        throw new PlatformError(`pool size must be a whole number >= 1, got ${size}`, "refused", false);
      const c = await containerOf(service);
      // env merges by name under a strategic merge patch; the change rolls the pods out
      await patchWorkload(
        service,
        { spec: { template: { spec: { containers: [{ name: c.name, env: [{ name: "PG_POOL_MAX", value: String(size) }] }] } } } },
        "set PG_POOL_MAX of",
      );
    },
    async rollouts(service): Promise<Rollout[]> {
      const sets = await replicaSets(service);
      return sets.map(({ rs, revision, depRevision }, i) => ({
        service,
        revision,
        createdAt: rs.metadata?.creationTimestamp ? new Date(rs.metadata.creationTimestamp).toISOString() : "",
        images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? "?"),
        changeCause: rs.metadata?.annotations?.["kubernetes.io/change-cause"] ?? null,
        current: revision === depRevision,
        // newest first: the one after it in the list is the revision before it
        changes: templateChanges(sets[i + 1]?.rs.spec?.template, rs.spec?.template),
        rollbackOf: restoredRevision(rs.metadata?.annotations),
      }));
    },
    async rollback(service, toRevision) {
      const sets = await replicaSets(service);
      const current = sets.find((s) => s.revision === s.depRevision);
      const back =
        toRevision === undefined ? sets.find((s) => s.revision !== current?.revision) : sets.find((s) => s.revision === toRevision);
      if (!back?.rs.spec?.template) {
        throw new PlatformError(
          toRevision === undefined
            ? `${service} has no previous revision to roll back to`
            : `${service} has no revision ${toRevision} (has: ${sets.map((s) => s.revision).join(", ") || "none"})`,
          "not-found",
          false,
        );
      }
      const t = target(service);
      const ns = guard(t.namespace);
      try {
        await apps.patchNamespacedDeployment(
          {
            name: t.workload.name,
            namespace: ns,
            body: [{ op: "replace", path: "/spec/template", value: templateForRollback(back.rs.spec.template) }],
            fieldManager,
          },
          jsonPatch,
        );
      } catch (err) {
        apiError(err, `rollout undo deployment/${t.workload.name} -n ${ns}`);
      }
      return back.revision;
    },
  };
}
