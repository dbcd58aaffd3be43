/**
 * `npm run bench:gameday`: a full game day (every drill in scenarios/, stack start included) as a real
 * process, observed by gm-prober's round at its default interval and alerting a real Alertmanager with
 * the committed routing; prints per drill the time to detect (end of the round that showed it), to page
 * (the expected alert at its receiver; "—" when Alertmanager never notified it), to mitigate and recover,
 * the worst severity open and the interval used, and the whole wall time. Numbers, not assertions.
 * BENCH_DRILLS="kafka-broker-down service-oom" picks drills (default: all).
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
const results: {
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
}[] = [];

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
          `  [${(e["elapsedSeconds"] as number).toFixed(1)}s] ${String(e["scenario"])} ${String(e["phase"])}: ${String(e["message"])}\n`,
        );
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
process.stdout.write("  drill                        outcome  detect   page  1st page mitigate recover worst every  acked   lost\n");
for (const r of results) {
  const t = r.timings;
  process.stdout.write(
    `  ${r.scenario.padEnd(28)} ${r.outcome.padEnd(8)} ${f(t.detectSeconds)} ${f(t.pageSeconds ?? null)} ${f(t.firstPage?.seconds ?? null)}   ${f(t.mitigateSeconds)} ${f(t.recoverSeconds)}  ${String(r.worstSeverity ?? "—").padEnd(4)} ${String(r.intervalSeconds ?? "?").padStart(3)} s ${String(r.integrity?.acknowledged ?? "—").padStart(6)} ${String(r.integrity?.lost ?? "—").padStart(6)}\n`,
  );
  if (t.firstPage) process.stdout.write(`      first notification: ${t.firstPage.alerts.join(", ")}\n`);
  for (const why of r.reasons) process.stdout.write(`      failed: ${why}\n`);
}
process.stdout.write(
  `  stack start ${stackReadyAt === null ? "?" : ((stackReadyAt - t0) / 1000).toFixed(1)} s; whole game day ${wall.toFixed(1)} s wall; exit ${code}; reports in ${reportDir}\n`,
);
process.stdout.write(
  `${JSON.stringify({ wallSeconds: +wall.toFixed(1), stackStartSeconds: stackReadyAt === null ? null : +((stackReadyAt - t0) / 1000).toFixed(1), drills: results })}\n`,
);
process.exit(code ?? 1);
