/**
 * metrics-server beside a real node (issue 12 §2): the Kubernetes metrics API (metrics.k8s.io/v1beta1, what
 * `kubectl top`, the HPA and gm-prober's memory view read) served by sigs.k8s.io/metrics-server built from
 * the Go module proxy (scripts/build-metrics-server.sh).
 *
 * Like CoreDNS in node.ts it runs as a host process, not a pod: bound to the node's IP, behind the
 * selector-less Service kube-system/metrics-server whose EndpointSlice names nodeIp:port, registered as the
 * APIService v1beta1.metrics.k8s.io; the control plane's aggregation layer (front-proxy client certificate,
 * --enable-aggregator-routing: control-plane.ts) forwards /apis/metrics.k8s.io there. It scrapes each
 * kubelet's /metrics/resource with its own client certificate (CN=system:gm:metrics-server, the rules of
 * metrics-server's own manifest: nodes/metrics get, pods and nodes list/watch), which the kubelet's webhook
 * authorizer checks against RBAC. No image to build or import, and it lives and dies with the test.
 * Readers need only get/list on pods.metrics.k8s.io — not nodes/proxy, which would reach the kubelet's
 * whole API (exec included).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ControlPlane,
  ControlPlaneError,
  freePorts,
  leafCert,
  type Proc,
  request,
  startProc,
  stopProcs,
  type TlsOptions,
  waitFor,
} from "./control-plane.js";

const BUILD_SCRIPT = fileURLToPath(new URL("../scripts/build-metrics-server.sh", import.meta.url));
const USER = "system:gm:metrics-server";
/** The rules of metrics-server's own manifest (ClusterRole system:metrics-server). */
const RULES = [
  { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
  { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
];

let cachedBin: string | undefined;
/** Where scripts/build-metrics-server.sh puts the binary (GM_METRICS_SERVER_BIN overrides). */
export function metricsServerBin(): string {
  if (process.env["GM_METRICS_SERVER_BIN"]) return process.env["GM_METRICS_SERVER_BIN"];
  cachedBin ??= execFileSync("bash", [BUILD_SCRIPT, "--print-path"], { encoding: "utf8" }).trim();
  return cachedBin;
}

/** Why metrics-server cannot start here (null when it can). */
export function metricsServerSkipReason(): string | null {
  return existsSync(metricsServerBin()) ? null : `metrics-server not built (bash ${BUILD_SCRIPT})`;
}

export interface MetricsServer {
  /** host:port it serves on (the node's IP) */
  address: string;
  process: Proc;
  /** Stops the process and removes the APIService, Service and EndpointSlice; idempotent. */
  stop(): Promise<void>;
}

export interface MetricsServerOptions {
  controlPlane: ControlPlane;
  /** the node's IP (KubeNode.nodeIp): where it listens and which kubelet address type it uses */
  nodeIp: string;
  /** its certificates, kubeconfig and log go here */
  dir: string;
  /** how often it scrapes the kubelets (at least 10 s, metrics-server's minimum) */
  resolutionSeconds?: number;
  onProgress?: (line: string) => void;
}

/** Starts metrics-server and waits until the API server serves metrics.k8s.io through it. */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const log = o.onProgress ?? (() => undefined);
  const t0 = Date.now();
  const pki = path.dirname(o.controlPlane.caPath);
  const server = o.controlPlane.server;
  const [adminCert, adminKey, ca] = await Promise.all(["admin.crt", "admin.key", "ca.crt"].map((f) => readFile(path.join(pki, f), "utf8")));
  const tls: TlsOptions = { ca: ca!, cert: adminCert!, key: adminKey! };
  const api = async (url: string, body: unknown) => {
    const r = await request(`${server}${url}`, { method: "POST", body, tls });
    if (r.status !== 201 && r.status !== 409) throw new ControlPlaneError(`POST ${url}: HTTP ${r.status} ${r.body}`);
  };
  const subjects = [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: USER }];
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  await mkdir(path.join(o.dir, "certs"), { recursive: true });
  await leafCert(pki, "metrics-server", `/CN=${USER}`, ["extendedKeyUsage=clientAuth"]);
  await api(`${rbac}/clusterroles`, { metadata: { name: "gm:metrics-server" }, rules: RULES });
  await api(`${rbac}/clusterrolebindings`, {
    metadata: { name: "gm:metrics-server" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "gm:metrics-server" },
    subjects,
  });
  // delegated authentication and authorization of its callers (TokenReview, SubjectAccessReview)
  await api(`${rbac}/clusterrolebindings`, {
    metadata: { name: "gm:metrics-server:auth-delegator" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects,
  });
  await api(`${rbac}/namespaces/kube-system/rolebindings`, {
    metadata: { name: "gm:metrics-server:auth-reader", namespace: "kube-system" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" },
    subjects,
  });
  const [port] = await freePorts(1);
  await api("/api/v1/namespaces/kube-system/services", {
    metadata: { name: "metrics-server", namespace: "kube-system", labels: { "k8s-app": "metrics-server" } },
    spec: { ports: [{ name: "https", protocol: "TCP", port: 443, targetPort: port }] },
  });
  await api("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", {
    metadata: {
      name: "metrics-server-gm",
      namespace: "kube-system",
      labels: { "kubernetes.io/service-name": "metrics-server", "endpointslice.kubernetes.io/managed-by": "gm.metrics-server" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [o.nodeIp], conditions: { ready: true } }],
    ports: [{ name: "https", protocol: "TCP", port }],
  });
  const kc = path.join(o.dir, "metrics-server.kubeconfig");
  await writeFile(
    kc,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: gm, cluster: {server: ${JSON.stringify(server)}, certificate-authority: ${JSON.stringify(o.controlPlane.caPath)}}}]`,
      `users: [{name: ms, user: {client-certificate: ${JSON.stringify(path.join(pki, "metrics-server.crt"))}, client-key: ${JSON.stringify(path.join(pki, "metrics-server.key"))}}}]`,
      "contexts: [{name: ms@gm, context: {cluster: gm, user: ms}}]",
      "current-context: ms@gm",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const proc = startProc(
    "metrics-server",
    metricsServerBin(),
    [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      // the aggregator's client certificate (control-plane.ts): only it may assert a user in headers
      `--requestheader-client-ca-file=${o.controlPlane.caPath}`,
      "--requestheader-allowed-names=front-proxy-client",
      `--bind-address=${o.nodeIp}`,
      `--secure-port=${port}`,
      `--cert-dir=${path.join(o.dir, "certs")}`,
      // the kubelet's serving certificate is self-signed (no serving-cert CSR flow in the test cluster)
      "--kubelet-insecure-tls",
      "--kubelet-preferred-address-types=InternalIP",
      "--kubelet-use-node-status-port",
      `--metric-resolution=${Math.max(10, o.resolutionSeconds ?? 10)}s`,
      // must be below the resolution (metrics-server refuses to start otherwise)
      "--kubelet-request-timeout=5s",
    ],
    o.dir,
  );
  const stop = async () => {
    await stopProcs([proc]);
    for (const url of [
      "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io",
      "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/metrics-server-gm",
      "/api/v1/namespaces/kube-system/services/metrics-server",
    ])
      await request(`${server}${url}`, { method: "DELETE", tls }).catch(() => undefined);
  };
  try {
    await api("/apis/apiregistration.k8s.io/v1/apiservices", {
      metadata: { name: "v1beta1.metrics.k8s.io", labels: { "k8s-app": "metrics-server" } },
      spec: {
        service: { name: "metrics-server", namespace: "kube-system", port: 443 },
        group: "metrics.k8s.io",
        version: "v1beta1",
        // its serving certificate is self-signed in --cert-dir
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });
    // served through the aggregator: the APIService is Available and a node has been scraped once
    await waitFor("metrics.k8s.io through the API server", proc, [proc], 120_000, async () => {
      const r = await request(`${server}/apis/metrics.k8s.io/v1beta1/nodes`, { tls });
      return r.status === 200 && (JSON.parse(r.body) as { items?: unknown[] }).items?.length !== 0;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  log(`metrics-server on ${o.nodeIp}:${port}, metrics.k8s.io served ${((Date.now() - t0) / 1000).toFixed(1)}s after its start`);
  return { address: `${o.nodeIp}:${port}`, process: proc, stop };
}
