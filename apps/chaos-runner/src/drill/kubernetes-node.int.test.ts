/**
 * Drills against a real namespace (issue 12 §3–4): deploy/platform running on a control plane with a
 * real node (kubelet, containerd, kube-proxy, CoreDNS; @gm/platform/node-cluster), drilled by the CLI
 * itself — `gm-chaos drill … --platform kubernetes --cluster-dns <CoreDNS> --json`, the path an operator
 * runs — so the load goes through ingest-api's Service, every acknowledged event is checked in
 * PostgreSQL, detection reads real Kafka / PostgreSQL / HTTP signals (gm-prober's round over the cluster
 * names), and the faults are real: a broker pod deleted (the StatefulSet recreates it, Kafka recovers)
 * and a memory limit below use (the kernel OOM-kills the container, the kubelet says OOMKilled); and a
 * leaking client holding PostgreSQL's connections through its Service (db-pool-exhausted).
 *
 * One cluster and one CLI run for the three drills. Prints each drill's detect / page / recover times and
 * integrity numbers (never asserted: durations are printed, not judged). Needs root, runc, the node's
 * binaries (`bash scripts/setup.sh --node`), the local images and prometheus-alertmanager (for pages).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppsV1Api, AutoscalingV2Api } from "@kubernetes/client-node";
import { metricsServerSkipReason } from "@gm/kube-testenv/metrics-server";
import { clusterDnsIp } from "@gm/kube-testenv/node";
import { until } from "@gm/kube-testenv/until";
import { createKubernetesPlatform } from "@gm/platform/kubernetes";
import { httpGet, type NodeCluster, nodeClusterSkipReason, startNodeCluster } from "@gm/platform/node-cluster";
import type { DrillReport } from "@gm/report/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNamespaceFault } from "./namespace.js";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
// metrics-server: the drills see memory in use against limits, as on a production cluster
const skip = nodeClusterSkipReason() ?? metricsServerSkipReason() ?? (existsSync(CLI) ? null : `${CLI} not built (npm run build)`);
if (skip) console.warn(`kubernetes-node.int.test.ts skipped: ${skip}`);
const withAlertmanager = existsSync("/usr/bin/prometheus-alertmanager") || !!process.env["ALERTMANAGER_BIN"];

interface CliRun {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
  seconds: number;
}

/** `gm-chaos drill …` as a subprocess, its JSON lines parsed; progress echoed as it comes. */
function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      for (const line of c.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const e = JSON.parse(line) as { event?: string; scenario?: string; phase?: string; message?: string; elapsedSeconds?: number };
          if (e.event === "progress") console.log(`${e.elapsedSeconds?.toFixed(1)} ${e.scenario} [${e.phase}] ${e.message}`);
        } catch {
          // a line split across chunks: parsed whole at the end
        }
      }
    });
    p.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    p.on("error", reject);
    p.on("close", (code) =>
      resolve({
        code,
        stderr,
        seconds: (Date.now() - t0) / 1000,
        events: stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    );
  });
}

describe.skipIf(!!skip)("drills against a real namespace (a real node), through the CLI", { timeout: 1_800_000 }, () => {
  let cluster: NodeCluster;
  let context: string;
  let run: CliRun;
  const reportDir = mkdtempSync(join(tmpdir(), "gm-kube-drill-"));
  const stateDir = mkdtempSync(join(tmpdir(), "gm-state-"));
  const report = (name: string) => JSON.parse(readFileSync(join(reportDir, name, "report.json"), "utf8")) as DrillReport;
  const suiteStart = Date.now();

  beforeAll(async () => {
    cluster = await startNodeCluster({ metricsServer: true, onProgress: console.log });
    context = cluster.kc.getCurrentContext();
    await cluster.waitReady(
      [
        ["kafka", "kafka-", 3],
        ["gamemetrics", "postgres-", 1],
        ["gamemetrics", "ingest-api-", 2],
        ["gamemetrics", "event-processor-service-", 2],
        ["gamemetrics", "stats-api-", 2],
      ],
      600_000,
    );
    console.log(`cluster ready ${((Date.now() - suiteStart) / 1000).toFixed(1)} s after the suite started`);
    run = await runCli(
      [
        "drill",
        "kafka-broker-down",
        // before the OOM drill: it runs against the platform as the manifests shape it, not the OOM runbook's scale-out
        "db-pool-exhausted",
        "high-consumer-lag",
        "service-oom",
        "--platform",
        "kubernetes",
        "--kubeconfig",
        cluster.cp.kubeconfigPath,
        "--allow-context",
        context,
        "--allow-namespace",
        "kafka",
        "--allow-namespace",
        "gamemetrics",
        "--cluster-dns",
        clusterDnsIp,
        "--report-dir",
        reportDir,
        "--json",
        ...(withAlertmanager ? ["--alertmanager"] : []),
      ],
      { GM_STATE_DIR: stateDir },
    );
    for (const r of run.events.filter((e) => e["event"] === "result")) {
      const t = r["timings"] as DrillReport["timings"];
      const i = r["integrity"] as DrillReport["integrity"];
      const f = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${x.toFixed(1)} s`);
      console.log(
        `${r["scenario"]}: ${String(r["outcome"]).toUpperCase()} on the real node: detect ${f(t.detectSeconds)}, page ${f(t.pageSeconds)}, mitigate ${f(t.mitigateSeconds)}, recover ${f(t.recoverSeconds)}; integrity ${i ? `${i.found}/${i.acknowledged} found, ${i.lost} lost, ${i.duplicates} duplicated` : "not run"}${(r["reasons"] as string[] | undefined)?.length ? `; why: ${(r["reasons"] as string[]).join("; ")}` : ""}`,
      );
    }
    console.log(`CLI run (every drill): ${run.seconds.toFixed(1)} s; stderr: ${run.stderr.trim() || "(empty)"}`);
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.stop();
    console.log(`suite wall time ${((Date.now() - suiteStart) / 1000).toFixed(1)} s (cluster start, the drills, stop)`);
  }, 300_000);

  it("the CLI exits 0 with every drill passed", () => {
    // the outcomes and reasons first: a failure then names the drill and why, not only stderr's summary
    const results = run.events.filter((e) => e["event"] === "result");
    expect(results.map((r) => [r["scenario"], r["outcome"], r["reasons"]])).toEqual([
      ["kafka-broker-down", "passed", []],
      ["db-pool-exhausted", "passed", []],
      ["high-consumer-lag", "passed", []],
      ["service-oom", "passed", []],
    ]);
    expect(run.stderr).not.toMatch(/failed|aborted/);
    expect(run.code).toBe(0);
  });

  it("kafka-broker-down: detected from Kafka itself, every acknowledged event stored once, three brokers back", async () => {
    const r = report("kafka-broker-down");
    expect(r.drill.target).toEqual({ kind: "kubernetes", name: `${context}/kafka,gamemetrics` });
    expect(r.detected).toMatchObject({ kind: "kafka-broker-down", severity: "P2" });
    // integrity run, not "not run": the load went through ingest-api's Service
    expect(r.integrity).not.toBeNull();
    expect(r.integrity!.acknowledged).toBeGreaterThan(0);
    expect(r.integrity).toMatchObject({ lost: 0, duplicates: 0, altered: 0 });
    expect(r.integrity!.found).toBe(r.integrity!.acknowledged);
    // the runbook's verification read Kafka's own replication state, not the pods
    const verify = r.steps.find((s) => s.id === "kafka-verify-replication");
    expect(verify, "kafka-verify-replication ran").toBeDefined();
    expect(verify!.ok, verify!.output.join("\n")).toBe(true);
    expect(verify!.output.join("\n")).not.toMatch(/not reachable through the Kubernetes API/);
    // the prober's round read Kafka (brokers and lag), not only pod states
    expect(r.signals.some((s) => s.lag !== null)).toBe(true);
    expect(r.cleanup).toEqual({ ok: true, leftovers: [] });
    const sts = await cluster.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "kafka", namespace: "kafka" });
    expect(sts.status?.readyReplicas).toBe(3);
  });

  it("db-pool-exhausted: a leaking client through PostgreSQL's Service, detected from pool usage, its sessions gone afterwards", () => {
    const r = report("db-pool-exhausted");
    expect(r.detected).toMatchObject({ kind: "db-pool-exhausted" });
    // the runbook's PostgreSQL port answered (not "not reachable through the Kubernetes API")
    const count = r.steps.find((s) => s.id === "db-check-active-connections");
    expect(count?.ok, count?.output.join("\n")).toBe(true);
    expect(r.signals.some((s) => s.poolUsage !== null && s.poolUsage > 0)).toBe(true);
    expect(r.integrity).toMatchObject({ lost: 0, duplicates: 0, altered: 0 });
    expect(r.integrity!.acknowledged).toBeGreaterThan(0);
    expect(r.cleanup).toEqual({ ok: true, leftovers: [] });
  });

  it("high-consumer-lag: the consumers scaled to zero, the runbook's HPA-min scale-up drains the lag, the HPA's bounds restored", async () => {
    const r = report("high-consumer-lag");
    expect(r.detected).toMatchObject({ kind: "high-consumer-lag", severity: "P1" });
    expect(r.incidentsOpen?.find((i) => i.verdict === "expected")).toMatchObject({ subject: "event-processor-service" });
    // the lag was read from Kafka (the group's committed offsets against the log end), not guessed from pods
    expect(r.signals.some((s) => s.lag !== null && s.lag > 10_000)).toBe(true);
    const scaled = r.steps.find((s) => s.id === "lag-scale-up-consumers");
    expect(scaled?.ok, scaled?.output.join("\n")).toBe(true);
    expect(scaled!.output.join("\n")).toMatch(/event-processor-service: scaled 0 → \d replica/);
    const drained = r.steps.find((s) => s.id === "verify-lag-drains");
    expect(drained?.ok, drained?.output.join("\n")).toBe(true);
    expect(r.integrity).toMatchObject({ lost: 0, duplicates: 0, altered: 0 });
    expect(r.integrity!.acknowledged).toBeGreaterThan(0);
    expect(r.integrity!.found).toBe(r.integrity!.acknowledged);
    expect(r.cleanup).toEqual({ ok: true, leftovers: [] });
    // the manifest's HPA is back as deploy/platform/hpa.yaml has it, and acting again
    const hpa = await cluster.kc
      .makeApiClient(AutoscalingV2Api)
      .readNamespacedHorizontalPodAutoscaler({ name: "event-processor-service", namespace: "gamemetrics" });
    expect([hpa.spec?.minReplicas, hpa.spec?.maxReplicas]).toEqual([2, 6]);
    const dep = await cluster.kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "event-processor-service", namespace: "gamemetrics" });
    expect(dep.spec?.replicas).toBeGreaterThanOrEqual(2);
  });

  it("service-oom: a real kernel OOM kill (OOMKilled), its --previous logs read, the limit restored, no event lost", async () => {
    const r = report("service-oom");
    expect(r.detected).toMatchObject({ kind: "service-oom", severity: "P2" });
    expect(JSON.stringify(r.detected!.evidence)).toMatch(/oomKilled|OOMKilled/i);
    const triage = r.steps.find((s) => s.id === "oom-check-memory-limits");
    expect(triage?.output.join("\n")).toMatch(/oomKilled true/);
    const leaks = r.steps.find((s) => s.id === "oom-check-memory-leaks");
    expect(leaks?.ok, leaks?.output.join("\n")).toBe(true);
    expect(leaks!.output.join("\n")).toMatch(/of the OOM-killed run \(--previous\)/);
    expect(r.integrity).toMatchObject({ lost: 0, duplicates: 0, altered: 0 });
    expect(r.integrity!.acknowledged).toBeGreaterThan(0);
    expect(r.cleanup).toEqual({ ok: true, leftovers: [] });
    // the limit is back at (at least) the manifest's 256Mi and every stats-api pod runs with it
    const dep = await cluster.kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "stats-api", namespace: "gamemetrics" });
    const limit = dep.spec?.template.spec?.containers[0]?.resources?.limits?.["memory"];
    expect(limit === "256Mi" || Number(limit) >= 256 * 2 ** 20, `stats-api memory limit ${limit}`).toBe(true);
    await cluster.waitReady([["gamemetrics", "stats-api-", dep.spec?.replicas ?? 2]], 180_000);
  });

  it("bad-deployment: the readiness probe holds a revision with a wrong database password — no read fails; reviewed masked; the undo rolls back", async () => {
    const k8s = createKubernetesPlatform({
      kubeconfig: cluster.cp.kubeconfigPath,
      allow: { contexts: [context], namespaces: ["kafka", "gamemetrics"] },
    });
    const fault = createNamespaceFault(
      { type: "bad-deployment", params: { service: "stats-api", mistake: "wrong-database-password" } },
      k8s,
      { postgresUrl: "" },
    );
    const svc = await cluster.core.readNamespacedService({ name: "stats-api", namespace: "gamemetrics" });
    const base = `http://${svc.spec?.clusterIP}:8080`;
    const undo = await fault.prepare();
    await fault.apply(undo);
    const t0 = Date.now();
    const failed: string[] = [];
    let reads = 0;
    // reads through stats-api's Service for 40 s: 8 readiness periods of the new pod
    while (Date.now() - t0 < 40_000) {
      const r = await httpGet(`${base}/players/drill-reader/stats`).catch((err: Error) => ({ status: 0, body: err.message }));
      reads++;
      if (r.status === 0 || r.status >= 500) failed.push(`${r.status} ${r.body.slice(0, 120)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const history = await k8s.rollouts("stats-api");
    const pods = await k8s.pods("stats-api");
    const held = pods.filter((p) => p.spec?.containers[0]?.env?.some((e) => e.name === "DATABASE_URL" && e.value !== undefined));
    const serving = pods.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    console.log(
      `bad-deployment on the real node: ${reads} reads through the Service in 40 s, ${failed.length} failed; the new revision's pod(s) Ready: ${held.map((p) => p.status?.conditions?.find((c) => c.type === "Ready")?.status).join(", ")}; pods serving: ${serving.length}`,
    );
    expect(failed).toEqual([]);
    // the new revision exists, its pod runs and is held back by its readiness probe (/ready: PostgreSQL refuses the password)
    expect(history[0]).toMatchObject({
      revision: Number(undo["revision"]) + 1,
      current: true,
      changeCause: "bad-deployment drill: wrong-database-password",
    });
    expect(history[0]!.changes?.join("\n")).toMatch(/DATABASE_URL .*→ postgres:\/\/[^:]+:\*\*\*@/);
    expect(JSON.stringify(history)).not.toMatch(/wrong-[0-9a-f]{12}/);
    expect(held.length).toBeGreaterThan(0);
    // scheduled and running, and not Ready: held by its readiness probe (not Pending for want of room on the node)
    const state = held.map(
      (p) =>
        `${p.metadata?.name} ${p.status?.phase}: ${(p.status?.conditions ?? []).map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`).join(", ")}`,
    );
    expect(
      held.every(
        (p) =>
          p.status?.phase === "Running" &&
          p.status.conditions?.some((c) => c.type === "PodScheduled" && c.status === "True") &&
          p.status.conditions.some((c) => c.type === "Ready" && c.status === "False"),
      ),
      state.join("; "),
    ).toBe(true);
    expect(serving.length).toBe(Number(undo["replicas"]));
    await fault.recover(undo);
    expect(await fault.leftovers(undo)).toEqual([]);
    const dep = await cluster.kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "stats-api", namespace: "gamemetrics" });
    expect(dep.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === "DATABASE_URL")?.valueFrom?.secretKeyRef?.name).toBe(
      "postgres",
    );
    await until("the held pod gone, every stats-api pod Ready", async () => {
      const now = await k8s.pods("stats-api");
      return now.length === Number(undo["replicas"]) &&
        now.every((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
        ? true
        : undefined;
    });
  });
});
