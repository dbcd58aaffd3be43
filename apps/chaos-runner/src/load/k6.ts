/**
 * k6 as the drill's load generator, where a k6 binary exists (GM_K6_BIN, or `k6` on PATH): runs
 * scenarios/k6/ingest-load.ts and reads every acknowledged id from its JSON log lines
 * (`console.log(JSON.stringify({ ack: ids }))` in the script, `--log-format=json` on the command line).
 * Not exercised in this workplace: its package list marks go.k6.io/k6 as not to be used (AGPL).
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { LoadResult, LoadRun } from "./http-load.js";

export function findK6(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env["GM_K6_BIN"], ...(env["PATH"] ?? "").split(delimiter).map((d) => join(d, "k6"))].filter((x): x is string => !!x);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** Acknowledged ids from k6's JSON log lines; other lines are ignored. */
export function parseK6Acks(line: string): string[] {
  try {
    const rec = JSON.parse(line) as { msg?: unknown; source?: unknown };
    if (typeof rec.msg !== "string" || !rec.msg.startsWith('{"ack"')) return [];
    const ack = (JSON.parse(rec.msg) as { ack?: unknown }).ack;
    return Array.isArray(ack) ? ack.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export function startK6Load(opts: {
  bin: string;
  script: string;
  ingestUrl: string;
  runId: string;
  rate: number;
  batch: number;
  maxSeconds?: number;
}): LoadRun {
  const acknowledged: string[] = [];
  const child = spawn(opts.bin, ["run", "--quiet", "--no-usage-report", "--log-format=json", opts.script], {
    env: {
      ...process.env,
      INGEST_URL: opts.ingestUrl,
      RUN_ID: opts.runId,
      RATE: String(opts.rate),
      BATCH: String(opts.batch),
      DURATION: `${opts.maxSeconds ?? 3600}s`,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let buf = "";
  child.stderr.on("data", (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      acknowledged.push(...parseK6Acks(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  return {
    acknowledgedCount: () => acknowledged.length,
    async stop(): Promise<LoadResult> {
      // SIGINT: k6 stops the scenario, lets in-flight requests finish and logs their acks.
      child.kill("SIGINT");
      const code = await exited;
      if (buf) acknowledged.push(...parseK6Acks(buf));
      // k6 reports acknowledged ids only: a 5xx-share tolerance is "not measured" under k6 load
      return { acknowledged, requests: [], rejected: 0, statusCounts: { "202": acknowledged.length, [`k6-exit-${code}`]: 1 } };
    },
  };
}
