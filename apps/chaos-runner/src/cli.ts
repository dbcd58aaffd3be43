#!/usr/bin/env node
/** gm-chaos: game-day drills and the drill stack. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { redactText } from "@gm/runbook/redact";
import { debugRequested, exitAfterFlush, requireNode24, silenceKafkajsTimeoutWarning, unexpectedError } from "@gm/stack/runtime";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { drillOptions, runDrillCommand } from "./commands/drill.js";
import { haltCommands, planCommand, recoverCommand, reportCommand, runbookCommand, watchdogCommand } from "./commands/ops.js";
import { stackCommand } from "./commands/stack.js";
import { demoCommand, runDemo } from "./commands/demo.js";
import { schemaCommand } from "./commands/schema.js";
import { CliError, createOut, type Out } from "./output.js";

const TOOL = "gm-chaos";

export function buildCli(args: string[], out: Out = createOut()) {
  let y = yargs(args).scriptName("gm-chaos");
  for (const add of [planCommand, recoverCommand, haltCommands, runbookCommand, reportCommand, watchdogCommand, schemaCommand])
    y = add(y, out);
  return y
    .usage("$0 <command> [options]\n\nGame-day drills for the GameMetrics Pro runbook, against a real stack.")
    .command("stack", "Start, inspect and remove the drill stack", (y) => stackCommand(y, out))
    .command(
      "demo",
      "Start a fresh stack, push a burst of events through it and print what arrived in PostgreSQL",
      (y) => demoCommand(y),
      (argv) => runDemo(argv, out),
    )
    .command(
      "drill [scenarios..]",
      "Run game-day drills: inject the runbook's faults, detect, remediate, verify recovery and that no event was lost",
      (y) => drillOptions(y),
      (argv) => runDrillCommand(argv as never, out),
    )
    .option("debug", { type: "boolean", default: false, describe: "print the stack trace of an unexpected error (or GM_DEBUG=1)" })
    .demandCommand(1, "name a command (see --help)")
    .strict()
    .exitProcess(false)
    .help()
    .alias("h", "help")
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err; // CliError from a check (exit 2) or a failure in a handler
      throw new CliError(`${msg}\nRun with --help for usage.`, 2);
    });
}

/** Errors that mean the input was bad (exit 2), by name: ConfigFileError (@gm/monitor), ScenarioError, ReportLoadError (@gm/report), StackOptionError (@gm/stack), LokiOptionError (@gm/platform). */
const KNOWN_INPUT_ERRORS = ["ConfigFileError", "ScenarioError", "ReportLoadError", "StackOptionError", "LokiOptionError"];

export async function run(args: string[], out: Out = createOut()): Promise<number> {
  try {
    await buildCli(args, out).parseAsync();
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`gm-chaos: ${redactText(err.message)}\n`);
      return err.exitCode;
    }
    // Known bad input from the packages: a file, a drill, a report. Its message names what and where.
    if (err instanceof Error && KNOWN_INPUT_ERRORS.includes(err.name)) {
      process.stderr.write(`gm-chaos: ${redactText(err.message)}\n`);
      return 2;
    }
    process.stderr.write(`${redactText(unexpectedError(TOOL, err, debugRequested(args)))}\n`);
    return 1;
  }
}

/** The CLI as a process: `node dist/cli.js` and the launcher npm links, bin/gm-chaos.js, both end here. */
export function main(args: string[] = hideBin(process.argv)): void {
  requireNode24(TOOL);
  silenceKafkajsTimeoutWarning();
  run(args).then(exitAfterFlush);
}

const entry = process.argv[1] ? realpathSync(process.argv[1]) : "";
const isMain = entry !== "" && realpathSync(fileURLToPath(import.meta.url)) === entry;
if (isMain) main();
