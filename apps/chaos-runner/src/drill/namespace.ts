/**
 * A drill against a Kubernetes namespace, through the Kubernetes driver of the platform port.
 *
 * What it observes is what the API server knows: pods (running, OOMKilled in the last terminated
 * state, restarts, memory limits) and the Kafka brokers as the StatefulSet's pods. It does not send
 * load nor read Kafka or PostgreSQL (from outside the cluster their addresses are not reachable), so
 * the faults it drills are the platform's own — the broker kill and the memory limit — and the
 * integrity check is reported as not run, never as passed.
 *
 * Same lifecycle as the stack drill: steady state → the undo written durably → the fault → detection
 * by the runbook's classification → the runbook's steps → steady state again → undo → report.
 */
import { CATALOG } from "@gm/runbook/catalog";
import { SERVICE_NAMES } from "@gm/runbook/rules";
import { classify } from "@gm/runbook/classify";
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import { type DatabasePort, type KafkaPort, type PlatformPort, PortUnavailableError, type Ports } from "@gm/runbook/ports";
import { emptySnapshot, type Snapshot } from "@gm/runbook/snapshot";
import { instances } from "@gm/signals/snapshot";
import type { KubernetesPlatform } from "@gm/platform/kubernetes";
import { type DrillReport, REPORT_SCHEMA_VERSION } from "@gm/report/schema";
import { removeJournal, writeJournal, type Journal } from "./journal.js";
import { drillRecorder, incidentsSeen, runRemediation } from "./remediate.js";
import type { DrillProgress } from "./run.js";
import type { FaultSpec, FaultType, Scenario } from "./scenario.js";

/** Faults a namespace drill can inject and observe through the API server alone. */
export const NAMESPACE_FAULTS: readonly FaultType[] = ["kill-broker", "memory-limit"];

export interface KubernetesTargetRecord {
  kubeconfig?: string;
  context: string;
  namespaces: { kafka: string; platform: string };
  allow: { contexts: string[]; namespaces: string[] };
}

export interface NamespaceFault {
  describe(): string;
  prepare(): Promise<Record<string, unknown>>;
  apply(undo: Record<string, unknown>): Promise<void>;
  recover(undo: Record<string, unknown>): Promise<void>;
  leftovers(undo: Record<string, unknown>): Promise<string[]>;
}

/** The broker kill (`kubectl delete pod -n kafka`) and the lowered memory limit, each with its undo. */
export function createNamespaceFault(spec: FaultSpec, k8s: KubernetesPlatform): NamespaceFault {
  switch (spec.type) {
    case "kill-broker": {
      const count = Number(spec.params["count"] ?? 1);
      return {
        describe: () => `delete ${count} Kafka broker pod(s) in namespace ${k8s.targets.kafka.namespace} (the StatefulSet recreates them)`,
        async prepare() {
          const brokers = (await k8s.listInstances("kafka")).filter((b) => b.running);
          if (brokers.length < count) throw new Error(`kill-broker: ${count} broker pod(s) asked, ${brokers.length} running`);
          // the highest ordinals: kafka-0 is often the one a client bootstraps from
          return { pods: brokers.slice(-count).map((b) => b.name) };
        },
        async apply(undo) {
          for (const pod of undo["pods"] as string[]) await k8s.restart(pod);
        },
        // a deleted pod is recreated by its controller: nothing of the fault itself stays
        async recover() {},
        async leftovers() {
          return [];
        },
      };
    }
    case "memory-limit": {
      const service = String(spec.params["service"]) as "ingest-api" | "event-processor-service" | "stats-api";
      const bytes = Number(spec.params["bytes"]);
      return {
        describe: () => `lower the memory limit of ${service} (${k8s.targets[service].workload.kind} in ${k8s.targets[service].namespace}) to ${bytes} bytes`,
        async prepare() {
          const limit = await k8s.workloadMemoryLimit(service);
          if (limit === null) throw new Error(`memory-limit: ${service} has no memory limit to restore afterwards; set one in its manifest`);
          return { service, originalBytes: limit };
        },
        async apply() {
          await k8s.setMemoryLimit(service, bytes);
        },
        async recover(undo) {
          // never lower what the runbook's remediation raised: restore at least the original
          const now = await k8s.workloadMemoryLimit(service);
          if (now !== null && now >= Number(undo["originalBytes"])) return;
          await k8s.setMemoryLimit(service, Number(undo["originalBytes"]));
        },
        async leftovers(undo) {
          // what the fault changed is the workload's template; its pods follow by rollout
          const now = await k8s.workloadMemoryLimit(service);
          const w = k8s.targets[service].workload;
          return now !== null && now < Number(undo["originalBytes"]) ? [`${w.kind.toLowerCase()}/${w.name}: memory limit ${now} below the original ${undo["originalBytes"]}`] : [];
        },
      };
    }
    default:
      throw new Error(
        `fault ${spec.type} cannot be drilled against a namespace: it needs ${spec.type === "pause-consumers" ? "Kafka consumer lag" : "PostgreSQL connections"}, which the API server does not show; run it against the testcontainers stack (supported here: ${NAMESPACE_FAULTS.join(", ")})`,
      );
  }
}

/** A snapshot of what the API server shows: every pod as an instance, the brokers as Kafka's. */
export async function platformSnapshot(k8s: PlatformPort, brokersExpected: number, minInsyncReplicas: number): Promise<Snapshot> {
  const s = emptySnapshot(new Date().toISOString());
  try {
    s.instances = await instances(k8s);
    // a service's health as the API server shows it: each pod, ok while its container runs
    s.services = SERVICE_NAMES.map((service) => ({
      service,
      instances: s.instances.filter((i) => i.service === service).map((i) => ({ url: `pod/${i.instance}`, ok: i.running, status: null, latencyMs: null })),
    }));
    const brokers = s.instances.filter((i) => i.service === "kafka");
    s.kafka = {
      brokersExpected,
      brokers: brokers.map((b) => ({ nodeId: Number(/-(\d+)$/.exec(b.instance)?.[1] ?? -2) + 1, address: b.instance, up: b.running })),
      underReplicatedPartitions: 0,
      offlinePartitions: 0,
      minInsyncReplicas,
      groups: [],
    };
    for (let n = brokers.length; n < brokersExpected; n++) s.kafka.brokers.push({ nodeId: -1, address: "unknown", up: false });
  } catch (err) {
    s.collectionErrors.push({ collector: "instances", error: err instanceof Error ? err.message : String(err) });
  }
  return s;
}

const unavailable = (what: string) => () => Promise.reject(new PortUnavailableError(`${what} is not reachable through the Kubernetes API (it shows pods, not Kafka or PostgreSQL)`));

/** The runbook's ports over the API server alone: the platform, and a snapshot of what the API shows. */
export function namespacePorts(k8s: PlatformPort, brokersExpected: number, onSnapshot?: (s: Snapshot) => void): Ports {
  return {
    platform: k8s,
    // the brokers as the API server knows them: the StatefulSet's pods, up when running
    kafka: {
      brokers: async () =>
        (await k8s.listInstances("kafka")).map((b) => ({ nodeId: Number(/-(\d+)$/.exec(b.name)?.[1] ?? -2) + 1, address: `pod/${b.name}`, up: b.running })),
      underReplicatedPartitions: unavailable("Kafka"),
      groupLag: unavailable("Kafka"),
      groupMembers: unavailable("Kafka"),
    } satisfies KafkaPort,
    database: { connections: unavailable("PostgreSQL"), maxConnections: unavailable("PostgreSQL"), terminateIdle: unavailable("PostgreSQL") } satisfies DatabasePort,
    observe: {
      snapshot: async () => {
        const s = await platformSnapshot(k8s, brokersExpected, Math.min(2, brokersExpected));
        onSnapshot?.(s);
        return s;
      },
    },
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

export interface NamespaceDrillOptions {
  scenario: Scenario;
  platform: KubernetesPlatform;
  target: KubernetesTargetRecord;
  policy: Policy;
  onProgress?: (p: DrillProgress) => void;
  signal?: AbortSignal;
  /** observation interval (default 500 ms) */
  pollMs?: number;
}

interface Sample {
  at: number;
  snapshot: Snapshot;
  incidents: Incident[];
}

export async function runNamespaceDrill(o: NamespaceDrillOptions): Promise<DrillReport> {
  const sc = o.scenario.kubernetes ? { ...o.scenario, expect: o.scenario.kubernetes.expect } : o.scenario;
  const k8s = o.platform;
  const started = Date.now();
  const deadline = AbortSignal.timeout(sc.deadlines.drillSeconds * 1000);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const rec = drillRecorder(sc.name, started, o.onProgress);
  const { timeline, checks, reasons, steps, say, check } = rec;
  const samples: Sample[] = [];
  const fault = createNamespaceFault(sc.fault, k8s);
  const brokersExpected = (await k8s.listInstances("kafka")).length;
  const observe = async (): Promise<Sample> => {
    const snapshot = await platformSnapshot(k8s, brokersExpected, Math.min(2, brokersExpected));
    const x = { at: Date.now(), snapshot, incidents: classify(snapshot, o.policy) };
    samples.push(x);
    return x;
  };
  const until = async (done: (x: Sample) => boolean, ms: number): Promise<Sample | null> => {
    const end = Date.now() + ms;
    while (Date.now() < end && !signal.aborted) {
      const x = await observe();
      if (done(x)) return x;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
    return null;
  };
  const healthy = (x: Sample) => x.incidents.length === 0 && x.snapshot.collectionErrors.length === 0;
  const ports = namespacePorts(k8s, brokersExpected);
  const drillId = `${sc.name}-${Date.now().toString(36)}`;
  const journal: Journal = { drillId, stackId: `k8s:${o.target.context}`, postgresUrl: "", pid: process.pid, startedAt: new Date(started).toISOString(), entries: [], kubernetes: o.target };
  let undo: Record<string, unknown> | undefined;
  let injectedAt: number | null = null;
  let detected: Sample | null = null;
  let incident: Incident | undefined;
  let mitigatedAt: number | null = null;
  let recoveredAt: number | null = null;
  let cleanup: DrillReport["cleanup"] = { ok: false, leftovers: ["not reached"] };
  let outcome: DrillReport["outcome"] = "passed";
  const secs = (ms: number) => (ms / 1000).toFixed(1);
  const describe = (xs: Incident[] | undefined) => [...new Set((xs ?? []).map((i) => `${i.kind} ${i.severity} (${i.subject})`))].join(", ");

  try {
    say("steady-state", `waiting for every pod in ${k8s.targets.kafka.namespace} and ${k8s.targets["stats-api"].namespace} to run with no incident`);
    const steady = await until(healthy, 90_000);
    check("steady state before the fault", steady !== null, steady ? "no incident" : `incidents: ${describe(samples.at(-1)?.incidents)} ${JSON.stringify(samples.at(-1)?.snapshot.collectionErrors ?? [])}`);
    if (!steady) throw new Error("steady state did not hold before the fault");

    undo = await fault.prepare();
    journal.entries.push({ fault: sc.fault, undo, state: "applying" });
    writeJournal(journal); // the undo is durable before the fault acts
    say("inject", `fault: ${fault.describe()}`);
    injectedAt = Date.now();
    await fault.apply(undo);
    journal.entries[0]!.state = "applied";
    writeJournal(journal);

    say("detect", `waiting for ${sc.expect.kind} ${sc.expect.severity} (deadline ${sc.deadlines.detectSeconds} s)`);
    detected = await until((x) => x.incidents.some((i) => i.kind === sc.expect.kind && i.severity === sc.expect.severity), sc.deadlines.detectSeconds * 1000);
    check(
      `detected ${sc.expect.kind} ${sc.expect.severity} within ${sc.deadlines.detectSeconds} s`,
      detected !== null,
      detected ? `after ${secs(detected.at - injectedAt)} s` : `not classified; seen: ${describe(samples.filter((x) => x.at >= injectedAt!).flatMap((x) => x.incidents)) || "nothing"}`,
    );
    if (!detected) throw new Error("the fault was not detected");
    incident = detected.incidents.find((i) => i.kind === sc.expect.kind && i.severity === sc.expect.severity)!;
    say("detect", `detected ${incident.kind} ${incident.severity} on ${incident.subject} after ${secs(detected.at - injectedAt)} s`);

    await runRemediation({
      steps: sc.remediation === "none" ? [] : CATALOG[sc.expect.kind].steps,
      ports,
      incident,
      policy: o.policy,
      records: steps,
      say,
      guard: () => {
        if (signal.aborted) throw new Error(`aborted: ${String(signal.reason?.message ?? signal.reason)}`);
      },
      onMitigated: (t) => (mitigatedAt = t),
    });

    say("recover", `waiting for steady state (deadline ${sc.deadlines.recoverSeconds} s after the fault)`);
    const back = await until(healthy, Math.max(0, injectedAt + sc.deadlines.recoverSeconds * 1000 - Date.now()));
    recoveredAt = back?.at ?? null;
    check(`recovered within ${sc.deadlines.recoverSeconds} s`, back !== null, back ? `steady state after ${secs(back.at - injectedAt)} s` : `still open: ${describe(samples.at(-1)?.incidents)}`);
  } catch (err) {
    if (signal.aborted) outcome = "aborted";
    else if (!checks.some((c) => !c.ok)) outcome = "failed";
    reasons.push(err instanceof Error ? err.message : String(err));
    say(rec.phase, err instanceof Error ? err.message : String(err));
  } finally {
    if (undo) {
      say("cleanup", "undoing the fault");
      try {
        await fault.recover(undo);
        journal.entries[0]!.state = "recovered";
        writeJournal(journal);
      } catch (err) {
        reasons.push(`undo failed: ${err instanceof Error ? err.message : String(err)} (the journal keeps it for gm-chaos recover)`);
      }
    }
  }
  checks.push({ name: "no acknowledged event lost", ok: true, detail: "not checked: a namespace drill sends no events (run the drill on the testcontainers stack for integrity)" });
  if (undo) {
    const leftovers = await fault.leftovers(undo).catch((err: unknown) => [`could not check: ${String(err)}`]);
    cleanup = { ok: leftovers.length === 0, leftovers };
    check("clean-up: nothing of the fault is left", leftovers.length === 0, leftovers.join("; ") || "no leftovers");
    if (leftovers.length === 0) removeJournal(drillId);
  } else cleanup = { ok: true, leftovers: [] };
  if (outcome !== "aborted" && checks.some((c) => !c.ok)) outcome = "failed";
  const rel = (t: number | null) => (t === null || injectedAt === null ? null : (t - injectedAt) / 1000);
  say("cleanup", `drill ${outcome}${reasons.length ? `: ${reasons.join("; ")}` : ""}`);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    drill: {
      scenario: sc.name,
      file: sc.file,
      hypothesis: sc.hypothesis,
      fault: { type: sc.fault.type, params: sc.fault.params, description: fault.describe() },
      expected: sc.expect,
      target: { kind: "kubernetes", name: `${o.target.context}/${o.target.namespaces.kafka},${o.target.namespaces.platform}` },
    },
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    outcome,
    reasons,
    timings: {
      detectSeconds: rel(detected?.at ?? null),
      mitigateSeconds: rel(mitigatedAt),
      recoverSeconds: rel(recoveredAt),
      responseMinutes: o.policy.severities[sc.expect.severity].responseMinutes,
      deadlines: { detectSeconds: sc.deadlines.detectSeconds, recoverSeconds: sc.deadlines.recoverSeconds },
    },
    detected: incident ? { kind: incident.kind, severity: incident.severity, evidence: incident.evidence } : null,
    incidentsSeen: incidentsSeen(samples),
    steps,
    integrity: null,
    cleanup,
    checks,
    timeline,
    signals: samples.map((x) => {
      const roles = [...new Set(x.snapshot.instances.map((i) => i.service))];
      return {
        at: new Date(x.at).toISOString(),
        errorRate: null,
        lag: null,
        poolUsage: null,
        healthy: roles.filter((r) => x.snapshot.instances.filter((i) => i.service === r).every((i) => i.running && !i.oomKilled)).length,
        services: roles.length,
        incidents: x.incidents.map((i) => `${i.kind}:${i.severity}`),
      };
    }),
  };
}
