/**
 * The one table `npm run bench` ends with (issue 11 §2–§3): every part's headline numbers side by side,
 * gm-prober against the peers measured in the same run, with the ratio, the number of runs behind each
 * median, the goal and whether it was met. It reads what the parts wrote into the output directory:
 * page.json (bench:page), lag.json (bench:lag), cost/result.json (bench:prober) and gameday.json
 * (bench:gameday); a part that did not run (or failed before writing) is a row that says "not run".
 * Numbers come from the files, never from here: the summary only picks, compares and judges.
 *
 *   node apps/chaos-runner/dist/bench/bench-summary.js DIR   (prints the table; writes DIR/summary.md and .json)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatSummary, type Summary, summarize } from "./page-timing.js";

export interface SummaryRow {
  part: "page" | "lag" | "cost" | "gameday";
  measure: string;
  prober: string;
  peers: string;
  /** peer ÷ gm-prober (above 1: gm-prober is faster or cheaper) */
  ratio: string;
  runs: string;
  goal: string;
  verdict: "met" | "NOT MET" | "—" | "not run";
}

const s1 = (x: number | null | undefined) => (x === null || x === undefined ? "—" : x.toFixed(1));
const ratioOf = (peer: number | null | undefined, mine: number | null | undefined) =>
  peer === null || peer === undefined || mine === null || mine === undefined || mine <= 0 ? "—" : (peer / mine).toFixed(2);
const verdict = (ok: boolean): SummaryRow["verdict"] => (ok ? "met" : "NOT MET");

// ---------- page ----------

interface PageFile {
  faults: Record<string, { goal?: string }>;
  summaries: {
    fault: string;
    goal?: string;
    classifiedSeconds: Summary;
    page: Record<"prober" | "prometheus-kube" | "prometheus-tuned", Summary>;
  }[];
}

/** The faults issue 11 §3 gives a goal: paged within 15 s at the 95th percentile. */
const PAGE_GOAL_FAULTS = new Set(["broker-kill", "service-down", "oom"]);
const PAGE_GOAL_SECONDS = 15;

export function pageRows(page: PageFile): SummaryRow[] {
  return page.summaries.map((s) => {
    const p = s.page.prober;
    const kube = s.page["prometheus-kube"];
    const tuned = s.page["prometheus-tuned"];
    const goal = PAGE_GOAL_FAULTS.has(s.fault) ? `≤ ${PAGE_GOAL_SECONDS} s p95` : "—";
    return {
      part: "page",
      measure: `time to page: ${s.fault}`,
      prober: `${formatSummary(p)}${p.p95 !== null ? `, p95 ${s1(p.p95)}` : ""}; classified ${formatSummary(s.classifiedSeconds)}`,
      peers: `kube-prometheus ${formatSummary(kube)}; tuned ${formatSummary(tuned)}`,
      ratio: `kube ${ratioOf(kube.median, p.median)}; tuned ${ratioOf(tuned.median, p.median)}`,
      runs: String(p.runs),
      goal,
      verdict: goal === "—" ? "—" : verdict(p.detected === p.runs && p.p95 !== null && p.p95 <= PAGE_GOAL_SECONDS),
    };
  });
}

// ---------- lag ----------

interface LagFile {
  goals: { goal: string; measured: string; met: boolean }[];
  stallSeconds?: number;
  settings?: { intervalSeconds: number; stallSeconds: number };
  stalls: {
    repetition: number;
    prober: { status: string; seconds: number } | null;
    burrowFirst: { status: string; seconds: number } | null;
  }[];
}

export function lagRows(lag: LagFile): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const mine = lag.goals.filter((g) => g.goal.startsWith("gm-prober:") && !/\(repetition \d+\)$/.test(g.goal));
  for (const g of mine) {
    const what = g.goal.slice("gm-prober:".length).trim();
    const peer = lag.goals.find((b) => b.goal.startsWith("Burrow") && b.goal.endsWith(what));
    rows.push({
      part: "lag",
      measure: "lag vs kafka-consumer-groups.sh, same moment",
      prober: g.measured,
      peers: peer ? `Burrow: ${peer.measured}` : "—",
      ratio: "—",
      runs: "1",
      goal: what,
      verdict: verdict(g.met),
    });
  }
  if (lag.stalls.length) {
    const limit = lag.settings ? lag.settings.stallSeconds + lag.settings.intervalSeconds : null;
    const p = summarize(lag.stalls.map((s) => (s.prober ? s.prober.seconds : null)));
    const b = summarize(lag.stalls.map((s) => (s.burrowFirst ? s.burrowFirst.seconds : null)));
    rows.push({
      part: "lag",
      measure: "consumers paused: time to call the group stalled/stopped",
      prober: formatSummary(p),
      peers: `Burrow (first status not OK): ${formatSummary(b)}`,
      ratio: ratioOf(b.median, p.median),
      runs: String(lag.stalls.length),
      goal: limit === null ? "≤ stallSeconds + one interval" : `≤ ${limit} s (stallSeconds + one interval)`,
      verdict: limit === null ? "—" : verdict(p.detected === p.runs && (p.max ?? Number.POSITIVE_INFINITY) <= limit),
    });
  }
  return rows;
}

// ---------- cost ----------

interface CostRow {
  targets: number;
  side: "gm-prober" | "blackbox+prometheus";
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}
interface LagReadRow {
  partitions: number;
  medianMs: number;
  requestsPerRead: number;
}
interface CostFile {
  cost: CostRow[];
  lag: LagReadRow[];
}

const mb = (b: number | null) => (b === null ? "—" : (b / 1024 ** 2).toFixed(0));

export function costRows(cost: CostFile): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const sizes = [...new Set(cost.cost.map((r) => r.targets))].sort((a, b) => a - b);
  for (const n of sizes) {
    const side = (name: CostRow["side"]) => cost.cost.filter((r) => r.targets === n && r.side === name);
    const mine = side("gm-prober");
    const peer = side("blackbox+prometheus");
    const cpu = summarize(mine.map((r) => r.cpuSeconds));
    const peerCpu = summarize(peer.map((r) => r.cpuSeconds));
    const rss = summarize(mine.map((r) => r.peakRssBytes));
    const peerRss = summarize(peer.map((r) => r.peakRssBytes));
    const window = mine[0]?.seconds ?? peer[0]?.seconds ?? 60;
    const core = cpu.median === null ? null : (cpu.median / window) * 100;
    const cpuText = (s: Summary) =>
      s.median === null
        ? "not measured"
        : `${s.median.toFixed(2)} CPU s${s.detected > 1 ? ` (${s.min!.toFixed(2)}–${s.max!.toFixed(2)})` : ""}`;
    const at1000 = n === 1000;
    rows.push({
      part: "cost",
      measure: `CPU per ${window.toFixed(0)} s, ${n} HTTP targets every 5 s`,
      prober: `${cpuText(cpu)}${core === null ? "" : ` = ${core.toFixed(1)} % of a core`}`,
      peers: `blackbox_exporter + Prometheus ${cpuText(peerCpu)}`,
      ratio: ratioOf(peerCpu.median, cpu.median),
      runs: String(Math.max(mine.length, peer.length)),
      goal: at1000 ? "≤ 20 % of one core and ≤ the peer's CPU" : "—",
      verdict: at1000 ? (core === null ? "NOT MET" : verdict(core <= 20 && peerCpu.median !== null && cpu.median! <= peerCpu.median)) : "—",
    });
    if (at1000)
      rows.push({
        part: "cost",
        measure: `peak RSS, ${n} HTTP targets`,
        prober: `${mb(rss.median)} MB`,
        peers: `blackbox_exporter + Prometheus ${mb(peerRss.median)} MB`,
        ratio: ratioOf(peerRss.median, rss.median),
        runs: String(mine.length),
        goal: "≤ 150 MB",
        verdict: rss.median === null ? "NOT MET" : verdict(rss.median <= 150 * 1024 ** 2),
      });
  }
  const lagReads = [...cost.lag].sort((a, b) => a.partitions - b.partitions);
  for (const l of lagReads) {
    const top = l.partitions === 5000;
    rows.push({
      part: "cost",
      measure: `lag read, ${l.partitions} partitions`,
      prober: `${l.medianMs} ms, ${l.requestsPerRead} Kafka requests`,
      peers: "—",
      ratio: "—",
      runs: "1",
      goal: top ? "≤ 200 ms" : "—",
      verdict: top ? verdict(l.medianMs <= 200) : "—",
    });
  }
  if (lagReads.length >= 2) {
    const reqs = lagReads.map((l) => l.requestsPerRead);
    rows.push({
      part: "cost",
      measure: `Kafka requests per lag read, ${lagReads.map((l) => l.partitions).join(" / ")} partitions`,
      prober: reqs.join(" / "),
      peers: "—",
      ratio: "—",
      runs: "1",
      goal: "constant (not one per partition)",
      verdict: verdict(Math.max(...reqs) - Math.min(...reqs) <= 1),
    });
  }
  return rows;
}

// ---------- game day ----------

interface GamedayFile {
  runs: {
    wallSeconds: number;
    drills: {
      scenario: string;
      outcome: string;
      timings: { detectSeconds: number | null; pageSeconds?: number | null; recoverSeconds: number | null };
    }[];
  }[];
}

export function gamedayRows(g: GamedayFile): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const wall = summarize(g.runs.map((r) => r.wallSeconds));
  const drills = [...new Set(g.runs.flatMap((r) => r.drills.map((d) => d.scenario)))];
  const passed = g.runs.flatMap((r) => r.drills).filter((d) => d.outcome === "passed").length;
  const total = g.runs.flatMap((r) => r.drills).length;
  rows.push({
    part: "gameday",
    measure: `whole game day (${drills.length} drills, stack start included)`,
    prober: `${formatSummary(wall)} wall; ${passed}/${total} drills passed`,
    peers: "—",
    ratio: "—",
    runs: String(g.runs.length),
    goal: "every drill passes",
    verdict: verdict(total > 0 && passed === total),
  });
  for (const name of drills) {
    const ds = g.runs.flatMap((r) => r.drills.filter((d) => d.scenario === name));
    const col = (f: (d: (typeof ds)[number]) => number | null | undefined, none?: string) =>
      formatSummary(summarize(ds.map((d) => f(d) ?? null)), none);
    rows.push({
      part: "gameday",
      measure: `drill ${name}: detect / page / recover`,
      // a drill detected whose verdict expected no page (P2/P3 inside its group wait, or inhibited by a P0) is "no page"
      prober: `${col((d) => d.timings.detectSeconds)} / ${col((d) => d.timings.pageSeconds, "no page")} / ${col((d) => d.timings.recoverSeconds, "never")}`,
      peers: "—",
      ratio: "—",
      runs: String(ds.length),
      goal: "—",
      verdict: "—",
    });
  }
  return rows;
}

// ---------- the table ----------

export function summaryTable(rows: readonly SummaryRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const out = [
    "| part | measure | gm-prober | peers | ratio (peer ÷ gm-prober) | runs | goal | verdict |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) out.push(`| ${[r.part, r.measure, r.prober, r.peers, r.ratio, r.runs, r.goal, r.verdict].map(esc).join(" | ")} |`);
  const missed = rows.filter((r) => r.verdict === "NOT MET").length;
  const met = rows.filter((r) => r.verdict === "met").length;
  out.push("", `goals: ${met} met, ${missed} not met; ${rows.filter((r) => r.verdict === "not run").length} part(s) not run`);
  return out.join("\n");
}

function notRun(part: SummaryRow["part"], why: string): SummaryRow {
  return { part, measure: why, prober: "—", peers: "—", ratio: "—", runs: "0", goal: "—", verdict: "not run" };
}

/** Every part's rows from the files in `dir`; a missing or unreadable file is a "not run" row naming it. */
export function summarizeDir(dir: string): SummaryRow[] {
  const parts: [SummaryRow["part"], string, (x: never) => SummaryRow[]][] = [
    ["page", "page.json", pageRows as (x: never) => SummaryRow[]],
    ["lag", "lag.json", lagRows as (x: never) => SummaryRow[]],
    ["cost", join("cost", "result.json"), costRows as (x: never) => SummaryRow[]],
    ["gameday", "gameday.json", gamedayRows as (x: never) => SummaryRow[]],
  ];
  const rows: SummaryRow[] = [];
  for (const [part, file, toRows] of parts) {
    const path = join(dir, file);
    if (!existsSync(path)) {
      rows.push(notRun(part, `${file} not found (the part did not run or failed before writing it)`));
      continue;
    }
    try {
      rows.push(...toRows(JSON.parse(readFileSync(path, "utf8")) as never));
    } catch (err) {
      rows.push(notRun(part, `${file}: not a result of this part (${(err as Error).message})`));
    }
  }
  return rows;
}

function main(args: string[]): number {
  const dir = args[0];
  if (!dir || args.length > 1 || dir.startsWith("-")) {
    process.stderr.write("usage: bench-summary DIR (the --out directory of npm run bench)\n");
    return 2;
  }
  if (!existsSync(dir)) {
    process.stderr.write(`bench-summary: ${dir}: no such directory (expected the --out directory of npm run bench)\n`);
    return 2;
  }
  const rows = summarizeDir(dir);
  const table = summaryTable(rows);
  process.stdout.write(`${table}\n`);
  writeFileSync(join(dir, "summary.md"), `${table}\n`);
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify(rows, null, 2)}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
