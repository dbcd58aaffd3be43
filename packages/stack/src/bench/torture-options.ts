/**
 * The options of `npm run torture:platform` (pure): parsed once, each bad value refused with a
 * message that names the option, what was expected and what was given.
 */
import { parseArgs } from "node:util";

export const PHASES = ["broker-restarts", "partition", "postgres-restart", "processor-kill", "redelivery"] as const;
export type PhaseName = (typeof PHASES)[number];

export interface TortureOptions {
  phases: PhaseName[];
  baselineSeconds: number;
  restartMinutes: number;
  restartIntervalSeconds: number;
  /** how a broker is restarted: SIGKILL then start (an unclean stop), or docker stop (SIGTERM, 10 s) then start */
  restartSignal: "kill" | "term";
  /** broker to cut off the network: 1..3, or the active KRaft controller */
  partitionBroker: number | "controller";
  partitionSeconds: number;
  postgresDownSeconds: number;
  processorKills: number;
  pauseSeconds: number;
  rewind: number;
  rate: number;
  batch: number;
  processors: number;
  catchupTimeoutSeconds: number;
  stackId: string | undefined;
  json: boolean;
}

export class TortureOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TortureOptionError";
  }
}

export const HELP = `npm run torture:platform -- [options]

Starts its own stack (3 KRaft brokers, PostgreSQL, ingest-api, event processors, stats-api) and,
under continuous load through ingest-api (every 202-acknowledged event remembered with the content
sent), runs these faults one after the other, each undone before the next:
  broker-restarts   a broker restarted every --restart-interval s for --restart-minutes, round-robin
  partition         one broker cut off the stack's network (docker network disconnect), then reconnected
  postgres-restart  PostgreSQL stopped and started again
  processor-kill    an event processor SIGKILLed while a batch's transaction is open, then started again
  redelivery        a processor frozen past its session (rebalance), then every processor stopped, the
                    group's offsets rewound and the processors started again: redelivery, then dedup
After each phase it waits for the processors to catch up and checks PostgreSQL and the topic: every
acknowledged event stored exactly once with the content sent, none acknowledged that Kafka does not
have. Prints a table per phase; exit 1 when anything acknowledged was lost, duplicated or altered,
2 for a bad option.

Options:
  --phases LIST                comma-separated phases to run (default: all, in the order above)
  --baseline-seconds N         load without a fault first (default 20)
  --restart-minutes N          length of broker-restarts (default 5; fractions allowed)
  --restart-interval N         seconds between two broker restarts (default 20)
  --restart-signal kill|term   SIGKILL (default) or a graceful stop before each start
  --partition-broker N|controller  broker to partition (default: the active controller)
  --partition-seconds N        how long it stays cut off (default 30)
  --postgres-down-seconds N    how long PostgreSQL stays stopped (default 5)
  --processor-kills N          SIGKILLs of a processor mid-batch (default 2)
  --pause-seconds N            how long a processor is frozen for the rebalance (default 25; > 15 s session)
  --rewind N                   messages per partition re-delivered by rewinding the group's offsets (default 300)
  --rate N                     events per second sent to ingest-api (default 200)
  --batch N                    events per request (default 20)
  --processors N               event processor replicas (default 2)
  --catchup-timeout N          seconds allowed for the processors to catch up after a phase (default 180)
  --stack-id ID                id of the stack this run starts (default torture-<random>)
  --json                       also print the result as one JSON line
  -h, --help                   this text
`;

function num(name: string, raw: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const ok = raw.trim() !== "" && Number.isFinite(v) && (!integer || Number.isInteger(v)) && v >= min && v <= max;
  if (!ok)
    throw new TortureOptionError(
      `--${name}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  return v;
}

/** Parses argv (without node and the script); `help` when -h/--help was asked. */
export function parseTortureArgs(argv: string[]): TortureOptions | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        json: { type: "boolean" },
        phases: { type: "string" },
        "baseline-seconds": { type: "string" },
        "restart-minutes": { type: "string" },
        "restart-interval": { type: "string" },
        "restart-signal": { type: "string" },
        "partition-broker": { type: "string" },
        "partition-seconds": { type: "string" },
        "postgres-down-seconds": { type: "string" },
        "processor-kills": { type: "string" },
        "pause-seconds": { type: "string" },
        rewind: { type: "string" },
        rate: { type: "string" },
        batch: { type: "string" },
        processors: { type: "string" },
        "catchup-timeout": { type: "string" },
        "stack-id": { type: "string" },
      },
    }));
  } catch (err) {
    throw new TortureOptionError(`${(err as Error).message} (see --help)`);
  }
  if (values["help"]) return "help";
  const s = (k: string) => values[k] as string | undefined;
  let phases: PhaseName[] = [...PHASES];
  const rawPhases = s("phases");
  if (rawPhases !== undefined) {
    const list = rawPhases
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    const unknown = list.filter((p) => !(PHASES as readonly string[]).includes(p));
    if (list.length === 0 || unknown.length > 0)
      throw new TortureOptionError(`--phases: expected a comma-separated list of ${PHASES.join(", ")}, got ${JSON.stringify(rawPhases)}`);
    // always in the documented order, each once
    phases = PHASES.filter((p) => list.includes(p));
  }
  const signal = s("restart-signal") ?? "kill";
  if (signal !== "kill" && signal !== "term")
    throw new TortureOptionError(`--restart-signal: expected kill or term, got ${JSON.stringify(signal)}`);
  const rawBroker = s("partition-broker") ?? "controller";
  const partitionBroker = rawBroker === "controller" ? "controller" : num("partition-broker", rawBroker, 1, 1, 3, true);
  const stackId = s("stack-id");
  if (stackId !== undefined && !/^[a-z0-9][a-z0-9-]{0,30}$/.test(stackId))
    throw new TortureOptionError(`--stack-id: expected lower-case letters, digits and dashes (at most 31), got ${JSON.stringify(stackId)}`);
  const processors = num("processors", s("processors"), 2, 1, 4, true);
  const phaseSet = new Set(phases);
  if (phaseSet.has("redelivery") && processors < 2)
    throw new TortureOptionError(
      `--processors: expected at least 2 for the redelivery phase (a rebalance needs a second member), got ${processors}`,
    );
  return {
    phases,
    baselineSeconds: num("baseline-seconds", s("baseline-seconds"), 20, 0, 3600, false),
    restartMinutes: num("restart-minutes", s("restart-minutes"), 5, 0.1, 120, false),
    restartIntervalSeconds: num("restart-interval", s("restart-interval"), 20, 5, 600, false),
    restartSignal: signal,
    partitionBroker,
    partitionSeconds: num("partition-seconds", s("partition-seconds"), 30, 1, 600, false),
    postgresDownSeconds: num("postgres-down-seconds", s("postgres-down-seconds"), 5, 0, 600, false),
    processorKills: num("processor-kills", s("processor-kills"), 2, 1, 20, true),
    pauseSeconds: num("pause-seconds", s("pause-seconds"), 25, 1, 600, false),
    rewind: num("rewind", s("rewind"), 300, 1, 1_000_000, true),
    rate: num("rate", s("rate"), 200, 1, 5_000, false),
    batch: num("batch", s("batch"), 20, 1, 1000, true),
    processors,
    catchupTimeoutSeconds: num("catchup-timeout", s("catchup-timeout"), 180, 10, 3600, false),
    stackId,
    json: values["json"] === true,
  };
}
