/**
 * The rest of the CLI: `plan` (what a drill would do, touching nothing), `recover` (undo what a killed
 * runner left), `halt` / `resume` (the emergency stop), `runbook <incident>` (the on-call mode) and
 * `report compare OLD NEW`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Argv } from "yargs";
import { CATALOG } from "@gm/runbook/catalog";
import { INCIDENT_KINDS, type Incident, type IncidentKind } from "@gm/runbook/incident";
import type { Ports } from "@gm/runbook/ports";
import {
  haltFile,
  type Journal,
  type JournalEntry,
  journalFile,
  journalRunner,
  readJournals,
  removeJournal,
  writeJournal,
} from "../drill/journal.js";
import { type ExecuteMode, refusal, runOncallSteps } from "../oncall.js";
import type { StepProof } from "@gm/report/proof";
import { type UndoAction, mutates } from "@gm/runbook/steps";
import { defaultScenariosDir, loadScenarios } from "../drill/load-scenarios.js";
import { type Scenario, ScenarioError } from "../drill/scenario.js";
import { CliError, fail, type Out } from "../output.js";
import { checkStackId, loadStacks } from "../state.js";
import { drillPolicy, LOKI_URL_HELP, loadPolicy, lokiUrlOption } from "./drill.js";
import type { Policy } from "@gm/runbook/policy";
import { type KubernetesArgs, kubernetesOptions, kubernetesPlatformFor } from "./kube.js";

export function planCommand(y: Argv, out: Out) {
  return y.command(
    "plan <scenario>",
    "Show what a drill would do, step by step, touching nothing",
    (a) =>
      a
        .positional("scenario", { type: "string", demandOption: true, describe: "a drill name or file" })
        .option("scenarios-dir", { type: "string" })
        .option("policy", { type: "string", describe: "severity policy override (YAML)" })
        .option("json", { type: "boolean", default: false }),
    async (argv) => {
      const policy = drillPolicy(argv.policy, argv["scenarios-dir"] ?? defaultScenariosDir());
      let sc: Scenario | undefined;
      try {
        [sc] = loadScenarios([argv.scenario as string], argv["scenarios-dir"] ?? defaultScenariosDir(), policy);
      } catch (err) {
        if (err instanceof ScenarioError) fail(err.message, 2);
        throw err;
      }
      if (!sc) return fail("no scenario", 2);
      const steps = sc.remediation === "none" ? [] : CATALOG[sc.expect.kind].steps;
      const { createFault } = await import("../drill/faults.js");
      const fault = createFault(sc.fault, { stackId: "(the drill's stack)", brokers: sc.stack.brokers, postgresUrl: "postgres://unused" });
      const plan = {
        scenario: sc.name,
        file: sc.file,
        hypothesis: sc.hypothesis,
        stack: sc.stack,
        phases: [
          "steady state: the prober's classification is healthy (up to 90 s)",
          `load: ${sc.load.rate} batches/s × ${sc.load.batch} events, every acknowledged event remembered`,
          `record the undo durably, then inject: ${fault.describe()}`,
          `detect: ${sc.expect.kind} ${sc.expect.severity} within ${sc.deadlines.detectSeconds} s (runbook response time ${policy.severities[sc.expect.severity].responseMinutes} min)`,
          ...steps.map(
            (s) =>
              `${s.phase}: ${s.id} — ${s.runbookAction}${mutates(s) ? ` [changes the system: ${s.effect.type}]` : ""}${s.advisory ? " [advisory]" : ""}`,
          ),
          `recover: steady state within ${sc.deadlines.recoverSeconds} s of the fault`,
          "integrity: every acknowledged event in PostgreSQL exactly once",
          "undo the fault and prove nothing is left",
        ],
        deadlines: sc.deadlines,
      };
      if (argv.json) out.json(plan);
      else {
        out.line(`drill ${plan.scenario} (${plan.file})`);
        out.line(`hypothesis: ${plan.hypothesis}`);
        for (const [i, p] of plan.phases.entries()) out.line(`${String(i + 1).padStart(2)}. ${p}`);
      }
    },
  );
}

export function recoverCommand(y: Argv, out: Out) {
  return y.command(
    "recover",
    "Undo every fault a killed runner left behind (from the durable journal) and wait for steady state",
    (a) =>
      a.option("steady-timeout", { type: "number", default: 120, describe: "seconds to wait for steady state afterwards" }).check((x) => {
        const t = x["steady-timeout"];
        if (!Number.isFinite(t) || t < 0 || t > 3600)
          throw new CliError(
            `--steady-timeout: expected seconds from 0 to 3600, got ${Number.isNaN(t) ? "something that is not a number" : t}`,
            2,
          );
        return true;
      }),
    async (argv) => {
      const n = await recoverAll(out);
      out.line(n === 0 ? "nothing to recover" : `recovered ${n} fault(s)`);
      await waitSteady(out, argv["steady-timeout"]);
    },
  );
}

/** Undoes every journalled fault whose runner is gone (or all, when `force`); `which` picks the journals (halt leaves the runbook's). */
export async function recoverAll(out: Out, force = true, which: (j: Journal) => boolean = () => true): Promise<number> {
  let n = 0;
  for (const j of readJournals().filter(which)) {
    n += await recoverJournal(j, out);
    if (force) removeJournal(j.drillId);
  }
  return n;
}

/**
 * Undoes one journal's pending faults through the driver they were applied with (Docker for a stack,
 * the Kubernetes driver, allowlist and context for a namespace), marking each recovered as it goes.
 * `recover`, `halt` and the watchdog (dead-man's switch) all undo through here.
 */
export async function recoverJournal(j: Journal, out: Out): Promise<number> {
  const { createFault } = await import("../drill/faults.js");
  let n = 0;
  // newest first: a runbook run's later action may build on an earlier one (a drill has one entry)
  for (const e of [...j.entries].reverse()) {
    if (e.state === "recovered") continue;
    const fault = await journalFault(j, e, createFault);
    out.progress(`undoing ${e.fault.type} ${j.kubernetes ? "in" : "on stack"} ${j.stackId} (drill ${j.drillId}): ${fault.describe()}`);
    await fault.recover(e.undo);
    e.state = "recovered";
    writeJournal(j);
    n++;
  }
  return n;
}

/** What is still left of a journal's faults (empty when none), as each fault checks it. */
export async function journalLeftovers(j: Journal): Promise<string[]> {
  const { createFault } = await import("../drill/faults.js");
  const out: string[] = [];
  for (const e of j.entries) out.push(...(await (await journalFault(j, e, createFault)).leftovers(e.undo)));
  return out;
}

async function journalFault(j: Journal, e: JournalEntry, createFault: typeof import("../drill/faults.js").createFault) {
  if (e.fault.type === "runbook-undo") {
    const { runbookUndoFault } = await import("../drill/runbook-undo.js");
    const platform = j.kubernetes
      ? await (await import("./kube.js")).kubernetesPlatformOf(j.kubernetes)
      : (await import("@gm/platform/docker")).createDockerPlatform({ stackId: j.stackId });
    return runbookUndoFault(e.fault, e.undo, platform, journalFile(j.drillId));
  }
  const fault = e.fault;
  if (j.kubernetes) {
    const { createNamespaceFault, reachNamespace } = await import("../drill/namespace.js");
    const { kubernetesPlatformOf } = await import("./kube.js");
    const k8s = await kubernetesPlatformOf(j.kubernetes);
    // PostgreSQL's faults are undone through PostgreSQL: reached by its cluster name, as the drill did
    const reach = fault.type === "hold-connections" || fault.type === "lock-table" ? await reachNamespace(j.kubernetes, k8s) : undefined;
    return createNamespaceFault(fault, k8s, reach);
  }
  const rec = loadStacks().find((r) => r.stackId === j.stackId);
  return createFault(fault, { stackId: j.stackId, brokers: rec?.brokers ?? 3, postgresUrl: j.postgresUrl });
}

async function waitSteady(out: Out, seconds: number): Promise<void> {
  const { createStackObserver } = await import("../drill/observe.js");
  const { createDockerPlatform } = await import("@gm/platform/docker");
  const { defaultPolicy } = await import("@gm/runbook/policy");
  for (const rec of loadStacks()) {
    const obs = await createStackObserver({
      endpoints: rec.endpoints,
      policy: defaultPolicy,
      platform: createDockerPlatform({ stackId: rec.stackId }),
    });
    obs.start();
    const ok = await obs.until((o) => o.incidents.length === 0, seconds * 1000);
    await obs.stop();
    if (!ok)
      fail(
        `stack ${rec.stackId} is not in steady state after ${seconds} s: ${obs.samples
          .at(-1)
          ?.incidents.map((i) => `${i.kind} ${i.severity}`)
          .join(", ")}`,
        1,
      );
    out.line(`stack ${rec.stackId}: steady state`);
  }
}

export function haltCommands(y: Argv, out: Out) {
  return y
    .command(
      "halt",
      "Emergency stop: undo every running drill's faults now and refuse new drills until `gm-chaos resume`",
      (a) => a,
      async () => {
        writeFileSync(haltFile(), `${new Date().toISOString()}\n`);
        // Running drills undo their own fault on SIGTERM; then whatever is left is undone from the journal.
        // A journal's pid is signalled only while it is still that drill's runner: the kernel reuses pids.
        const signalled: number[] = [];
        for (const j of readJournals()) {
          const runner = journalRunner(j);
          if (!runner.running) {
            out.progress(`drill ${j.drillId}: not signalling pid ${j.pid}: ${runner.why}`);
            continue;
          }
          try {
            process.kill(j.pid, "SIGTERM");
            signalled.push(j.pid);
            out.progress(`asked drill ${j.drillId} (pid ${j.pid}) to stop`);
          } catch {
            // not running any more
          }
        }
        const deadline = Date.now() + 15_000;
        while ((await Promise.all(signalled.map(alive))).some(Boolean) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 250));
        // the on-call engineer's runbook actions are not a drill's fault: halting drills leaves them
        const n = await recoverAll(out, true, (j) => j.runbook === undefined);
        out.line(`halted: ${n} fault(s) undone from the journal; new drills are refused until gm-chaos resume`);
      },
    )
    .command(
      "resume",
      "Allow drills again after `gm-chaos halt`",
      (a) => a,
      () => {
        const was = existsSync(haltFile());
        rmSync(haltFile(), { force: true });
        out.line(was ? "resumed: drills may run again" : "drills were not halted");
      },
    );
}

/** A signalled runner still running (an exited one its parent has not reaped yet, a zombie, is done). */
async function alive(pid: number): Promise<boolean> {
  const { processAlive } = await import("../drill/watchdog.js");
  return pid !== process.pid && processAlive({ pid });
}

/** What `gm-chaos runbook <incident>` names: a kind, or an incident of the prober's journal (by id). */
export type RunbookTarget = { kind: IncidentKind; life?: import("@gm/monitor/incident-journal").IncidentLife };

/**
 * Resolves `<incident>`: an incident id is looked up in the journal; a kind is matched with the journal's
 * newest open incident of that kind (so its steps are recorded against it), if any. Bad input exits 2.
 */
export async function runbookTarget(arg: string, journalDir: string, out: Out): Promise<RunbookTarget> {
  const { INCIDENT_ID_PATTERN, readIncidentJournal } = await import("@gm/monitor/incident-journal");
  const isKind = (INCIDENT_KINDS as readonly string[]).includes(arg);
  if (!isKind && !INCIDENT_ID_PATTERN.test(arg))
    fail(
      `<incident>: expected an incident kind (${INCIDENT_KINDS.join(", ")}) or an incident id from the prober's journal (e.g. service-down-20261203T071612Z-3f9a), got ${JSON.stringify(arg)}`,
      2,
    );
  const read = readIncidentJournal(journalDir);
  for (const p of read.problems) out.progress(`incident journal: ${p}`);
  if (!isKind) {
    const life = read.incidents.get(arg);
    if (!life)
      fail(
        `<incident>: no incident ${arg} in the journal ${journalDir} (${read.incidents.size} incident(s) there${read.incidents.size > 0 ? `, the newest ${[...read.incidents.keys()].at(-1)}` : ""}); name another --journal-dir, or the kind`,
        2,
      );
    return { kind: life.kind, life };
  }
  const open = [...read.incidents.values()].filter((l) => l.kind === arg && l.resolvedAt === null);
  const life = open.at(-1);
  if (life)
    out.progress(`the journal's open ${arg} incident: ${life.id} (${life.severity} on ${life.subject}); its steps are recorded against it`);
  else
    out.progress(
      `no open ${arg} incident in the journal ${journalDir}: the steps are not recorded against an incident (name its id to record them)`,
    );
  return { kind: arg as IncidentKind, ...(life ? { life } : {}) };
}

export function runbookCommand(y: Argv, out: Out) {
  return y.command(
    "runbook <incident>",
    "On-call mode: run the incident's read-only steps against a live stack and advise the rest; with --execute, ask before each step that changes the system (--yes: do not ask) and record each undo for gm-chaos recover",
    (a) =>
      kubernetesOptions(a, { clusterDns: false })
        .positional("incident", {
          type: "string",
          demandOption: true,
          describe: `an incident kind (${INCIDENT_KINDS.join(", ")}) or an incident id from the prober's journal`,
        })
        .option("stack-id", { type: "string", describe: "the stack (default: the most recent one started by gm-chaos stack up)" })
        .option("allow", { type: "string", array: true, default: [] as string[] })
        .option("execute", {
          type: "boolean",
          default: false,
          describe:
            "run the steps that change the system too, each asked first in a terminal; their undos are recorded for gm-chaos recover",
        })
        .option("yes", {
          type: "boolean",
          default: false,
          describe: "with --execute: do not ask (automation; required when stdin is not a terminal)",
        })
        .option("journal-dir", {
          type: "string",
          describe:
            "the prober's incident journal (default: $GM_PROBER_STATE_DIR, else ~/.local/state/gm-prober); the steps are recorded there",
        })
        .option("report-dir", {
          type: "string",
          default: "reports",
          describe: "earlier game days' reports: each step shows when it last passed a drill, or unverified",
        })
        .option("policy", { type: "string" })
        .option("loki-url", { type: "string", describe: LOKI_URL_HELP })
        .option("json", { type: "boolean", default: false }),
    async (argv) => {
      const mode = { execute: argv.execute, yes: argv.yes, tty: process.stdin.isTTY === true };
      const refused = refusal(mode);
      if (refused) fail(refused, 2);
      const lokiUrl = lokiUrlOption(argv["loki-url"]);
      const policy = loadPolicy(argv.policy);
      const { defaultJournalDir } = await import("@gm/monitor/incident-journal");
      const journalDir = argv["journal-dir"] ?? defaultJournalDir();
      const target = await runbookTarget(String(argv.incident), journalDir, out);
      const proofs = await stepProofsFor(target.kind, argv["report-dir"], policy, out);
      const run = {
        mode,
        policy,
        journalDir,
        target,
        proofs,
        json: argv.json,
      };
      if (argv.platform === "kubernetes") return runbookOnNamespace(run, argv, lokiUrl, out);
      if (argv["stack-id"] !== undefined) checkStackId(argv["stack-id"], "--stack-id");
      const records = loadStacks();
      const rec = argv["stack-id"] ? records.find((r) => r.stackId === argv["stack-id"]) : records[0];
      if (!rec)
        fail(
          argv["stack-id"]
            ? `refusing stack "${argv["stack-id"]}": no record of it (start it with gm-chaos stack up, or name an allowed one)`
            : "no stack recorded; start one with gm-chaos stack up",
          2,
        );
      const { createStackObserver } = await import("../drill/observe.js");
      const { createDockerPlatform } = await import("@gm/platform/docker");
      const { createKafkaPort } = await import("@gm/platform/kafka-admin");
      const { createDatabasePort } = await import("@gm/platform/postgres");
      const platform = createDockerPlatform({ stackId: rec.stackId });
      const observer = await createStackObserver({ endpoints: rec.endpoints, policy, platform });
      const kafka = createKafkaPort({ brokers: rec.endpoints.kafkaBootstrapServers, topic: rec.endpoints.topic });
      const database = createDatabasePort({ url: rec.endpoints.postgresUrl });
      const loki = lokiUrl ? await import("@gm/platform/loki") : undefined;
      const stepPlatform = loki && lokiUrl ? loki.withLokiLogs(platform, loki.createLokiLogs({ url: lokiUrl })) : platform;
      const ports: Ports = {
        platform: stepPlatform,
        kafka,
        database,
        observe: observer.observe,
        now: Date.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      };
      observer.start();
      try {
        const first = await observer.next();
        await runbookSteps(
          run,
          first.incidents,
          target.kind === "high-consumer-lag" ? rec.endpoints.consumerGroup : "all",
          ports,
          {
            target: rec.stackId,
            shown: { stackId: rec.stackId },
            journal: { stackId: rec.stackId, postgresUrl: rec.endpoints.postgresUrl },
          },
          out,
        );
      } finally {
        await observer.stop();
        await Promise.all([kafka.close(), database.close()]);
      }
    },
  );
}

interface RunbookRun {
  mode: ExecuteMode;
  policy: Policy;
  journalDir: string;
  target: RunbookTarget;
  proofs: StepProof[];
  json: boolean;
}

/** When each of the kind's steps last passed a drill in `reportDir` (every step unverified when there is none). */
async function stepProofsFor(kind: IncidentKind, reportDir: string, policy: Policy, out: Out): Promise<StepProof[]> {
  const { loadReportsTolerant } = await import("@gm/report/report-files");
  const { stepProofs } = await import("@gm/report/proof");
  const loaded = existsSync(reportDir) ? await loadReportsTolerant(reportDir) : { reports: [], problems: [] };
  if (!existsSync(reportDir)) out.progress(`--report-dir ${reportDir}: no such directory: no step is proven by a drill`);
  for (const p of loaded.problems) out.progress(`--report-dir: ${p}`);
  return stepProofs(
    CATALOG[kind].steps.map((s) => s.id),
    loaded.reports,
    Date.now(),
    policy.verification.provenWithinDays,
  );
}

/**
 * The incident's steps under graded autonomy (oncall.ts): read-only ones run, the rest are advised or,
 * with --execute, asked before; each undo goes to a fault journal (gm-chaos recover undoes it) before the
 * step acts; each step is appended to the incident's record when the journal knows the incident.
 */
async function runbookSteps(
  run: RunbookRun,
  open: Incident[],
  subject: string,
  ports: Ports,
  /** `shown`: what names the target in the result (a stack's id; a namespace run's context and namespaces) */
  where: { target: string; shown: Record<string, unknown>; journal: Pick<Journal, "stackId" | "postgresUrl" | "kubernetes"> },
  out: Out,
): Promise<void> {
  const { kind, life } = run.target;
  const fromJournal: Incident | undefined = life && {
    kind: life.kind,
    severity: life.severity,
    subject: life.subject,
    summary: life.summary,
    evidence: life.evidence,
    responseMinutes: life.responseMinutes,
    respondBy: life.respondBy,
    escalation: life.escalation,
    steps: [],
  };
  const classified = open.find((i) => i.kind === kind && (!life || i.subject === life.subject));
  const incident: Incident = classified ??
    fromJournal ?? {
      kind,
      severity: "P3",
      subject,
      summary: "not currently classified",
      evidence: [],
      responseMinutes: run.policy.severities.P3.responseMinutes,
      respondBy: new Date().toISOString(),
      escalation: "ticket",
      steps: [],
    };
  out.progress(
    classified
      ? `classified now: ${incident.kind} ${incident.severity} on ${incident.subject}`
      : life
        ? `${life.id} is not classified right now (${life.resolvedAt ? `resolved at ${life.resolvedAt}` : "open in the journal"}); running its steps for ${life.subject}`
        : `${kind} is not classified right now; running its triage anyway`,
  );
  const runId = `${new Date().toISOString().replace(/[-:.]/g, "")}-${process.pid}`;
  const { appendRunbookRecord } = await import("../runbook-record.js");
  let journal: Journal | undefined;
  const recordUndo = async (step: string, undo: UndoAction) => {
    journal ??= {
      ...where.journal,
      drillId: `runbook-${runId.toLowerCase()}`,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      entries: [],
      runbook: { incident: life?.id ?? kind },
    };
    journal.entries.push({
      fault: { type: "runbook-undo", params: { step, incident: life?.id ?? kind } },
      undo: { ...undo },
      state: "applied",
    });
    writeJournal(journal);
  };
  const ask = async (question: string) => {
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
  const results = await runOncallSteps(CATALOG[kind].steps, ports, {
    ...run.mode,
    incident,
    policy: run.policy,
    // a journalled incident's revisions are judged against when the prober opened it, not against now
    ...(life && Number.isFinite(Date.parse(life.openedAt)) ? { openedAt: Date.parse(life.openedAt) } : {}),
    ask,
    recordUndo,
    onStep: (r) => {
      if (!life) return;
      try {
        appendRunbookRecord(run.journalDir, { v: 1, incident: life.id, run: runId, target: where.target, ...r });
      } catch (err) {
        out.progress(
          `could not record step ${r.step} against ${life.id} in ${run.journalDir}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    },
  });
  const proofOf = new Map(run.proofs.map((p) => [p.step, p]));
  const steps = results.map((r) => ({ ...r, proof: proofOf.get(r.step) ?? null }));
  const result = {
    ...where.shown,
    target: where.target,
    incident: kind,
    incidentId: life?.id ?? null,
    executed: run.mode.execute,
    steps,
    undoJournal: journal ? journalFile(journal.drillId) : null,
  };
  if (run.json) out.json(result);
  else {
    for (const r of steps) {
      const status = r.decision === "ran" ? (r.ok ? "  ok" : "  NOT ok") : r.decision === "declined" ? "  (declined)" : "  (not run)";
      const proof = r.proof
        ? r.proof.verified
          ? `proven: ${r.proof.note}`
          : `**${r.proof.note.replace(/^unverified/, "unverified**")}`
        : "";
      out.line(`${r.phase.padEnd(12)} ${r.step}${status} — ${r.runbookAction} [${r.effect}]`);
      if (proof) out.line(`             ${proof}`);
      for (const l of r.output) out.line(`             ${l}`);
      for (const u of r.undo) out.line(`             undo recorded: ${u}`);
    }
    if (journal) out.line(`${journal.entries.length} undo(s) recorded in ${journalFile(journal.drillId)}: gm-chaos recover undoes them`);
    if (life) out.line(`steps recorded against incident ${life.id}; gm-chaos report incident ${life.id} writes its report`);
  }
}

/** On-call mode against the runbook's namespaces: what the API server shows, the runbook's steps through the Kubernetes driver. */
async function runbookOnNamespace(run: RunbookRun, argv: KubernetesArgs, lokiUrl: string | undefined, out: Out) {
  const k8s = await kubernetesPlatformFor(argv);
  const { namespacePorts } = await import("../drill/namespace.js");
  const { classify } = await import("@gm/runbook/classify");
  const { kubernetesTarget } = await import("./kube.js");
  const loki = lokiUrl ? await import("@gm/platform/loki") : undefined;
  const platform = loki && lokiUrl ? loki.withLokiLogs(k8s, loki.createLokiLogs({ url: lokiUrl })) : k8s;
  const ports = namespacePorts(platform, (await k8s.listInstances("kafka")).length);
  const snapshot = await ports.observe.snapshot();
  await runbookSteps(
    run,
    classify(snapshot, run.policy),
    "all",
    ports,
    {
      target: `k8s:${k8s.context}`,
      shown: { context: k8s.context, namespaces: [k8s.targets.kafka.namespace, k8s.targets["stats-api"].namespace] },
      journal: { stackId: `k8s:${k8s.context}`, postgresUrl: "", kubernetes: kubernetesTarget(argv, k8s.context) },
    },
    out,
  );
}

export function reportCommand(y: Argv, out: Out) {
  return y.command("report", "Drill and incident reports", (a) =>
    a
      .command(
        "compare <old> <new>",
        "Show how detect/mitigate/recover times moved between two game days (report.json files or directories); exit 1 on a regression",
        (b) =>
          b
            .positional("old", { type: "string", demandOption: true })
            .positional("new", { type: "string", demandOption: true })
            .option("tolerance", {
              type: "number",
              default: 0.2,
              describe: "slower by more than this fraction (and --min-seconds) is a regression",
            })
            .option("min-seconds", { type: "number", default: 2 })
            .option("format", { type: "string", choices: ["table", "markdown", "json"], default: "table" })
            .check((x) => {
              const nan = (n: number) => (Number.isNaN(n) ? "something that is not a number" : n);
              if (!Number.isFinite(x.tolerance) || x.tolerance < 0 || x.tolerance > 100)
                throw new CliError(`--tolerance: expected a fraction from 0 to 100 (0.2 = 20 % slower), got ${nan(x.tolerance)}`, 2);
              if (!Number.isFinite(x["min-seconds"]) || x["min-seconds"] < 0 || x["min-seconds"] > 86_400)
                throw new CliError(`--min-seconds: expected seconds from 0 to 86400, got ${nan(x["min-seconds"])}`, 2);
              return true;
            }),
        async (argv) => {
          const { loadReports } = await import("@gm/report/report-files");
          const { compareReports, renderComparison } = await import("@gm/report/compare");
          const load = async (p: string) => (await loadReports([p])).map((x) => x.report);
          const result = compareReports(await load(argv.old as string), await load(argv.new as string), {
            tolerance: argv.tolerance,
            minSeconds: argv["min-seconds"],
          });
          out.raw(renderComparison(result, argv.format as "table" | "markdown" | "json"));
          if (result.regressions > 0) fail(`${result.regressions} regression(s)`, 1);
        },
      )
      .command(
        "incident <id>",
        "Write a real incident's report (report.md, report.html, report.json, as a drill's) from the prober's journal and the steps gm-chaos runbook recorded against it",
        (b) =>
          b
            .positional("id", {
              type: "string",
              demandOption: true,
              describe: "the incident's id (gm-prober's log line and journal give it)",
            })
            .option("journal-dir", {
              type: "string",
              describe: "the prober's incident journal (default: $GM_PROBER_STATE_DIR, else ~/.local/state/gm-prober)",
            })
            .option("out", { type: "string", describe: "the report's directory (default: reports/incidents/<id>)" })
            .option("onset", { type: "string", describe: "when the incident began, if a person knows better than the prober (ISO 8601)" })
            .option("root-cause", {
              type: "string",
              describe: "the root cause, once a person knows it (kept from the report.json already in --out otherwise)",
            })
            .option("json", { type: "boolean", default: false, describe: "print the report's paths and timings as JSON" }),
        async (argv) => {
          const { defaultJournalDir, INCIDENT_ID_PATTERN, readIncidentJournal } = await import("@gm/monitor/incident-journal");
          const { readRunbookRecords } = await import("../runbook-record.js");
          const { incidentReport } = await import("@gm/report/incident");
          const { writeReportFiles } = await import("@gm/report/write");
          const id = String(argv.id);
          if (!INCIDENT_ID_PATTERN.test(id))
            fail(
              `<id>: expected an incident id from the prober's journal (e.g. service-down-20261203T071612Z-3f9a), got ${JSON.stringify(id)}`,
              2,
            );
          if (argv.onset !== undefined && Number.isNaN(Date.parse(argv.onset)))
            fail(`--onset: expected an ISO 8601 time such as 2026-12-03T07:15:00Z, got ${JSON.stringify(argv.onset)}`, 2);
          const dir = argv["journal-dir"] ?? defaultJournalDir();
          const read = readIncidentJournal(dir);
          for (const p of read.problems) out.progress(`incident journal: ${p}`);
          const life = read.incidents.get(id);
          if (!life)
            fail(
              `<id>: no incident ${id} in the journal ${dir} (${read.incidents.size} incident(s) there${read.incidents.size > 0 ? `, the newest ${[...read.incidents.keys()].at(-1)}` : ""}); name the prober's --journal-dir`,
              2,
            );
          const records = readRunbookRecords(dir, id);
          for (const p of records.problems) out.progress(`runbook steps: ${p}`);
          const report = incidentReport({
            history: life,
            steps: records.records,
            journal: dir,
            ...(argv.onset ? { onsetAt: new Date(argv.onset).toISOString() } : {}),
            now: Date.now(),
          });
          const target = argv.out ?? join("reports", "incidents", id);
          // a root cause a person already wrote into this report's report.json is kept when it is written again
          const { parseReport } = await import("@gm/report/json");
          let kept: string | null = null;
          try {
            const before = parseReport(readFileSync(join(target, "report.json"), "utf8"));
            if (before.incident?.id === id) kept = before.incident.rootCause;
          } catch {
            // no earlier report here (or not one): nothing to keep
          }
          const rootCause = argv["root-cause"]?.trim() || kept;
          if (report.incident && rootCause) report.incident.rootCause = rootCause;
          const files = await writeReportFiles(target, report);
          const summary = {
            incident: id,
            resolved: life.resolvedAt !== null,
            timings: report.timings,
            steps: report.steps.length,
            files: { markdown: files.markdown, html: files.html, json: files.json },
          };
          if (argv.json) out.json(summary);
          else {
            out.line(
              `incident ${id}: ${life.kind} ${life.worstSeverity} on ${life.subject}, ${life.resolvedAt ? "resolved" : "NOT resolved"}; detect ${report.timings.detectSeconds} s, recover ${report.timings.recoverSeconds ?? "—"} s from the onset (response time ${report.timings.responseMinutes} min); ${report.steps.length} step(s) recorded`,
            );
            out.line(`wrote ${files.markdown}, ${files.html}, ${files.json} (root cause left for a person to fill in)`);
          }
        },
      )
      .demandCommand(1, "name a report command: compare or incident"),
  );
}

export function watchdogCommand(y: Argv, out: Out) {
  return y.command(
    "watchdog <drill-id>",
    "The dead-man's switch a drill starts for itself (detached): undo the drill's fault once the runner stops renewing its lease",
    (a) =>
      a
        .positional("drill-id", {
          type: "string",
          demandOption: true,
          describe: "the drill whose journal to watch (a file in the state directory's faults/)",
        })
        .option("poll-ms", { type: "number", default: 1_000, describe: "how often to read the journal" })
        .option("give-up-minutes", {
          type: "number",
          default: 30,
          describe: "stop retrying a failing undo after this long (gm-chaos recover remains)",
        })
        .option("runner", { type: "string", describe: "PID[:START] of the drill runner: until the journal exists, wait while it lives" })
        .check((x) => {
          const id = String(x["drill-id"]);
          if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id))
            throw new CliError(
              `<drill-id>: expected a drill id (letters, digits, dashes and underscores, as in the state directory's faults/<drill-id>.json), got ${JSON.stringify(id)}`,
              2,
            );
          if (x.runner !== undefined && !/^\d+(:\d+)?$/.test(x.runner))
            throw new CliError(
              `--runner: expected PID or PID:START (the runner's start time in clock ticks), got ${JSON.stringify(x.runner)}`,
              2,
            );
          if (!Number.isFinite(x["poll-ms"]) || x["poll-ms"] < 50 || x["poll-ms"] > 60_000)
            throw new CliError(`--poll-ms: expected milliseconds from 50 to 60000, got ${x["poll-ms"]}`, 2);
          if (!Number.isFinite(x["give-up-minutes"]) || x["give-up-minutes"] <= 0 || x["give-up-minutes"] > 1440)
            throw new CliError(`--give-up-minutes: expected minutes from 0 to 1440, got ${x["give-up-minutes"]}`, 2);
          return true;
        }),
    async (argv) => {
      const { watchJournal } = await import("../drill/watchdog.js");
      const log = (l: string) => out.line(`${new Date().toISOString()} ${l}`);
      log(`watching drill ${argv["drill-id"]} (pid ${process.pid})`);
      // The runner stops its watchdog when it ends without having recorded a fault. A SIGTERM while a
      // fault is pending (from anyone: a stray pkill, a halt) is ignored: the switch stays held.
      const { stopRequested } = await import("../drill/watchdog.js");
      process.on("SIGTERM", () => {
        if (stopRequested(String(argv["drill-id"]), log)) process.exit(0);
      });
      const r = await watchJournal(String(argv["drill-id"]), {
        pollMs: argv["poll-ms"],
        giveUpMs: argv["give-up-minutes"] * 60_000,
        log,
        undo: (j) => recoverJournal(j, { ...out, progress: log }),
        leftovers: journalLeftovers,
        ...(argv.runner
          ? {
              runner: {
                pid: Number(argv.runner.split(":")[0]),
                ...(argv.runner.includes(":") ? { pidStart: argv.runner.split(":")[1]! } : {}),
              },
            }
          : {}),
      });
      if (r.outcome === "gave-up") fail(`drill ${r.drillId}: the watchdog gave up (${r.why}); run gm-chaos recover`, 1);
    },
  );
}
