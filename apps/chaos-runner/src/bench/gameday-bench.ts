/**
 * `npm run bench:gameday`: a full game day (every drill in scenarios/, stack start included) as a real
 * process, observed by gm-prober's round at its default interval and alerting a real Alertmanager with
 * the committed routing; prints per drill the time to detect (end of the round that showed it), to page
 * (the expected alert at its receiver; "—" when Alertmanager never notified it), to mitigate and recover,
 * the worst severity open and the interval used, and the whole wall time. With `--runs N` the game day
 * runs N times, one after the other, and the table gives each time's median (min–max) over the runs.
 * `--json FILE` writes every run's results (what `npm run bench`'s summary reads). Numbers, not assertions.
 * BENCH_DRILLS="kafka-broker-down service-oom" picks drills (default: all).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatSummary, summarize } from "./page-timing.js";

const cli = fileURLToPath(new URL("../cli.js", import.meta.url));

export interface GamedayDrill {
  scenario: string;
  outcome: string;
  timings: {
    detectSeconds: number | null;
    pageSeconds?: number | null;
    firstPage?: { alerts: string[]; seconds: number } | null;
    mitigateSeconds: number | null;
    recoverSeconds: number | null;
  };
  worstSeverity: string | null;
  intervalSeconds: number | null;
  integrity: { acknowledged: number; lost: number } | null;
  reasons: string[];
}

export interface GamedayRun {
  run: number;
  wallSeconds: number;
  stackStartSeconds: number | null;
  exitCode: number | null;
  reportDir: string;
  drills: GamedayDrill[];
}

export interface GamedayResult {
  benchmark: "gameday";
  at: string;
  runs: GamedayRun[];
}

export const GAMEDAY_USAGE =
  "usage: npm run bench:gameday -- [--runs N] [--json FILE]\n  the whole game day N times (default 1); BENCH_DRILLS='a b' picks drills (default: all)\n";

export function parseGamedayArgs(args: readonly string[]): { runs: number; json: string | null; help?: true } {
  let runs = 1;
  let json: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if (a === "--runs") {
      if (v === undefined || !/^[1-9]\d*$/.test(v)) throw new Error(`--runs: expected a whole number ≥ 1, got ${JSON.stringify(v ?? "")}`);
      runs = Number(v);
      i++;
    } else if (a === "--json") {
      if (!v) throw new Error("--json: expected a file to write the results to");
      json = resolve(v);
      i++;
    } else if (a === "--help" || a === "-h") {
      return { runs, json, help: true };
    } else throw new Error(`unknown option ${JSON.stringify(a)} (expected --runs N or --json FILE)`);
  }
  return { runs, json };
}

async function oneGameday(run: number, drills: readonly string[]): Promise<GamedayRun> {
  const reportDir = mkdtempSync(join(tmpdir(), "gm-gameday-bench-"));
  const t0 = performance.now();
  let stackReadyAt: number | null = null;
  const results: GamedayDrill[] = [];
  const child = spawn(process.execPath, [cli, "drill", ...drills, "--json", "--alertmanager", "--report-dir", reportDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buf = "";
  child.stdout.on("data", (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e["event"] === "stack" && String(e["message"]).endsWith("ready")) stackReadyAt = performance.now();
        if (e["event"] === "progress")
          process.stderr.write(
            `  [run ${run} ${(e["elapsedSeconds"] as number).toFixed(1)}s] ${String(e["scenario"])} ${String(e["phase"])}: ${String(e["message"])}\n`,
          );
        if (e["event"] === "result") results.push(e as never);
      } catch {
        // not a JSON line
      }
    }
  });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  const wall = (performance.now() - t0) / 1000;
  const ready = stackReadyAt as number | null;
  return {
    run,
    wallSeconds: +wall.toFixed(1),
    stackStartSeconds: ready === null ? null : +((ready - t0) / 1000).toFixed(1),
    exitCode: code,
    reportDir,
    drills: results,
  };
}

/** The table: one line per drill with each time's median (min–max) over the runs, then the wall times. */
export function gamedayTable(runs: readonly GamedayRun[]): string {
  const out = [
    `game day benchmark, ${runs.length} run(s) (seconds from injection; median (min–max) over the runs)`,
    "| drill | passed | detect | page | first page | mitigate | recover | worst | acked (lost) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const names = [...new Set(runs.flatMap((r) => r.drills.map((d) => d.scenario)))];
  for (const name of names) {
    const ds = runs.map((r) => r.drills.find((d) => d.scenario === name)).filter((d): d is GamedayDrill => d !== undefined);
    const col = (f: (d: GamedayDrill) => number | null | undefined, none?: string) =>
      formatSummary(summarize(ds.map((d) => f(d) ?? null)), none);
    const worst = [...new Set(ds.map((d) => d.worstSeverity ?? "—"))].join("/");
    const acked = ds.map((d) => (d.integrity ? `${d.integrity.acknowledged} (${d.integrity.lost})` : "—")).join(", ");
    out.push(
      `| ${name} | ${ds.filter((d) => d.outcome === "passed").length}/${ds.length} | ${col((d) => d.timings.detectSeconds)} | ${col((d) => d.timings.pageSeconds, "no page")} | ${col((d) => d.timings.firstPage?.seconds, "no page")} | ${col((d) => d.timings.mitigateSeconds, "never")} | ${col((d) => d.timings.recoverSeconds, "never")} | ${worst} | ${acked} |`,
    );
  }
  const wall = summarize(runs.map((r) => r.wallSeconds));
  const start = summarize(runs.map((r) => r.stackStartSeconds));
  out.push("");
  out.push(
    `whole game day ${formatSummary(wall)} wall; stack start ${formatSummary(start)}; exit codes ${runs.map((r) => r.exitCode).join(", ")}`,
  );
  for (const r of runs) for (const d of r.drills) for (const why of d.reasons) out.push(`run ${r.run} ${d.scenario} failed: ${why}`);
  return out.join("\n");
}

async function main(args: string[]): Promise<number> {
  let o: { runs: number; json: string | null; help?: true };
  try {
    o = parseGamedayArgs(args);
  } catch (err) {
    process.stderr.write(`bench:gameday: ${(err as Error).message}\n${GAMEDAY_USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(GAMEDAY_USAGE);
    return 0;
  }
  const drills = (process.env["BENCH_DRILLS"] ?? "all").split(/\s+/).filter(Boolean);
  const runs: GamedayRun[] = [];
  const at = new Date().toISOString();
  for (let run = 1; run <= o.runs; run++) {
    process.stderr.write(`[bench:gameday] run ${run} of ${o.runs}: gm-chaos drill ${drills.join(" ")}\n`);
    const r = await oneGameday(run, drills);
    runs.push(r);
    process.stderr.write(`[bench:gameday] run ${run}: ${r.wallSeconds} s wall, exit ${r.exitCode}, reports in ${r.reportDir}\n`);
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ benchmark: "gameday", at, runs } satisfies GamedayResult, null, 2)}\n`);
  }
  process.stdout.write(`${gamedayTable(runs)}\n`);
  return runs.every((r) => r.exitCode === 0) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
