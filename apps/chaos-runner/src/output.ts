/** Output of the CLI: results on stdout, progress on stderr (plain lines, timestamped by elapsed time). */
export interface Out {
  line(s: string): void;
  raw(s: string): void;
  json(v: unknown): void;
  progress(s: string): void;
}

export function createOut(stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Out {
  const t0 = Date.now();
  return {
    line: (s) => void stdout.write(s + "\n"),
    raw: (s) => void stdout.write(s),
    json: (v) => void stdout.write(JSON.stringify(v, null, 2) + "\n"),
    progress: (s) => void stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`),
  };
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function fail(message: string, exitCode = 1): never {
  throw new CliError(message, exitCode);
}
