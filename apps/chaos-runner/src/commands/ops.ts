/**
 * The rest of the CLI: `plan` (what a drill would do, touching nothing), `recover` (undo what a killed
 * runner left), `halt` / `resume` (the emergency stop), `runbook <incident>` (the on-call mode) and
 * `report compare OLD NEW`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Argv } from "yargs";
import { CATALOG } from "@gm/runbook/catalog";
import { mutates } from "@gm/runbook/steps";
import { INCIDENT_KINDS, type Incident, type IncidentKind } from "@gm/runbook/incident";
import type { Ports } from "@gm/runbook/ports";
import { haltFile, type Journal, type JournalEntry, journalRunner, readJournals, removeJournal, writeJournal } from "../drill/journal.js";
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

/** Undoes every journalled fault whose runner is gone (or all, when `force`). */
export async function recoverAll(out: Out, force = true): Promise<number> {
  let n = 0;
  for (const j of readJournals()) {
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
  for (const e of j.entries) {
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
  if (j.kubernetes) {
    const { createNamespaceFault } = await import("../drill/namespace.js");
    const { kubernetesPlatformOf } = await import("./kube.js");
    return createNamespaceFault(e.fault, await kubernetesPlatformOf(j.kubernetes));
  }
  const rec = loadStacks().find((r) => r.stackId === j.stackId);
  return createFault(e.fault, { stackId: j.stackId, brokers: rec?.brokers ?? 3, postgresUrl: j.postgresUrl });
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
        const n = await recoverAll(out);
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

export function runbookCommand(y: Argv, out: Out) {
  return y.command(
    "runbook <incident>",
    "On-call mode: run the incident's triage against a live stack and print the mitigation it advises; acts only with --execute",
    (a) =>
      kubernetesOptions(a)
        .positional("incident", { type: "string", choices: INCIDENT_KINDS as unknown as string[], demandOption: true })
        .option("stack-id", { type: "string", describe: "the stack (default: the most recent one started by gm-chaos stack up)" })
        .option("allow", { type: "string", array: true, default: [] as string[] })
        .option("execute", {
          type: "boolean",
          default: false,
          describe: "run the mitigation and verification steps too (they change the system)",
        })
        .option("policy", { type: "string" })
        .option("loki-url", { type: "string", describe: LOKI_URL_HELP })
        .option("json", { type: "boolean", default: false }),
    async (argv) => {
      const kind = argv.incident as IncidentKind;
      const lokiUrl = lokiUrlOption(argv["loki-url"]);
      const policy = loadPolicy(argv.policy);
      if (argv.platform === "kubernetes") return runbookOnNamespace(kind, argv, policy, lokiUrl, out);
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
      let results: StepResult[];
      try {
        const first = await observer.next();
        results = await runbookSteps(
          kind,
          first.incidents,
          kind === "high-consumer-lag" ? rec.endpoints.consumerGroup : "all",
          ports,
          policy,
          argv.execute,
          out,
        );
      } finally {
        await observer.stop();
        await Promise.all([kafka.close(), database.close()]);
      }
      printSteps({ stackId: rec.stackId, incident: kind, executed: argv.execute, steps: results }, argv.json, out);
    },
  );
}

type StepResult = { step: string; phase: string; runbookAction: string; ran: boolean; ok?: boolean; output: string[] };

/** The incident's steps: triage always; mitigation and verification only with `execute`; advisory never. */
async function runbookSteps(
  kind: IncidentKind,
  open: Incident[],
  subject: string,
  ports: Ports,
  policy: Policy,
  execute: boolean,
  out: Out,
): Promise<StepResult[]> {
  const incident: Incident =
    open.find((i) => i.kind === kind) ??
    ({
      kind,
      severity: "P3",
      subject,
      summary: "not currently classified",
      evidence: [],
      responseMinutes: policy.severities.P3.responseMinutes,
      respondBy: new Date().toISOString(),
      escalation: "ticket",
      steps: [],
    } as Incident);
  out.progress(
    open.some((i) => i.kind === kind)
      ? `classified now: ${incident.kind} ${incident.severity} on ${incident.subject}`
      : `${kind} is not classified right now; running its triage anyway`,
  );
  const results: StepResult[] = [];
  for (const step of CATALOG[kind].steps) {
    const act = step.phase === "triage" || (execute && !step.advisory);
    if (!act) {
      results.push({
        step: step.id,
        phase: step.phase,
        runbookAction: step.runbookAction,
        ran: false,
        output: [step.advisory ? "advisory: for a person to decide" : "advised; run with --execute to act"],
      });
      continue;
    }
    const r = await step
      .run(ports, { incident, policy })
      .catch((err: unknown) => ({ ok: false, output: [`failed: ${err instanceof Error ? err.message : String(err)}`] }));
    results.push({ step: step.id, phase: step.phase, runbookAction: step.runbookAction, ran: true, ok: r.ok, output: r.output });
  }
  return results;
}

function printSteps(
  result: { incident: IncidentKind; executed: boolean; steps: StepResult[] } & Record<string, unknown>,
  json: boolean,
  out: Out,
) {
  if (json) out.json(result);
  else
    for (const r of result.steps) {
      out.line(`${r.phase.padEnd(12)} ${r.step}${r.ran ? (r.ok ? "  ok" : "  NOT ok") : "  (not run)"} — ${r.runbookAction}`);
      for (const l of r.output) out.line(`             ${l}`);
    }
}

/** On-call mode against the runbook's namespaces: what the API server shows, the runbook's steps through the Kubernetes driver. */
async function runbookOnNamespace(
  kind: IncidentKind,
  argv: KubernetesArgs & { execute: boolean; json: boolean },
  policy: Policy,
  lokiUrl: string | undefined,
  out: Out,
) {
  const k8s = await kubernetesPlatformFor(argv);
  const { namespacePorts } = await import("../drill/namespace.js");
  const { classify } = await import("@gm/runbook/classify");
  const loki = lokiUrl ? await import("@gm/platform/loki") : undefined;
  const platform = loki && lokiUrl ? loki.withLokiLogs(k8s, loki.createLokiLogs({ url: lokiUrl })) : k8s;
  const ports = namespacePorts(platform, (await k8s.listInstances("kafka")).length);
  const snapshot = await ports.observe.snapshot();
  const results = await runbookSteps(kind, classify(snapshot, policy), "all", ports, policy, argv.execute, out);
  printSteps(
    {
      context: k8s.context,
      namespaces: [k8s.targets.kafka.namespace, k8s.targets["stats-api"].namespace],
      incident: kind,
      executed: argv.execute,
      steps: results,
    },
    argv.json,
    out,
  );
}

export function reportCommand(y: Argv, out: Out) {
  return y.command("report", "Drill reports", (a) =>
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
      .demandCommand(1, "name a report command: compare"),
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
