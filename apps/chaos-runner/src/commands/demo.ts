/** `gm-chaos demo`: the quick start — a fresh stack, a burst of events through it, what arrived. */
import type { Argv } from "yargs";
import { CliError, fail, type Out } from "../output.js";

export function demoCommand(y: Argv) {
  return y
    .option("brokers", { type: "number", choices: [1, 3], default: 3, describe: "Kafka brokers" })
    .option("events", { type: "number", default: 5000, describe: "events to send" })
    .option("batch-size", { type: "number", default: 500, describe: "events per POST /events" })
    .option("keep", { type: "boolean", default: false, describe: "leave the stack running afterwards" })
    .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
    .check((a) => {
      if (!Number.isInteger(a.events) || a.events < 1) throw new CliError(`--events: expected a positive integer, got ${a.events}`, 2);
      if (!Number.isInteger(a["batch-size"]) || a["batch-size"] < 1 || a["batch-size"] > 1000)
        throw new CliError(`--batch-size: expected an integer from 1 to 1000, got ${a["batch-size"]}`, 2);
      return true;
    });
}

export async function runDemo(
  argv: { brokers: number; events: number; "batch-size": number; keep: boolean; json: boolean },
  out: Out,
): Promise<void> {
  const { makeEvents, postEvents, waitStored } = await import("@gm/stack/load-generator");
  const { startStack } = await import("@gm/stack/stack");
  const t0 = Date.now();
  const stack = await startStack({ brokers: argv.brokers as 1 | 3, onProgress: (m) => out.progress(m) });
  const startSeconds = (Date.now() - t0) / 1000;
  try {
    const runId = `demo-${Date.now().toString(36)}`;
    out.progress(`sending ${argv.events} events to ${stack.endpoints.services["ingest-api"]}/events`);
    const sent = await postEvents(stack.endpoints.services["ingest-api"], makeEvents(runId, argv.events), {
      batchSize: argv["batch-size"],
    });
    out.progress(`${sent.acknowledged.length} acknowledged in ${sent.seconds.toFixed(2)} s; waiting for PostgreSQL`);
    const stored = await waitStored(stack.endpoints.postgresUrl, sent.acknowledged, 60_000, sent.digests);
    const sample = sent.acknowledged[0];
    const readBack = sample ? await fetch(`${stack.endpoints.services["stats-api"]}/events/${sample}`).then((r) => r.json()) : null;
    const result = {
      stackId: stack.options.id,
      stackStartSeconds: startSeconds,
      sent: argv.events,
      acknowledged: sent.acknowledged.length,
      statusCounts: sent.statusCounts,
      storedInPostgres: stored.found,
      lost: stored.lost.length,
      duplicates: stored.duplicates,
      altered: stored.altered.length,
      endToEndSeconds: (Date.now() - t0) / 1000 - startSeconds,
      sampleReadBack: readBack,
    };
    if (argv.json) out.json(result);
    else {
      out.line(`stack ${result.stackId} started in ${startSeconds.toFixed(1)} s`);
      out.line(
        `sent ${result.sent} events, ${result.acknowledged} acknowledged by ingest-api (HTTP ${JSON.stringify(result.statusCounts)})`,
      );
      out.line(
        `stored in PostgreSQL: ${result.storedInPostgres}, lost: ${result.lost}, duplicates: ${result.duplicates}, altered: ${result.altered}, in ${result.endToEndSeconds.toFixed(1)} s`,
      );
      out.line(`read back through stats-api: ${JSON.stringify(readBack)}`);
    }
    if (stored.lost.length > 0 || sent.acknowledged.length !== argv.events) fail("not every event arrived", 1);
    if (stored.altered.length > 0) fail(`${stored.altered.length} event(s) stored altered: ${stored.altered.slice(0, 10).join(", ")}`, 1);
  } finally {
    if (argv.keep) out.progress(`stack ${stack.options.id} left running: gm-chaos stack down --id ${stack.options.id}`);
    else {
      await stack.stop();
      out.progress(`stack ${stack.options.id} removed`);
    }
  }
}
