/**
 * The one drill lifecycle, for every target (the testcontainers stack, a Kubernetes namespace):
 * steady state → load (every acknowledged event remembered) → the fault's undo recorded durably, then
 * the fault → detection by the prober's classification, at the end of the round that showed it (time to
 * detect) and the page through Alertmanager (time to page) → the runbook's own steps (time to mitigate)
 * → the prober resolves everything (time to recover) → the post-recovery hold → integrity → undo → report.
 *
 * The verdict is evidence: the expected incident within its deadline; nothing worse and nothing
 * unexpected open (unless the drill file lists it, with why); the hypothesis's tolerances measured; every
 * step that ran did its job; recovery, integrity and clean-up. Aborts (SIGINT/SIGTERM, the global
 * deadline, `gm-chaos halt`) undo the fault first, bounded to 10 s.
 */
import { CATALOG } from "@gm/runbook/catalog";
import type { Incident, Severity } from "@gm/runbook/incident";
import { redactUrl } from "@gm/runbook/redact";
import type { Policy } from "@gm/runbook/policy";
import { unsettledWindows } from "@gm/runbook/rules";
import type { Ports } from "@gm/runbook/ports";
import type { Step } from "@gm/runbook/steps";
import type { RunningAlertmanager } from "@gm/monitor/alertmanager-run";
import { type DrillPhase, type DrillReport, REPORT_SCHEMA_VERSION } from "@gm/report/schema";
import type { LoadRun } from "../load/http-load.js";
import type { Fault } from "./faults.js";
import { processStartTime, removeJournal, writeJournal, type Journal } from "./journal.js";
import { leaseSeconds, processAlive, spawnWatchdog } from "./watchdog.js";
import { type Observation, type Observer, signalSample } from "./observe.js";
import { drillRecorder, incidentsSeen, runRemediation } from "./remediate.js";
import type { ExpectedCollateral, Scenario } from "./scenario.js";
import { judgeIncidents, measureTolerances, pagesCheck, type RequestOutcome, stepChecks, worstSeverity } from "./verdict.js";

export interface DrillProgress {
  scenario: string;
  phase: DrillPhase;
  elapsedSeconds: number;
  message: string;
}

/** Integrity as the target can check it: every acknowledged event stored exactly once, as it was sent. */
export interface IntegrityResult {
  expected: number;
  found: number;
  lost: string[];
  duplicates: number;
  /** acknowledged events stored with other content than was sent */
  altered: string[];
  /** stored events whose content was compared (0: the load gave no digests, ids only) */
  compared: number;
}

/** What a drill runs against. */
export interface DrillTarget {
  kind: DrillReport["drill"]["target"]["kind"];
  name: string;
  /** the runbook's ports (their `observe` is the observer's) */
  ports: Ports;
  observer: Observer;
  /** the observer outlives the drill (one continuous prober for a game day, as in production): not stopped here */
  sharedObserver?: boolean;
  /** where the prober's rounds come from and with which settings, for the report */
  observerInfo: NonNullable<DrillReport["observer"]>;
  fault: Fault;
  journal: Omit<Journal, "drillId" | "pid" | "startedAt" | "entries">;
  /** the drill's load, where the target can take it */
  startLoad?: (runId: string) => LoadRun;
  /** integrity, where the target can read what was stored (waits for the consumers to catch up) */
  checkIntegrity?: (acknowledged: string[], digests?: ReadonlyMap<string, string>) => Promise<IntegrityResult>;
  /** what the target expects instead of the scenario, where the platform makes it differ */
  expect?: { kind: Incident["kind"]; severity: Severity };
  alsoExpected?: ExpectedCollateral[];
  mayFail?: Scenario["mayFail"];
  /** steady state: the prober has nothing open (default), plus whatever the target adds */
  steady?: (o: Observation) => boolean;
  /** the steady-state wait, and what it waits for (said in progress) */
  steadyState: { timeoutMs: number; what: string };
  close(): Promise<void>;
}

export interface LifecycleOptions {
  scenario: Scenario;
  target: DrillTarget;
  policy: Policy;
  onProgress?: (p: DrillProgress) => void;
  signal?: AbortSignal;
  /** replaces the runbook's steps (tests prove that a broken remediation fails the drill) */
  steps?: Step[];
  /** called right after the fault was applied (tests make a service misbehave here) */
  afterInject?: () => Promise<void>;
  /** called after the load stopped and before integrity is checked, with the ids the load got acknowledged (tests tamper here) */
  beforeIntegrity?: (acknowledged: readonly string[]) => Promise<void>;
  /** the Alertmanager the prober's alerts go to, whose receivers record time to page */
  alertmanager?: RunningAlertmanager;
  /** seconds the load keeps running after recovery, for `during: after` tolerances (default: two prober intervals) */
  afterSeconds?: number;
  /** the fault's lease (dead-man's switch) in seconds (default: GM_CHAOS_LEASE_SECONDS, else 10) */
  leaseSeconds?: number;
  /** false: no watchdog process (the lease is still written and renewed) */
  watchdog?: false;
}

/** An abort of the drill: it undoes the fault and reports why. */
export class DrillAbort extends Error {}

export async function runLifecycle(o: LifecycleOptions): Promise<DrillReport> {
  const t = o.target;
  const expect = t.expect ?? o.scenario.expect;
  const sc: Scenario = {
    ...o.scenario,
    expect,
    alsoExpected: t.alsoExpected ?? o.scenario.alsoExpected,
    mayFail: t.mayFail ?? o.scenario.mayFail,
  };
  const started = Date.now();
  const deadline = AbortSignal.timeout(sc.deadlines.drillSeconds * 1000);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const rec = drillRecorder(sc.name, started, o.onProgress);
  const { timeline, checks, reasons, steps, say, check } = rec;
  const guard = () => {
    if (signal.aborted)
      throw new DrillAbort(
        deadline.aborted
          ? `the drill's global deadline of ${sc.deadlines.drillSeconds} s passed`
          : `aborted: ${String(signal.reason?.message ?? signal.reason ?? "signal")}`,
      );
  };
  const { observer, fault } = t;
  const drillId = `${sc.name}-${Date.now().toString(36)}`;
  const pidStart = processStartTime(process.pid);
  const journal: Journal = {
    ...t.journal,
    drillId,
    pid: process.pid,
    ...(pidStart ? { pidStart } : {}),
    startedAt: new Date(started).toISOString(),
    entries: [],
  };
  let undo: Record<string, unknown> | undefined;
  const lease = leaseSeconds(o.leaseSeconds);
  let renewal: NodeJS.Timeout | undefined;
  let injectedAt: number | null = null;
  let detected: Observation | null = null;
  let detectedIncident: Incident | undefined;
  let mitigatedAt: number | null = null;
  let recoveredAt: number | null = null;
  let afterUntil: number | null = null;
  let integrity: DrillReport["integrity"] = null;
  let cleanup: DrillReport["cleanup"] = { ok: false, leftovers: ["not reached"] };
  let outcome: DrillReport["outcome"] = "passed";
  let load: LoadRun | undefined;
  let acknowledged: string[] = [];
  let digests: ReadonlyMap<string, string> | undefined;
  let requests: RequestOutcome[] = [];
  const nothingOpen = (x: Observation) => x.incidents.length === 0 && x.active.length === 0 && (t.steady?.(x) ?? true);
  // Rates are over the prober's window: before it is full, one slow answer among a few requests reads as
  // a high error rate, which a prober that has been running (production's) would not see. So the fault
  // waits until the prober has a full window behind it (at once on a game day's continuous prober).
  const windowMs = t.observerInfo.windowSeconds * 1000;
  const observingSince = () => observer.samples[0]?.startedAt ?? Date.now();
  // Incidents are judged over two windows (the errors must still be happening), so an earlier fault's
  // errors can still fill the long window with nothing open: the fault also waits until the windows
  // settled, or its first round would add to them and the verdict would depend on the drill before it.
  const steadyAndWarm = (x: Observation) =>
    nothingOpen(x) && x.at - observingSince() >= windowMs && unsettledWindows(x.snapshot, o.policy).length === 0;
  const isExpected = (i: Incident) => i.kind === expect.kind && i.severity === expect.severity;
  /** While waiting, say every 10 s what is awaited and what the prober sees. */
  const awaiting = (p: DrillPhase, what: string) => {
    const timer = setInterval(() => {
      const last = observer.samples.at(-1);
      const unsettled = p === "steady-state" && last ? unsettledWindows(last.snapshot, o.policy) : [];
      say(
        p,
        `still waiting for ${what}; open: ${describe(last?.active) || "nothing"}${unsettled.length > 0 ? `; the windows still hold ${unsettled.join(", ")}` : ""}`,
      );
    }, 10_000);
    return () => clearInterval(timer);
  };

  // The dead-man's switch's holder starts first: whenever this runner dies after writing its journal, it is there.
  const watchdog = o.watchdog === false ? undefined : spawnWatchdog(drillId);
  say(
    "steady-state",
    `observing with ${t.observerInfo.source} every ${t.observerInfo.intervalSeconds} s (timeout ${t.observerInfo.timeoutMs} ms, window ${t.observerInfo.windowSeconds} s, resolve after ${t.observerInfo.resolveAfterRounds} clean rounds)${o.alertmanager ? `, alerts to ${redactUrl(o.alertmanager.url)}` : ""}`,
  );
  observer.start();
  try {
    say("steady-state", `waiting for ${t.steadyState.what}`);
    const doneSteady = awaiting("steady-state", "steady state");
    if (Date.now() - observingSince() < windowMs)
      say("steady-state", `the prober's window (${t.observerInfo.windowSeconds} s) fills before the fault, as it is in production`);
    const steady = await observer.until(steadyAndWarm, t.steadyState.timeoutMs + windowMs, signal).finally(doneSteady);
    guard();
    const last = observer.samples.at(-1);
    check(
      "steady state before the fault",
      steady !== null,
      steady
        ? "no incident, the windows settled"
        : `open: ${describe(last?.active) || "nothing"}; windows: ${(last ? unsettledWindows(last.snapshot, o.policy) : []).join(", ") || "settled"}; collection errors: ${JSON.stringify(last?.snapshot.collectionErrors ?? [])}`,
    );
    if (!steady) throw new DrillAbort("steady state did not hold before the fault");

    if (t.startLoad) {
      say("load", `load: ${sc.load.rate} batches/s × ${sc.load.batch} events to ingest-api, ${sc.load.reads} stats reads/s`);
      load = t.startLoad(drillId);
      const firstAck = Date.now() + 30_000;
      while (load.acknowledgedCount() === 0 && Date.now() < firstAck) {
        guard();
        await new Promise((r) => setTimeout(r, 100));
      }
    } else say("load", `no load: a ${t.kind} target sends none (integrity is not checked)`);

    undo = await fault.prepare();
    journal.entries.push({ fault: sc.fault, undo, state: "applying" });
    // The dead-man's switch: the undo and the lease are durable before the fault acts, and the watchdog
    // that undoes the fault once the lease lapses (this runner killed or hung) starts before it acts too.
    journal.lease = { seconds: lease, expiresAt: new Date(Date.now() + lease * 1000).toISOString() };
    if (watchdog) journal.watchdog = watchdog;
    writeJournal(journal);
    if (watchdog)
      say(
        "inject",
        `watchdog pid ${watchdog.pid} holds the fault's lease (${lease} s, renewed every ${secs((lease * 1000) / 3)} s): it undoes the fault if this runner stops renewing it`,
      );
    renewal = setInterval(
      () => {
        try {
          journal.lease = { seconds: lease, expiresAt: new Date(Date.now() + lease * 1000).toISOString() };
          writeJournal(journal);
        } catch (err) {
          say(
            rec.phase,
            `could not renew the fault's lease (the watchdog will undo the fault when it lapses): ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      },
      (lease * 1000) / 3,
    );
    guard();
    say("inject", `fault: ${fault.describe()}`);
    injectedAt = Date.now();
    await fault.apply(undo);
    journal.entries[0]!.state = "applied";
    writeJournal(journal);
    await o.afterInject?.();

    say("detect", `waiting for ${expect.kind} ${expect.severity} (deadline ${sc.deadlines.detectSeconds} s)`);
    const doneDetect = awaiting("detect", `${expect.kind} ${expect.severity}`);
    // a round that ended since the injection counts too (it may have ended while the fault was applied)
    detected =
      observer.samples.find((x) => x.at >= injectedAt! && x.incidents.some(isExpected)) ??
      (await observer
        .until((x) => x.incidents.some(isExpected), injectedAt + sc.deadlines.detectSeconds * 1000 - Date.now(), signal)
        .finally(doneDetect));
    doneDetect();
    guard();
    const seenKinds = describe(observer.samples.filter((x) => x.at >= injectedAt!).flatMap((x) => x.incidents));
    check(
      `detected ${expect.kind} ${expect.severity} within ${sc.deadlines.detectSeconds} s`,
      detected !== null,
      detected
        ? `after ${secs(detected.at - injectedAt)} s (end of the round that showed it)`
        : `not detected; seen: ${seenKinds || "nothing"}`,
    );
    if (!detected) throw new DrillAbort("the fault was not detected");
    detectedIncident = detected.incidents.find(isExpected)!;
    say(
      "detect",
      `detected ${detectedIncident.kind} ${detectedIncident.severity} on ${detectedIncident.subject} after ${secs(detected.at - injectedAt)} s`,
    );

    const runbookSteps = sc.remediation === "none" ? [] : (o.steps ?? CATALOG[expect.kind].steps);
    await runRemediation({
      steps: runbookSteps,
      ports: t.ports,
      incident: detectedIncident,
      policy: o.policy,
      topology: detected.snapshot.topology,
      // the incident opened with the first round after the fault that showed any incident (the expected one, or collateral first)
      openedAt: (observer.samples.find((x) => x.at >= injectedAt! && x.incidents.length > 0) ?? detected).at,
      records: steps,
      say,
      guard,
      onMitigated: (at) => (mitigatedAt = at),
    });
    if (runbookSteps.length === 0) say("mitigate", "no remediation (remediation: none)");

    say("recover", `waiting for the prober to resolve every incident (deadline ${sc.deadlines.recoverSeconds} s after the fault)`);
    const remaining = injectedAt + sc.deadlines.recoverSeconds * 1000 - Date.now();
    const doneBack = awaiting("recover", "steady state");
    const back = remaining > 0 ? await observer.until(nothingOpen, remaining, signal).finally(doneBack) : null;
    doneBack();
    guard();
    recoveredAt = back?.at ?? null;
    check(
      `recovered within ${sc.deadlines.recoverSeconds} s`,
      back !== null,
      back
        ? `the prober resolved everything after ${secs(back.at - injectedAt)} s`
        : `still open: ${describe(observer.samples.at(-1)?.active)}`,
    );
    if (back) say("recover", `steady state again after ${secs(back.at - injectedAt)} s`);
    if (back && load && sc.tolerances.some((x) => x.during === "after")) {
      const hold = (o.afterSeconds ?? (2 * observer.intervalMs) / 1000) * 1000;
      say("recover", `holding the load ${secs(hold)} s after recovery (tolerances measured after the fault)`);
      await new Promise((r) => setTimeout(r, hold));
      afterUntil = Date.now();
    }
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
    // Undo first (bounded: within 10 s of an abort), then stop the load, then integrity. The lease is no
    // longer renewed: should this undo fail, the watchdog takes it over (and retries) once the lease lapses.
    clearInterval(renewal);
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
    if (load) {
      const r = await load.stop();
      acknowledged = r.acknowledged;
      digests = r.digests;
      requests = r.requests;
      say("integrity", `load stopped: ${r.acknowledged.length} events acknowledged, statuses ${JSON.stringify(r.statusCounts)}`);
    }
  }

  if (t.checkIntegrity && acknowledged.length > 0 && outcome !== "aborted") {
    await o.beforeIntegrity?.(acknowledged);
    say(
      "integrity",
      `checking that all ${acknowledged.length} acknowledged events are stored exactly once${digests ? ", as they were sent" : ""}`,
    );
    const t0 = performance.now();
    const r = await t.checkIntegrity(acknowledged, digests);
    say(
      "integrity",
      `${r.found}/${r.expected} found, ${r.lost.length} lost, ${r.duplicates} duplicated, ${r.compared > 0 ? `${r.altered.length} altered of ${r.compared} compared` : "content not compared"} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    integrity = {
      acknowledged: r.expected,
      found: r.found,
      lost: r.lost.length,
      duplicates: r.duplicates,
      lostSample: r.lost.slice(0, 10),
      ...(r.compared > 0 ? { altered: r.altered.length, alteredSample: r.altered.slice(0, 10) } : {}),
    };
    check("no acknowledged event lost", r.lost.length === 0, `${r.found}/${r.expected} found, ${r.lost.length} lost`);
    check("no event stored twice", r.duplicates === 0, `${r.duplicates} duplicates`);
    check(
      "no acknowledged event altered",
      r.altered.length === 0,
      r.compared === 0
        ? "not compared: the load reported acknowledged ids without their content (k6)"
        : r.altered.length === 0
          ? `${r.compared} stored events compared with what was sent: all equal`
          : `${r.altered.length} of ${r.compared} stored with other content than was sent: ${r.altered.slice(0, 10).join(", ")}${r.altered.length > 10 ? ", …" : ""}`,
    );
  } else if (!t.checkIntegrity) {
    checks.push({
      name: "no acknowledged event lost",
      ok: true,
      detail: `not checked: a ${t.kind} drill sends no events (run the drill on the testcontainers stack for integrity)`,
    });
  }
  if (undo) {
    const leftovers = await fault.leftovers(undo).catch((err: unknown) => [`could not check: ${String(err)}`]);
    cleanup = { ok: leftovers.length === 0, leftovers };
    check("clean-up: nothing of the fault is left", leftovers.length === 0, leftovers.join("; ") || "no leftovers");
    if (leftovers.length === 0) removeJournal(drillId);
  } else {
    cleanup = { ok: true, leftovers: [] };
    // no journal was written: nothing for the watchdog to hold (it would wait for one while this process lives)
    if (watchdog && processAlive(watchdog)) {
      try {
        process.kill(watchdog.pid, "SIGTERM");
      } catch {
        // gone already
      }
    }
  }
  if (!t.sharedObserver) await observer.stop();
  // a shared observer holds the drills before this one too: this drill's record starts with it
  const samples = observer.samples.filter((x) => x.at >= started);
  await t.close();

  // The verdict's evidence, measured on what the prober saw and what the load got.
  const opened = injectedAt === null ? [] : judgeIncidents(samples, injectedAt, expect, sc.alsoExpected, o.policy);
  if (injectedAt !== null && detected) {
    const c = pagesCheck(opened);
    check(c.name, c.ok, c.detail);
  }
  const hypothesisChecks =
    injectedAt === null || !detected
      ? []
      : measureTolerances(
          sc.tolerances,
          {
            fault: { from: injectedAt, to: recoveredAt ?? Date.now() },
            after: recoveredAt !== null && afterUntil !== null ? { from: recoveredAt, to: afterUntil } : null,
          },
          samples,
          requests,
        );
  for (const h of hypothesisChecks) {
    // A target without load (a namespace, today) cannot measure what users got: said, like integrity.
    if (!t.startLoad && h.signal === "5xx-share") {
      Object.assign(h, {
        ok: true,
        detail: `not measured: a ${t.kind} drill sends no load (run it on the testcontainers stack to measure this claim)`,
      });
      checks.push({ name: `hypothesis (not measurable here): ${h.claim}`, ok: true, detail: h.detail });
    } else check(`hypothesis: ${h.claim}`, h.ok, h.detail);
  }
  for (const c of stepChecks(steps, sc.mayFail)) check(c.name, c.ok, c.detail);
  const worst = worstSeverity(opened);
  let pageSeconds: number | null = null;
  let firstPage: NonNullable<DrillReport["timings"]["firstPage"]> | null = null;
  if (o.alertmanager && injectedAt !== null) {
    const page = o.alertmanager.firstFiring(expect.kind, expect.severity, injectedAt);
    pageSeconds = page ? (page.at - injectedAt) / 1000 : null;
    const any = o.alertmanager.firstAny(injectedAt);
    firstPage = any
      ? {
          alerts: any.alerts
            .filter((a) => a.status === "firing")
            .map((a) => `${a.labels["kind"]} ${a.labels["severity"]} ${a.labels["subject"]}`),
          receiver: any.receiver,
          seconds: (any.at - injectedAt) / 1000,
        }
      : null;
    // Alertmanager delivers after the route's group_wait; an incident resolved before it, or inhibited
    // by a P0 on the same subject, is never notified: that is what the on-call engineer would have got.
    say(
      "cleanup",
      `${page ? `paged: ${expect.kind} ${expect.severity} reached receiver ${page.receiver} after ${secs(page.at - injectedAt)} s` : `no notification of ${expect.kind} ${expect.severity} reached a receiver (resolved before the route's group_wait, or inhibited)`}${any ? `; first notification: ${firstPage!.alerts.join(", ")} to ${any.receiver} after ${secs(any.at - injectedAt)} s` : ""}`,
    );
  }

  if (outcome !== "aborted" && checks.some((c) => !c.ok)) outcome = "failed";
  const rel = (at: number | null) => (at === null || injectedAt === null ? null : (at - injectedAt) / 1000);
  say("cleanup", `drill ${outcome}${reasons.length ? `: ${reasons.join("; ")}` : ""}`);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    drill: {
      scenario: sc.name,
      file: sc.file,
      hypothesis: sc.hypothesis,
      fault: { type: sc.fault.type, params: sc.fault.params, description: fault.describe() },
      expected: expect,
      target: { kind: t.kind, name: t.name },
    },
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    outcome,
    reasons,
    timings: {
      detectSeconds: rel(detected?.at ?? null),
      ...(o.alertmanager ? { pageSeconds, firstPage } : {}),
      mitigateSeconds: rel(mitigatedAt),
      recoverSeconds: rel(recoveredAt),
      responseMinutes: o.policy.severities[expect.severity].responseMinutes,
      deadlines: { detectSeconds: sc.deadlines.detectSeconds, recoverSeconds: sc.deadlines.recoverSeconds },
    },
    detected: detectedIncident
      ? { kind: detectedIncident.kind, severity: detectedIncident.severity, evidence: detectedIncident.evidence }
      : null,
    incidentsSeen: incidentsSeen(samples),
    observer: t.observerInfo,
    incidentsOpen: opened,
    worstSeverity: worst,
    hypothesisChecks,
    steps,
    integrity,
    cleanup,
    checks,
    timeline,
    signals: samples.map(signalSample),
  };
}

const secs = (ms: number) => (ms / 1000).toFixed(1);
const describe = (incidents: readonly Incident[] | undefined) =>
  [...new Set((incidents ?? []).map((i) => `${i.kind} ${i.severity} (${i.subject})`))].join(", ");

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
