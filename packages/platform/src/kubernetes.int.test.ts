/**
 * The Kubernetes driver against a real control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler built from Kubernetes' sources; kwok in place of kubelets): the repo's own deploy/
 * manifests are accepted by server-side dry-run and applied, then every driver action runs against
 * them, RBAC is checked by the API server with the ServiceAccounts' own tokens, and the allowlist
 * refuses before a request leaves the process.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import { type ControlPlane, kwokOomAnnotation, startControlPlane } from "@gm/kube-testenv/control-plane";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideRollback } from "@gm/runbook/deployments";
import { PlatformError } from "./errors.js";
import { dryRunCreate, renderDeploy } from "./k8s-fixtures.js";
import { createKubernetesPlatform, type KubernetesPlatform } from "./kubernetes.js";
import { until } from "@gm/kube-testenv/until";

const PLATFORM_NS = ["kafka", "gamemetrics"];

describe("the Kubernetes driver against a real control plane", { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let k8s: KubernetesPlatform;
  const allow = { contexts: [] as string[], namespaces: PLATFORM_NS };

  const running = async (ns: string, selector: string, n: number) =>
    until(`${n} running pod(s) ${selector} in ${ns}`, async () => {
      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.filter(
        (p) => !p.metadata?.deletionTimestamp,
      );
      return pods.length === n && pods.every((p) => p.status?.phase === "Running") ? pods : undefined;
    });

  beforeAll(async () => {
    cp = await startControlPlane({ nodes: 2, onProgress: (l) => console.log(l) });
    admin = new KubeConfig();
    admin.loadFromFile(cp.kubeconfigPath);
    allow.contexts = [admin.getCurrentContext()];
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it("accepts every manifest of deploy/ by server-side dry-run with strict field validation, and applies them", async () => {
    const objects = renderDeploy();
    const api = KubernetesObjectApi.makeApiClient(admin);
    const kinds = new Set(objects.map((o) => o.kind));
    expect([...kinds].sort()).toEqual([
      "ClusterRole",
      "ConfigMap",
      "CronJob",
      "Deployment",
      "HorizontalPodAutoscaler",
      "Namespace",
      "PodDisruptionBudget",
      "Role",
      "RoleBinding",
      "Secret",
      "Service",
      "ServiceAccount",
      "StatefulSet",
    ]);
    // Namespaces first, for real (a dry-run creates nothing, and the namespaced objects need them).
    for (const o of objects.filter((x) => x.kind === "Namespace")) {
      expect(await dryRunCreate(admin, o)).toMatchObject({ status: 201 });
      await api.create(o, undefined, undefined, "gm-test");
    }
    const rejected: string[] = [];
    for (const o of objects.filter((x) => x.kind !== "Namespace")) {
      const r = await dryRunCreate(admin, o);
      if (r.status !== 201) rejected.push(`${o.kind}/${o.metadata?.name}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    }
    expect(rejected).toEqual([]);
    // the check can fail: a field the API does not know is refused, and so is an invalid value
    const dep = objects.find((o) => o.kind === "Deployment")!;
    const typo = { ...dep, spec: { ...(dep as { spec: object }).spec, replica: 3 } } as KubernetesObject;
    expect(await dryRunCreate(admin, typo)).toMatchObject({
      status: 400,
      body: expect.stringContaining('unknown field \\"spec.replica\\"'),
    });
    const invalid = { ...dep, metadata: { ...dep.metadata, name: "Not_A_Name" } } as KubernetesObject;
    expect(await dryRunCreate(admin, invalid)).toMatchObject({ status: 422 });

    for (const o of objects.filter((x) => x.kind !== "Namespace")) await api.create(o, undefined, undefined, "gm-test");
    // the StatefulSets' volume claims bind to volumes made for them (the cluster has no provisioner)
    for (let i = 0; i < 4; i++) {
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
    await running("kafka", "app=kafka", 3);
    await running("gamemetrics", "app=postgres", 1);
    for (const s of ["ingest-api", "event-processor-service", "stats-api"]) await running("gamemetrics", `app=${s}`, 2);
  });

  it("lists pods by label with their state, limits and restarts (kubectl get pods -n kafka)", async () => {
    k8s = createKubernetesPlatform({ kubeconfig: cp.kubeconfigPath, allow, fieldManager: "gm-test" });
    const brokers = await k8s.listInstances("kafka");
    expect(brokers.map((b) => b.name)).toEqual(["kafka-0", "kafka-1", "kafka-2"]);
    expect(brokers.every((b) => b.running && !b.oomKilled && b.restarts === 0 && b.memoryLimitBytes === 2 ** 30)).toBe(true);
    const consumers = await k8s.listInstances("event-processor-service");
    expect(consumers).toHaveLength(2);
    expect(consumers[0]).toMatchObject({ service: "event-processor-service", running: true, memoryLimitBytes: 256 * 2 ** 20 });
    expect(await k8s.memoryLimit(consumers[0]!.name)).toBe(256 * 2 ** 20);
  });

  it("deletes a broker pod and the StatefulSet brings it back under the same name", async () => {
    const before = (await core.readNamespacedPod({ name: "kafka-1", namespace: "kafka" })).metadata?.uid;
    await k8s.restart("kafka-1");
    let seen = "";
    const after = await until("kafka-1 recreated and running", async () => {
      const p = await core.readNamespacedPod({ name: "kafka-1", namespace: "kafka" });
      seen = JSON.stringify({
        uid: p.metadata?.uid,
        deleting: p.metadata?.deletionTimestamp,
        finalizers: p.metadata?.finalizers,
        node: p.spec?.nodeName,
        status: p.status,
      });
      return p.metadata?.uid !== before && p.status?.phase === "Running" ? p : undefined;
    }).catch((err: Error) => Promise.reject(new Error(`${err.message}; last: ${seen.slice(0, 1500)}`)));
    expect(after.metadata?.uid).not.toBe(before);
    await expect(k8s.restart("kafka-9")).rejects.toMatchObject({ code: "not-found" });
  });

  it("reads an OOM kill from the last terminated state and the restart count", async () => {
    const [pod] = await k8s.listInstances("stats-api");
    await core.patchNamespacedPod(
      { name: pod!.name, namespace: "gamemetrics", body: { metadata: { annotations: { [kwokOomAnnotation]: "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const seen = await until("OOMKilled in the pod's status", async () =>
      (await k8s.listInstances("stats-api")).find((i) => i.name === pod!.name && i.oomKilled),
    );
    expect(seen).toMatchObject({ oomKilled: true, exitCode: seen.running ? null : 137 });
    expect(seen.restarts).toBeGreaterThanOrEqual(1);
    const raw = (await k8s.pods("stats-api")).find((p: V1Pod) => p.metadata?.name === pod!.name);
    expect(raw?.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ reason: "OOMKilled", exitCode: 137 });
  });

  it("raises a Deployment's memory limit and the rollout replaces its pods; lists the rollouts and rolls back", async () => {
    await k8s.setMemoryLimit("stats-api", 512 * 2 ** 20);
    const dep = await apps.readNamespacedDeployment({ name: "stats-api", namespace: "gamemetrics" });
    expect(dep.spec?.template.spec?.containers[0]?.resources?.limits?.["memory"]).toBe(String(512 * 2 ** 20));
    await until("stats-api pods with the new limit", async () => {
      const list = await k8s.listInstances("stats-api");
      return list.length === 2 && list.every((i) => i.running && i.memoryLimitBytes === 512 * 2 ** 20);
    });
    const rollouts = await k8s.rollouts("stats-api");
    expect(rollouts.map((r) => [r.revision, r.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    expect(await k8s.rollback("stats-api")).toBe(1);
    await until("stats-api rolled back to 256Mi", async () => {
      const d = await apps.readNamespacedDeployment({ name: "stats-api", namespace: "gamemetrics" });
      return d.spec?.template.spec?.containers[0]?.resources?.limits?.["memory"] === "256Mi";
    });
    // the restored template is revision 3 (kubectl rollout undo does the same)
    await until("revision 3 current", async () => (await k8s.rollouts("stats-api"))[0]?.revision === 3);
    await expect(k8s.rollback("stats-api", 42)).rejects.toThrow(/no revision 42/);
  });

  it("a bad revision is reviewed with what changed (its password masked), rolled back once by the runbook's decision, and not again", async () => {
    const openedAt = () => Date.now() + 1_000;
    // a deploy that gets the database password wrong: a literal DATABASE_URL in place of the Secret's
    await apps.patchNamespacedDeployment(
      {
        name: "ingest-api",
        namespace: "gamemetrics",
        body: {
          spec: {
            template: {
              spec: {
                containers: [{ name: "ingest-api", env: [{ name: "DATABASE_URL", value: "postgres://gm:wr0ng-s3cret@postgres:5432/gm" }] }],
              },
            },
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    const bad = await until("ingest-api revision 2", async () => {
      const list = await k8s.rollouts("ingest-api");
      return list[0]?.revision === 2 && list[0].current ? list : undefined;
    });
    expect(bad[0]!.changes).toEqual(["DATABASE_URL (unset) → postgres://gm:***@postgres:5432/gm"]);
    expect(JSON.stringify(bad)).not.toContain("wr0ng-s3cret");
    const decision = decideRollback("ingest-api", bad, openedAt(), 600);
    expect(decision).toMatchObject({ action: "rollback", revision: { revision: 2 } });
    expect(await k8s.rollback("ingest-api")).toBe(1);
    const after = await until("ingest-api revision 3, the template of revision 1", async () => {
      const list = await k8s.rollouts("ingest-api");
      return list[0]?.revision === 3 && list[0].current ? list : undefined;
    });
    const d = await apps.readNamespacedDeployment({ name: "ingest-api", namespace: "gamemetrics" });
    expect(d.spec?.template.spec?.containers[0]?.env?.some((e) => e.name === "DATABASE_URL")).toBe(false);
    // the controller reused revision 1's ReplicaSet and says so: the runbook does not roll it back again
    expect(after[0]!.rollbackOf).toBe(1);
    expect(decideRollback("ingest-api", after, openedAt(), 600)).toMatchObject({ action: "none", reason: "already-rolled-back" });
  });

  it("scales through the HPA's minReplicas (the runbook's 'increase HPA min replicas') and the pods follow", async () => {
    expect(await k8s.replicas("event-processor-service")).toBe(2);
    await k8s.scale("event-processor-service", 4);
    const hpa = await admin
      .makeApiClient(AutoscalingV2Api)
      .readNamespacedHorizontalPodAutoscaler({ name: "event-processor-service", namespace: "gamemetrics" });
    expect(hpa.spec?.minReplicas).toBe(4);
    expect(await k8s.replicas("event-processor-service")).toBe(4);
    await running("gamemetrics", "app=event-processor-service", 4);
    // a StatefulSet without an HPA scales directly
    expect(await k8s.hpa("stats-api")).toBeNull();
  });

  it("reads and sets the pool size through the Deployment's environment", async () => {
    expect(await k8s.poolSize("event-processor-service")).toBe(10);
    await k8s.setPoolSize("event-processor-service", 20);
    expect(await k8s.poolSize("event-processor-service")).toBe(20);
  });

  it("deploys a revision with a literal value in place of a Secret reference; scales the workload or the HPA's bounds alone", async () => {
    const svc = "event-processor-service";
    // the pool-size change before this test is a revision too: wait until the deployment controller has
    // seen the latest spec (observedGeneration) and made its revision current; reading the revisions before
    // that (CI under load) took the one before the pool-size change and waited for the wrong number
    const before = await until("the newest revision current", async () => {
      const d = await apps.readNamespacedDeployment({ name: svc, namespace: "gamemetrics" });
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 1)) return undefined;
      const l = await k8s.rollouts(svc);
      return l[0]?.current ? l[0].revision : undefined;
    });
    await k8s.deploy(svc, { env: { DATABASE_URL: "postgres://gm:wr0ng-s3cret@postgres:5432/gm" } }, "drill: a wrong password");
    const dep = await apps.readNamespacedDeployment({ name: svc, namespace: "gamemetrics" });
    // the Secret reference is gone (a literal and a reference together are invalid), the cause recorded
    expect(dep.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === "DATABASE_URL")).toEqual({
      name: "DATABASE_URL",
      value: "postgres://gm:wr0ng-s3cret@postgres:5432/gm",
    });
    const list = await until("a new revision current", async () => {
      const l = await k8s.rollouts(svc);
      return l[0]?.changeCause === "drill: a wrong password" && l[0].current ? l : undefined;
    });
    expect(list[0]!.revision).toBe(before + 1);
    expect(list[0]!.changeCause).toBe("drill: a wrong password");
    expect(JSON.stringify(list)).not.toContain("wr0ng-s3cret");
    await expect(k8s.deploy(svc, { env: {} }, "nothing")).rejects.toThrow(/deploy of event-processor-service: no variable to change/);
    expect(await k8s.rollback(svc, before)).toBe(before);

    const hpa = await k8s.hpa(svc);
    await k8s.scaleWorkload(svc, 0);
    expect(await k8s.replicas(svc)).toBe(0);
    // the HPA is left as it was (at zero replicas it stops acting on its own)
    expect(await k8s.hpa(svc)).toMatchObject({ minReplicas: hpa!.minReplicas, maxReplicas: hpa!.maxReplicas });
    await k8s.setHpaReplicas(svc, { minReplicas: 2, maxReplicas: 6 });
    expect(await k8s.hpa(svc)).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
    await expect(k8s.setHpaReplicas(svc, { minReplicas: 0, maxReplicas: 6 })).rejects.toThrow(/1 <= minReplicas <= maxReplicas, got min 0/);
    await expect(k8s.setHpaReplicas("stats-api", { minReplicas: 1, maxReplicas: 2 })).rejects.toThrow(/stats-api has no HPA/);
    await expect(k8s.scaleWorkload(svc, -1)).rejects.toThrow(/replicas must be a whole number >= 0, got -1/);
    await k8s.scaleWorkload(svc, 2);
    await running("gamemetrics", "app=event-processor-service", 2);
  });

  it("returns a pod's log lines or says clearly why it cannot", async () => {
    const [pod] = await k8s.listInstances("ingest-api");
    const result = await k8s.logs(pod!.name, 5).then(
      (lines) => ({ ok: true as const, lines }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    if (result.ok) expect(Array.isArray(result.lines)).toBe(true);
    else {
      expect(result.err).toBeInstanceOf(PlatformError);
      expect(String((result.err as Error).message)).toContain(`logs ${pod!.name} -n gamemetrics --tail 5`);
    }
  });

  describe("RBAC, decided by the API server with the ServiceAccounts' own tokens", () => {
    const token = async (ns: string, sa: string) =>
      (
        await core.createNamespacedServiceAccountToken({
          name: sa,
          namespace: ns,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        })
      ).status?.token ?? "";

    it("the prober's account reads pods and logs' metadata but may not delete a pod", async () => {
      const kc = new KubeConfig();
      kc.loadFromFile(cp.kubeconfigFor({ name: "gm-prober", token: await token("gamemetrics-ops", "gm-prober") }));
      const prober = createKubernetesPlatform({
        kubeconfig: cp.kubeconfigFor({ name: "gm-prober", token: await token("gamemetrics-ops", "gm-prober") }),
        allow: { contexts: [kc.getCurrentContext()], namespaces: PLATFORM_NS },
      });
      expect((await prober.listInstances("kafka")).length).toBe(3);
      const err = await prober.restart("kafka-0").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformError);
      expect(err).toMatchObject({ code: "forbidden" });
      expect(String((err as Error).message)).toMatch(
        /HTTP 403.*system:serviceaccount:gamemetrics-ops:gm-prober.*cannot delete resource "pods"/,
      );
      await expect(prober.scale("event-processor-service", 5)).rejects.toMatchObject({ code: "forbidden" });
      await expect(prober.setMemoryLimit("stats-api", 2 ** 30)).rejects.toMatchObject({ code: "forbidden" });
    });

    it("in a pod: in-cluster config from the service account's files, context inClusterContext, the prober's rights", async () => {
      const root = mkdtempSync(join(tmpdir(), "gm-incluster-"));
      const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, "token"), await token("gamemetrics-ops", "gm-prober"));
      writeFileSync(join(sa, "ca.crt"), readFileSync(cp.caPath));
      writeFileSync(join(sa, "namespace"), "gamemetrics-ops");
      const url = new URL(cp.server);
      const saved = { host: process.env["KUBERNETES_SERVICE_HOST"], port: process.env["KUBERNETES_SERVICE_PORT"] };
      process.env["KUBERNETES_SERVICE_HOST"] = url.hostname;
      process.env["KUBERNETES_SERVICE_PORT"] = url.port;
      try {
        expect(() =>
          createKubernetesPlatform({
            kubeconfig: "in-cluster",
            inClusterRoot: root,
            allow: { contexts: ["staging"], namespaces: PLATFORM_NS },
          }),
        ).toThrow(/context "inClusterContext"/);
        const inPod = createKubernetesPlatform({
          kubeconfig: "in-cluster",
          inClusterRoot: root,
          allow: { contexts: ["inClusterContext"], namespaces: PLATFORM_NS },
        });
        expect(inPod.context).toBe("inClusterContext");
        expect((await inPod.listInstances("kafka")).map((i) => i.name)).toEqual(["kafka-0", "kafka-1", "kafka-2"]);
        await expect(inPod.restart("kafka-0")).rejects.toMatchObject({ code: "forbidden" });
      } finally {
        if (saved.host === undefined) delete process.env["KUBERNETES_SERVICE_HOST"];
        else process.env["KUBERNETES_SERVICE_HOST"] = saved.host;
        if (saved.port === undefined) delete process.env["KUBERNETES_SERVICE_PORT"];
        else process.env["KUBERNETES_SERVICE_PORT"] = saved.port;
      }
    });

    it("the game day's account acts in the drill namespaces only, and only on what drills touch", async () => {
      const t = await token("gamemetrics-ops", "gm-gameday");
      const kc = new KubeConfig();
      kc.loadFromFile(cp.kubeconfigFor({ name: "gm-gameday", token: t }));
      const c = kc.makeApiClient(CoreV1Api);
      const a = kc.makeApiClient(AppsV1Api);
      const gameday = createKubernetesPlatform({
        kubeconfig: cp.kubeconfigFor({ name: "gm-gameday", token: t }),
        allow: { contexts: [kc.getCurrentContext()], namespaces: PLATFORM_NS },
      });
      await gameday.restart("kafka-2"); // allowed: the broker kill
      await gameday.scale("event-processor-service", 3);
      const status = async (p: Promise<unknown>) =>
        p.then(
          () => 200,
          (e: { code?: number }) => e.code,
        );
      expect(await status(c.listNamespacedPod({ namespace: "kube-system" }))).toBe(403);
      expect(await status(c.listNamespacedPod({ namespace: "gamemetrics-ops" }))).toBe(403);
      expect(await status(c.listNamespacedSecret({ namespace: "gamemetrics" }))).toBe(403);
      expect(
        await status(
          a.createNamespacedDeployment({
            namespace: "gamemetrics",
            body: {
              metadata: { name: "x" },
              spec: {
                selector: { matchLabels: { a: "b" } },
                template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "x", image: "x" }] } },
              },
            },
          }),
        ),
      ).toBe(403);
      expect(await status(c.deleteNamespace({ name: "gamemetrics" }))).toBe(403);
    });
  });

  describe("the allowlist", () => {
    /** a server that counts connections: a refusal must happen before any */
    async function countingServer(): Promise<{ url: string; connections: () => number; close: () => void }> {
      let n = 0;
      const srv = createServer((s) => {
        n++;
        s.destroy();
      });
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
      const port = (srv.address() as { port: number }).port;
      return { url: `https://127.0.0.1:${port}`, connections: () => n, close: () => srv.close() };
    }

    it("refuses a context or a namespace not on it, naming them, before a request is sent", async () => {
      const srv = await countingServer();
      try {
        const path = cp.kubeconfigFor({ name: "anyone", token: "t", server: srv.url });
        const kc = new KubeConfig();
        kc.loadFromFile(path);
        const ctx = kc.getCurrentContext();
        expect(() => createKubernetesPlatform({ kubeconfig: path, allow: { contexts: ["staging"], namespaces: PLATFORM_NS } })).toThrow(
          `refused: not on the allowlist: context "${ctx}" (allowed: staging)`,
        );
        expect(() => createKubernetesPlatform({ kubeconfig: path, allow: { contexts: [ctx], namespaces: ["kafka"] } })).toThrow(
          /targets\.ingest-api\.namespace "gamemetrics" \(allowed: kafka\)/,
        );
        expect(() =>
          createKubernetesPlatform({ kubeconfig: path, context: "prod", allow: { contexts: ["prod"], namespaces: PLATFORM_NS } }),
        ).toThrow(/context "prod" is not in the kubeconfig/);
        // allowed: the first request reaches the server
        const ok = createKubernetesPlatform({ kubeconfig: path, allow: { contexts: [ctx], namespaces: PLATFORM_NS } });
        expect(srv.connections()).toBe(0);
        await expect(ok.listInstances("kafka")).rejects.toBeInstanceOf(PlatformError);
        expect(srv.connections()).toBeGreaterThan(0);
      } finally {
        srv.close();
      }
    });
  });
});
