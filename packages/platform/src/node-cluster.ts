/**
 * Test support: the repo's deploy/platform running for real (issue 12), on a control plane with a real
 * node (kubelet, containerd, kube-proxy, CoreDNS: @gm/kube-testenv/node), the locally built images
 * imported instead of pulled. Used by the platform's own node test, the drills against a real namespace
 * and the prober in the cluster, so each starts the same cluster the same way.
 *
 * The manifests are applied unchanged through an overlay that only renames the images to the local
 * builds (apache/kafka:3.9.1 → gamemetrics/kafka:3.9.1-local, postgres:15 → gamemetrics/postgres:15-local,
 * gamemetrics/demo-platform:0.1.0 → the tag the stack builds, plus any `extraImages` mapping) and sets
 * imagePullPolicy: Never; the StatefulSets' claims bind to hostPath volumes under the node's dir (a test
 * cluster has no provisioner). One change to what the manifests ask of the node: their CPU requests are
 * scheduled at a quarter (fitCpuRequests), the HPA's CPU target raised by the same factor so its decisions
 * stay the same — the manifests request 1.6 cores for a production node, which leaves no room on a
 * 2-core machine for the drills' scale-outs and a rolling update's surge pod (a surge pod left Pending
 * is not a pod held by its readiness probe). Needs root, runc, the node's binaries (`bash scripts/setup.sh --node`) and
 * the local images.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi, type V1Pod } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane, toolPath } from "@gm/kube-testenv/control-plane";
import { type MetricsServer, startMetricsServer } from "@gm/kube-testenv/metrics-server";
import { type KubeNode, nodeBinDir, nodeUnsupportedReason, startNode } from "@gm/kube-testenv/node";
import { ensurePlatformImage, LOCAL_IMAGES, resolveImages } from "@gm/stack/images";
import { parseAllDocuments } from "yaml";
import { DEPLOY } from "./k8s-fixtures.js";

export const NODE_KAFKA_IMAGE = LOCAL_IMAGES.kafka("3.9.1");
export const NODE_PG_IMAGE = LOCAL_IMAGES.postgres;

/** Why the platform cannot run on a real node here (null when it can): no root/runc, a binary not built, an image missing. */
export function nodeClusterSkipReason(extraImages: string[] = []): string | null {
  const r = nodeUnsupportedReason();
  if (r) return r;
  for (const b of ["kubelet", "kube-proxy", "coredns"])
    if (!existsSync(path.join(nodeBinDir(), b))) return `${b} not built in ${nodeBinDir()} (bash scripts/setup.sh --node)`;
  for (const img of [NODE_KAFKA_IMAGE, NODE_PG_IMAGE, ...extraImages])
    if (spawnSync("docker", ["image", "inspect", img], { stdio: "ignore" }).status !== 0)
      return `image ${img} missing (npm run images, or bash scripts/setup.sh)`;
  return null;
}

/**
 * In-cluster clients (gm-prober's `kubeconfig: in-cluster`) dial the `kubernetes` Service (10.0.0.1:443),
 * whose endpoints the test control plane leaves empty (its API server listens on 127.0.0.1 only, which an
 * Endpoint may not name: --endpoint-reconciler-type=none). This forwards the node's IP to the API server
 * and names it in an EndpointSlice of that Service, so kube-proxy sends pods there; TLS stays end to end
 * (the serving certificate carries IP:10.0.0.1 and the kubernetes.default.svc names). Lives in the test
 * process; closed by the cluster's stop().
 */
async function exposeApiServer(core: CoreV1Api, kc: KubeConfig, nodeIp: string, cp: ControlPlane): Promise<net.Server> {
  const api = new URL(cp.server);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(api.port), api.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.on("close", () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, nodeIp, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  const svc = await core.readNamespacedService({ name: "kubernetes", namespace: "default" });
  const portName = svc.spec?.ports?.[0]?.name ?? "https";
  await KubernetesObjectApi.makeApiClient(kc).create({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kubernetes-gm-node",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "gm.node-cluster" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [nodeIp], conditions: { ready: true } }],
    ports: [{ name: portName, protocol: "TCP", port }],
  } as KubernetesObject);
  return server;
}

/** An image rename of the overlay: `name` as the manifests spell it → the local `newName:newTag`. */
export interface ImageRename {
  name: string;
  image: string;
}

/** deploy/<dirs> through an overlay that only swaps the images for the local builds and forbids pulls. */
export function renderOnNode(dirs: string[], renames: ImageRename[]): KubernetesObject[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gm-overlay-"));
  try {
    const noPull = (kind: string) => ({
      target: { kind },
      patch: JSON.stringify([{ op: "add", path: "/spec/template/spec/containers/0/imagePullPolicy", value: "Never" }]),
    });
    writeFileSync(
      path.join(dir, "kustomization.yaml"),
      JSON.stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: dirs.map((d) => path.relative(dir, path.join(DEPLOY, d))),
        images: renames.map((r) => {
          const i = r.image.lastIndexOf(":");
          return { name: r.name, newName: r.image.slice(0, i), newTag: r.image.slice(i + 1) };
        }),
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

/**
 * The objects with every container's CPU request divided by `divisor` and every HPA's CPU utilization
 * target multiplied by it: what the scheduler counts shrinks, while the HPA's desired replicas
 * (usage ÷ request ÷ target) are unchanged. Limits, memory and everything else are left as they are.
 */
export function fitCpuRequests(objects: KubernetesObject[], divisor: number): KubernetesObject[] {
  if (!(divisor >= 1)) throw new Error(`fitCpuRequests: divisor must be a number >= 1, got ${divisor}`);
  const millis = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000);
  return objects.map((x) => {
    const o = structuredClone(x) as KubernetesObject & Record<string, unknown>;
    const spec = (o as { spec?: Record<string, unknown> }).spec;
    if (o.kind === "HorizontalPodAutoscaler") {
      for (const m of (spec?.["metrics"] ?? []) as { resource?: { name?: string; target?: { averageUtilization?: number } } }[])
        if (m.resource?.name === "cpu" && m.resource.target?.averageUtilization !== undefined)
          m.resource.target.averageUtilization = Math.round(m.resource.target.averageUtilization * divisor);
      return o;
    }
    // Deployment/StatefulSet/Job: spec.template; CronJob: spec.jobTemplate.spec.template; Pod: spec
    const template = (spec?.["template"] ?? (spec?.["jobTemplate"] as { spec?: { template?: unknown } } | undefined)?.spec?.template) as
      | { spec?: Record<string, unknown> }
      | undefined;
    const podSpec = o.kind === "Pod" ? spec : template?.spec;
    for (const list of ["containers", "initContainers"]) {
      for (const c of (podSpec?.[list] ?? []) as { resources?: { requests?: Record<string, string | number> } }[]) {
        const cpu = c.resources?.requests?.["cpu"];
        if (cpu === undefined) continue;
        const m = millis(String(cpu));
        if (!Number.isFinite(m))
          throw new Error(`fitCpuRequests: ${o.kind}/${o.metadata?.name}: cpu request ${JSON.stringify(cpu)} is not a CPU quantity`);
        c.resources!.requests!["cpu"] = `${Math.max(1, Math.round(m / divisor))}m`;
      }
    }
    return o;
  });
}

/** How much less CPU the test node schedules than the manifests request (see fitCpuRequests). */
export const NODE_CPU_REQUEST_DIVISOR = 4;

/** Waiting reasons of a container that will not change by themselves (nothing is pulled here). */
export const NEVER_STARTS = new Set([
  "ErrImageNeverPull",
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
]);
export const isPodReady = (p: V1Pod) => !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

export interface NodeCluster {
  cp: ControlPlane;
  node: KubeNode;
  kc: KubeConfig;
  core: CoreV1Api;
  /** metrics-server (the metrics.k8s.io API) when started with `metricsServer` */
  metricsServer?: MetricsServer;
  /** the demo platform's image as imported (the tag the stack builds) */
  platformImage: string;
  /** when deploy/<dirs> was applied (ms since the epoch) */
  appliedAt: number;
  /** "<namespace>/<pod>" → seconds from apply to its first Ready (filled by waitReady) */
  readyAt: Map<string, number>;
  /** Polls the pods of `namespaces` until, for each [namespace, name prefix, n], n pods are Ready; fails
   * at once on a pod that can never start, and with what it saw after `timeoutMs`. */
  waitReady(want: [string, string, number][], timeoutMs: number): Promise<void>;
  /** the node (with everything running on it), then the control plane */
  stop(): Promise<void>;
}

export interface NodeClusterOptions {
  /** deploy/ subdirectories to apply (default ["platform"]) */
  deploy?: string[];
  /** more local images to import and rename (e.g. gamemetrics/gm-tools:0.1.0) */
  extraImages?: ImageRename[];
  /** objects to create after deploy/<dirs> (e.g. a Secret the manifests expect from outside git) */
  extraObjects?: KubernetesObject[];
  /** changes the rendered objects before they are created, once the node runs (e.g. receivers pointed at
   * a stand-in on the node's IP); returns the objects to create */
  transform?: (objects: KubernetesObject[], node: KubeNode) => KubernetesObject[] | Promise<KubernetesObject[]>;
  /** also run metrics-server (@gm/kube-testenv/metrics-server), so metrics.k8s.io serves pod memory (needs
   * `bash packages/kube-testenv/scripts/build-metrics-server.sh`) */
  metricsServer?: boolean;
  onProgress?: (line: string) => void;
}

/** A control plane, a real node with cluster DNS, the images imported, PersistentVolumes for the claims,
 * and deploy/<dirs> applied (not waited for: see waitReady). A failed start stops what it started. */
export async function startNodeCluster(o: NodeClusterOptions = {}): Promise<NodeCluster> {
  const log = o.onProgress ?? (() => undefined);
  const t0 = Date.now();
  const images = await resolveImages("3.9.1");
  const platformImage = await ensurePlatformImage(images.platformBase, log);
  const extra = o.extraImages ?? [];
  const cp = await startControlPlane({ nodes: 0, onProgress: log });
  let node: KubeNode | undefined;
  let metricsServer: MetricsServer | undefined;
  let apiForward: net.Server | undefined;
  try {
    node = await startNode({
      controlPlane: cp,
      clusterDns: true,
      images: [NODE_KAFKA_IMAGE, NODE_PG_IMAGE, platformImage, ...extra.map((e) => e.image)],
      onProgress: log,
    });
    log(`control plane and node Ready, images imported (${platformImage}): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    if (o.metricsServer)
      metricsServer = await startMetricsServer({
        controlPlane: cp,
        nodeIp: node.nodeIp,
        dir: path.join(node.dir, "metrics-server"),
        onProgress: log,
      });
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    apiForward = await exposeApiServer(core, kc, node.nodeIp, cp);
    const rendered = fitCpuRequests(
      renderOnNode(o.deploy ?? ["platform"], [
        { name: "apache/kafka", image: NODE_KAFKA_IMAGE },
        { name: "postgres", image: NODE_PG_IMAGE },
        { name: "gamemetrics/demo-platform", image: platformImage },
        ...extra,
      ]),
      NODE_CPU_REQUEST_DIVISOR,
    );
    const objects = o.transform ? await o.transform(rendered, node) : rendered;
    const api = KubernetesObjectApi.makeApiClient(kc);
    // the claims of kafka-0..2 and postgres-0 bind to these (no StorageClass: storageClassName "")
    const claims = objects
      .filter((x) => x.kind === "StatefulSet")
      .reduce((n, s) => n + Number((s as { spec?: { replicas?: number } }).spec?.replicas ?? 1), 0);
    for (let i = 0; i < claims; i++)
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
    const appliedAt = Date.now();
    for (const x of [
      ...objects.filter((x) => x.kind === "Namespace"),
      ...objects.filter((x) => x.kind !== "Namespace"),
      ...(o.extraObjects ?? []),
    ])
      await api.create(x, undefined, undefined, "gm-test");
    log(`deploy/${(o.deploy ?? ["platform"]).join(", deploy/")} applied: ${objects.length} objects`);
    const readyAt = new Map<string, number>();
    const started = node;
    return {
      cp,
      node,
      kc,
      core,
      ...(metricsServer ? { metricsServer } : {}),
      platformImage,
      appliedAt,
      readyAt,
      async waitReady(want, timeoutMs) {
        const namespaces = [...new Set(want.map(([ns]) => ns))];
        const deadline = Date.now() + timeoutMs;
        let seen = "";
        while (Date.now() < deadline) {
          const pods = (await Promise.all(namespaces.map((namespace) => core.listNamespacedPod({ namespace })))).flatMap((l) => l.items);
          for (const p of pods) {
            const n = `${p.metadata!.namespace}/${p.metadata!.name}`;
            if (isPodReady(p) && !readyAt.has(n)) {
              readyAt.set(n, (Date.now() - appliedAt) / 1000);
              log(
                `${n} Ready ${readyAt.get(n)!.toFixed(1)}s after apply (restarts ${p.status?.containerStatuses?.[0]?.restartCount ?? 0})`,
              );
            }
          }
          seen = pods
            .map((p) => {
              const cs = p.status?.containerStatuses?.[0];
              const why = cs?.state?.waiting?.reason ?? cs?.lastState?.terminated?.reason ?? "";
              return `${p.metadata?.name}:${p.status?.phase}${isPodReady(p) ? "/Ready" : ""}${why ? `(${why})` : ""} restarts=${cs?.restartCount ?? 0}`;
            })
            .join(", ");
          for (const p of pods) {
            const w = p.status?.containerStatuses?.[0]?.state?.waiting;
            if (w?.reason && NEVER_STARTS.has(w.reason))
              throw new Error(`${p.metadata?.namespace}/${p.metadata?.name} cannot start: ${w.reason}: ${w.message ?? ""}`);
          }
          const count = (ns: string, prefix: string) =>
            pods.filter((p) => p.metadata?.namespace === ns && p.metadata.name?.startsWith(prefix) && isPodReady(p)).length;
          if (want.every(([ns, prefix, n]) => count(ns, prefix) >= n)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
        throw new Error(
          `timed out after ${timeoutMs / 1000}s waiting for ${want.map(([ns, p, n]) => `${n} × ${ns}/${p}*`).join(", ")} Ready; seen: ${seen}`,
        );
      },
      async stop() {
        try {
          apiForward?.close();
          await metricsServer?.stop();
          await started.stop();
        } finally {
          await cp.stop();
        }
      },
    };
  } catch (err) {
    try {
      apiForward?.close();
      await metricsServer?.stop();
      await node?.stop();
    } finally {
      await cp.stop();
    }
    throw err;
  }
}

/** The whole platform Ready: three brokers, PostgreSQL, two pods of each service. */
export const PLATFORM_READY: [string, string, number][] = [
  ["kafka", "kafka-", 3],
  ["gamemetrics", "postgres-", 1],
  ["gamemetrics", "ingest-api-", 2],
  ["gamemetrics", "event-processor-service-", 2],
  ["gamemetrics", "stats-api-", 2],
];

/** GET `url` (a ClusterIP from this host, through kube-proxy's rules): its status and body. */
export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
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
