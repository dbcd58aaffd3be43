/**
 * One drill, end to end: steady state → load (every acknowledged event remembered) → the fault's undo
 * recorded durably, then the fault → detection by the prober's classification (time to detect) → the
 * runbook's own steps (time to mitigate) → steady state again (time to recover) → integrity (every
 * acknowledged event in PostgreSQL exactly once) → undo whatever is left → the report.
 * A missed hypothesis, deadline or integrity check fails the drill; aborts (SIGINT/SIGTERM, the drill's
 * global deadline, `gm-chaos halt`) undo the fault first.
 */
import { CATALOG } from "@gm/runbook/catalog";
import type { Incident } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { Ports } from "@gm/runbook/ports";
import type { Step } from "@gm/runbook/steps";
import { createDockerPlatform } from "@gm/platform/docker";
import { createLokiLogs, withLokiLogs } from "@gm/platform/loki";
import { createKafkaPort } from "@gm/platform/kafka";
import { createDatabasePort } from "@gm/platform/postgres";
import { type DrillPhase, type DrillReport, REPORT_SCHEMA_VERSION } from "@gm/report/schema";
import { checkStored } from "@gm/stack/load";
import type { StackEndpoints } from "@gm/stack/stack";
import { fileURLToPath } from "node:url";
import { type LoadRun, startHttpLoad } from "../load/http-load.js";
import { findK6, startK6Load } from "../load/k6.js";
import { createFault } from "./faults.js";
import { removeJournal, writeJournal, type Journal } from "./journal.js";
import { createObserver, signalSample, type Observation } from "./observe.js";
import { drillRecorder, incidentsSeen, runRemediation } from "./remediate.js";
import type { Scenario } from "./scenario.js";

export interface DrillProgress {
  scenario: string;
  phase: DrillPhase;
  elapsedSeconds: number;
  message: string;
}

export interface DrillOptions {
  scenario: Scenario;
  endpoints: StackEndpoints;
  brokers: number;
  policy: Policy;
  onProgress?: (p: DrillProgress) => void;
  /** aborts the drill (SIGINT/SIGTERM, halt); the fault is undone before it returns */
  signal?: AbortSignal;
  /** replaces the runbook's steps (tests prove that a do-nothing remediation fails the drill) */
  steps?: Step[];
  /** "k6": the scenarios/k6 script through a k6 binary (GM_K6_BIN or PATH); default: the built-in generator */
  load?: "builtin" | "k6";
  /** called after the load stopped and before integrity is checked (tests tamper here) */
  beforeIntegrity?: () => Promise<void>;
  /** a Loki base URL: the runbook's log steps read Loki (label instance=<name>) instead of the containers */
  lokiUrl?: string;
}

class DrillAbort extends Error {}

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const sc = o.scenario;
  const started = Date.now();
  const deadline = AbortSignal.timeout(sc.deadlines.drillSeconds * 1000);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const rec = drillRecorder(sc.name, started, o.onProgress);
  const { timeline, checks, reasons, steps, say, check } = rec;
  const guard = () => {
    if (signal.aborted) throw new DrillAbort(deadline.aborted ? `the drill's global deadline of ${sc.deadlines.drillSeconds} s passed` : `aborted: ${String(signal.reason?.message ?? signal.reason ?? "signal")}`);
  };

  const e = o.endpoints;
  const platform = createDockerPlatform({ stackId: e.stackId });
  const kafka = createKafkaPort({ brokers: e.kafkaBootstrapServers, topic: e.topic });
  const database = createDatabasePort({ url: e.postgresUrl });
  const observer = createObserver({ endpoints: e, policy: o.policy, platform });
  const stepPlatform = o.lokiUrl ? withLokiLogs(platform, createLokiLogs({ url: o.lokiUrl })) : platform;
  const ports: Ports = { platform: stepPlatform, kafka, database, observe: observer.observe, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  const fault = createFault(sc.fault, { stackId: e.stackId, brokers: o.brokers, postgresUrl: e.postgresUrl });
  const drillId = `${sc.name}-${Date.now().toString(36)}`;
  const journal: Journal = { drillId, stackId: e.stackId, postgresUrl: e.postgresUrl, pid: process.pid, startedAt: new Date(started).toISOString(), entries: [] };
  let undo: Record<string, unknown> | undefined;
  let injectedAt: number | null = null;
  let detected: Observation | null = null;
  let detectedIncident: Incident | undefined;
  let mitigatedAt: number | null = null;
  let recoveredAt: number | null = null;
  let integrity: DrillReport["integrity"] = null;
  let cleanup: DrillReport["cleanup"] = { ok: false, leftovers: ["not reached"] };
  let outcome: DrillReport["outcome"] = "passed";
  const load = { run: undefined as LoadRun | undefined, acknowledged: [] as string[] };
  const healthy = (x: Observation) => x.incidents.length === 0;
  /** While waiting, say every 10 s what is awaited and what the prober sees. */
  const awaiting = (p: DrillPhase, what: string) => {
    const t = setInterval(() => {
      const last = observer.samples.at(-1);
      say(p, `still waiting for ${what}; open: ${describe(last?.incidents) || "nothing"}`);
    }, 10_000);
    return () => clearInterval(t);
  };

  observer.start();
  try {
    say("steady-state", "waiting for the prober to classify the stack as healthy");
    const doneSteady = awaiting("steady-state", "steady state");
    const steady = await observer.until(healthy, 90_000, signal).finally(doneSteady);
    guard();
    check("steady state before the fault", steady !== null, steady ? "no incident" : `incidents: ${describe(observer.samples.at(-1)?.incidents)}`);
    if (!steady) throw new DrillAbort("steady state did not hold before the fault");

    say("load", `load: ${sc.load.rate} batches/s × ${sc.load.batch} events to ingest-api, ${sc.load.reads} stats reads/s`);
    if (o.load === "k6") {
      const bin = findK6();
      if (!bin) throw new DrillAbort("--load k6: no k6 binary (set GM_K6_BIN or put k6 on PATH)");
      const script = fileURLToPath(new URL("../../../../scenarios/k6/ingest-load.ts", import.meta.url));
      load.run = startK6Load({ bin, script, ingestUrl: e.services["ingest-api"], runId: drillId, rate: sc.load.rate, batch: sc.load.batch });
    } else {
      load.run = startHttpLoad({ ingestUrl: e.services["ingest-api"], runId: drillId, rate: sc.load.rate, batch: sc.load.batch, reads: { statsUrl: e.services["stats-api"], rate: sc.load.reads } });
    }
    await observer.until(() => (load.run?.acknowledgedCount() ?? 0) > 0, 30_000, signal);

    undo = await fault.prepare();
    journal.entries.push({ fault: sc.fault, undo, state: "applying" });
    writeJournal(journal); // the undo is durable before the fault acts
    guard();
    say("inject", `fault: ${fault.describe()}`);
    injectedAt = Date.now();
    await fault.apply(undo);
    journal.entries[0]!.state = "applied";
    writeJournal(journal);

    say("detect", `waiting for ${sc.expect.kind} ${sc.expect.severity} (deadline ${sc.deadlines.detectSeconds} s)`);
    const doneDetect = awaiting("detect", `${sc.expect.kind} ${sc.expect.severity}`);
    detected = await observer.until((x) => x.incidents.some((i) => i.kind === sc.expect.kind && i.severity === sc.expect.severity), sc.deadlines.detectSeconds * 1000, signal).finally(doneDetect);
    guard();
    const seenKinds = describe(observer.samples.filter((x) => x.at >= injectedAt!).flatMap((x) => x.incidents));
    check(`detected ${sc.expect.kind} ${sc.expect.severity} within ${sc.deadlines.detectSeconds} s`, detected !== null, detected ? `after ${secs(detected.at - injectedAt)} s` : `not classified; seen: ${seenKinds || "nothing"}`);
    if (!detected) throw new DrillAbort("the fault was not detected");
    detectedIncident = detected.incidents.find((i) => i.kind === sc.expect.kind && i.severity === sc.expect.severity)!;
    say("detect", `detected ${detectedIncident.kind} ${detectedIncident.severity} on ${detectedIncident.subject} after ${secs(detected.at - injectedAt)} s`);

    const runbookSteps = sc.remediation === "none" ? [] : (o.steps ?? CATALOG[sc.expect.kind].steps);
    await runRemediation({ steps: runbookSteps, ports, incident: detectedIncident, policy: o.policy, records: steps, say, guard, onMitigated: (t) => (mitigatedAt = t) });
    if (runbookSteps.length === 0) say("mitigate", "no remediation (remediation: none)");

    say("recover", `waiting for steady state (deadline ${sc.deadlines.recoverSeconds} s after the fault)`);
    const remaining = injectedAt + sc.deadlines.recoverSeconds * 1000 - Date.now();
    const doneBack = awaiting("recover", "steady state");
    const back = remaining > 0 ? await observer.until(healthy, remaining, signal).finally(doneBack) : null;
    doneBack();
    guard();
    recoveredAt = back?.at ?? null;
    check(
      `recovered within ${sc.deadlines.recoverSeconds} s`,
      back !== null,
      back ? `steady state after ${secs(back.at - injectedAt)} s` : `still open: ${describe(observer.samples.at(-1)?.incidents)}`,
    );
    if (back) say("recover", `steady state again after ${secs(back.at - injectedAt)} s`);
  } catch (err) {
    if (err instanceof DrillAbort) {
      if (signal.aborted) {
        outcome = "aborted";
        reasons.push(err.message);
      }
      say(rec.phase, err.message);
    } else {
      outcome = "failed";
      reasons.push(`drill error in ${rec.phase}: ${err instanceof Error ? err.message : String(err)}`);
      say(rec.phase, `error: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    // Undo first (bounded: within 10 s of an abort), then stop the load, then integrity.
    if (undo) {
      say("cleanup", "undoing the fault");
      try {
        await withTimeout(fault.recover(undo), 10_000);
        journal.entries[0]!.state = "recovered";
        writeJournal(journal);
      } catch (err) {
        reasons.push(`undo failed: ${err instanceof Error ? err.message : String(err)} (the journal keeps it for gm-chaos recover)`);
      }
    }
    if (load.run) {
      const r = await load.run.stop();
      load.acknowledged = r.acknowledged;
      say("integrity", `load stopped: ${r.acknowledged.length} events acknowledged, statuses ${JSON.stringify(r.statusCounts)}`);
    }
  }

  if (load.acknowledged.length > 0 && outcome !== "aborted") {
    await o.beforeIntegrity?.();
    say("integrity", `checking that all ${load.acknowledged.length} acknowledged events are in PostgreSQL exactly once`);
    // Wait until the processor has caught up (lag 0) or every event is there; then judge once.
    const until = Date.now() + 180_000;
    let r = await checkStored(e.postgresUrl, load.acknowledged);
    while (r.lost.length > 0 && Date.now() < until) {
      const lag = await kafka.groupLag(e.consumerGroup).catch(() => -1);
      if (lag === 0) {
        r = await checkStored(e.postgresUrl, load.acknowledged);
        break;
      }
      await new Promise((res) => setTimeout(res, 1_000));
      r = await checkStored(e.postgresUrl, load.acknowledged);
    }
    integrity = { acknowledged: r.expected, found: r.found, lost: r.lost.length, duplicates: r.duplicates, lostSample: r.lost.slice(0, 10) };
    check("no acknowledged event lost", r.lost.length === 0, `${r.found}/${r.expected} found, ${r.lost.length} lost`);
    check("no event stored twice", r.duplicates === 0, `${r.duplicates} duplicates`);
  }
  if (undo) {
    const leftovers = await fault.leftovers(undo).catch((err: unknown) => [`could not check: ${String(err)}`]);
    cleanup = { ok: leftovers.length === 0, leftovers };
    check("clean-up: nothing of the fault is left", leftovers.length === 0, leftovers.join("; ") || "no leftovers");
    if (leftovers.length === 0) removeJournal(drillId);
  } else cleanup = { ok: true, leftovers: [] };
  await observer.stop();
  await Promise.all([kafka.close(), database.close()]);

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
      target: { kind: "testcontainers", name: e.stackId },
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
    detected: detectedIncident ? { kind: detectedIncident.kind, severity: detectedIncident.severity, evidence: detectedIncident.evidence } : null,
    incidentsSeen: incidentsSeen(observer.samples),
    steps,
    integrity,
    cleanup,
    checks,
    timeline,
    signals: observer.samples.map(signalSample),
  };
}

const secs = (ms: number) => (ms / 1000).toFixed(1);
const describe = (incidents: Incident[] | undefined) => [...new Set((incidents ?? []).map((i) => `${i.kind} ${i.severity} (${i.subject})`))].join(", ");

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}
