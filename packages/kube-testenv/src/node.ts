/**
 * A real Kubernetes node beside the control plane of control-plane.ts: containerd 2.x (with Debian's runc
 * and the CNI bridge plugin) and a kubelet, both built by scripts/build-node.sh, started as root on this
 * machine. Containers really run: logs, probes, memory limits and kernel OOM kills are the kernel's and
 * the kubelet's, not kwok's. Nothing is pulled: the pause image is compiled locally and the images pods
 * use are imported from the local Docker engine (`docker save` → `ctr images import`); pods must use
 * `imagePullPolicy: Never` or `IfNotPresent`. With `kubeProxy` (or `clusterDns`) kube-proxy runs in iptables
 * mode, so Service ClusterIPs route from pods and from this host; with `clusterDns` CoreDNS runs on the host
 * behind the ClusterIP Service kube-system/kube-dns and pods resolve Services and StatefulSet pods by name.
 *
 * Everything the node makes lives under its dir (containerd's root and state, the kubelet's root, pod
 * logs, runc's state, network namespaces), in its own cgroup root (/gm-<node> in every hierarchy) and on
 * its own bridge; stop() removes all of it. What it cannot confine: the kubelet sets six host sysctls
 * (vm.overcommit_memory, kernel.panic, ...) while it runs (restored by stop()), and writes symlinks to
 * its pods' logs in /var/log/containers (removed by stop()); kube-proxy's KUBE-* iptables chains are the
 * host's (removed by stop() with `kube-proxy --cleanup`, and any KUBE-* chain left once no node runs).
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  type ControlPlane,
  ControlPlaneError,
  freePorts,
  leafCert,
  type Proc,
  request,
  sleep,
  startProc,
  stopProcs,
  type TlsOptions,
  waitFor,
} from "./control-plane.js";

const execFileAsync = promisify(execFile);

const PACKAGE_DIR = fileURLToPath(new URL("../", import.meta.url));
const BUILD_NODE_SCRIPT = path.join(PACKAGE_DIR, "scripts", "build-node.sh");
const RUNC = process.env["GM_RUNC_BIN"] ?? "/usr/sbin/runc";
const CGROUP_FS = "/sys/fs/cgroup";
const CONTAINER_LOG_LINKS = "/var/log/containers";
/** where every containerd 2.x puts its shims' sockets (pkg/shim SocketAddress: defaults.DefaultStateDir/s) */
const SHIM_SOCKET_DIR = "/run/containerd/s";

/** The binaries scripts/build-node.sh makes. */
export const NODE_TOOLS = ["kubelet", "kube-proxy", "coredns", "containerd", "containerd-shim-runc-v2", "ctr", "pause-image.tar"] as const;
export type NodeTool = (typeof NODE_TOOLS)[number];

/** The host sysctls the kubelet sets to its liking at start (pkg/kubelet/cm setupKernelTunables), and
 * those kube-proxy may set (conntrack sizes and timeouts, route_localnet: turned off in its config, kept
 * here in case). stop() writes back the values they had before the node started. */
const KUBELET_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/ipv4/conf/all/route_localnet",
  "net/netfilter/nf_conntrack_max",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
];

/** The ClusterIP of the cluster DNS Service kube-system/kube-dns (in control-plane.ts' service range). */
export const clusterDnsIp = "10.0.0.10";
export const clusterDomain = "cluster.local";

export interface NodeOptions {
  /** the control plane to join (from startControlPlane) */
  controlPlane: Pick<ControlPlane, "server" | "caPath" | "caKeyPath">;
  /** the Node's name (default gm-node-<6 hex>); lowercase letters, digits and '-' */
  name?: string;
  /** where containerd, the kubelet, pod logs and certificates go (default: a new temp dir, removed by stop()) */
  dir?: string;
  /** local Docker images to import into containerd before the node is returned (see importImages) */
  images?: string[];
  /** Keep containerd's root (its images, unpacked) in {@link imageCacheRoot} between nodes, so an image
   * imported once is not imported again while its Docker image id is the same. One node at a time uses it
   * (a lock naming the owner); a node that finds it in use imports into its own root. Default true;
   * GM_NODE_IMAGE_CACHE=0 turns it off. */
  imageCache?: boolean;
  /** extra labels of the Node */
  labels?: Record<string, string>;
  /** the IPv4 the node registers and the kubelet serves on (default: the address of the default route's interface) */
  nodeIp?: string;
  /** Run kube-proxy (iptables mode): Service ClusterIPs route from the node's pods and from this host.
   * Its KUBE-* chains are the host's: one node with kube-proxy per host at a time (a second start waits
   * for the first node's stop, see kubeProxyWaitMs). Default false. */
  kubeProxy?: boolean;
  /** how long a start with kube-proxy waits for another node of this host that runs one to stop (default 30 min) */
  kubeProxyWaitMs?: number;
  /** Cluster DNS (implies kubeProxy): CoreDNS runs on the host behind the Service kube-system/kube-dns
   * (ClusterIP {@link clusterDnsIp}); pods' resolv.conf names it and <svc>.<ns>.svc.cluster.local,
   * <pod>.<headless svc>.<ns>.svc.cluster.local resolve. Default false. */
  clusterDns?: boolean;
  onProgress?: (line: string) => void;
}

export interface KubeNode {
  name: string;
  dir: string;
  /** the node's InternalIP; the kubelet serves on nodeIp:kubeletPort */
  nodeIp: string;
  kubeletPort: number;
  /** the pods' subnet on this node (a /24 of 10.89.0.0/16) and the bridge they are attached to */
  podSubnet: string;
  bridge: string;
  /** containerd's socket: `ctr -a <socket> -n k8s.io ...` */
  containerdSocket: string;
  /** the cgroup all the node's pods run under, in every hierarchy (e.g. /gm-gm-node-1a2b3c) */
  cgroupRoot: string;
  processes: ReadonlyArray<{ name: string; pid: number }>;
  /** the cluster DNS Service's IP when started with clusterDns, else undefined */
  clusterDnsIp?: string;
  /** Imports local Docker images (`docker save <ref> | ctr -n k8s.io images import -`). */
  importImages(refs: string[]): Promise<void>;
  /** Cordons the node, deletes its pods, stops the kubelet and containerd, kills what is left in its cgroup
   * root, unmounts and removes its dir, cgroups, bridge and log links, deletes the Node and restores the
   * host sysctls the kubelet changed. Idempotent. */
  stop(): Promise<void>;
}

let cachedBinDir: string | undefined;

/** The directory of the binaries of scripts/build-node.sh (it answers --print-bin-dir). */
export function nodeBinDir(): string {
  if (process.env["GM_K8S_NODE_BIN"]) return process.env["GM_K8S_NODE_BIN"];
  cachedBinDir ??= spawnSync("bash", [BUILD_NODE_SCRIPT, "--print-bin-dir"], { encoding: "utf8" }).stdout.trim();
  return cachedBinDir;
}

/** The path of a file built by scripts/build-node.sh; throws, saying how to build it, when it is missing. */
export function nodeToolPath(name: NodeTool): string {
  const p = path.join(nodeBinDir(), name);
  if (!existsSync(p)) {
    throw new ControlPlaneError(
      `${name} not found in ${path.dirname(p)}: build the node first with \`npm run k8s:build-node\` or ` +
        "`bash scripts/setup.sh --node` (a few minutes after the control plane's build, cached afterwards)",
    );
  }
  return p;
}

/** Why a real node cannot start here, or null: it needs root, runc and a Docker engine for the images. */
export function nodeUnsupportedReason(): string | null {
  if (process.platform !== "linux") return `a real node needs Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return "a real node needs root (containerd, runc, cgroups, network namespaces)";
  if (!existsSync(RUNC)) return `runc not found at ${RUNC} (apt-get install runc, or set GM_RUNC_BIN)`;
  return null;
}

// ---------------------------------------------------------------------------------------------------
// host pieces: address, cgroups, mounts, sysctls

/** The IPv4 of the interface of the default route (the kubelet refuses a loopback node IP). */
function defaultNodeIp(): string {
  const r = spawnSync("ip", ["-4", "-j", "route", "show", "default"], { encoding: "utf8" });
  const dev = (JSON.parse(r.stdout || "[]") as { dev?: string }[])[0]?.dev;
  const addr = dev ? os.networkInterfaces()[dev]?.find((a) => a.family === "IPv4" && !a.internal)?.address : undefined;
  if (!addr) throw new ControlPlaneError("no IPv4 address on the default route's interface for the node: pass nodeIp");
  return addr;
}

/** A 10.89.N.0/24 no route of this machine uses yet, N from the node's name (then the next free one). */
function freePodSubnet(name: string): string {
  const routes = spawnSync("ip", ["-4", "route"], { encoding: "utf8" }).stdout;
  const start = createHash("sha256").update(name).digest()[0]!;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (!routes.includes(`10.89.${n}.`)) return `10.89.${n}.0/24`;
  }
  throw new ControlPlaneError("no free /24 in 10.89.0.0/16 for the node's pods");
}

/** The cgroup hierarchies: /sys/fs/cgroup itself on cgroup v2, its controller dirs on v1 (symlinks skipped). */
function cgroupHierarchies(): string[] {
  const CGROUP2_MAGIC = 0x63677270;
  if (statfsSync(CGROUP_FS).type === CGROUP2_MAGIC) return [CGROUP_FS];
  return readdirSync(CGROUP_FS)
    .map((d) => path.join(CGROUP_FS, d))
    .filter((d) => lstatSync(d).isDirectory() && existsSync(path.join(d, "cgroup.procs")));
}

/** Creates `root` in every hierarchy (the kubelet requires its cgroup root to exist); cpuset's own values
 * are copied from the parent, without which no task could join. */
async function makeCgroupRoot(root: string): Promise<void> {
  for (const h of cgroupHierarchies()) {
    const d = path.join(h, root);
    await mkdir(d, { recursive: true });
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(path.join(h, f)) && !readFileSync(path.join(d, f), "utf8").trim())
        writeFileSync(path.join(d, f), readFileSync(path.join(h, f), "utf8"));
    }
  }
}

function cgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const subdirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [...subdirs.flatMap((e) => cgroupTree(path.join(dir, e.name))), dir]; // deepest first
}

/** Kills every process left in `root` (all hierarchies) and removes its cgroups, deepest first. */
async function removeCgroupRoot(root: string): Promise<string[]> {
  const left: string[] = [];
  for (const h of cgroupHierarchies()) {
    const tree = cgroupTree(path.join(h, root));
    for (let attempt = 0; attempt < 50; attempt++) {
      const pids = tree.flatMap((d) => {
        try {
          return readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
        } catch {
          return [];
        }
      });
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await sleep(100);
    }
    for (const d of tree) {
      try {
        await rmdir(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") left.push(`${d}: ${(err as Error).message}`);
      }
    }
  }
  return left;
}

/** Mount points at or under `dir`, deepest first (/proc/self/mountinfo escapes spaces as \040). */
function mountsUnder(dir: string): string[] {
  const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m)
    .map(unescapeOctal)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function readSysctls(): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of KUBELET_SYSCTLS) {
    try {
      m.set(k, readFileSync(path.join("/proc/sys", k), "utf8").trim());
    } catch {
      // not on this kernel
    }
  }
  return m;
}

/** Processes with an argument in `dir` (the node's kubelet and containerd by their config, the
 * containerd-shim-runc-v2 processes by their -address, which outlive containerd by design). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (argv.some((a) => a.includes(`${dir}/`))) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Adds the task id of a containerd-shim-runc-v2 process (its -id argument) to `ids`. */
function shimTaskId(pid: number, ids: Set<string>): void {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const i = argv.indexOf("-id");
    if (argv[0]?.endsWith("containerd-shim-runc-v2") && i >= 0 && argv[i + 1]) ids.add(argv[i + 1]!);
  } catch {
    // gone
  }
}

/** Docker sets the FORWARD policy to DROP and br_netfilter passes bridged frames through it, so pods on
 * the node's bridge could not reach each other (a TCP connect from one pod to another timed out) nor
 * leave the host. Two rules at the top of FORWARD, tagged with the network's name, let the bridge's
 * traffic out and its replies back in. */
function addForwardRules(network: string, bridge: string): void {
  const rules = [
    ["-i", bridge, "-j", "ACCEPT"],
    ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
  ];
  for (const r of rules) {
    const res = spawnSync("iptables", ["-I", "FORWARD", "1", ...r, "-m", "comment", "--comment", network], { encoding: "utf8" });
    if (res.status !== 0) throw new ControlPlaneError(`iptables -I FORWARD ${r.join(" ")}: ${res.stderr.trim() || `exit ${res.status}`}`);
  }
}

/** Removes the FORWARD rules of addForwardRules. */
function removeForwardRules(network: string): string[] {
  const rules = spawnSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" });
  if (rules.status !== 0) return [];
  const problems: string[] = [];
  for (const l of rules.stdout.split("\n").filter((r) => r.startsWith("-A FORWARD ") && r.includes(`--comment ${network}`))) {
    const r = spawnSync("bash", ["-c", `iptables -D ${l.slice(3)}`], { encoding: "utf8" });
    if (r.status !== 0) problems.push(`iptables -D ${l.slice(3)}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** Removes the NAT rules the bridge plugin's ipMasq left for `network` (each tagged with the comment
 * `name: "<network>" id: "<sandbox>"`, normally removed by CNI DEL; left when a sandbox failed half-way),
 * and their per-sandbox CNI-* chains, and the FORWARD rules of addForwardRules. Returns what it could not
 * remove. */
export function removeMasqRules(network: string): string[] {
  const problems = removeForwardRules(network);
  const rules = spawnSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" });
  if (rules.status !== 0) return [];
  const mine = rules.stdout.split("\n").filter((l) => l.startsWith("-A ") && l.includes(`name: \\"${network}\\"`));
  const chains = new Set(mine.map((l) => / -j (CNI-[0-9a-f]+)/.exec(l)?.[1]).filter((c): c is string => !!c));
  // `iptables -S` prints rules quoted for a shell: bash re-reads them as arguments
  for (const l of mine.filter((r) => !r.startsWith("-A CNI-"))) {
    const r = spawnSync("bash", ["-c", `iptables -t nat -D ${l.slice(3)}`], { encoding: "utf8" });
    if (r.status !== 0) problems.push(`iptables -t nat -D ${l.slice(3)}: ${r.stderr.trim()}`);
  }
  for (const c of chains) {
    spawnSync("iptables", ["-t", "nat", "-F", c]);
    const r = spawnSync("iptables", ["-t", "nat", "-X", c], { encoding: "utf8" });
    if (r.status !== 0) problems.push(`iptables -t nat -X ${c}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** The state of the other nodes of this host whose test process is alive (their state files in the temp
 * dir), not counting the one in `dir`. */
function otherLiveNodes(dir: string): HostState[] {
  const live: HostState[] = [];
  for (const e of readdirSync(os.tmpdir())) {
    const d = path.join(os.tmpdir(), e);
    if (!e.startsWith("gm-node-") || d === dir) continue;
    try {
      const state = JSON.parse(readFileSync(path.join(d, STATE_FILE), "utf8")) as HostState;
      process.kill(state.ownerPid, 0);
      live.push(state);
    } catch {
      // no state (starting, or not a node), or its owner is dead
    }
  }
  return live;
}

const IPTABLES_TABLES = ["filter", "nat", "mangle"];
/** iptables and, where it exists, ip6tables (kube-proxy and the kubelet program both families). */
const iptablesCommands = () => ["iptables", "ip6tables"].filter((c) => spawnSync(c, ["-V"], { stdio: "ignore" }).status === 0);

/** The KUBE-* chains on this host, as "<iptables|ip6tables> <table> <chain>". */
export function kubeChains(): string[] {
  const found: string[] = [];
  for (const cmd of iptablesCommands())
    for (const t of IPTABLES_TABLES) {
      const r = spawnSync(cmd, ["-t", t, "-S"], { encoding: "utf8" });
      for (const l of r.stdout?.split("\n") ?? []) if (l.startsWith("-N KUBE-")) found.push(`${cmd} ${t} ${l.slice(3)}`);
    }
  return found;
}

/** Removes every KUBE-* chain of both families (kube-proxy's KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, ...
 * and the kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) and the rules of other chains
 * that jump to them; every other rule (Docker's, the CNI plugins') stays. Returns what it could not remove.
 * Only when no other node of this host runs: the chains are the host's, not one node's. */
function removeKubeChains(): string[] {
  const problems: string[] = [];
  for (const cmd of iptablesCommands())
    for (const t of IPTABLES_TABLES) {
      const rules = spawnSync(cmd, ["-t", t, "-S"], { encoding: "utf8" }).stdout?.split("\n") ?? [];
      const chains = rules.filter((l) => l.startsWith("-N KUBE-")).map((l) => l.slice(3));
      if (!chains.length) continue;
      // the jumps into them from the built-in chains and from other chains (`-S` quotes for a shell)
      for (const l of rules.filter((r) => r.startsWith("-A ") && !r.startsWith("-A KUBE-") && / -j KUBE-\S+/.test(r))) {
        const r = spawnSync("bash", ["-c", `${cmd} -t ${t} -D ${l.slice(3)}`], { encoding: "utf8" });
        if (r.status !== 0) problems.push(`${cmd} -t ${t} -D ${l.slice(3)}: ${r.stderr.trim()}`);
      }
      for (const c of chains) spawnSync(cmd, ["-t", t, "-F", c]);
      for (const c of chains) {
        const r = spawnSync(cmd, ["-t", t, "-X", c], { encoding: "utf8" });
        if (r.status !== 0) problems.push(`${cmd} -t ${t} -X ${c}: ${r.stderr.trim()}`);
      }
    }
  return problems;
}

/** What a node holds on the host, written to `dir/node-state.json` at start so that a node whose test
 * process died without stop() (SIGKILL, a crash) can be cleaned up by the next startNode. */
interface HostState {
  ownerPid: number;
  dir: string;
  cgroupRoot: string;
  bridge: string;
  network: string;
  podLogsDir: string;
  /** the KUBELET_SYSCTLS before the kubelet started */
  sysctls: Record<string, string>;
  /** the kube-proxy binary when the node runs one: `kube-proxy --cleanup` removes its iptables chains */
  kubeProxyBin?: string;
  /** containerd's root when it is the shared image cache (held by this node: see takeImageCache) */
  imageCacheRoot?: string;
}
const STATE_FILE = "node-state.json";

/** Where nodes keep containerd's root between runs (images imported and unpacked): beside the node's
 * binaries, so a new recipe (another containerd) starts a new cache. */
export function imageCacheRoot(): string {
  return path.join(path.dirname(nodeBinDir()), "containerd-root");
}

/** Removes a cache root whose last node did not stop cleanly (what it left is not trusted). */
async function wipeImageCache(root: string): Promise<void> {
  for (const m of mountsUnder(root)) spawnSync("umount", ["-l", m], { stdio: "ignore" });
  await rm(root, { recursive: true, force: true });
}

/** Takes the image cache for the node in `dir` (a lock file `<root>.lock` created exclusively, naming the
 * owner's pid and node dir) and returns its root, or null when a live node holds it. The lock of a dead
 * owner (its node never stopped) is taken over and the root wiped first. */
export async function takeImageCache(dir: string, progress: (line: string) => void, root = imageCacheRoot()): Promise<string | null> {
  const lockPath = `${root}.lock`;
  await mkdir(path.dirname(root), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockPath, JSON.stringify({ pid: process.pid, dir }), { flag: "wx" });
      return root;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let raw = "";
    let holder: { pid: number; dir: string } | null = null;
    try {
      raw = readFileSync(lockPath, "utf8");
      holder = JSON.parse(raw) as { pid: number; dir: string };
    } catch {
      // gone meanwhile, or being written
    }
    if (holder && pidAlive(holder.pid) && existsSync(holder.dir)) {
      progress(`image cache ${root} in use by the node in ${holder.dir} (process ${holder.pid}): importing into this node's own root`);
      return null;
    }
    if (!holder && existsSync(lockPath) && Date.now() - lstatSync(lockPath).mtimeMs < 10_000) {
      await sleep(500);
      continue;
    }
    progress(
      `image cache ${root}: its last node (${holder ? `process ${holder.pid}, ${holder.dir}` : "unknown"}) did not stop cleanly; wiped`,
    );
    await wipeImageCache(root);
    try {
      if (readFileSync(lockPath, "utf8") === raw) unlinkSync(lockPath);
    } catch {
      // gone
    }
  }
  return null;
}

/** Gives the image cache back: kept when the node left no container in it, else wiped. */
export async function releaseImageCache(root: string, dir: string, clean: boolean): Promise<void> {
  const lockPath = `${root}.lock`;
  try {
    if ((JSON.parse(readFileSync(lockPath, "utf8")) as { dir: string }).dir !== dir) return;
  } catch {
    return;
  }
  if (!clean) await wipeImageCache(root);
  await unlink(lockPath).catch(() => undefined);
}

/** Docker's short reference as containerd names an image imported from `docker save`. */
export function containerdImageName(ref: string): string {
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  let name = slash < 0 ? `docker.io/library/${ref}` : /[.:]/.test(first) || first === "localhost" ? ref : `docker.io/${ref}`;
  const lastPart = name.slice(name.lastIndexOf("/") + 1);
  if (!lastPart.includes(":") && !lastPart.includes("@")) name += ":latest";
  return name;
}
const IMAGE_ID_LABEL = "gm.docker-image-id";

/** kube-proxy's KUBE-* chains are the host's, so one node with kube-proxy per host at a time: held by this
 * file, created exclusively, naming the owner's pid and node dir; released by releaseHost. */
export const KUBE_PROXY_LOCK = path.join(os.tmpdir(), "gm-kube-proxy.lock");

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes {@link KUBE_PROXY_LOCK} for the node in `dir`, waiting (polling every 2 s, a line every 30 s) while
 * a live process holds it, taking it over from a dead one; after `waitMs`, throws naming the holder. Two
 * test files (or two test processes) that each start a node with kube-proxy so run one after the other. */
export async function acquireKubeProxyLock(
  dir: string,
  waitMs: number,
  progress: (line: string) => void,
  lockPath = KUBE_PROXY_LOCK,
): Promise<void> {
  const started = Date.now();
  let told = 0;
  for (;;) {
    try {
      writeFileSync(lockPath, JSON.stringify({ pid: process.pid, dir }), { flag: "wx" });
      if (told) progress(`kube-proxy lock taken after ${((Date.now() - started) / 1000).toFixed(0)}s`);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid: number; dir: string } | null = null;
    let raw = "";
    try {
      raw = readFileSync(lockPath, "utf8");
      holder = JSON.parse(raw) as { pid: number; dir: string };
    } catch {
      // gone meanwhile, or being written
    }
    const abandoned = holder ? !pidAlive(holder.pid) : existsSync(lockPath) && Date.now() - lstatSync(lockPath).mtimeMs > 10_000;
    if (abandoned) {
      // only if it is still the file just read (another waiter may have taken it over meanwhile)
      try {
        if (readFileSync(lockPath, "utf8") === raw) unlinkSync(lockPath);
      } catch {
        // gone
      }
      continue;
    }
    const who = holder ? `the node in ${holder.dir} (test process ${holder.pid})` : `the holder of ${lockPath}`;
    if (Date.now() - started >= waitMs)
      throw new ControlPlaneError(
        `kube-proxy already runs on this host for ${who}, still after waiting ${(waitMs / 1000).toFixed(0)}s: its KUBE-* ` +
          "iptables chains are the host's, so one node with kubeProxy or clusterDns at a time",
      );
    if (Date.now() - told >= 30_000) {
      progress(`waiting for ${who} to stop: one node with kube-proxy per host`);
      told = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Releases {@link KUBE_PROXY_LOCK} if the node in `dir` holds it. */
export function releaseKubeProxyLock(dir: string, lockPath = KUBE_PROXY_LOCK): void {
  try {
    if ((JSON.parse(readFileSync(lockPath, "utf8")) as { dir: string }).dir === dir) unlinkSync(lockPath);
  } catch {
    // not held, or by another node
  }
}

/** Kills the node's processes and shims and what is left in its cgroup root, unmounts everything under
 * its dir, removes its cgroups, bridge, NAT rules and /var/log/containers links, restores the sysctls and
 * (if `removeDir`) removes the dir. Returns what it could not undo. */
async function releaseHost(s: HostState, removeDir: boolean, knownIds: string[] = []): Promise<string[]> {
  const problems: string[] = [];
  const taskIds = new Set<string>(knownIds);
  for (const pid of processesUnder(s.dir)) {
    shimTaskId(pid, taskIds);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  // what the kernel holds: processes and cgroups, mounts (overlay rootfs, netns, the kubelet's own bind
  // mount of its root dir, pod volumes), the bridge and its NAT rules
  problems.push(...(await removeCgroupRoot(s.cgroupRoot)));
  for (const m of mountsUnder(s.dir)) {
    const r = spawnSync("umount", ["-l", m], { encoding: "utf8" });
    if (r.status !== 0) problems.push(`umount ${m}: ${r.stderr.trim()}`);
  }
  spawnSync("ip", ["link", "del", s.bridge], { stdio: "ignore" });
  problems.push(...removeMasqRules(s.network));
  // kube-proxy's chains, the way kube-proxy itself removes them; then, unless another node of this host
  // still runs, whatever KUBE-* chain is left (the kubelet's, and kube-proxy's if its cleanup missed one)
  if (s.kubeProxyBin && existsSync(s.kubeProxyBin)) {
    const r = spawnSync(s.kubeProxyBin, ["--cleanup", "--v=0"], { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0)
      problems.push(`kube-proxy --cleanup: exit ${r.status}: ${(r.stderr || "").trim().split("\n").slice(-5).join(" | ")}`);
  }
  if (otherLiveNodes(s.dir).length === 0) problems.push(...removeKubeChains());
  if (s.kubeProxyBin) releaseKubeProxyLock(s.dir);
  // the bridge plugin's per-sandbox NAT chain is named CNI-<sha512(network + sandbox id), 24 hex>: an empty
  // one (its plugin killed half-way) has no rule carrying the comment removeMasqRules looks for
  const tasksDirForChains = path.join(s.dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io");
  if (existsSync(tasksDirForChains)) for (const id of readdirSync(tasksDirForChains)) taskIds.add(id);
  for (const id of taskIds) {
    const chain = `CNI-${createHash("sha512")
      .update(s.network + id)
      .digest("hex")
      .slice(0, 24)}`;
    if (spawnSync("iptables", ["-t", "nat", "-S", chain], { stdio: "ignore" }).status !== 0) continue;
    spawnSync("iptables", ["-t", "nat", "-F", chain]);
    const r = spawnSync("iptables", ["-t", "nat", "-X", chain], { encoding: "utf8" });
    if (r.status !== 0) problems.push(`iptables -t nat -X ${chain}: ${r.stderr.trim()}`);
  }
  // a killed shim leaves its socket in containerd's fixed /run/containerd/s (shared with any other
  // containerd, Docker's too): only ours, by the name containerd gives it
  const tasksDir = path.join(s.dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io");
  if (existsSync(tasksDir)) for (const id of readdirSync(tasksDir)) taskIds.add(id);
  for (const id of taskIds) {
    const sock = path.join(
      SHIM_SOCKET_DIR,
      createHash("sha256")
        .update(`${path.join(s.dir, "containerd.sock")}/k8s.io/${id}`)
        .digest("hex"),
    );
    await unlink(sock).catch(() => undefined);
  }
  // the host: the kubelet's sysctls back, its log links gone
  for (const [k, v] of Object.entries(s.sysctls)) {
    try {
      if (readFileSync(path.join("/proc/sys", k), "utf8").trim() !== v) writeFileSync(path.join("/proc/sys", k), v);
    } catch (err) {
      problems.push(`restoring sysctl ${k}=${v}: ${(err as Error).message}`);
    }
  }
  if (existsSync(CONTAINER_LOG_LINKS)) {
    for (const f of readdirSync(CONTAINER_LOG_LINKS)) {
      const link = path.join(CONTAINER_LOG_LINKS, f);
      try {
        if (readlinkSync(link).startsWith(`${s.podLogsDir}/`)) await unlink(link);
      } catch {
        // not a link
      }
    }
  }
  if (removeDir) {
    try {
      await rm(s.dir, { recursive: true, force: true });
    } catch (err) {
      problems.push(`removing ${s.dir}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Cleans up after nodes in the temp dir whose test process died without stop(): their owner pid is
 * gone (a live owner's node is left alone). Returns the dirs it released. Called by startNode. */
export async function sweepStaleNodes(onProgress?: (line: string) => void): Promise<string[]> {
  const released: string[] = [];
  for (const e of readdirSync(os.tmpdir())) {
    if (!e.startsWith("gm-node-")) continue;
    const dir = path.join(os.tmpdir(), e);
    let state: HostState;
    try {
      state = JSON.parse(readFileSync(path.join(dir, STATE_FILE), "utf8")) as HostState;
    } catch {
      continue; // starting, or not ours
    }
    try {
      process.kill(state.ownerPid, 0);
      continue; // its test process is alive
    } catch {
      // dead: released below
    }
    const problems = await releaseHost(state, true);
    onProgress?.(
      `released the node left in ${dir} by dead process ${state.ownerPid}${problems.length ? `; leftovers: ${problems.join("; ")}` : ""}`,
    );
    released.push(dir);
  }
  return released;
}

// ---------------------------------------------------------------------------------------------------
// configuration files

function containerdConfig(dir: string, socket: string, bin: string, cniConfDir: string, root: string): string {
  const q = (s: string) => JSON.stringify(s);
  return `version = 3
root = ${q(root)}
state = ${q(path.join(dir, "containerd", "state"))}
[grpc]
  address = ${q(socket)}
[ttrpc]
  address = ${q(`${socket}.ttrpc`)}
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${q(readFileSync(path.join(bin, "pause-image.name"), "utf8").trim())}
  [plugins.'io.containerd.cri.v1.runtime']
    # runc cannot lower a container's oom_score_adj below the runtime's own on this machine ("failed to
    # update /proc/self/oom_score_adj: Permission denied" for the pause container's -998): clamp it
    restrict_oom_score_adj = true
    # the pods' network namespaces under the state dir, not /var/run/netns: stop() unmounts them with the rest
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        runtime_path = ${q(path.join(bin, "containerd-shim-runc-v2"))}
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${q(RUNC)}
          Root = ${q(path.join(dir, "runc"))}
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${q(path.join(bin, "cni"))}]
      conf_dir = ${q(cniConfDir)}
`;
}

function cniConfig(network: string, bridge: string, subnet: string, ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: network,
      plugins: [
        {
          type: "bridge",
          bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: ipamDir },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "loopback" },
      ],
    },
    null,
    2,
  )}\n`;
}

function kubeletConfig(o: {
  nodeIp: string;
  port: number;
  healthzPort: number;
  caPath: string;
  socket: string;
  podLogsDir: string;
  cgroupRoot: string;
  clusterDns?: string;
}): string {
  return `${JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      address: o.nodeIp,
      port: o.port,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: o.healthzPort,
      // the API server presents the control plane's kubelet-client certificate (O=system:masters); the
      // kubelet authorizes it with a SubjectAccessReview
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.caPath } },
      authorization: { mode: "Webhook" },
      cgroupDriver: "cgroupfs",
      cgroupRoot: o.cgroupRoot,
      // this machine is on cgroup v1, which the kubelet refuses by default since 1.35 (KEP-5573)
      failCgroupV1: false,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${o.socket}`,
      podLogsDir: o.podLogsDir,
      clusterDomain,
      ...(o.clusterDns ? { clusterDNS: [o.clusterDns] } : {}),
      resolvConf: "/etc/resolv.conf",
      registerNode: true,
      // a test machine's disk is often fuller than the defaults tolerate (85% image GC, 10% nodefs eviction)
      evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      nodeStatusUpdateFrequency: "10s",
      serializeImagePulls: false,
    },
    null,
    2,
  )}\n`;
}

function kubeconfigFile(server: string, caPath: string, cert: string, key: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: gm, cluster: {server: ${JSON.stringify(server)}, certificate-authority: ${JSON.stringify(caPath)}}}]`,
    `users: [{name: node, user: {client-certificate: ${JSON.stringify(cert)}, client-key: ${JSON.stringify(key)}}}]`,
    "contexts: [{name: node@gm, context: {cluster: gm, user: node}}]",
    "current-context: node@gm",
    "",
  ].join("\n");
}

function kubeProxyConfig(o: {
  kubeconfig: string;
  name: string;
  nodeIp: string;
  podSubnet: string;
  healthzPort: number;
  metricsPort: number;
}): string {
  return `${JSON.stringify(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clientConnection: { kubeconfig: o.kubeconfig },
      hostnameOverride: o.name,
      bindAddress: o.nodeIp,
      healthzBindAddress: `127.0.0.1:${o.healthzPort}`,
      metricsBindAddress: `127.0.0.1:${o.metricsPort}`,
      // traffic from outside the pods' subnet to a ClusterIP (this host's) is masqueraded
      detectLocalMode: "ClusterCIDR",
      clusterCIDR: o.podSubnet,
      // NodePorts only on the node's own address, never on 127.0.0.1 (that would need route_localnet=1)
      nodePortAddresses: [`${o.nodeIp}/32`],
      iptables: { localhostNodePorts: false, syncPeriod: "30s", minSyncPeriod: "0s" },
      // 0: leave the host's conntrack table size and timeouts alone
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      // lowering oom_score_adj is refused on this machine even to root (docs/kubernetes-node.md)
      oomScoreAdj: 0,
    },
    null,
    2,
  )}\n`;
}

function corefile(o: { nodeIp: string; port: number; healthPort: number; readyPort: number; kubeconfig: string }): string {
  return `.:${o.port} {
  bind ${o.nodeIp}
  errors
  health 127.0.0.1:${o.healthPort}
  ready 127.0.0.1:${o.readyPort}
  kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
    kubeconfig ${o.kubeconfig}
    pods insecure
    ttl 5
  }
  cache 5
  loadbalance
}
`;
}

/** What CoreDNS's kubernetes plugin reads (the rules of CoreDNS's own deployment manifest). */
const COREDNS_RULES = [
  { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
];
const COREDNS_USER = "system:gm:coredns";

// ---------------------------------------------------------------------------------------------------
// the node

/** Starts containerd and a kubelet that registers `name` with the control plane, imports `images`, and
 * resolves when the Node is Ready and its not-ready taint is gone. Needs root (see nodeUnsupportedReason).
 * A failed start undoes what it did and throws with the last 30 lines of the log at fault. */
export async function startNode(opts: NodeOptions): Promise<KubeNode> {
  const t0 = Date.now();
  const progress = (line: string) => opts.onProgress?.(`[kube-node +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const unsupported = nodeUnsupportedReason();
  if (unsupported) throw new ControlPlaneError(unsupported);
  const name = opts.name ?? `gm-node-${createHash("sha256").update(`${process.pid}-${Date.now()}`).digest("hex").slice(0, 6)}`;
  if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(name))
    throw new ControlPlaneError(`node name ${JSON.stringify(name)}: expected lowercase letters, digits and '-' (at most 42)`);
  const clusterDns = !!opts.clusterDns;
  const kubeProxy = !!opts.kubeProxy || clusterDns;
  const bins = {
    kubelet: nodeToolPath("kubelet"),
    kubeProxy: kubeProxy ? nodeToolPath("kube-proxy") : "",
    coredns: clusterDns ? nodeToolPath("coredns") : "",
    containerd: nodeToolPath("containerd"),
    ctr: nodeToolPath("ctr"),
    pauseImage: nodeToolPath("pause-image.tar"),
  };
  const bin = nodeBinDir();
  const ownDir = !opts.dir;
  const dir = opts.dir ? path.resolve(opts.dir) : await mkdtemp(path.join(os.tmpdir(), "gm-node-"));
  const socket = path.join(dir, "containerd.sock");
  if (Buffer.byteLength(`${socket}.ttrpc`) > 107)
    throw new ControlPlaneError(`node dir ${dir}: too long for containerd's sockets (unix socket paths end at 107 bytes)`);
  const logs = path.join(dir, "logs");
  const pki = path.dirname(opts.controlPlane.caPath);
  const nodeIp = opts.nodeIp ?? defaultNodeIp();
  const podSubnet = freePodSubnet(name);
  const bridge = `gm${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
  const network = `gm-${name}`;
  const cgroupRoot = `/gm-${name}`;
  const podLogsDir = path.join(dir, "pod-logs");
  await mkdir(logs, { recursive: true });
  progress(`dir ${dir}, node IP ${nodeIp}, pods on ${podSubnet} (bridge ${bridge}), cgroup root ${cgroupRoot}`);

  const [adminCert, adminKey, ca] = await Promise.all(["admin.crt", "admin.key", "ca.crt"].map((f) => readFile(path.join(pki, f), "utf8")));
  const adminTls: TlsOptions = { ca: ca!, cert: adminCert!, key: adminKey! };
  const server = opts.controlPlane.server;
  await sweepStaleNodes(progress);
  const hostState: HostState = {
    ownerPid: process.pid,
    dir,
    cgroupRoot,
    bridge,
    network,
    podLogsDir,
    sysctls: Object.fromEntries(readSysctls()),
    ...(kubeProxy ? { kubeProxyBin: bins.kubeProxy } : {}),
  };
  if (kubeProxy) {
    try {
      await acquireKubeProxyLock(dir, opts.kubeProxyWaitMs ?? 30 * 60_000, progress);
    } catch (err) {
      if (ownDir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }
  const useCache = opts.imageCache ?? process.env["GM_NODE_IMAGE_CACHE"] !== "0";
  const cacheRoot = useCache ? await takeImageCache(dir, progress) : null;
  if (cacheRoot) hostState.imageCacheRoot = cacheRoot;
  const containerdRoot = cacheRoot ?? path.join(dir, "containerd", "root");
  await writeFile(path.join(dir, STATE_FILE), `${JSON.stringify(hostState, null, 2)}\n`);
  const procs: Proc[] = [];
  let kubelet: Proc | undefined;
  let containerd: Proc | undefined;
  let proxy: Proc | undefined;
  let coredns: Proc | undefined;
  const dnsSliceUrl = `${server}/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/kube-dns-${name}`;

  const ctr = async (args: string[], timeoutMs = 30_000) =>
    execFileAsync(bins.ctr, ["-a", socket, "-n", "k8s.io", ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });

  const importImages = async (refs: string[]) => {
    for (const ref of refs) {
      const t = Date.now();
      const name = containerdImageName(ref);
      let id = "";
      if (cacheRoot) {
        try {
          id = (await execFileAsync("docker", ["image", "inspect", "-f", "{{.Id}}", ref])).stdout.trim().replace(/^sha256:/, "");
        } catch (err) {
          const e = err as { stderr?: string; message: string };
          throw new ControlPlaneError(`image ${ref}: not in the local Docker engine: ${(e.stderr || e.message).trim()}`);
        }
        const cached = (await ctr(["images", "ls", "-q", `name==${name},labels."${IMAGE_ID_LABEL}"==${id}`])).stdout.trim();
        if (cached) {
          progress(`image ${ref} already in the image cache (Docker image id ${id.slice(0, 12)})`);
          continue;
        }
      }
      try {
        await execFileAsync(
          "bash",
          ["-o", "pipefail", "-c", 'docker save "$1" | "$2" -a "$3" -n k8s.io images import -', "import", ref, bins.ctr, socket],
          { timeout: 300_000, maxBuffer: 16 << 20 },
        );
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new ControlPlaneError(`importing image ${ref} into the node's containerd failed: ${(e.stderr || e.message).trim()}`);
      }
      if (cacheRoot) {
        await ctr(["images", "label", name, `${IMAGE_ID_LABEL}=${id}`]);
        // the other tags of the same repository (the demo platform's tag follows its code): their layers go
        const repo = name.slice(0, name.lastIndexOf(":"));
        const stale = (await ctr(["images", "ls", "-q"])).stdout.split("\n").filter((n) => n.startsWith(`${repo}:`) && n !== name);
        if (stale.length) await ctr(["images", "rm", ...stale]);
      }
      progress(`image ${ref} imported in ${((Date.now() - t) / 1000).toFixed(1)}s${cacheRoot ? " (kept in the image cache)" : ""}`);
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (keepDir = false) => {
    stopping ??= (async () => {
      const problems: string[] = [];
      // 1. no new pods here, and the kubelet stops the ones it runs (their networks are torn down by CNI DEL)
      const nodeUrl = `${server}/api/v1/nodes/${name}`;
      if (kubelet && kubelet.exitInfo === null) {
        try {
          await request(nodeUrl, {
            method: "PATCH",
            body: { spec: { unschedulable: true } },
            tls: adminTls,
            contentType: "application/merge-patch+json",
          });
          const r = await request(`${server}/api/v1/pods?fieldSelector=spec.nodeName%3D${name}`, { tls: adminTls });
          const pods = (JSON.parse(r.body) as { items: { metadata: { namespace: string; name: string } }[] }).items;
          await Promise.all(
            pods.map((p) =>
              request(`${server}/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=0`, {
                method: "DELETE",
                tls: adminTls,
              }),
            ),
          );
          const deadline = Date.now() + 30_000;
          // the containers gone and every pod network torn down (CNI DEL, then the netns unmounted): a
          // containerd stopped during a CNI DEL kills the plugin half-way and leaves its NAT chain
          const settled = async () =>
            !(await ctr(["tasks", "ls", "-q"])).stdout.trim() && !mountsUnder(dir).some((m) => m.includes("/netns/"));
          while (Date.now() < deadline && !(await settled())) await sleep(250);
        } catch (err) {
          problems.push(`draining: ${(err as Error).message}`);
        }
      }
      // 2. the kubelet, kube-proxy and CoreDNS (their API objects too), then what containerd still runs,
      // then containerd and its shims; kube-proxy's iptables chains go in releaseHost
      await stopProcs([kubelet, proxy, coredns].filter((p): p is Proc => !!p));
      if (coredns) {
        await request(dnsSliceUrl, { method: "DELETE", tls: adminTls }).catch(() => undefined);
        await request(`${server}/api/v1/namespaces/kube-system/services/kube-dns`, { method: "DELETE", tls: adminTls }).catch(
          () => undefined,
        );
      }
      if (containerd && containerd.exitInfo === null) {
        try {
          for (const id of (await ctr(["tasks", "ls", "-q"])).stdout.split("\n").filter(Boolean)) {
            await ctr(["tasks", "kill", "-s", "SIGKILL", id]).catch(() => undefined);
            await ctr(["tasks", "delete", "-f", id]).catch(() => undefined);
          }
        } catch (err) {
          problems.push(`killing tasks: ${(err as Error).message}`);
        }
      }
      // every container and sandbox id containerd knows: the names of shim sockets to remove
      const ids =
        containerd && containerd.exitInfo === null
          ? (await ctr(["containers", "ls", "-q"]).catch(() => ({ stdout: "" }))).stdout.split("\n").filter(Boolean)
          : [];
      // the image cache keeps only images: every container and sandbox record goes, or the cache is wiped
      let cacheClean = false;
      if (cacheRoot && containerd && containerd.exitInfo === null) {
        try {
          // `ctr sandboxes ls` has no -q: a header line, then the id first
          const sandboxIds = async () =>
            (await ctr(["sandboxes", "ls"])).stdout
              .split("\n")
              .slice(1)
              .map((l) => l.split(/\s+/)[0])
              .filter((x): x is string => !!x);
          for (const id of await sandboxIds()) await ctr(["sandboxes", "rm", "-f", id]).catch(() => undefined);
          if (ids.length) await ctr(["containers", "rm", ...ids]).catch(() => undefined);
          const left = [...(await ctr(["containers", "ls", "-q"])).stdout.split("\n").filter(Boolean), ...(await sandboxIds())];
          cacheClean = left.length === 0;
          if (left.length) progress(`containers or sandboxes left in the image cache (it is wiped): ${left.join(", ")}`);
        } catch (err) {
          progress(`image cache: could not list what is left (it is wiped): ${(err as Error).message}`);
        }
      }
      await stopProcs(containerd ? [containerd] : []);
      // 3. the shims and whatever else is left on the host
      problems.push(...(await releaseHost(hostState, ownDir && !keepDir, ids)));
      if (cacheRoot) await releaseImageCache(cacheRoot, dir, cacheClean && containerd?.exitInfo !== "killed by SIGKILL");
      // 4. the Node object
      await request(nodeUrl, { method: "DELETE", tls: adminTls }).catch(() => undefined);
      if (problems.length) throw new ControlPlaneError(`node ${name} stopped, with leftovers:\n${problems.join("\n")}`);
    })();
    return stopping;
  };

  try {
    // the kubelet's client certificate: CN=system:node:<name>, O=system:nodes (the Node authorizer and
    // NodeRestriction admit it for its own Node and pods), signed by the control plane's CA
    const certName = `node-${name}`;
    await leafCert(pki, certName, `/O=system:nodes/CN=system:node:${name}`, ["extendedKeyUsage=clientAuth"]);
    const kubeconfig = path.join(dir, "kubelet.kubeconfig");
    await writeFile(
      kubeconfig,
      kubeconfigFile(server, opts.controlPlane.caPath, path.join(pki, `${certName}.crt`), path.join(pki, `${certName}.key`)),
      { mode: 0o600 },
    );

    const cniConfDir = path.join(dir, "cni-conf");
    await mkdir(cniConfDir, { recursive: true });
    await writeFile(path.join(cniConfDir, "10-gm.conflist"), cniConfig(network, bridge, podSubnet, path.join(dir, "cni-ipam")));
    addForwardRules(network, bridge);
    await writeFile(path.join(dir, "containerd.toml"), containerdConfig(dir, socket, bin, cniConfDir, containerdRoot));
    containerd = startProc("containerd", bins.containerd, ["--config", path.join(dir, "containerd.toml")], logs);
    procs.push(containerd);
    await waitFor("containerd's socket", containerd, procs, 30_000, async () => {
      if (!existsSync(socket)) return false;
      await ctr(["version"], 5000);
      return true;
    });
    await ctr(["images", "import", bins.pauseImage]);
    progress("containerd ready, pause image imported");

    await makeCgroupRoot(cgroupRoot);
    const [port, healthzPort, proxyHealthzPort, proxyMetricsPort, dnsPort, dnsHealthPort, dnsReadyPort] = await freePorts(7);

    if (clusterDns) {
      // CoreDNS on the host, on the node's IP: pods reach it through the ClusterIP Service kube-system/kube-dns
      // (no selector; an EndpointSlice names nodeIp:dnsPort), as they would reach a CoreDNS pod
      await leafCert(pki, "coredns", `/CN=${COREDNS_USER}`, ["extendedKeyUsage=clientAuth"]);
      const api = async (url: string, body: unknown) => {
        const r = await request(`${server}${url}`, { method: "POST", body, tls: adminTls });
        if (r.status !== 201 && r.status !== 409) throw new ControlPlaneError(`POST ${url}: HTTP ${r.status} ${r.body}`);
      };
      await api("/apis/rbac.authorization.k8s.io/v1/clusterroles", { metadata: { name: "gm:coredns" }, rules: COREDNS_RULES });
      await api("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        metadata: { name: "gm:coredns" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "gm:coredns" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: COREDNS_USER }],
      });
      const ports = [
        { name: "dns", protocol: "UDP", port: 53 },
        { name: "dns-tcp", protocol: "TCP", port: 53 },
      ];
      await api("/api/v1/namespaces/kube-system/services", {
        metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        spec: { clusterIP: clusterDnsIp, ports: ports.map((p) => ({ ...p, targetPort: dnsPort })) },
      });
      await request(dnsSliceUrl, { method: "DELETE", tls: adminTls });
      await api("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", {
        metadata: {
          name: `kube-dns-${name}`,
          namespace: "kube-system",
          labels: { "kubernetes.io/service-name": "kube-dns", "endpointslice.kubernetes.io/managed-by": "gm.node" },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [nodeIp], conditions: { ready: true }, nodeName: name }],
        ports: ports.map((p) => ({ ...p, port: dnsPort })),
      });
      const kc = path.join(dir, "coredns.kubeconfig");
      await writeFile(kc, kubeconfigFile(server, opts.controlPlane.caPath, path.join(pki, "coredns.crt"), path.join(pki, "coredns.key")), {
        mode: 0o600,
      });
      await writeFile(
        path.join(dir, "Corefile"),
        corefile({ nodeIp, port: dnsPort!, healthPort: dnsHealthPort!, readyPort: dnsReadyPort!, kubeconfig: kc }),
      );
      coredns = startProc("coredns", bins.coredns, ["-conf", path.join(dir, "Corefile")], logs);
      procs.push(coredns);
      await waitFor("CoreDNS /ready", coredns, procs, 60_000, async () => {
        const r = await request(`http://127.0.0.1:${dnsReadyPort}/ready`);
        return r.status === 200;
      });
      progress(`cluster DNS: CoreDNS on ${nodeIp}:${dnsPort}, Service kube-system/kube-dns ${clusterDnsIp}`);
    }
    await writeFile(
      path.join(dir, "kubelet.yaml"),
      kubeletConfig({
        nodeIp,
        port: port!,
        healthzPort: healthzPort!,
        caPath: opts.controlPlane.caPath,
        socket,
        podLogsDir,
        cgroupRoot,
        clusterDns: clusterDns ? clusterDnsIp : undefined,
      }),
    );
    // (the kubelet may not set node-role.kubernetes.io/* labels itself: NodeRestriction)
    const labels = { "gm.node/real": "true", ...opts.labels };
    kubelet = startProc(
      "kubelet",
      bins.kubelet,
      [
        `--config=${path.join(dir, "kubelet.yaml")}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${path.join(dir, "kubelet")}`,
        `--hostname-override=${name}`,
        `--node-ip=${nodeIp}`,
        `--node-labels=${Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}`,
        "--v=1",
      ],
      logs,
    );
    procs.push(kubelet);
    progress("kubelet started");
    const imports = importImages(opts.images ?? []);
    imports.catch(() => undefined); // awaited below; a start failing first must not leave it unhandled
    await waitFor(`node ${name} Ready and untainted`, kubelet, procs, 90_000, async () => {
      const r = await request(`${server}/api/v1/nodes/${name}`, { tls: adminTls });
      if (r.status !== 200) return false;
      const n = JSON.parse(r.body) as {
        spec?: { taints?: { key: string }[] };
        status?: { conditions?: { type: string; status: string }[] };
      };
      return (
        !!n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
        !n.spec?.taints?.some((t) => t.key.startsWith("node.kubernetes.io/"))
      );
    });
    progress(`node ${name} Ready`);
    // kube-proxy once the Node exists: it takes its IPs from the Node, and exits (to be restarted) when
    // they change from what it started with
    if (kubeProxy) {
      // CN=system:kube-proxy: the built-in ClusterRoleBinding system:node-proxier grants it what it reads
      await leafCert(pki, "kube-proxy", "/CN=system:kube-proxy", ["extendedKeyUsage=clientAuth"]);
      const kc = path.join(dir, "kube-proxy.kubeconfig");
      await writeFile(
        kc,
        kubeconfigFile(server, opts.controlPlane.caPath, path.join(pki, "kube-proxy.crt"), path.join(pki, "kube-proxy.key")),
        {
          mode: 0o600,
        },
      );
      await writeFile(
        path.join(dir, "kube-proxy.yaml"),
        kubeProxyConfig({ kubeconfig: kc, name, nodeIp, podSubnet, healthzPort: proxyHealthzPort!, metricsPort: proxyMetricsPort! }),
      );
      proxy = startProc("kube-proxy", bins.kubeProxy, [`--config=${path.join(dir, "kube-proxy.yaml")}`, "--v=1"], logs);
      procs.push(proxy);
      // /healthz: its rules synced once, its Node there and not being deleted
      await waitFor("kube-proxy /healthz", proxy, procs, 60_000, async () => {
        const r = await request(`http://127.0.0.1:${proxyHealthzPort}/healthz`);
        return r.status === 200;
      });
      progress("kube-proxy (iptables) synced");
    }

    await imports;

    return {
      name,
      dir,
      nodeIp,
      kubeletPort: port!,
      podSubnet,
      bridge,
      containerdSocket: socket,
      cgroupRoot,
      ...(clusterDns ? { clusterDnsIp } : {}),
      processes: procs.map((p) => ({ name: p.name, pid: p.child.pid ?? -1 })),
      importImages,
      stop: () => stop(),
    };
  } catch (err) {
    // the dir stays: its logs/ tell what went wrong
    await stop(true).catch(() => undefined);
    if (err instanceof ControlPlaneError) throw new ControlPlaneError(`${err.message}\n(all logs: ${logs})`);
    throw err;
  }
}
