#!/usr/bin/env node
/**
 * gm-prober: the synthetic monitor. `run` is the service; `once` is one classified snapshot; `check` validates a
 * configuration; `schema` prints the JSON Schema of the configuration or of a policy file.
 */
import { realpathSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { debugRequested, exitAfterFlush, requireNode24, silenceKafkajsTimeoutWarning, unexpectedError } from "@gm/stack/runtime";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { type Policy, policyJsonSchema } from "@gm/runbook/policy";
import { redactText } from "@gm/runbook/redact";
import { type ProberConfig, proberConfigJsonSchema } from "@gm/monitor/config";
import { buildProber, ConfigFileError, loadProberConfig } from "@gm/monitor/build-prober";
import { defaultJournalDir, openIncidentJournal } from "@gm/monitor/incident-journal";
import { renderTable } from "./render.js";

const TOOL = "gm-prober";

/** `gm-prober schema [config|policy]`: the JSON Schemas editors check these files with (schemas/*.schema.json). */
export const SCHEMA_KINDS = { config: proberConfigJsonSchema, policy: policyJsonSchema } as const;

class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function loadConfig(path: string): { config: ProberConfig; policy: Policy } {
  try {
    return loadProberConfig(path);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new UsageError(err.message);
    throw err;
  }
}

export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName("gm-prober")
    .usage(
      "$0 <command> --config prober.yaml\n\nSynthetic monitoring of GameMetrics Pro: health, error rates, consumer lag, pool usage → P0–P3.",
    )
    .option("config", {
      type: "string",
      describe: "prober configuration (YAML); `gm-chaos stack up --prober-config FILE` writes one",
    })
    .option("debug", { type: "boolean", default: false, describe: "print the stack trace of an unexpected error (or GM_DEBUG=1)" })
    .command(
      "check",
      "Validate the configuration and its policy, touching nothing; exit 0 when valid, 2 with a message per problem otherwise",
      (y) => y.demandOption("config"),
      (argv) => {
        const { config, policy } = loadConfig(argv.config);
        const services = Object.entries(config.services).map(([s, urls]) => `${s} (${urls.length})`);
        const parts = ["kafka", "postgres", "synthetic", "security", "prometheus", "alertmanager", "loki", "platform"].filter(
          (k) => config[k as keyof ProberConfig] !== undefined,
        );
        process.stdout.write(
          `${argv.config}: valid: probes ${services.join(", ")}${parts.length ? `; ${parts.join(", ")}` : ""}; every ${config.intervalSeconds} s; policy ${config.policy ?? "(the runbook's defaults)"} (P1 above ${policy.thresholds.errorRate.p1Above * 100}% errors)\n`,
        );
      },
    )
    .command(
      "once",
      "Take one snapshot, classify it and print it; exit 0 when healthy, 1 when any incident is open",
      (y) =>
        y
          .demandOption("config")
          .option("json", { type: "boolean", default: false, describe: "print {snapshot, incidents} as JSON" })
          .option("format", { type: "string", choices: ["json", "table"], describe: "output format (default: table, or json with --json)" })
          .option("settle", {
            type: "number",
            default: 2,
            describe: "seconds between the priming round and the classified one (rates need two samples)",
          })
          .check((a) => {
            if (!Number.isFinite(a.settle) || a.settle < 0 || a.settle > 3600)
              throw new UsageError(
                `--settle: expected a number of seconds from 0 to 3600, got ${Number.isNaN(a.settle) ? "something that is not a number" : a.settle}`,
              );
            return true;
          }),
      async (argv) => {
        const { config, policy } = loadConfig(argv.config);
        // stdout is the result (a JSON document with --json); an incident's log line goes to stderr
        const log = (r: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify(r)}\n`);
        const prober = await buildProber({ ...config, hysteresis: { resolveAfter: 1 } }, policy, { log });
        try {
          await prober.round();
          await new Promise((r) => setTimeout(r, argv.settle * 1000));
          const r = await prober.round();
          const format = argv.format ?? (argv.json ? "json" : "table");
          if (format === "json") {
            process.stdout.write(`${JSON.stringify({ snapshot: r.snapshot, incidents: r.incidents }, null, 2)}\n`);
          } else process.stdout.write(renderTable(r.snapshot, r.incidents));
          process.exitCode = r.incidents.length > 0 ? 1 : 0;
        } finally {
          await prober.close();
        }
      },
    )
    .command(
      "run",
      "Probe every interval; serve /metrics and /healthz; log incidents as JSON lines; alert Alertmanager",
      (y) =>
        y
          .demandOption("config")
          .option("rounds", { type: "number", describe: "stop after N rounds (default: run until SIGTERM)" })
          .option("journal-dir", {
            type: "string",
            describe:
              "where the incident journal is kept (default: the configuration's journal.dir, else $GM_PROBER_STATE_DIR, else ~/.local/state/gm-prober)",
          })
          .check((a) => {
            if (a.rounds !== undefined && (!Number.isInteger(a.rounds) || a.rounds < 1))
              throw new UsageError(
                `--rounds: expected a whole number of rounds ≥ 1, got ${Number.isNaN(a.rounds) ? "something that is not a number" : a.rounds}`,
              );
            return true;
          }),
      async (argv) => {
        const { config, policy } = loadConfig(argv.config);
        const journalDir = argv["journal-dir"] ?? config.journal?.dir ?? defaultJournalDir();
        let journal: ReturnType<typeof openIncidentJournal>;
        try {
          journal = openIncidentJournal({
            dir: journalDir,
            ...(config.journal ? { maxBytes: config.journal.maxBytes, files: config.journal.files } : {}),
          });
        } catch (err) {
          throw new UsageError(
            `${argv["journal-dir"] ? "--journal-dir" : config.journal?.dir ? "journal.dir" : "the incident journal"} ${journalDir}: cannot be written (${(err as Error).message})`,
          );
        }
        for (const p of journal.problems) process.stderr.write(`gm-prober: incident journal: ${p}\n`);
        const open = journal.open();
        if (open.length > 0)
          process.stderr.write(
            `gm-prober: continuing ${open.length} open incident(s) from the journal: ${open.map((l) => l.id).join(", ")}\n`,
          );
        const prober = await buildProber(config, policy, { journal });
        let lastRoundAt = 0;
        const server = createServer(async (req, res) => {
          if (req.url === "/metrics") {
            res.writeHead(200, { "content-type": prober.registry.contentType });
            res.end(await prober.registry.metrics());
          } else if (req.url === "/healthz") {
            // Healthy while rounds keep happening: a stuck loop fails the liveness probe.
            const fresh = Date.now() - lastRoundAt < Math.max(3 * config.intervalSeconds * 1000, 30_000);
            res.writeHead(fresh ? 200 : 503, { "content-type": "application/json" });
            res.end(JSON.stringify({ ok: fresh, lastRoundAt: lastRoundAt ? new Date(lastRoundAt).toISOString() : null }));
          } else {
            res.writeHead(404).end();
          }
        });
        try {
          await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(config.listen.port, config.listen.host, () => {
              server.off("error", reject);
              resolve();
            });
          });
        } catch (err) {
          await prober.close();
          const code = (err as NodeJS.ErrnoException).code;
          const why =
            code === "EADDRINUSE"
              ? "the address is already in use"
              : code === "EACCES"
                ? "permission denied"
                : code === "EADDRNOTAVAIL"
                  ? "no such local address"
                  : (err as Error).message;
          throw new UsageError(`listen: cannot listen on ${config.listen.host}:${config.listen.port}: ${why}${code ? ` (${code})` : ""}`);
        }
        process.stderr.write(
          `gm-prober: listening on http://${config.listen.host}:${config.listen.port} (/metrics, /healthz), every ${config.intervalSeconds} s; incident journal ${journalDir}\n`,
        );
        lastRoundAt = Date.now();
        let stop = false;
        const onSignal = () => {
          stop = true;
        };
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
        for (let n = 0; !stop && (argv.rounds === undefined || n < argv.rounds); n++) {
          const started = Date.now();
          await prober.round();
          lastRoundAt = Date.now();
          const wait = config.intervalSeconds * 1000 - (Date.now() - started);
          if (wait > 0 && !stop) await new Promise((r) => setTimeout(r, wait));
        }
        server.close();
        await prober.close();
      },
    )
    .command(
      "schema [kind]",
      "Print the JSON Schema of the prober configuration (config, the default) or of a policy file (policy); committed in schemas/",
      (y) => y.positional("kind", { choices: Object.keys(SCHEMA_KINDS), default: "config", describe: "which file's schema" }),
      (argv) => {
        process.stdout.write(SCHEMA_KINDS[argv.kind as keyof typeof SCHEMA_KINDS]());
      },
    )
    .demandCommand(1, "name a command: check, once, run or schema")
    .strict()
    .exitProcess(false)
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg}\nRun with --help for usage.`);
    });
}

export async function run(args: string[]): Promise<number> {
  try {
    await buildCli(args).parseAsync();
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gm-prober: ${redactText(err.message)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${redactText(unexpectedError(TOOL, err, debugRequested(args)))}\n`);
    return 1;
  }
}

/** The CLI as a process: `node dist/cli.js` and the launcher npm links, bin/gm-prober.js, both end here. */
export function main(args: string[] = hideBin(process.argv)): void {
  requireNode24(TOOL);
  silenceKafkajsTimeoutWarning();
  run(args).then(exitAfterFlush);
}

const entry = process.argv[1] ? realpathSync(process.argv[1]) : "";
if (entry !== "" && realpathSync(fileURLToPath(import.meta.url)) === entry) main();
