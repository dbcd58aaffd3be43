/**
 * Test support for the Kubernetes suites (no stand-in: everything here talks to a real API server):
 * the repo's deploy/ rendered by kustomize, server-side dry-run, applying it, volumes for the
 * StatefulSets' claims (a test cluster has no provisioner), and waiting for running pods.
 */
import { execFileSync } from "node:child_process";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { CoreV1Api, type KubeConfig, KubernetesObjectApi, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { toolPath } from "@gm/kube-testenv/control-plane";
import { parseAllDocuments } from "yaml";

export const DEPLOY = fileURLToPath(new URL("../../../deploy/", import.meta.url));

/** `kustomize build deploy/<sub>`, parsed. */
export function renderDeploy(sub = ""): KubernetesObject[] {
  const out = execFileSync(toolPath("kustomize"), ["build", `${DEPLOY}${sub}`], { encoding: "utf8" });
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null);
}

/** Where the API serves each kind the manifests use: group/version, resource, namespaced. */
const RESOURCES: Record<string, [string, string, boolean]> = {
  Namespace: ["api/v1", "namespaces", false],
  ClusterRole: ["apis/rbac.authorization.k8s.io/v1", "clusterroles", false],
  ConfigMap: ["api/v1", "configmaps", true],
  Secret: ["api/v1", "secrets", true],
  Service: ["api/v1", "services", true],
  ServiceAccount: ["api/v1", "serviceaccounts", true],
  CronJob: ["apis/batch/v1", "cronjobs", true],
  Deployment: ["apis/apps/v1", "deployments", true],
  StatefulSet: ["apis/apps/v1", "statefulsets", true],
  HorizontalPodAutoscaler: ["apis/autoscaling/v2", "horizontalpodautoscalers", true],
  PodDisruptionBudget: ["apis/policy/v1", "poddisruptionbudgets", true],
  Role: ["apis/rbac.authorization.k8s.io/v1", "roles", true],
  RoleBinding: ["apis/rbac.authorization.k8s.io/v1", "rolebindings", true],
};

/** POST ?dryRun=All&fieldValidation=Strict: the API server validates and admits, and stores nothing. */
export async function dryRunCreate(kc: KubeConfig, o: KubernetesObject): Promise<{ status: number; body: string }> {
  const r = RESOURCES[o.kind ?? ""];
  if (!r) throw new Error(`no resource known for kind ${o.kind}`);
  const [gv, plural, namespaced] = r;
  const server = new URL(kc.getCurrentCluster()!.server);
  const path = `/${gv}/${namespaced ? `namespaces/${o.metadata?.namespace ?? "default"}/` : ""}${plural}?dryRun=All&fieldValidation=Strict&fieldManager=gm-test`;
  const opts: https.RequestOptions = {
    method: "POST",
    hostname: server.hostname,
    port: server.port,
    path,
    headers: { "content-type": "application/json" },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(o));
  });
}

/** Creates every object (namespaces first); `volumes` hostPath PersistentVolumes for the StatefulSets' claims. */
export async function applyAll(kc: KubeConfig, objects: KubernetesObject[], volumes = 0): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const o of [...objects.filter((x) => x.kind === "Namespace"), ...objects.filter((x) => x.kind !== "Namespace")])
    await api.create(o, undefined, undefined, "gm-test");
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < volumes; i++) {
    await core.createPersistentVolume({
      body: {
        metadata: { name: `gm-pv-${i}` },
        spec: {
          capacity: { storage: "10Gi" },
          accessModes: ["ReadWriteOnce"],
          hostPath: { path: `/tmp/gm-pv-${i}` },
          persistentVolumeReclaimPolicy: "Retain",
        },
      },
    });
  }
}

/** Waits until `n` pods of `selector` in `ns` run (none being deleted); the pods. */
export async function runningPods(kc: KubeConfig, ns: string, selector: string, n: number, timeoutMs = 90_000): Promise<V1Pod[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (Date.now() < deadline) {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
    seen = pods.map((p) => `${p.metadata?.name}:${p.status?.phase}${p.metadata?.deletionTimestamp ? "(deleting)" : ""}`).join(", ");
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    if (live.length === n && live.every((p) => p.status?.phase === "Running")) return live;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${n} running pod(s) ${selector} in ${ns}; seen: ${seen || "none"}`);
}
