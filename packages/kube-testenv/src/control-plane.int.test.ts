/**
 * The control plane for real: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
 * started on this machine, driven through @kubernetes/client-node with the admin's client certificate
 * and with a ServiceAccount's token from the TokenRequest API.
 */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, kwokNodeAnnotation, kwokOomAnnotation, startControlPlane } from "./control-plane.js";
import { until } from "./until.js";

const NS = "gm-testenv";
const APP = "demo";

const isReady = (p: V1Pod) =>
  p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a real Kubernetes control plane with kwok nodes", { timeout: 120_000 }, () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let rbac: RbacAuthorizationV1Api;

  const pods = async () =>
    (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${APP}` })).items.filter((p) => !p.metadata?.deletionTimestamp);

  beforeAll(async () => {
    const t0 = Date.now();
    cp = await startControlPlane({ onProgress: (l) => console.log(l) });
    console.log(`control plane started in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it("serves the API to the admin's client certificate; the kwok node is Ready, labelled type=kwok, untainted", async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const nodes = (await core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name)).toEqual(["kwok-node-0"]);
    const [node] = nodes;
    expect(node?.metadata?.labels?.["type"]).toBe("kwok");
    expect(node?.metadata?.annotations?.[kwokNodeAnnotation]).toBe("fake");
    expect(node?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    // startControlPlane waited for the node lifecycle controller to lift its not-ready taint
    expect(node?.spec?.taints ?? []).toEqual([]);
  });

  it("schedules a Deployment's 2 pods onto the kwok node, where they become Running and Ready", async () => {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: APP },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: APP } },
          template: {
            metadata: { labels: { app: APP } },
            spec: {
              containers: [
                {
                  name: "app",
                  image: "gamemetrics/demo-platform:any",
                  resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                },
              ],
            },
          },
        },
      },
    });
    const running = await until("2 pods Running and Ready", async () => {
      const list = await pods();
      return list.length === 2 && list.every(isReady) ? list : undefined;
    });
    for (const p of running) {
      expect(p.spec?.nodeName).toBe("kwok-node-0");
      expect(p.status?.podIP).toMatch(/^10\.244\./);
      expect(p.status?.containerStatuses?.[0]).toMatchObject({ name: "app", ready: true, restartCount: 0, state: { running: {} } });
    }
    // the ServiceAccount admission plugin mounted the namespace's default account's token
    expect(running[0]?.spec?.serviceAccountName).toBe("default");
    expect(running[0]?.spec?.volumes?.some((v) => v.name.startsWith("kube-api-access-"))).toBe(true);
    const dep = await until("the Deployment reports 2 available replicas", async () => {
      const d = await apps.readNamespacedDeployment({ name: APP, namespace: NS });
      return d.status?.availableReplicas === 2 ? d : undefined;
    });
    expect(dep.status?.readyReplicas).toBe(2);
  });

  it("recreates a deleted pod through the ReplicaSet", async () => {
    const before = await pods();
    const victim = before[0]!.metadata!.name!;
    await core.deleteNamespacedPod({ name: victim, namespace: NS });
    const after = await until("a replacement pod Running and the deleted one gone", async () => {
      const all = (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${APP}` })).items;
      return all.length === 2 && all.every(isReady) && !all.some((p) => p.metadata?.name === victim) ? all : undefined;
    });
    const oldUids = new Set(before.map((p) => p.metadata?.uid));
    expect(after.filter((p) => !oldUids.has(p.metadata?.uid))).toHaveLength(1);
  });

  it(`simulates an OOM kill on the ${kwokOomAnnotation} annotation: lastState OOMKilled, restartCount + 1, Running again`, async () => {
    const [target, other] = await pods();
    const name = target!.metadata!.name!;
    await core.patchNamespacedPod(
      { name, namespace: NS, body: { metadata: { annotations: { [kwokOomAnnotation]: "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const killed = await until("OOMKilled in lastState", async () => {
      const p = await core.readNamespacedPod({ name, namespace: NS });
      return p.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled" ? p : undefined;
    });
    const status = killed.status!.containerStatuses![0]!;
    expect(status.lastState?.terminated?.reason).toBe("OOMKilled");
    expect(status.lastState?.terminated?.exitCode).toBe(137);
    expect(status.restartCount).toBeGreaterThanOrEqual(1);
    expect(status.state?.running?.startedAt).toBeDefined();
    expect(isReady(killed)).toBe(true);
    // one "true" is one kill: the annotation is consumed and the count stays
    expect(killed.metadata?.annotations?.[kwokOomAnnotation]).toBe("done");
    await new Promise((r) => setTimeout(r, 1500));
    expect((await core.readNamespacedPod({ name, namespace: NS })).status?.containerStatuses?.[0]?.restartCount).toBe(status.restartCount);
    // the other pod was not touched
    const untouched = await core.readNamespacedPod({ name: other!.metadata!.name!, namespace: NS });
    expect(untouched.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(untouched.status?.containerStatuses?.[0]?.lastState?.terminated).toBeUndefined();
  });

  it("RBAC: a ServiceAccount's TokenRequest token may list pods, and the API server answers 403 to delete", async () => {
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: "reader" } } });
    await rbac.createNamespacedRole({
      namespace: NS,
      body: { metadata: { name: "pod-reader" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: {
        metadata: { name: "reader-pod-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: NS }],
      },
    });
    const tr = await core.createNamespacedServiceAccountToken({
      name: "reader",
      namespace: NS,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tr.status?.token ?? "";
    expect(token.split(".")).toHaveLength(3); // a signed JWT

    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigFor({ name: "reader", token }));
    expect(kc.getCurrentContext()).toBe("reader@gm-kube-testenv");
    const asReader = kc.makeApiClient(CoreV1Api);
    const list = await until("the RoleBinding in effect", async () => (await asReader.listNamespacedPod({ namespace: NS })).items);
    expect(list.filter((p) => !p.metadata?.deletionTimestamp)).toHaveLength(2);

    const victim = list[0]!.metadata!.name!;
    const err = await asReader.deleteNamespacedPod({ name: victim, namespace: NS }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(403);
    const status = JSON.parse(String((err as ApiException<unknown>).body)) as { reason: string; message: string };
    expect(status.reason).toBe("Forbidden");
    expect(status.message).toContain(`"system:serviceaccount:${NS}:reader" cannot delete resource "pods"`);
    // the pod is still there; and the Role is namespaced: other namespaces are refused too
    expect((await core.readNamespacedPod({ name: victim, namespace: NS })).metadata?.deletionTimestamp).toBeUndefined();
    const other = await asReader.listNamespacedPod({ namespace: "kube-system" }).then(
      () => 200,
      (e: ApiException<unknown>) => e.code,
    );
    expect(other).toBe(403);
  });

  it("stop() ends every process it started and removes its temp dir; a second stop() is a no-op", async () => {
    expect(cp.processes.map((p) => p.name)).toEqual(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]);
    expect(cp.processes.every((p) => alive(p.pid))).toBe(true);
    await cp.stop();
    expect(cp.processes.filter((p) => alive(p.pid))).toEqual([]);
    expect(existsSync(cp.dir)).toBe(false);
    await cp.stop();
    await expect(core.listNode()).rejects.toThrow();
  });
});
