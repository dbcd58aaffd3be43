/**
 * `npm run bench:gameday`: a full game day (every drill in scenarios/, stack start included) as a real
 * process; prints per drill the time to detect / mitigate / recover and the whole wall time. Numbers,
 * not assertions. BENCH_DRILLS="kafka-broker-down service-oom" picks drills (default: all).
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../cli.js", import.meta.url));
const drills = (process.env["BENCH_DRILLS"] ?? "all").split(/\s+/).filter(Boolean);
const reportDir = mkdtempSync(join(tmpdir(), "gm-gameday-bench-"));
const t0 = performance.now();
let stackReadyAt: number | null = null;
const results: { scenario: string; outcome: string; timings: { detectSeconds: number | null; mitigateSeconds: number | null; recoverSeconds: number | null }; integrity: { acknowledged: number; lost: number } | null }[] = [];

const child = spawn(process.execPath, [cli, "drill", ...drills, "--json", "--report-dir", reportDir], { stdio: ["ignore", "pipe", "inherit"] });
let buf = "";
child.stdout.on("data", (c: Buffer) => {
  buf += c.toString();
  for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try {
      const e = JSON.parse(line) as Record<string, unknown>;
      if (e["event"] === "stack" && String(e["message"]).endsWith("ready")) stackReadyAt = performance.now();
      if (e["event"] === "progress") process.stderr.write(`  [${(e["elapsedSeconds"] as number).toFixed(1)}s] ${String(e["scenario"])} ${String(e["phase"])}: ${String(e["message"])}\n`);
      if (e["event"] === "result") results.push(e as never);
    } catch {
      // not a JSON line
    }
  }
});
const code = await new Promise<number | null>((r) => child.on("exit", r));
const wall = (performance.now() - t0) / 1000;
const f = (x: number | null) => (x === null ? "   —  " : `${x.toFixed(1).padStart(6)}`);
process.stdout.write("game day benchmark (seconds from injection)\n");
process.stdout.write("  drill                        outcome  detect mitigate recover  acked   lost\n");
for (const r of results) {
  process.stdout.write(`  ${r.scenario.padEnd(28)} ${r.outcome.padEnd(8)} ${f(r.timings.detectSeconds)} ${f(r.timings.mitigateSeconds)}  ${f(r.timings.recoverSeconds)} ${String(r.integrity?.acknowledged ?? "—").padStart(6)} ${String(r.integrity?.lost ?? "—").padStart(6)}\n`);
}
process.stdout.write(`  stack start ${stackReadyAt === null ? "?" : ((stackReadyAt - t0) / 1000).toFixed(1)} s; whole game day ${wall.toFixed(1)} s wall; exit ${code}; reports in ${reportDir}\n`);
process.stdout.write(`${JSON.stringify({ wallSeconds: +wall.toFixed(1), stackStartSeconds: stackReadyAt === null ? null : +((stackReadyAt - t0) / 1000).toFixed(1), drills: results })}\n`);
process.exit(code ?? 1);
