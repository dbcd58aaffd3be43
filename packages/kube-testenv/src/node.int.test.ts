/**
 * A real node for real: containerd and a kubelet join a started control plane, a pod from a locally
 * built image (gamemetrics/debian-base, imported from Docker) runs to completion and its log is read
 * through the API server (`kubectl logs`: API server → kubelet → the container's log file), a memory hog
 * is OOM-killed by the kernel and reported as OOMKilled by the kubelet, and stop() leaves nothing behind
 * (processes, mounts, cgroups, bridge, Node object). Needs root, runc, the node's binaries (`bash
 * scripts/setup.sh --node`) and the image: skipped otherwise, saying why.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, startControlPlane } from "./control-plane.js";
import { imageCacheRoot, type KubeNode, nodeBinDir, nodeUnsupportedReason, startNode, sweepStaleNodes } from "./node.js";
import { until } from "./until.js";

const IMAGE = "gamemetrics/debian-base:bookworm-local";
const NS = "default";

function skipReason(): string | null {
  const r = nodeUnsupportedReason();
  if (r) return r;
  // opt-in: the node's binaries are built by `bash scripts/setup.sh --node` (not by --k8s)
  if (!existsSync(path.join(nodeBinDir(), "kubelet"))) return `node not built in ${nodeBinDir()} (bash scripts/setup.sh --node)`;
  if (spawnSync("docker", ["image", "inspect", IMAGE], { stdio: "ignore" }).status !== 0)
    return `image ${IMAGE} missing (bash scripts/setup.sh builds it)`;
  return null;
}
const skip = skipReason();
const SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"];
const sysctls = () => SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`);
// before any node starts (the kubelet changes them): what stop() must restore
const sysctlsAtStart = sysctls();
if (skip) console.warn(`node.int.test.ts skipped: ${skip}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const processesUnder = (dir: string) =>
  execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes(`${dir}/`));

function pod(name: string, nodeName: string, command: string, memory?: string): V1Pod {
  return {
    metadata: { name, namespace: NS },
    spec: {
      nodeName,
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      containers: [
        {
          name: "main",
          image: IMAGE,
          imagePullPolicy: "Never",
          command: ["sh", "-c", command],
          ...(memory ? { resources: { limits: { memory, cpu: "200m" } } } : {}),
        },
      ],
    },
  };
}

describe.skipIf(!!skip)("a real node: containerd and a kubelet beside the control plane", { timeout: 300_000 }, () => {
  let cp: ControlPlane;
  let node: KubeNode;
  let core: CoreV1Api;

  beforeAll(async () => {
    const t0 = Date.now();
    cp = await startControlPlane({ nodes: 0, onProgress: console.log });
    const t1 = Date.now();
    node = await startNode({ controlPlane: cp, images: [IMAGE], onProgress: console.log });
    console.log(
      `control plane up in ${((t1 - t0) / 1000).toFixed(1)}s; node ${node.name} Ready with ${IMAGE} imported in ${((Date.now() - t1) / 1000).toFixed(1)}s`,
    );
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
  }, 300_000);

  afterAll(async () => {
    try {
      await node?.stop();
    } finally {
      await cp?.stop();
    }
  });

  it("registers a Ready node that reports containerd 2.x and its InternalIP", async () => {
    const n = await core.readNode({ name: node.name });
    expect(n.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(n.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
    expect(n.status?.addresses).toContainEqual({ type: "InternalIP", address: node.nodeIp });
  });

  it("runs a pod from a locally built image and serves its log through the API server", async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: pod("hello", node.name, 'echo "hello from $(hostname) on $(cat /etc/debian_version)"; ip=$(hostname -i); echo "ip $ip"'),
    });
    const done = await until("pod hello Succeeded", async () => {
      const p = await core.readNamespacedPod({ name: "hello", namespace: NS });
      return p.status?.phase === "Succeeded" ? p : p.status?.phase === "Failed" ? Promise.reject(new Error("pod hello Failed")) : undefined;
    });
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(done.status?.podIP).toMatch(/^10\.89\.\d+\.\d+$/);
    // the kubectl logs path: API server → the kubelet on nodeIp:kubeletPort (webhook-authorized client
    // certificate) → the CRI log file
    const log = await core.readNamespacedPodLog({ name: "hello", namespace: NS, container: "main" });
    expect(log).toContain("hello from hello on 12.");
    expect(log).toContain(`ip ${done.status?.podIP}`);
  });

  it("lets one pod reach another across the node's bridge (Docker's FORWARD policy is DROP)", async () => {
    await core.createNamespacedPod({ namespace: NS, body: pod("srv", node.name, "sleep 600") });
    const srv = await until("pod srv Running with an IP", async () => {
      const p = await core.readNamespacedPod({ name: "srv", namespace: NS });
      return p.status?.phase === "Running" && p.status.podIP ? p.status.podIP : undefined;
    });
    // nothing listens on port 9 in srv: a refused connection proves the SYN got there and the RST came
    // back; a dropped one times out (exit 124)
    await core.createNamespacedPod({
      namespace: NS,
      body: pod("cli", node.name, `timeout 5 bash -c '</dev/tcp/${srv}/9'; echo "rc=$?"`),
    });
    await until("pod cli done", async () => {
      const p = await core.readNamespacedPod({ name: "cli", namespace: NS });
      return p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
    });
    const log = await core.readNamespacedPodLog({ name: "cli", namespace: NS, container: "main" });
    expect(log).toContain("Connection refused");
    expect(log).toContain("rc=1");
  });

  it("has a container over its memory limit OOM-killed by the kernel, reported as OOMKilled", async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: pod("hog", node.name, "echo start; x=a; while :; do x=$x$x; done", "32Mi"),
    });
    const failed = await until("pod hog Failed", async () => {
      const p = await core.readNamespacedPod({ name: "hog", namespace: NS });
      return p.status?.phase === "Failed" ? p : undefined;
    });
    const terminated = failed.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.reason).toBe("OOMKilled");
    expect(terminated?.exitCode).toBe(137);
  });

  it("a node whose test process died (no stop()) is released by the next node's sweep", async () => {
    const stale = await startNode({ controlPlane: cp, onProgress: console.log });
    // a running pod: a shim, a container, an overlay mount, a network namespace, pod cgroups
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: "orphan", namespace: NS },
        spec: {
          nodeName: stale.name,
          automountServiceAccountToken: false,
          containers: [{ name: "pause", image: "gamemetrics.local/pause:3.10.2", imagePullPolicy: "Never" }],
        },
      },
    });
    await until(
      "pod orphan Running",
      async () => (await core.readNamespacedPod({ name: "orphan", namespace: NS })).status?.phase === "Running",
    );
    // the owner dies: the kernel kills the kubelet and containerd (setpriv --pdeathsig), the rest stays
    const state = JSON.parse(readFileSync(`${stale.dir}/node-state.json`, "utf8")) as { ownerPid: number };
    state.ownerPid = spawnSync("true").pid!; // a pid that has exited
    writeFileSync(`${stale.dir}/node-state.json`, JSON.stringify(state));
    for (const p of stale.processes) process.kill(p.pid, "SIGKILL");
    await until("kubelet and containerd gone", async () => stale.processes.every((p) => !alive(p.pid)));
    expect(processesUnder(stale.dir).length).toBeGreaterThan(0); // the shim
    expect(readFileSync("/proc/self/mountinfo", "utf8")).toContain(stale.dir);

    // the shim's socket in containerd's fixed /run/containerd/s: sha256(<containerd socket>/<namespace>/<task id>)
    const shimSockets = processesUnder(stale.dir)
      .map((l) => / -id (\S+)/.exec(l)?.[1])
      .filter((id): id is string => !!id)
      .map((id) => `/run/containerd/s/${createHash("sha256").update(`${stale.containerdSocket}/k8s.io/${id}`).digest("hex")}`);
    expect(shimSockets.length).toBeGreaterThan(0);
    for (const sock of shimSockets) expect(existsSync(sock), sock).toBe(true);
    const released = await sweepStaleNodes(console.log);
    for (const sock of shimSockets) expect(existsSync(sock), sock).toBe(false);
    expect(released).toEqual([stale.dir]); // not the live node of this file
    expect(processesUnder(stale.dir)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(stale.dir);
    expect(existsSync(stale.dir)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory${stale.cgroupRoot}`) || existsSync(`/sys/fs/cgroup${stale.cgroupRoot}`)).toBe(false);
    expect(spawnSync("ip", ["link", "show", stale.bridge], { stdio: "ignore" }).status).not.toBe(0);
    expect(existsSync(node.dir)).toBe(true);
    await core.deleteNode({ name: stale.name });
  });

  it("stop() kills every process, unmounts, removes the dir, cgroups, bridge, iptables rules and Node, restores the sysctls", async () => {
    const running = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(node.dir));
    expect(running.length).toBeGreaterThan(0); // containerd, the kubelet, the shims
    await node.stop();
    for (const p of node.processes) expect(alive(p.pid), `${p.name} (pid ${p.pid}) still alive`).toBe(false);
    const left = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(node.dir));
    expect(left).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(node.dir);
    expect(existsSync(node.dir)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory${node.cgroupRoot}`) || existsSync(`/sys/fs/cgroup${node.cgroupRoot}`)).toBe(false);
    expect(spawnSync("ip", ["link", "show", node.bridge], { stdio: "ignore" }).status).not.toBe(0);
    expect(execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" })).not.toContain(`gm-${node.name}`);
    expect(execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" })).not.toContain(`gm-${node.name}`);
    await expect(core.readNode({ name: node.name })).rejects.toThrow(/404|not found/i);
    expect(sysctls()).toEqual(sysctlsAtStart);
  });

  it("keeps the node's images for the next node: not imported again while the Docker image id is the same, and a pod runs from them", async () => {
    const root = imageCacheRoot();
    // stop() gave the cache back with every container and sandbox removed, the images kept
    expect(existsSync(`${root}.lock`)).toBe(false);
    expect(existsSync(root)).toBe(true);
    const lines: string[] = [];
    const t0 = Date.now();
    const next = await startNode({
      controlPlane: cp,
      images: [IMAGE],
      onProgress: (l) => {
        lines.push(l);
        console.log(l);
      },
    });
    try {
      console.log(`second node Ready with ${IMAGE} from the image cache in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      expect(lines.join("\n")).toMatch(/already in the image cache/);
      expect(lines.join("\n")).not.toMatch(/imported in/);
      expect(JSON.parse(readFileSync(`${root}.lock`, "utf8"))).toEqual({ pid: process.pid, dir: next.dir });
      // no record of the first node's pods came with the images
      const cri = spawnSync(path.join(nodeBinDir(), "ctr"), ["-a", next.containerdSocket, "-n", "k8s.io", "containers", "ls", "-q"], {
        encoding: "utf8",
      });
      expect(cri.stdout.trim()).toBe("");
      await core.createNamespacedPod({ namespace: NS, body: pod("from-cache", next.name, "echo served from the cache") });
      await until(
        "pod from-cache Succeeded",
        async () => (await core.readNamespacedPod({ name: "from-cache", namespace: NS })).status?.phase === "Succeeded",
      );
    } finally {
      await next.stop();
    }
    expect(existsSync(`${root}.lock`)).toBe(false);
  });
});
