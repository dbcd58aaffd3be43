/**
 * deploy/platform for real (issue 12 §2): the repo's kustomization applied unchanged to a control plane
 * with a real node (kubelet, containerd, kube-proxy, CoreDNS: @gm/kube-testenv/node), the locally built
 * images imported instead of pulled. An overlay made here only renames the images to the local builds
 * (apache/kafka:3.9.1 → gamemetrics/kafka:3.9.1-local, postgres:15 → gamemetrics/postgres:15-local,
 * gamemetrics/demo-platform:0.1.0 → the tag the stack builds) and sets imagePullPolicy: Never; the
 * StatefulSets' claims bind to hostPath volumes under the node's dir (a test cluster has no provisioner).
 * Three KRaft brokers, PostgreSQL and the three services must go Ready, and the host must reach
 * ingest-api and stats-api through their ClusterIPs. Prints how long each pod took (never asserted).
 * Needs root, runc, the node's binaries (`bash scripts/setup.sh --node`) and the local images.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi, type V1Pod } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane, toolPath } from "@gm/kube-testenv/control-plane";
import { type KubeNode, nodeBinDir, nodeUnsupportedReason, startNode } from "@gm/kube-testenv/node";
import { ensurePlatformImage, LOCAL_IMAGES, resolveImages } from "@gm/stack/images";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { DEPLOY } from "./k8s-fixtures.js";

const KAFKA_IMAGE = LOCAL_IMAGES.kafka("3.9.1");
const PG_IMAGE = LOCAL_IMAGES.postgres;

function skipReason(): string | null {
  const r = nodeUnsupportedReason();
  if (r) return r;
  for (const b of ["kubelet", "kube-proxy", "coredns"])
    if (!existsSync(path.join(nodeBinDir(), b))) return `${b} not built in ${nodeBinDir()} (bash scripts/setup.sh --node)`;
  for (const img of [KAFKA_IMAGE, PG_IMAGE])
    if (spawnSync("docker", ["image", "inspect", img], { stdio: "ignore" }).status !== 0)
      return `image ${img} missing (npm run images, or bash scripts/setup.sh)`;
  return null;
}
const skip = skipReason();
if (skip) console.warn(`kubernetes-node.int.test.ts skipped: ${skip}`);

/** deploy/platform through an overlay that only swaps the images for the local builds and forbids pulls. */
function renderPlatform(platformImage: string): KubernetesObject[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gm-overlay-"));
  try {
    const [platformName, platformTag] = platformImage.split(":");
    const noPull = (kind: string) => ({
      target: { kind },
      patch: JSON.stringify([{ op: "add", path: "/spec/template/spec/containers/0/imagePullPolicy", value: "Never" }]),
    });
    writeFileSync(
      path.join(dir, "kustomization.yaml"),
      JSON.stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [path.relative(dir, path.join(DEPLOY, "platform"))],
        images: [
          { name: "apache/kafka", newName: KAFKA_IMAGE.split(":")[0], newTag: KAFKA_IMAGE.split(":")[1] },
          { name: "postgres", newName: PG_IMAGE.split(":")[0], newTag: PG_IMAGE.split(":")[1] },
          { name: "gamemetrics/demo-platform", newName: platformName, newTag: platformTag },
        ],
        patches: [noPull("StatefulSet"), noPull("Deployment")],
      }),
    );
    const out = execFileSync(toolPath("kustomize"), ["build", dir], { encoding: "utf8" });
    return parseAllDocuments(out)
      .map((d) => d.toJSON() as KubernetesObject | null)
      .filter((o): o is KubernetesObject => o !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on("error", reject);
  });
}

/** Waiting reasons of a container that will not change by themselves (nothing is pulled here). */
const NEVER_STARTS = new Set(["ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"]);
const isReady = (p: V1Pod) => !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

describe.skipIf(!!skip)("deploy/platform on a real node", { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let node: KubeNode;
  let core: CoreV1Api;
  /** pod name → seconds from apply to its first Ready */
  const readyAt = new Map<string, number>();
  let applied = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    const images = await resolveImages("3.9.1");
    const platformImage = await ensurePlatformImage(images.platformBase, console.log);
    cp = await startControlPlane({ nodes: 0, onProgress: console.log });
    node = await startNode({ controlPlane: cp, clusterDns: true, images: [KAFKA_IMAGE, PG_IMAGE, platformImage], onProgress: console.log });
    console.log(`control plane and node Ready, images imported (${platformImage}): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);

    const objects = renderPlatform(platformImage);
    const api = KubernetesObjectApi.makeApiClient(kc);
    // the claims of kafka-0..2 and postgres-0 bind to these (no StorageClass: storageClassName "")
    for (let i = 0; i < 4; i++)
      await core.createPersistentVolume({
        body: {
          metadata: { name: `gm-node-pv-${i}` },
          spec: {
            capacity: { storage: "10Gi" },
            accessModes: ["ReadWriteOnce"],
            storageClassName: "",
            hostPath: { path: path.join(node.dir, "volumes", `pv-${i}`), type: "DirectoryOrCreate" },
            persistentVolumeReclaimPolicy: "Delete",
          },
        },
      });
    applied = Date.now();
    for (const o of [...objects.filter((x) => x.kind === "Namespace"), ...objects.filter((x) => x.kind !== "Namespace")])
      await api.create(o, undefined, undefined, "gm-test");
    console.log(`deploy/platform applied: ${objects.length} objects`);
  }, 900_000);

  afterAll(async () => {
    const t = Date.now();
    try {
      await node?.stop();
      console.log(`node stopped with the platform running in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    } finally {
      await cp?.stop();
    }
  }, 300_000);

  /** Polls the pods of both namespaces until, for each [ns, name prefix, n], n pods are Ready, recording
   * when each pod first was; fails with what it saw. */
  async function allReady(want: [string, string, number][], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen = "";
    while (Date.now() < deadline) {
      const pods = (await Promise.all(["kafka", "gamemetrics"].map((namespace) => core.listNamespacedPod({ namespace })))).flatMap(
        (l) => l.items,
      );
      for (const p of pods) {
        const n = `${p.metadata!.namespace}/${p.metadata!.name}`;
        if (isReady(p) && !readyAt.has(n)) {
          readyAt.set(n, (Date.now() - applied) / 1000);
          console.log(
            `${n} Ready ${readyAt.get(n)!.toFixed(1)}s after apply (restarts ${p.status?.containerStatuses?.[0]?.restartCount ?? 0})`,
          );
        }
      }
      seen = pods
        .map((p) => {
          const cs = p.status?.containerStatuses?.[0];
          const why = cs?.state?.waiting?.reason ?? cs?.lastState?.terminated?.reason ?? "";
          return `${p.metadata?.name}:${p.status?.phase}${isReady(p) ? "/Ready" : ""}${why ? `(${why})` : ""} restarts=${cs?.restartCount ?? 0}`;
        })
        .join(", ");
      // a pod that can never start fails at once, not after the timeout
      for (const p of pods) {
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        if (w?.reason && NEVER_STARTS.has(w.reason))
          throw new Error(`${p.metadata?.namespace}/${p.metadata?.name} cannot start: ${w.reason}: ${w.message ?? ""}`);
      }
      const count = (ns: string, prefix: string) =>
        pods.filter((p) => p.metadata?.namespace === ns && p.metadata.name?.startsWith(prefix) && isReady(p)).length;
      if (want.every(([ns, prefix, n]) => count(ns, prefix) >= n)) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(
      `timed out after ${timeoutMs / 1000}s waiting for ${want.map(([ns, p, n]) => `${n} × ${ns}/${p}*`).join(", ")} Ready; seen: ${seen}`,
    );
  }

  it("runs three KRaft brokers to Ready (a quorum found through the headless Service's DNS names)", async () => {
    await allReady([["kafka", "kafka-", 3]], 600_000);
  });

  it("runs PostgreSQL to Ready", async () => {
    await allReady([["gamemetrics", "postgres-", 1]], 300_000);
  });

  it("runs ingest-api, event-processor-service and stats-api to Ready, two pods each (their /ready checks Kafka and PostgreSQL)", async () => {
    await allReady(
      [
        ["gamemetrics", "ingest-api-", 2],
        ["gamemetrics", "event-processor-service-", 2],
        ["gamemetrics", "stats-api-", 2],
      ],
      600_000,
    );
  });

  it("serves ingest-api and stats-api to this host through their ClusterIPs", async () => {
    for (const svc of ["ingest-api", "stats-api"]) {
      const s = await core.readNamespacedService({ name: svc, namespace: "gamemetrics" });
      // only through kube-proxy's rules: without them a Service IP would follow the default route off this machine
      const rules = spawnSync("iptables", ["-t", "nat", "-S", "KUBE-SERVICES"], { encoding: "utf8" }).stdout ?? "";
      expect(rules, `kube-proxy's rule for ${svc}`).toContain(`-d ${s.spec!.clusterIP}/32`);
      const r = await httpGet(`http://${s.spec!.clusterIP}:8080/ready`);
      expect(r.status, `${svc} /ready: ${r.body}`).toBe(200);
    }
    console.log(
      `platform Ready times (s after apply): ${[...readyAt.entries()]
        .sort((a, b) => a[1] - b[1])
        .map(([n, t]) => `${n} ${t.toFixed(1)}`)
        .join(", ")}`,
    );
  });
});
