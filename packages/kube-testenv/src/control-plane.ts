/**
 * A real Kubernetes control plane for integration tests, started on this machine in a few seconds:
 * etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager and kube-scheduler (built from
 * k8s.io/kubernetes by scripts/build.sh), and kwok in place of kubelets: it keeps fake Nodes alive and
 * plays pods' lifecycles (scheduled pods go Running and Ready, deleted pods go away) from the stages
 * in kwok/*.yaml, which also simulate an OOM kill on demand (see {@link kwokOomAnnotation}).
 *
 * Everything the API server decides is real: admission, validation, RBAC, ServiceAccount tokens,
 * controllers (ReplicaSets, StatefulSets, garbage collection), scheduling. No container runs.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { type AddressInfo, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const PACKAGE_DIR = fileURLToPath(new URL("../", import.meta.url));
const BUILD_SCRIPT = path.join(PACKAGE_DIR, "scripts", "build.sh");
const KWOK_DIR = path.join(PACKAGE_DIR, "kwok");

/** Annotate a running pod with this set to "true": kwok simulates an OOM kill of its containers and
 * the restart (lastState.terminated {reason: OOMKilled, exitCode: 137}, restartCount + 1, Running
 * again); kwok then rewrites the annotation to "done". With restartPolicy Never the pod fails instead. */
export const kwokOomAnnotation = "gm.drill/oom";
/** Optional: the name of the one container to OOM-kill (default: every container of the pod). */
export const kwokOomContainerAnnotation = "gm.drill/oom-container";
/** The annotation kwok selects the nodes it manages by (value "fake"). */
export const kwokNodeAnnotation = "kwok.x-k8s.io/node";
/** Labels of the fake nodes. They carry no taint: any pod schedules on them. */
export const kwokNodeLabels: Readonly<Record<string, string>> = { type: "kwok" };
/** Service ClusterIP range of the API server; the `kubernetes` Service gets 10.0.0.1. */
export const serviceClusterIpRange = "10.0.0.0/24";

/** The binaries scripts/build.sh makes. */
export const KUBE_TOOLS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kustomize"] as const;
export type KubeTool = (typeof KUBE_TOOLS)[number];

export interface ControlPlaneOptions {
  /** where certificates, kubeconfigs, etcd's data and logs/ go (default: a new temp dir, removed by stop()) */
  dir?: string;
  onProgress?: (line: string) => void;
  /** fake kwok nodes to create (default 1), named kwok-node-0, kwok-node-1, ... */
  nodes?: number;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** cluster-admin: a client certificate of O=system:masters */
  kubeconfigPath: string;
  dir: string;
  /** the CA that signed the API server's serving certificate and every client certificate */
  caPath: string;
  /** the CA's private key (EC P-256), e.g. to sign a kubelet's client certificate (see node.ts) */
  caKeyPath: string;
  /** names of the fake nodes, all Ready */
  nodes: string[];
  /** the processes started (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) */
  processes: ReadonlyArray<{ name: string; pid: number }>;
  /** Writes a kubeconfig authenticating with a bearer token (e.g. from the TokenRequest API) and returns its
   * path. Its context is named `${name}@gm-kube-testenv`; `server` overrides the API server's URL. */
  kubeconfigFor(user: { name: string; token: string; server?: string }): string;
  /** Stops every process (SIGTERM, SIGKILL after 5 s); idempotent. Removes `dir` if it was made here. */
  stop(): Promise<void>;
}

export class ControlPlaneError extends Error {
  override name = "ControlPlaneError";
}

let cachedBinDir: string | undefined;

/** The directory of the built binaries: the same logic as scripts/build.sh (it answers --print-bin-dir). */
export function binDir(): string {
  if (process.env["GM_K8S_BIN"]) return process.env["GM_K8S_BIN"];
  cachedBinDir ??= execFileSync("bash", [BUILD_SCRIPT, "--print-bin-dir"], { encoding: "utf8" }).trim();
  return cachedBinDir;
}

/** The path of a binary built by scripts/build.sh; throws, saying how to build it, when it is missing. */
export function toolPath(name: KubeTool): string {
  const p = path.join(binDir(), name);
  if (!existsSync(p)) {
    throw new ControlPlaneError(
      `${name} not found in ${path.dirname(p)}: build the Kubernetes binaries first with \`npm run k8s:build\` ` +
        `or \`bash scripts/setup.sh --k8s\` (about 16 min the first time on 2 cores, cached afterwards)`,
    );
  }
  return p;
}

/** etcd: $GM_ETCD_BIN, else the one scripts/build.sh builds (3.6), else Debian's /usr/bin/etcd (3.4). */
function findEtcd(): { path: string; version: string } {
  const candidates = [process.env["GM_ETCD_BIN"], path.join(binDir(), "etcd"), "/usr/bin/etcd"].filter((c): c is string => !!c);
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new ControlPlaneError(
      "etcd not found: run `npm run k8s:build` or `bash scripts/setup.sh --k8s` (they build etcd), or install Debian's etcd-server",
    );
  const out = execFileSync(found, ["--version"], { encoding: "utf8" });
  return { path: found, version: /etcd Version: (\S+)/.exec(out)?.[1] ?? "unknown" };
}

// ---------------------------------------------------------------------------------------------------
// processes (these helpers, the waiting, requests and certificates below are shared with node.ts)

export interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<void>;
  exitInfo: string | null;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

// setpriv --pdeathsig: the process is killed by the kernel if the test process dies without running
// its exit handlers (SIGKILL, a crash), so nothing outlives a test run.
export const SETPRIV = existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null;

export function startProc(name: string, bin: string, args: string[], logDir: string, env?: NodeJS.ProcessEnv): Proc {
  installExitHook();
  const logPath = path.join(logDir, `${name}.log`);
  const fd = openSync(logPath, "a");
  const [cmd, argv] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "--", bin, ...args]] : [bin, args];
  let child: ChildProcess;
  try {
    writeFileSync(fd, `$ ${bin} ${args.join(" ")}\n`);
    child = spawn(cmd, argv, { stdio: ["ignore", fd, fd], detached: false, env: env ?? process.env });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const proc: Proc = { name, child, logPath, exitInfo: null, exited: Promise.resolve() };
  proc.exited = new Promise<void>((resolve) => {
    const done = (info: string) => {
      proc.exitInfo ??= info;
      live.delete(child);
      resolve();
    };
    child.once("exit", (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once("error", (err) => done(`failed to start: ${err.message}`));
  });
  return proc;
}

export function logTail(logPath: string, lines = 30): string {
  try {
    const all = readFileSync(logPath, "utf8").trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function failure(proc: Proc, what: string): ControlPlaneError {
  return new ControlPlaneError(`${what}\n--- last 30 lines of ${proc.logPath} ---\n${logTail(proc.logPath)}`);
}

export async function stopProcs(procs: Proc[], graceMs = 5000): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.exitInfo !== null) return;
      p.child.kill("SIGTERM");
      const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// waiting

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is true; fails at once when one of `procs` exits, or after `timeoutMs`. */
export async function waitFor(what: string, main: Proc, procs: Proc[], timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  for (;;) {
    const dead = procs.find((p) => p.exitInfo !== null);
    if (dead) throw failure(dead, `${dead.name} ${dead.exitInfo} while waiting for ${what}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw failure(main, `timed out after ${timeoutMs / 1000}s waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ""}`);
    await sleep(100);
  }
}

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

export function request(
  url: string,
  opts: { method?: string; body?: unknown; contentType?: string; tls?: TlsOptions; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const common = {
    method: opts.method ?? "GET",
    hostname: u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    headers: payload ? { "content-type": opts.contentType ?? "application/json", "content-length": Buffer.byteLength(payload) } : {},
    timeout: opts.timeoutMs ?? 5000,
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      u.protocol === "https:"
        ? https.request(
            { ...common, ca: opts.tls?.ca, cert: opts.tls?.cert, key: opts.tls?.key, rejectUnauthorized: !opts.tls?.insecure },
            onResponse,
          )
        : http.request(common, onResponse);
    req.on("timeout", () => req.destroy(new Error(`${common.method} ${url}: timeout`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", resolve);
      });
      return srv;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

// ---------------------------------------------------------------------------------------------------
// certificates and kubeconfigs

const APISERVER_SANS = [
  "IP:127.0.0.1",
  "IP:10.0.0.1",
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

export async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ControlPlaneError(`openssl ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

/** A leaf certificate signed by the CA: an EC P-256 key, `subject` like /O=system:masters/CN=admin. */
export async function leafCert(pki: string, name: string, subject: string, ext: string[]): Promise<void> {
  await openssl(pki, [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  await writeFile(
    path.join(pki, `${name}.ext`),
    `${["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", ...ext].join("\n")}\n`,
  );
  const serial = `0x${randomBytes(16).toString("hex")}`;
  await openssl(pki, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-set_serial",
    serial,
    "-days",
    "365",
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`,
  ]);
}

async function makePki(pki: string): Promise<void> {
  await mkdir(pki, { recursive: true });
  const sa = (async () => {
    await openssl(pki, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"]);
    await openssl(pki, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  })();
  await openssl(pki, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "3650",
    "-subj",
    "/CN=gm-kube-testenv-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const client = ["extendedKeyUsage=clientAuth"];
  await Promise.all([
    sa,
    leafCert(pki, "apiserver", "/CN=kube-apiserver", ["extendedKeyUsage=serverAuth", `subjectAltName=${APISERVER_SANS.join(",")}`]),
    leafCert(pki, "admin", "/O=system:masters/CN=gm-kube-testenv-admin", client),
    leafCert(pki, "controller-manager", "/CN=system:kube-controller-manager", client),
    leafCert(pki, "scheduler", "/CN=system:kube-scheduler", client),
    // how the API server authenticates to kubelets (logs, exec, port-forward) when a real node runs
    leafCert(pki, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", client),
    // how the API server's aggregator authenticates to an extension API server (metrics-server): the
    // user it forwards goes in X-Remote-* headers, trusted only from this CN (--requestheader-allowed-names)
    leafCert(pki, "front-proxy-client", "/CN=front-proxy-client", client),
  ]);
}

const CLUSTER = "gm-kube-testenv";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const q = (s: string) => JSON.stringify(s); // a JSON string is a YAML double-quoted scalar

function kubeconfigYaml(server: string, ca: string, user: string, creds: Record<string, string>): string {
  const ctx = `${user}@${CLUSTER}`;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${q(CLUSTER)}`,
    "  cluster:",
    `    server: ${q(server)}`,
    `    certificate-authority-data: ${q(b64(ca))}`,
    "users:",
    `- name: ${q(user)}`,
    "  user:",
    ...Object.entries(creds).map(([k, v]) => `    ${k}: ${q(v)}`),
    "contexts:",
    `- name: ${q(ctx)}`,
    "  context:",
    `    cluster: ${q(CLUSTER)}`,
    `    user: ${q(user)}`,
    `current-context: ${q(ctx)}`,
    "",
  ].join("\n");
}

async function certKubeconfig(dir: string, pki: string, server: string, user: string, certName: string): Promise<string> {
  const [ca, cert, key] = await Promise.all(
    ["ca.crt", `${certName}.crt`, `${certName}.key`].map((f) => readFile(path.join(pki, f), "utf8")),
  );
  const file = path.join(dir, `${certName}.kubeconfig`);
  await writeFile(file, kubeconfigYaml(server, ca!, user, { "client-certificate-data": b64(cert!), "client-key-data": b64(key!) }), {
    mode: 0o600,
  });
  return file;
}

// ---------------------------------------------------------------------------------------------------
// the control plane

function fakeNode(name: string): object {
  const resources = { cpu: "32", memory: "128Gi", pods: "110", "ephemeral-storage": "200Gi" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        ...kwokNodeLabels,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/agent": "",
      },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources },
  };
}

/** Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, creates `nodes` fake
 * nodes and resolves when they are Ready. A failed start stops what it started and throws with the
 * last 30 lines of the log of the process at fault (all logs: `dir/logs/*.log`). */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const progress = (line: string) => opts.onProgress?.(`[kube-testenv +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const nodeCount = opts.nodes ?? 1;
  const etcdBin = findEtcd();
  // etcd before 3.5 cannot answer the watch-progress requests kube-apiserver 1.37's watch cache relies
  // on: the cache then refuses every watch from resourceVersion 0 (kwok's), and kwok falls behind by
  // ever longer back-offs. With such an etcd the API server runs without a watch cache.
  const legacyEtcd = /^3\.[0-4]\./.test(etcdBin.version);
  const bins = {
    etcd: etcdBin.path,
    apiserver: toolPath("kube-apiserver"),
    controllerManager: toolPath("kube-controller-manager"),
    scheduler: toolPath("kube-scheduler"),
    kwok: toolPath("kwok"),
  };
  const ownDir = !opts.dir;
  const dir = opts.dir ? path.resolve(opts.dir) : await mkdtemp(path.join(os.tmpdir(), "gm-kube-"));
  const pki = path.join(dir, "pki");
  const logs = path.join(dir, "logs");
  await rm(path.join(dir, "etcd"), { recursive: true, force: true });
  await mkdir(logs, { recursive: true });
  progress(`dir ${dir}`);

  const procs: Proc[] = [];
  try {
    await makePki(pki);
    const [ca, adminCert, adminKey] = await Promise.all(
      ["ca.crt", "admin.crt", "admin.key"].map((f) => readFile(path.join(pki, f), "utf8")),
    );
    const adminTls: TlsOptions = { ca: ca!, cert: adminCert!, key: adminKey! };
    progress("certificates made (CA, API server, admin, controller-manager, scheduler, service-account key)");

    const [etcdClient, etcdPeer, apiPort, cmPort, schedPort] = await freePorts(5);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = startProc(
      "etcd",
      bins.etcd,
      [
        "--name=gm",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=gm=http://127.0.0.1:${etcdPeer}`,
        "--initial-cluster-state=new",
        ...(legacyEtcd ? [] : ["--unsafe-no-fsync"]), // a throwaway test store
        "--logger=zap",
        "--log-level=warn",
      ],
      logs,
    );
    procs.push(etcd);
    await waitFor("etcd /health", etcd, procs, 30_000, async () => {
      const r = await request(`${etcdUrl}/health`);
      return r.status === 200 && r.body.includes('"true"');
    });
    progress(`etcd ${etcdBin.version} ready on ${etcdUrl}${legacyEtcd ? " (before 3.5: the API server runs without a watch cache)" : ""}`);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startProc(
      "kube-apiserver",
      bins.apiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${path.join(pki, "apiserver.crt")}`,
        `--tls-private-key-file=${path.join(pki, "apiserver.key")}`,
        `--client-ca-file=${path.join(pki, "ca.crt")}`,
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${path.join(pki, "sa.pub")}`,
        `--service-account-signing-key-file=${path.join(pki, "sa.key")}`,
        `--service-cluster-ip-range=${serviceClusterIpRange}`,
        // no --enable-admission-plugins: the defaults (NamespaceLifecycle, ServiceAccount, LimitRanger,
        // DefaultStorageClass, ResourceQuota, PodSecurity, webhooks, ...)
        "--allow-privileged=true",
        // the `kubernetes` Service's endpoints would point at 127.0.0.1, which Endpoints refuse
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        `--cert-dir=${path.join(dir, "apiserver-certs")}`,
        // a real kubelet (node.ts) is reached at its node's IP (its hostname need not resolve), with a
        // client certificate its webhook authorizer accepts; kwok's fake nodes serve nothing
        `--kubelet-client-certificate=${path.join(pki, "kubelet-client.crt")}`,
        `--kubelet-client-key=${path.join(pki, "kubelet-client.key")}`,
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        // the aggregation layer, for an APIService such as metrics.k8s.io (metrics-server): the front
        // proxy's client certificate and the headers an extension server may trust from it; routed to the
        // Service's endpoints (an extension server may run as a host process behind a selector-less Service)
        `--requestheader-client-ca-file=${path.join(pki, "ca.crt")}`,
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        `--proxy-client-cert-file=${path.join(pki, "front-proxy-client.crt")}`,
        `--proxy-client-key-file=${path.join(pki, "front-proxy-client.key")}`,
        "--enable-aggregator-routing=true",
        ...(legacyEtcd ? ["--watch-cache=false"] : []),
      ],
      logs,
    );
    procs.push(apiserver);
    await waitFor(
      "kube-apiserver /readyz",
      apiserver,
      procs,
      90_000,
      async () => (await request(`${server}/readyz`, { tls: adminTls })).status === 200,
    );
    progress(`kube-apiserver ready on ${server}`);

    const [kubeconfigPath, cmKubeconfig, schedKubeconfig] = await Promise.all([
      certKubeconfig(dir, pki, server, "admin", "admin"),
      certKubeconfig(dir, pki, server, "system:kube-controller-manager", "controller-manager"),
      certKubeconfig(dir, pki, server, "system:kube-scheduler", "scheduler"),
    ]);

    const controllerManager = startProc(
      "kube-controller-manager",
      bins.controllerManager,
      [
        `--kubeconfig=${cmKubeconfig}`,
        `--authentication-kubeconfig=${cmKubeconfig}`,
        `--authorization-kubeconfig=${cmKubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${cmPort}`,
        "--leader-elect=false",
        "--controllers=*",
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${path.join(pki, "sa.key")}`,
        `--root-ca-file=${path.join(pki, "ca.crt")}`,
        `--cluster-signing-cert-file=${path.join(pki, "ca.crt")}`,
        `--cluster-signing-key-file=${path.join(pki, "ca.key")}`,
        `--service-cluster-ip-range=${serviceClusterIpRange}`,
        "--allocate-node-cidrs=false",
        // how often the node lifecycle controller looks at nodes (default 5 s): a new node's
        // not-ready taint is lifted within a second of kwok reporting it Ready
        "--node-monitor-period=1s",
        `--cert-dir=${path.join(dir, "controller-manager-certs")}`,
      ],
      logs,
    );
    const scheduler = startProc(
      "kube-scheduler",
      bins.scheduler,
      [
        `--kubeconfig=${schedKubeconfig}`,
        `--authentication-kubeconfig=${schedKubeconfig}`,
        `--authorization-kubeconfig=${schedKubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${schedPort}`,
        "--leader-elect=false",
        `--cert-dir=${path.join(dir, "scheduler-certs")}`,
      ],
      logs,
    );
    const kwok = startProc(
      "kwok",
      bins.kwok,
      [
        `--kubeconfig=${kubeconfigPath}`,
        // kwok's own node and pod stages (taken from its module by scripts/build.sh), then ours: kwok/*.yaml
        ...[path.join(binDir(), "kwok-stages"), KWOK_DIR].flatMap((d) =>
          readdirSync(d)
            .filter((f) => f.endsWith(".yaml"))
            .sort()
            .map((f) => `--config=${path.join(d, f)}`),
        ),
        "--manage-all-nodes=false",
        `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.240.0.1",
        // no --server-address: kwok's kubelet-like server (logs, exec, metrics) stays off
      ],
      logs,
      {
        ...process.env,
        // kwok also reads ~/.kwok/kwok.yaml when it exists: not here
        HOME: dir,
      },
    );
    procs.push(controllerManager, scheduler, kwok);
    progress("kube-controller-manager, kube-scheduler and kwok started");

    const nodes = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`);
    for (const name of nodes) {
      const r = await request(`${server}/api/v1/nodes`, { method: "POST", body: fakeNode(name), tls: adminTls });
      if (r.status !== 201) throw failure(apiserver, `creating node ${name}: HTTP ${r.status} ${r.body}`);
    }
    const healthz = (port: number) => async () => {
      const r = await request(`https://127.0.0.1:${port}/healthz`, { tls: { insecure: true } });
      return r.status === 200;
    };
    await Promise.all([
      waitFor("kube-controller-manager /healthz", controllerManager, procs, 60_000, healthz(cmPort!)),
      waitFor("kube-scheduler /healthz", scheduler, procs, 60_000, healthz(schedPort!)),
      waitFor(`${nodeCount} kwok node(s) Ready and untainted`, kwok, procs, 60_000, async () => {
        const r = await request(`${server}/api/v1/nodes?labelSelector=type%3Dkwok`, { tls: adminTls });
        if (r.status !== 200) return false;
        type Node = { spec?: { taints?: unknown[] }; status?: { conditions?: { type: string; status: string }[] } };
        const list = JSON.parse(r.body) as { items: Node[] };
        // Ready (kwok's node-initialize stage), and the node lifecycle controller has lifted its
        // node.kubernetes.io/not-ready taint: pods schedule from now on
        const ready = list.items.filter(
          (n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && !n.spec?.taints?.length,
        );
        return ready.length >= nodeCount;
      }),
    ]);
    progress(`control plane up: ${nodeCount} node(s) Ready, untainted (${nodes.join(", ")})`);

    let stopping: Promise<void> | undefined;
    return {
      server,
      kubeconfigPath,
      dir,
      caPath: path.join(pki, "ca.crt"),
      caKeyPath: path.join(pki, "ca.key"),
      nodes,
      processes: procs.map((p) => ({ name: p.name, pid: p.child.pid ?? -1 })),
      kubeconfigFor(user) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/.test(user.name))
          throw new ControlPlaneError(`invalid user name for a kubeconfig: ${q(user.name)}`);
        const file = path.join(dir, `token-${user.name.replace(/[^A-Za-z0-9._-]/g, "_")}.kubeconfig`);
        writeFileSync(file, kubeconfigYaml(user.server ?? server, ca!, user.name, { token: user.token }), { mode: 0o600 });
        return file;
      },
      stop() {
        stopping ??= (async () => {
          // clients first, then the API server, then its storage
          await stopProcs([kwok, scheduler, controllerManager]);
          await stopProcs([apiserver]);
          await stopProcs([etcd]);
          if (ownDir) await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stopProcs([...procs].reverse(), 2000);
    if (err instanceof ControlPlaneError) throw new ControlPlaneError(`${err.message}\n(all logs: ${logs})`);
    throw err;
  }
}
