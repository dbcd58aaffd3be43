/**
 * Services and cluster DNS on a real node: kube-proxy (iptables mode) routes a ClusterIP to a pod, from
 * another pod and from this host (how tests and drills reach ingest-api, PostgreSQL and Kafka), CoreDNS
 * answers a Service's name and a headless StatefulSet pod's name (kafka-0.kafka-headless… style) from
 * inside a pod, and stop() removes every KUBE-* iptables chain without touching Docker's rules. The
 * echo server is perl (in every Debian image: perl-base) in gamemetrics/debian-base. Needs root, runc,
 * the node's binaries (`bash scripts/setup.sh --node`) and the image: skipped otherwise, saying why.
 */
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Container } from "@kubernetes/client-node";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, startControlPlane } from "./control-plane.js";
import { clusterDnsIp, type KubeNode, kubeChains, nodeBinDir, nodeUnsupportedReason, startNode } from "./node.js";
import { until } from "./until.js";

const IMAGE = "gamemetrics/debian-base:bookworm-local";
const NS = "default";

function skipReason(): string | null {
  const r = nodeUnsupportedReason();
  if (r) return r;
  for (const b of ["kubelet", "kube-proxy", "coredns"])
    if (!existsSync(path.join(nodeBinDir(), b))) return `${b} not built in ${nodeBinDir()} (bash scripts/setup.sh --node)`;
  if (spawnSync("docker", ["image", "inspect", IMAGE], { stdio: "ignore" }).status !== 0)
    return `image ${IMAGE} missing (bash scripts/setup.sh builds it)`;
  return null;
}
const skip = skipReason();
if (skip) console.warn(`node-services.int.test.ts skipped: ${skip}`);
const SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "net/netfilter/nf_conntrack_max", "net/ipv4/conf/all/route_localnet"];
const sysctls = () =>
  SYSCTLS.filter((k) => existsSync(`/proc/sys/${k}`)).map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`);
const sysctlsAtStart = sysctls();
/** Docker's own chains, the jumps into them not tied to one of its networks, and the policies: a node's
 * stop() must leave them as they were (per-network rules come and go with other users' containers). */
const dockerRules = () =>
  ["filter", "nat"].flatMap((t) =>
    execFileSync("iptables", ["-t", t, "-S"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => /^-P |^-N DOCKER/.test(l) || (/^-A (FORWARD|PREROUTING|OUTPUT) .*-j DOCKER/.test(l) && !/ -[io] /.test(l)))
      .map((l) => `${t} ${l}`),
  );

/** kube-proxy's entry chain in the nat table ("" when it does not exist). */
const kubeServiceRules = () => spawnSync("iptables", ["-t", "nat", "-S", "KUBE-SERVICES"], { encoding: "utf8" }).stdout ?? "";

/** A TCP server on :8080 answering each connection with "hello from <hostname>". */
const ECHO_SERVER =
  "perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die $!; " +
  'chomp(my $h = `hostname`); while ($c = $s->accept) { print $c "hello from $h\\n"; close $c }\'';

const container = (command: string): V1Container => ({
  name: "main",
  image: IMAGE,
  imagePullPolicy: "Never",
  command: ["sh", "-c", command],
});

/** Connects to ip:port from this host and returns what the server sends before closing. */
function readFrom(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: ip, port, timeout: 5000 });
    let data = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => {
      data += c;
    });
    s.on("end", () => resolve(data));
    s.on("timeout", () => s.destroy(new Error(`connect ${ip}:${port}: timeout`)));
    s.on("error", reject);
  });
}

describe.skipIf(!!skip)("a real node with kube-proxy and cluster DNS", { timeout: 300_000 }, () => {
  let cp: ControlPlane;
  let node: KubeNode;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let dockerBefore: string[];
  let echoIp: string;

  /** Runs `command` in a one-shot pod on the node and returns its log (exit code included as rc=N). */
  async function runPod(name: string, command: string): Promise<string> {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, namespace: NS },
        spec: {
          nodeName: node.name,
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [container(`${command}; echo "rc=$?"`)],
        },
      },
    });
    await until(`pod ${name} done`, async () => {
      const p = await core.readNamespacedPod({ name, namespace: NS });
      return p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
    });
    return core.readNamespacedPodLog({ name, namespace: NS, container: "main" });
  }

  beforeAll(async () => {
    dockerBefore = dockerRules();
    const t0 = Date.now();
    cp = await startControlPlane({ nodes: 0, onProgress: console.log });
    const t1 = Date.now();
    node = await startNode({ controlPlane: cp, clusterDns: true, images: [IMAGE], onProgress: console.log });
    console.log(
      `control plane up in ${((t1 - t0) / 1000).toFixed(1)}s; node ${node.name} Ready with kube-proxy, CoreDNS and ${IMAGE} in ${((Date.now() - t1) / 1000).toFixed(1)}s`,
    );
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);

    const t2 = Date.now();
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: "echo", namespace: NS, labels: { app: "echo" } },
        spec: {
          nodeName: node.name,
          automountServiceAccountToken: false,
          containers: [{ ...container(ECHO_SERVER), readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
        },
      },
    });
    const svc = await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: "echo", namespace: NS }, spec: { selector: { app: "echo" }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    echoIp = svc.spec!.clusterIP!;
    // nothing connects to a ClusterIP before kube-proxy has its rules: without them the connection would
    // follow the default route off this machine (Service IPs are in 10.0.0.0/24)
    for (const ip of [echoIp, clusterDnsIp])
      await until(`kube-proxy's rules for ${ip}`, async () => kubeServiceRules().includes(`-d ${ip}/32`), 30_000);
    await until("pod echo Ready", async () => {
      const p = await core.readNamespacedPod({ name: "echo", namespace: NS });
      return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    });
    console.log(`echo pod Ready behind ClusterIP ${echoIp} in ${((Date.now() - t2) / 1000).toFixed(1)}s`);
  }, 300_000);

  afterAll(async () => {
    try {
      await node?.stop();
    } finally {
      await cp?.stop();
    }
  });

  it("routes a ClusterIP to its pod from this host (kube-proxy's OUTPUT rules)", async () => {
    const t = Date.now();
    // the first sync after the endpoint turned Ready may take a moment: retried until it answers
    const got = await until(`${echoIp}:80 answering from the host`, () => readFrom(echoIp, 80), 30_000);
    console.log(`host → ClusterIP ${echoIp}:80 answered in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    expect(got).toBe("hello from echo\n");
  });

  it("routes a ClusterIP to its pod from another pod (PREROUTING, across the bridge)", async () => {
    const log = await runPod("cli-ip", `timeout 5 bash -c 'exec 3<>/dev/tcp/${echoIp}/80; cat <&3'`);
    expect(log).toContain("hello from echo");
    expect(log).toContain("rc=0");
  });

  it("resolves a Service's name in a pod through cluster DNS and reaches it", async () => {
    const log = await runPod(
      "cli-dns",
      "cat /etc/resolv.conf; getent hosts echo.default.svc.cluster.local; getent hosts echo | sed 's/^/short: /'; " +
        "timeout 5 bash -c 'exec 3<>/dev/tcp/echo/80; cat <&3'",
    );
    expect(log).toContain(`nameserver ${clusterDnsIp}`);
    expect(log).toContain("search default.svc.cluster.local svc.cluster.local cluster.local");
    expect(log).toMatch(new RegExp(`^${echoIp.replace(/\./g, "\\.")}\\s+echo\\.default\\.svc\\.cluster\\.local$`, "m"));
    // the short name through the search path
    expect(log).toMatch(new RegExp(`^short: ${echoIp.replace(/\./g, "\\.")}\\s+echo\\.default\\.svc\\.cluster\\.local$`, "m"));
    expect(log).toContain("hello from echo");
    expect(log).toContain("rc=0");
  });

  it("resolves a headless StatefulSet pod's name (db-0.db-headless.default.svc.cluster.local) to its pod IP", async () => {
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: "db-headless", namespace: NS },
        spec: { clusterIP: "None", selector: { app: "db" }, ports: [{ port: 8080 }] },
      },
    });
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: {
        metadata: { name: "db", namespace: NS },
        spec: {
          serviceName: "db-headless",
          replicas: 1,
          selector: { matchLabels: { app: "db" } },
          template: {
            metadata: { labels: { app: "db" } },
            spec: {
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 0,
              containers: [{ ...container(ECHO_SERVER), readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
            },
          },
        },
      },
    });
    const podIp = await until("pod db-0 Ready", async () => {
      const p = await core.readNamespacedPod({ name: "db-0", namespace: NS });
      return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? p.status.podIP : undefined;
    });
    const log = await runPod(
      "cli-sts",
      "getent hosts db-0.db-headless.default.svc.cluster.local; getent hosts db-headless | sed 's/^/svc: /'; " +
        "timeout 5 bash -c 'exec 3<>/dev/tcp/db-0.db-headless/8080; cat <&3'",
    );
    const ip = podIp!.replace(/\./g, "\\.");
    expect(log).toMatch(new RegExp(`^${ip}\\s+db-0\\.db-headless\\.default\\.svc\\.cluster\\.local$`, "m"));
    // the headless Service's own name: its pods' IPs
    expect(log).toMatch(new RegExp(`^svc: ${ip}\\s+db-headless\\.default\\.svc\\.cluster\\.local$`, "m"));
    expect(log).toContain("hello from db-0");
    expect(log).toContain("rc=0");
  });

  it("stop() removes every KUBE-* chain, keeps Docker's rules and restores the sysctls", async () => {
    expect(kubeChains().some((c) => c.endsWith(" KUBE-SERVICES"))).toBe(true);
    await node.stop();
    expect(kubeChains()).toEqual([]);
    expect(dockerBefore.length).toBeGreaterThan(3);
    expect(dockerRules()).toEqual(dockerBefore);
    expect(execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" })).not.toContain(`gm-${node.name}`);
    expect(sysctls()).toEqual(sysctlsAtStart);
    await expect(core.readNamespacedService({ name: "kube-dns", namespace: "kube-system" })).rejects.toThrow(/404|not found/i);
  });
});
