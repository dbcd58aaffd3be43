/**
 * kafkajs 2.2.4 passes `throttledUntil - Date.now()` (a huge negative number before any throttling) to
 * setTimeout; Node 24 clamps it to 1 ms as older Nodes did, but prints a TimeoutNegativeWarning for every
 * connection (kafkajs#1751, unfixed upstream). Only that warning is dropped; every other one prints.
 */
export function silenceKafkajsTimeoutWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const name = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (name === "TimeoutNegativeWarning" || (warning instanceof Error && warning.name === "TimeoutNegativeWarning")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/**
 * testcontainers 12 and @kubernetes/client-node 2 pull undici 8, which crashes at import on Node 20
 * (`createZstdDecompress` is undefined): refuse early with a message instead.
 */
export function requireNode24(tool: string): void {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) {
    process.stderr.write(`${tool}: needs Node.js 24 or newer, this is ${process.version}; run it through npm (npx ${tool}) or node_modules/.bin/node, which the repository's node@24 dev dependency provides\n`);
    process.exit(2);
  }
}
