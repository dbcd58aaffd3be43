/** `gm-chaos drill <scenario…|all>`: game-day drills against a stack this runner started (or an allowed one). */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv } from "yargs";
import { defaultPolicy, parsePolicy, type Policy } from "@gm/runbook/policy";
import type { DrillReport } from "@gm/report/schema";
import { haltFile } from "../drill/journal.js";
import { defaultScenariosDir, loadScenarios } from "../drill/load-scenarios.js";
import { type Scenario, ScenarioError } from "../drill/scenario.js";
import type { StackEndpoints } from "@gm/stack/stack";
import { CliError, fail, type Out } from "../output.js";
import { loadStacks } from "../state.js";
import { readFileSync } from "node:fs";

export function drillOptions(y: Argv) {
  return y
    .positional("scenarios", { type: "string", array: true, describe: "drill names (files in scenarios/), paths, or all" })
    .option("scenarios-dir", { type: "string", describe: "where drill files are (default: the repository's scenarios/)" })
    .option("report-dir", { type: "string", describe: "write report.json, junit.xml, report.md, report.html and signals.svg per drill here" })
    .option("stack-id", { type: "string", describe: "drill an existing stack (started by `gm-chaos stack up`, or named with --allow) instead of starting one" })
    .option("allow", { type: "string", array: true, default: [] as string[], describe: "stack ids this runner may act on although it did not start them" })
    .option("policy", { type: "string", describe: "severity policy override (YAML; default: scenarios/policy.yaml)" })
    .option("load", { type: "string", choices: ["builtin", "k6"], default: "builtin", describe: "load generator: built in, or scenarios/k6/ingest-load.ts through a k6 binary (GM_K6_BIN or PATH)" })
    .option("keep", { type: "boolean", default: false, describe: "leave the stack this runner started running afterwards" })
    .option("json", { type: "boolean", default: false, describe: "progress and results as JSON lines" });
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
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`--policy ${path}: cannot read: ${(err as Error).message}`, 2);
  }
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw new CliError(`--policy ${path}: invalid:\n  - ${parsed.problems.join("\n  - ")}`, 2);
  return parsed.policy;
}

export async function runDrillCommand(
  argv: { scenarios?: string[]; load?: string; "scenarios-dir"?: string; "report-dir"?: string; "stack-id"?: string; allow: string[]; policy?: string; keep: boolean; json: boolean },
  out: Out,
): Promise<void> {
  if (existsSync(haltFile())) fail(`drills are halted (gm-chaos halt); run \`gm-chaos resume\` first`, 3);
  const policy = drillPolicy(argv.policy, argv["scenarios-dir"] ?? defaultScenariosDir());
  const names = argv.scenarios?.length ? argv.scenarios : fail("name at least one drill, or all", 2);
  let scenarios: Scenario[];
  try {
    scenarios = loadScenarios(names, argv["scenarios-dir"] ?? defaultScenariosDir(), policy);
  } catch (err) {
    if (err instanceof ScenarioError) fail(err.message, 2);
    throw err;
  }
  const { runDrill } = await import("../drill/run.js");
  const { startStack } = await import("@gm/stack/stack");
  const emit = (e: Record<string, unknown>) => (argv.json ? out.line(JSON.stringify(e)) : undefined);

  // The target: a stack this runner starts, or one it started before (`stack up`), or one allowed by name.
  let endpoints: StackEndpoints;
  let brokers: number;
  let stop: (() => Promise<void>) | undefined;
  if (argv["stack-id"]) {
    const id = argv["stack-id"];
    const rec = loadStacks().find((r) => r.stackId === id);
    if (!rec && !argv.allow.includes(id)) fail(`refusing to act on stack "${id}": this runner did not start it and it is not allowed (--allow ${id})`, 2);
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
      const report = await runDrill({
        scenario,
        endpoints,
        brokers,
        policy,
        load: argv.load === "k6" ? "k6" : "builtin",
        signal: ac.signal,
        onProgress: (p) => (argv.json ? emit({ event: "progress", ...p }) : out.progress(`${p.scenario} [${p.phase}] ${p.message}`)),
      });
      reports.push(report);
      const t = report.timings;
      const f = (x: number | null) => (x === null ? "—" : `${x.toFixed(1)} s`);
      if (argv.json) emit({ event: "result", scenario: scenario.name, outcome: report.outcome, timings: t, integrity: report.integrity, reasons: report.reasons });
      else out.line(`${scenario.name}: ${report.outcome.toUpperCase()}  detect ${f(t.detectSeconds)}  mitigate ${f(t.mitigateSeconds)}  recover ${f(t.recoverSeconds)}  lost ${report.integrity?.lost ?? "—"}${report.reasons.length ? `  (${report.reasons.join("; ")})` : ""}`);
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
