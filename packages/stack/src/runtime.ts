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
    process.stderr.write(
      `${tool}: needs Node.js 24 or newer, this is ${process.version}; run it through npm (npx ${tool}) or node_modules/.bin/node, which the repository's node@24 dev dependency provides\n`,
    );
    process.exit(2);
  }
}

/**
 * Ends the process with `code` once everything written to stdout and stderr has been handed to the
 * OS. `process.exit` right after a write cut piped output at 64 KiB (a pipe's buffer): writes to a
 * pipe are asynchronous, and exit drops what is still queued.
 */
export function exitAfterFlush(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  // an empty write's callback runs after every earlier write on the stream has completed
  process.stdout.write("", done);
  process.stderr.write("", done);
}

/** Whether the user asked for stack traces: `--debug` among the arguments, or GM_DEBUG set (not "0"). */
export function debugRequested(args: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return args.includes("--debug") || (env["GM_DEBUG"] !== undefined && env["GM_DEBUG"] !== "" && env["GM_DEBUG"] !== "0");
}

/**
 * One line for an error the CLI did not expect: its message (first line) and code, no stack trace
 * unless `debug`. A system error names its path (EACCES on a file, say).
 */
export function unexpectedError(tool: string, err: unknown, debug: boolean): string {
  if (debug && err instanceof Error && err.stack) return `${tool}: ${err.stack}`;
  const e = err as NodeJS.ErrnoException;
  const first = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  const code = err instanceof Error && typeof e.code === "string" && !first.includes(e.code) ? ` (${e.code})` : "";
  return `${tool}: ${first}${code}${debug ? "" : " [run with --debug or GM_DEBUG=1 for the stack trace]"}`;
}
