/**
 * deploy/platform for real (issue 12 §2): the repo's kustomization applied unchanged to a control plane
 * with a real node (kubelet, containerd, kube-proxy, CoreDNS: @gm/kube-testenv/node), the locally built
 * images imported instead of pulled (the cluster is started by ./node-cluster.ts). Its overlay only renames the images to the local builds
 * (apache/kafka:3.9.1 → gamemetrics/kafka:3.9.1-local, postgres:15 → gamemetrics/postgres:15-local,
 * gamemetrics/demo-platform:0.1.0 → the tag the stack builds) and sets imagePullPolicy: Never; the
 * StatefulSets' claims bind to hostPath volumes under the node's dir (a test cluster has no provisioner).
 * Three KRaft brokers, PostgreSQL and the three services must go Ready, and the host must reach
 * ingest-api and stats-api through their ClusterIPs. Prints how long each pod took (never asserted).
 * Needs root, runc, the node's binaries (`bash scripts/setup.sh --node`) and the local images.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeCluster, nodeClusterSkipReason, startNodeCluster, httpGet } from "./node-cluster.js";

const skip = nodeClusterSkipReason();
if (skip) console.warn(`kubernetes-node.int.test.ts skipped: ${skip}`);

describe.skipIf(!!skip)("deploy/platform on a real node", { timeout: 900_000 }, () => {
  let cluster: NodeCluster;
  const allReady = (want: [string, string, number][], timeoutMs: number) => cluster.waitReady(want, timeoutMs);

  beforeAll(async () => {
    cluster = await startNodeCluster({ onProgress: console.log });
  }, 900_000);

  afterAll(async () => {
    const t = Date.now();
    await cluster?.stop();
    console.log(`node and control plane stopped with the platform running in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }, 300_000);

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
      const s = await cluster.core.readNamespacedService({ name: svc, namespace: "gamemetrics" });
      // only through kube-proxy's rules: without them a Service IP would follow the default route off this machine
      const rules = spawnSync("iptables", ["-t", "nat", "-S", "KUBE-SERVICES"], { encoding: "utf8" }).stdout ?? "";
      expect(rules, `kube-proxy's rule for ${svc}`).toContain(`-d ${s.spec!.clusterIP}/32`);
      const r = await httpGet(`http://${s.spec!.clusterIP}:8080/ready`);
      expect(r.status, `${svc} /ready: ${r.body}`).toBe(200);
    }
    console.log(
      `platform Ready times (s after apply): ${[...cluster.readyAt.entries()]
        .sort((a, b) => a[1] - b[1])
        .map(([n, t]) => `${n} ${t.toFixed(1)}`)
        .join(", ")}`,
    );
  });
});
