/**
 * `npm run bench:stack`: cold and warm start-up time of the 3-broker stack, and the sustained end-to-end
 * rate (events acknowledged by ingest-api and committed in PostgreSQL per second). Prints numbers;
 * asserts nothing. Options: BENCH_EVENTS (default 60000), BENCH_BROKERS (3), BENCH_CONCURRENCY (6),
 * BENCH_BATCH (500), BENCH_PROCESSORS (1).
 */
import { checkStored, makeEvents, postEvents, waitStored } from "../load-generator.js";
import { silenceKafkajsTimeoutWarning } from "../runtime.js";
import { startStack, type Stack } from "../stack.js";

silenceKafkajsTimeoutWarning();

const env = (k: string, d: number) => Number(process.env[k] ?? d);
const events = env("BENCH_EVENTS", 60_000);
const brokers = env("BENCH_BROKERS", 3) as 1 | 3;
const concurrency = env("BENCH_CONCURRENCY", 6);
const batchSize = env("BENCH_BATCH", 500);
const processors = env("BENCH_PROCESSORS", 1);

async function timedStart(label: string): Promise<{ stack: Stack; seconds: number }> {
  const t0 = performance.now();
  const stack = await startStack({
    brokers,
    processorReplicas: processors,
    onProgress: (m) => process.stderr.write(`  [${label}] ${m}\n`),
  });
  return { stack, seconds: (performance.now() - t0) / 1000 };
}

async function main() {
  const results: Record<string, number | string> = { brokers, processors, events, concurrency, batchSize };
  // Cold: the first stack this process starts (image checks, demo image build if the bundle changed,
  // JVMs and PostgreSQL initdb from nothing). Warm: a second stack right after, same images.
  const cold = await timedStart("cold");
  results["coldStartSeconds"] = +cold.seconds.toFixed(1);
  await cold.stack.stop();
  const warm = await timedStart("warm");
  results["warmStartSeconds"] = +warm.seconds.toFixed(1);
  const stack = warm.stack;
  try {
    // Warm-up batch so connections and JIT are in place, then the measured run.
    await postEvents(stack.endpoints.services["ingest-api"], makeEvents("bench-warmup", 5_000), { batchSize, concurrency });
    const runId = `bench-${Date.now().toString(36)}`;
    const all = makeEvents(runId, events);
    const t0 = performance.now();
    const sent = await postEvents(stack.endpoints.services["ingest-api"], all, { batchSize, concurrency });
    const ackSeconds = (performance.now() - t0) / 1000;
    const stored = await waitStored(stack.endpoints.postgresUrl, sent.acknowledged, 300_000);
    const e2eSeconds = (performance.now() - t0) / 1000;
    const check = await checkStored(stack.endpoints.postgresUrl, sent.acknowledged);
    Object.assign(results, {
      acknowledged: sent.acknowledged.length,
      statusCounts: JSON.stringify(sent.statusCounts),
      ackRatePerSecond: Math.round(sent.acknowledged.length / ackSeconds),
      endToEndSeconds: +e2eSeconds.toFixed(2),
      endToEndRatePerSecond: Math.round(stored.found / e2eSeconds),
      lost: check.lost.length,
      duplicates: check.duplicates,
    });
  } finally {
    await stack.stop();
  }
  process.stdout.write("stack benchmark\n");
  for (const [k, v] of Object.entries(results)) process.stdout.write(`  ${k.padEnd(22)} ${v}\n`);
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((err) => {
  process.stderr.write(`bench:stack failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
