/** `gm-chaos drill <scenario…|all>`: game-day drills against a stack this runner started (or an allowed one). */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Argv } from "yargs";
import { defaultPolicy, parsePolicy, type Policy } from "@gm/runbook/policy";
import { LokiOptionError, parseLokiUrl } from "@gm/platform/loki";
import type { DrillReport } from "@gm/report/schema";
import type { ProberConfig } from "@gm/monitor/config";
import type { RunningAlertmanager } from "@gm/monitor/alertmanager-run";
import { haltFile } from "../drill/journal.js";
import { leaseSeconds } from "../drill/watchdog.js";
import { defaultScenariosDir, loadScenarios } from "../drill/load-scenarios.js";
import { type Scenario, ScenarioError } from "../drill/scenario.js";
import type { StackEndpoints } from "@gm/stack/stack";
import { CliError, fail, type Out } from "../output.js";
import { checkStackId, loadStacks } from "../state.js";
import { readConfigFile } from "@gm/monitor/config-file";
import type { DrillProgress } from "../drill/run.js";
import { type KubernetesArgs, kubernetesOptions, kubernetesPlatformFor, kubernetesTarget } from "./kube.js";

export function drillOptions(y: Argv) {
  return kubernetesOptions(y)
    .positional("scenarios", { type: "string", array: true, describe: "drill names (files in scenarios/), paths, or all" })
    .option("scenarios-dir", { type: "string", describe: "where drill files are (default: the repository's scenarios/)" })
    .option("report-dir", {
      type: "string",
      describe: "write report.json, junit.xml, report.md, report.html and signals.svg per drill here",
    })
    .option("stack-id", {
      type: "string",
      describe: "drill an existing stack (started by `gm-chaos stack up`, or named with --allow) instead of starting one",
    })
    .option("allow", {
      type: "string",
      array: true,
      default: [] as string[],
      describe: "stack ids this runner may act on although it did not start them",
    })
    .option("policy", { type: "string", describe: "severity policy override (YAML; default: scenarios/policy.yaml)" })
    .option("load", {
      type: "string",
      choices: ["builtin", "k6"],
      default: "builtin",
      describe: "load generator: built in, or scenarios/k6/ingest-load.ts through a k6 binary (GM_K6_BIN or PATH)",
    })
    .option("keep", { type: "boolean", default: false, describe: "leave the stack this runner started running afterwards" })
    .option("loki-url", { type: "string", describe: LOKI_URL_HELP })
    .option("prober-config", {
      type: "string",
      describe:
        "observe with this gm-prober configuration (interval, timeout, window, hysteresis; default: the one the stack writes for gm-prober, i.e. its defaults)",
    })
    .option("alertmanager", {
      type: "boolean",
      default: false,
      describe:
        "start a real Alertmanager (prometheus-alertmanager, or ALERTMANAGER_BIN) with the committed routing; the prober alerts it and time to page is measured at its receivers",
    })
    .option("alertmanager-routing", {
      type: "string",
      describe: "routing for --alertmanager (default: deploy/alertmanager/alertmanager.yml)",
    })
    .option("json", { type: "boolean", default: false, describe: "progress and results as JSON lines" });
}

export const LOKI_URL_HELP =
  "read the runbook's log steps from this Loki (LogQL over HTTP, streams labelled instance=<name>) instead of the containers' logs, e.g. http://127.0.0.1:3100";

/** --loki-url, checked: undefined when not given; exit 2 naming the option when malformed. */
export function lokiUrlOption(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    parseLokiUrl(url, "--loki-url");
  } catch (err) {
    if (err instanceof LokiOptionError) throw new CliError(err.message, 2);
    throw err;
  }
  return url;
}

/** The drills' policy: --policy, else scenarios/policy.yaml next to the drill files, else the runbook's defaults. */
export function drillPolicy(path: string | undefined, scenariosDir: string): Policy {
  if (path) return loadPolicy(path);
  const file = join(scenariosDir, "policy.yaml");
  return existsSync(file) ? loadPolicy(file) : defaultPolicy;
}

export function loadPolicy(path: string | undefined): Policy {
  if (!path) return defaultPolicy;
  let text: string;
  try {
    text = readConfigFile(path, "--policy");
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw new CliError(`--policy ${path}: invalid:\n  - ${parsed.problems.join("\n  - ")}`, 2);
  return parsed.policy;
}

export async function runDrillCommand(
  argv: {
    scenarios?: string[];
    load?: string;
    "scenarios-dir"?: string;
    "report-dir"?: string;
    "stack-id"?: string;
    allow: string[];
    policy?: string;
    keep: boolean;
    json: boolean;
    "loki-url"?: string;
    "prober-config"?: string;
    alertmanager?: boolean;
    "alertmanager-routing"?: string;
  } & Partial<KubernetesArgs>,
  out: Out,
): Promise<void> {
  if (existsSync(haltFile())) fail(`drills are halted (gm-chaos halt); run \`gm-chaos resume\` first`, 3);
  try {
    leaseSeconds(); // GM_CHAOS_LEASE_SECONDS, checked before anything starts
  } catch (err) {
    fail((err as Error).message, 2);
  }
  const lokiUrl = lokiUrlOption(argv["loki-url"]);
  const policy = drillPolicy(argv.policy, argv["scenarios-dir"] ?? defaultScenariosDir());
  const names = argv.scenarios?.length ? argv.scenarios : fail("name at least one drill, or all", 2);
  let scenarios: Scenario[];
  try {
    scenarios = loadScenarios(names, argv["scenarios-dir"] ?? defaultScenariosDir(), policy);
  } catch (err) {
    if (err instanceof ScenarioError) fail(err.message, 2);
    throw err;
  }
  const emit = (e: Record<string, unknown>) => (argv.json ? out.line(JSON.stringify(e)) : undefined);
  const proberFile = argv["prober-config"] ? readProberConfigFile(argv["prober-config"]) : undefined;
  const am = argv.alertmanager ? await startDrillAlertmanager(argv["alertmanager-routing"], out) : undefined;
  try {
    if (argv.platform === "kubernetes")
      return await runNamespaceDrills(argv as typeof argv & KubernetesArgs, names, scenarios, policy, out, emit, am);
    await runStackDrills(argv, scenarios, policy, lokiUrl, proberFile, am, out, emit);
  } finally {
    await am?.stop();
  }
}

function readProberConfigFile(path: string): { text: string; where: string; baseDir: string } {
  try {
    return { text: readConfigFile(path, "--prober-config"), where: path, baseDir: dirname(resolve(path)) };
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

async function startDrillAlertmanager(routing: string | undefined, out: Out) {
  const { alertmanagerBinary, parseRouting, startAlertmanager } = await import("@gm/monitor/alertmanager-run");
  if (routing) {
    try {
      // a regular file of bounded size, YAML within limits (an alias bomb was exit 1), receivers checked
      parseRouting(readConfigFile(routing, "--alertmanager-routing"), `--alertmanager-routing ${routing}`);
    } catch (err) {
      fail((err as Error).message, 2);
    }
  }
  if (!alertmanagerBinary())
    fail("--alertmanager: no Alertmanager binary (install prometheus-alertmanager, as scripts/setup.sh does, or set ALERTMANAGER_BIN)", 2);
  const am = await startAlertmanager(routing ? { routing } : {});
  out.progress(
    `alertmanager: ${am.url} with ${routing ?? "the committed routing (deploy/alertmanager/alertmanager.yml)"}; receivers on loopback record time to page`,
  );
  return am;
}

async function runStackDrills(
  argv: Parameters<typeof runDrillCommand>[0],
  scenarios: Scenario[],
  policy: Policy,
  lokiUrl: string | undefined,
  proberFile: { text: string; where: string; baseDir: string } | undefined,
  am: RunningAlertmanager | undefined,
  out: Out,
  emit: (e: Record<string, unknown>) => void,
): Promise<void> {
  const { runDrill } = await import("../drill/run.js");
  const { startStack } = await import("@gm/stack/stack");

  // The target: a stack this runner starts, or one it started before (`stack up`), or one allowed by name.
  let endpoints: StackEndpoints;
  let brokers: number;
  let stop: (() => Promise<void>) | undefined;
  if (argv["stack-id"]) {
    const id = checkStackId(argv["stack-id"], "--stack-id");
    const rec = loadStacks().find((r) => r.stackId === id);
    if (!rec && !argv.allow.includes(id))
      fail(`refusing to act on stack "${id}": this runner did not start it and it is not allowed (--allow ${id})`, 2);
    if (!rec) fail(`stack "${id}" is allowed but has no record with its endpoints (start it with gm-chaos stack up)`, 2);
    endpoints = rec.endpoints;
    brokers = rec.brokers;
  } else {
    brokers = Math.max(...scenarios.map((s) => s.stack.brokers));
    const stack = await startStack({
      brokers: brokers as 1 | 3,
      processorReplicas: Math.max(...scenarios.map((s) => s.stack.processorReplicas)),
      pgPoolMax: Math.max(...scenarios.map((s) => s.stack.pgPoolMax)),
      postgres: { maxConnections: Math.max(...scenarios.map((s) => s.stack.maxConnections)) },
      onProgress: (m) => (argv.json ? emit({ event: "stack", message: m }) : out.progress(m)),
    });
    endpoints = stack.endpoints;
    stop = () => stack.stop();
  }

  const { drillProberConfig } = await import("../drill/observe.js");
  let proberConfig: ProberConfig;
  try {
    proberConfig = drillProberConfig(endpoints, { ...(proberFile ? { file: proberFile } : {}) }).config;
  } catch (err) {
    if (stop && !argv.keep) await stop();
    if (err instanceof Error && err.name === "ConfigFileError") fail(err.message, 2);
    throw err;
  }
  // One prober for the whole game day, running throughout as production's does.
  const { startDrillObserver } = await import("../drill/run.js");
  const observer = await startDrillObserver({ endpoints, policy, proberConfig, ...(am ? { alertmanager: am } : {}) });
  try {
    await runEach(argv, scenarios, out, emit, stop, (scenario, signal, onProgress) =>
      runDrill({
        scenario,
        endpoints,
        brokers,
        policy,
        load: argv.load === "k6" ? "k6" : "builtin",
        ...(lokiUrl ? { lokiUrl } : {}),
        proberConfig,
        ...(am ? { alertmanager: am } : {}),
        observer,
        signal,
        onProgress,
      }),
    );
  } finally {
    await observer.stop();
  }
}

/** Drills against the runbook's namespaces of a cluster, through the Kubernetes driver. */
async function runNamespaceDrills(
  argv: { "report-dir"?: string; json: boolean; keep: boolean } & KubernetesArgs,
  names: string[],
  scenarios: Scenario[],
  policy: Policy,
  out: Out,
  emit: (e: Record<string, unknown>) => void,
  am: RunningAlertmanager | undefined,
): Promise<void> {
  const {
    NAMESPACE_CONTAINED,
    NAMESPACE_FAULTS: apiOnly,
    REACHED_NAMESPACE_FAULTS,
    runNamespaceDrill,
  } = await import("../drill/namespace.js");
  const NAMESPACE_FAULTS = argv["cluster-dns"] ? REACHED_NAMESPACE_FAULTS : apiOnly;
  const unsupported = scenarios.filter((s) => !NAMESPACE_FAULTS.includes(s.fault.type));
  if (unsupported.length > 0 && !names.includes("all")) {
    fail(
      `--platform kubernetes drills the faults ${argv["cluster-dns"] ? "it can inject in a namespace reached through its cluster DNS" : "the API server can show"} (${NAMESPACE_FAULTS.join(", ")}); not: ${unsupported.map((s) => `${s.name} (${s.fault.type}${NAMESPACE_CONTAINED[s.fault.type] ? `: ${NAMESPACE_CONTAINED[s.fault.type]}` : ""})`).join(", ")}. Run those on the testcontainers stack.`,
      2,
    );
  }
  for (const s of unsupported) {
    const why =
      NAMESPACE_CONTAINED[s.fault.type] ??
      (argv["cluster-dns"] ? "is not drilled on a namespace yet" : "needs Kafka or PostgreSQL access (--cluster-dns)");
    if (argv.json) emit({ event: "skipped", scenario: s.name, reason: `fault ${s.fault.type} ${why}` });
    else out.progress(`${s.name}: skipped on kubernetes (fault ${s.fault.type} ${why})`);
  }
  kubernetesTarget(argv, ""); // --cluster-dns checked before anything is contacted
  const k8s = await kubernetesPlatformFor(argv);
  const target = kubernetesTarget(argv, k8s.context);
  out.progress(
    `kubernetes: context ${k8s.context}, namespaces ${target.namespaces.kafka} and ${target.namespaces.platform}${target.clusterDns ? `, reached by cluster names through DNS ${target.clusterDns} (load, integrity, Kafka and PostgreSQL)` : " (API server only: no load, integrity not run)"}`,
  );
  await runEach(
    argv,
    scenarios.filter((s) => NAMESPACE_FAULTS.includes(s.fault.type)),
    out,
    emit,
    undefined,
    (scenario, signal, onProgress) =>
      runNamespaceDrill({ scenario, platform: k8s, target, policy, signal, onProgress, ...(am ? { alertmanager: am } : {}) }),
  );
}

/** One drill after the other, with SIGINT/SIGTERM undoing the running one, results, reports and the exit code. */
async function runEach(
  argv: { "report-dir"?: string; json: boolean; keep: boolean },
  scenarios: Scenario[],
  out: Out,
  emit: (e: Record<string, unknown>) => void,
  stop: (() => Promise<void>) | undefined,
  run: (scenario: Scenario, signal: AbortSignal, onProgress: (p: DrillProgress) => void) => Promise<DrillReport>,
): Promise<void> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    out.progress(`${sig}: undoing the fault and stopping`);
    ac.abort(new Error(sig));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const reports: DrillReport[] = [];
  try {
    for (const scenario of scenarios) {
      if (ac.signal.aborted || existsSync(haltFile())) break;
      const report = await run(scenario, ac.signal, (p) =>
        argv.json ? emit({ event: "progress", ...p }) : out.progress(`${p.scenario} [${p.phase}] ${p.message}`),
      );
      reports.push(report);
      const t = report.timings;
      const f = (x: number | null) => (x === null ? "—" : `${x.toFixed(1)} s`);
      if (argv.json)
        emit({
          event: "result",
          scenario: scenario.name,
          outcome: report.outcome,
          timings: t,
          worstSeverity: report.worstSeverity ?? null,
          intervalSeconds: report.observer?.intervalSeconds ?? null,
          integrity: report.integrity,
          reasons: report.reasons,
        });
      else
        out.line(
          `${scenario.name}: ${report.outcome.toUpperCase()}  detect ${f(t.detectSeconds)}${t.pageSeconds !== undefined ? `  page ${f(t.pageSeconds)}` : ""}  mitigate ${f(t.mitigateSeconds)}  recover ${f(t.recoverSeconds)}  worst ${report.worstSeverity ?? "—"}  lost ${report.integrity?.lost ?? "—"}  (every ${report.observer?.intervalSeconds ?? "?"} s)${report.reasons.length ? `  (${report.reasons.join("; ")})` : ""}`,
        );
      if (argv["report-dir"]) {
        const dir = resolve(argv["report-dir"], scenario.name);
        const { writeReportFiles } = await import("@gm/report/write");
        await writeReportFiles(dir, report);
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (argv["report-dir"] && reports.length) {
      const { toJUnit } = await import("@gm/report/junit");
      mkdirSync(argv["report-dir"], { recursive: true });
      writeFileSync(join(argv["report-dir"], "junit.xml"), toJUnit(reports, { suiteName: "gameday" }));
    }
    if (stop && !argv.keep) await stop();
  }
  const aborted = reports.some((r) => r.outcome === "aborted") || ac.signal.aborted;
  const failed = reports.filter((r) => r.outcome === "failed").length;
  if (aborted) fail(`aborted (${String(ac.signal.reason ?? "halt or deadline")}); faults undone`, 130);
  if (failed) fail(`${failed} of ${reports.length} drill(s) failed`, 1);
}
