/**
 * Compare two sets of drill reports (e.g. last release's game-day against this one's), scenario by
 * scenario: backs `gm-chaos report compare OLD NEW`. A phase is a regression when it got slower by
 * more than `tolerance` (a fraction of the old time) AND by more than `minSeconds` — both, so neither
 * noise on a 3 s detection nor 1 s on a 10 min recovery counts.
 */
import { formatSeconds } from "./analysis.js";
import { escapeMdCell } from "./escape.js";
import { stableJson } from "./json.js";
import type { DrillReport } from "./schema.js";

export type Verdict = "regression" | "improvement" | "unchanged" | "new" | "missing";
export type Metric = "detect" | "mitigate" | "recover";
export const METRICS: readonly Metric[] = ["detect", "mitigate", "recover"];

export interface CompareOptions {
  /** fraction of the old time; default 0.2 */
  tolerance?: number;
  /** seconds; default 2 */
  minSeconds?: number;
}

export interface MetricComparison {
  old: number | null;
  new: number | null;
  /** new − old, seconds; null unless both exist */
  deltaSeconds: number | null;
  /** (new − old) / old; null unless both exist and old > 0 */
  deltaPercent: number | null;
  verdict: "regression" | "improvement" | "unchanged";
}

export interface ScenarioComparison {
  scenario: string;
  verdict: Verdict;
  oldOutcome: DrillReport["outcome"] | null;
  newOutcome: DrillReport["outcome"] | null;
  /** absent for "new" and "missing" */
  metrics: Record<Metric, MetricComparison> | null;
  /** why the verdict, one line each */
  reasons: string[];
}

export interface ComparisonResult {
  tolerance: number;
  minSeconds: number;
  scenarios: ScenarioComparison[];
  regressions: number;
  improvements: number;
}

const SECONDS_KEY = { detect: "detectSeconds", mitigate: "mitigateSeconds", recover: "recoverSeconds" } as const;

/** The latest report (by startedAt) of each scenario. */
function latestByScenario(reports: DrillReport[]): Map<string, DrillReport> {
  const m = new Map<string, DrillReport>();
  for (const r of reports) {
    const prev = m.get(r.drill.scenario);
    if (!prev || Date.parse(r.startedAt) > Date.parse(prev.startedAt)) m.set(r.drill.scenario, r);
  }
  return m;
}

/** One phase's old vs new time. */
export function compareMetric(oldS: number | null, newS: number | null, tolerance: number, minSeconds: number): MetricComparison {
  if (oldS === null || newS === null) {
    // Reached before and not now: worse; reached now and not before: better.
    const verdict = oldS === newS ? "unchanged" : newS === null ? "regression" : "improvement";
    return { old: oldS, new: newS, deltaSeconds: null, deltaPercent: null, verdict };
  }
  const delta = newS - oldS;
  const significant = Math.abs(delta) > minSeconds && Math.abs(delta) > tolerance * oldS;
  return {
    old: oldS,
    new: newS,
    deltaSeconds: delta,
    deltaPercent: oldS > 0 ? delta / oldS : null,
    verdict: !significant ? "unchanged" : delta > 0 ? "regression" : "improvement",
  };
}

/**
 * Per scenario (the latest report of each side): the outcome decides when it changed between passed
 * and not passed; otherwise any phase regression makes a regression, else any improvement an improvement.
 */
export function compareReports(oldReports: DrillReport[], newReports: DrillReport[], opts: CompareOptions = {}): ComparisonResult {
  const tolerance = opts.tolerance ?? 0.2;
  const minSeconds = opts.minSeconds ?? 2;
  if (!(tolerance >= 0)) throw new RangeError(`compareReports: tolerance: expected a fraction ≥ 0, got ${tolerance}`);
  if (!(minSeconds >= 0)) throw new RangeError(`compareReports: minSeconds: expected seconds ≥ 0, got ${minSeconds}`);
  const olds = latestByScenario(oldReports);
  const news = latestByScenario(newReports);
  const names = [...new Set([...olds.keys(), ...news.keys()])].sort();

  const scenarios = names.map((scenario): ScenarioComparison => {
    const o = olds.get(scenario);
    const n = news.get(scenario);
    if (!o)
      return {
        scenario,
        verdict: "new",
        oldOutcome: null,
        newOutcome: n?.outcome ?? null,
        metrics: null,
        reasons: ["only in the new reports"],
      };
    if (!n)
      return { scenario, verdict: "missing", oldOutcome: o.outcome, newOutcome: null, metrics: null, reasons: ["only in the old reports"] };
    const metrics = Object.fromEntries(
      METRICS.map((m) => [m, compareMetric(o.timings[SECONDS_KEY[m]], n.timings[SECONDS_KEY[m]], tolerance, minSeconds)]),
    ) as Record<Metric, MetricComparison>;
    const reasons: string[] = [];
    const wasOk = o.outcome === "passed";
    const isOk = n.outcome === "passed";
    for (const m of METRICS) {
      const c = metrics[m];
      if (c.verdict === "unchanged") continue;
      const how =
        c.deltaSeconds === null
          ? c.new === null
            ? "no longer reached"
            : "reached now, not before"
          : `${formatSeconds(c.old)} → ${formatSeconds(c.new)} (${signed(c.deltaSeconds)} s, ${percent(c.deltaPercent)})`;
      reasons.push(`${m} ${c.verdict}: ${how}`);
    }
    let verdict: Verdict;
    if (wasOk && !isOk) {
      verdict = "regression";
      reasons.unshift(`outcome ${o.outcome} → ${n.outcome}`);
    } else if (!wasOk && isOk) {
      verdict = "improvement";
      reasons.unshift(`outcome ${o.outcome} → ${n.outcome}`);
    } else if (METRICS.some((m) => metrics[m].verdict === "regression")) verdict = "regression";
    else if (METRICS.some((m) => metrics[m].verdict === "improvement")) verdict = "improvement";
    else verdict = "unchanged";
    return { scenario, verdict, oldOutcome: o.outcome, newOutcome: n.outcome, metrics, reasons };
  });

  return {
    tolerance,
    minSeconds,
    scenarios,
    regressions: scenarios.filter((s) => s.verdict === "regression").length,
    improvements: scenarios.filter((s) => s.verdict === "improvement").length,
  };
}

function signed(n: number): string {
  const r = Math.round(n * 10) / 10;
  return r > 0 ? `+${r}` : String(r);
}

function percent(p: number | null): string {
  return p === null ? "n/a" : `${p > 0 ? "+" : ""}${Math.round(p * 100)}%`;
}

function cell(c: MetricComparison | undefined): string {
  if (!c) return "";
  const pair = `${c.old === null ? "—" : `${round(c.old)}`} → ${c.new === null ? "—" : `${round(c.new)}`}`;
  return c.deltaSeconds === null ? pair : `${pair} (${signed(c.deltaSeconds)}, ${percent(c.deltaPercent)})`;
}

const round = (n: number) => Math.round(n * 10) / 10;
const ICON: Record<Verdict, string> = { regression: "❌", improvement: "✅", unchanged: "➖", new: "🆕", missing: "❔" };

function summary(r: ComparisonResult): string {
  return `${r.regressions} regression${r.regressions === 1 ? "" : "s"}, ${r.improvements} improvement${r.improvements === 1 ? "" : "s"} in ${r.scenarios.length} scenario${r.scenarios.length === 1 ? "" : "s"} (tolerance ${Math.round(r.tolerance * 100)}% and ${r.minSeconds} s)`;
}

/** The comparison as an aligned text table (terminal), a GitHub Markdown table, or stable JSON. */
export function renderComparison(result: ComparisonResult, format: "table" | "markdown" | "json"): string {
  const head = ["scenario", "verdict", "outcome", "detect s", "mitigate s", "recover s"];
  const rows = result.scenarios.map((s) => [
    s.scenario,
    s.verdict,
    `${s.oldOutcome ?? "—"} → ${s.newOutcome ?? "—"}`,
    cell(s.metrics?.detect),
    cell(s.metrics?.mitigate),
    cell(s.metrics?.recover),
  ]);
  switch (format) {
    case "json":
      return stableJson(result);
    case "markdown": {
      const lines = [
        `| ${head.join(" | ")} |`,
        `|${head.map(() => "---").join("|")}|`,
        ...rows.map((r, i) => {
          const s = result.scenarios[i];
          const cells = r.map(escapeMdCell);
          if (s) cells[1] = `${ICON[s.verdict]} ${s.verdict}`;
          return `| ${cells.join(" | ")} |`;
        }),
      ];
      const why = result.scenarios
        .filter((s) => s.verdict === "regression")
        .flatMap((s) => s.reasons.map((x) => `- **${escapeMdCell(s.scenario)}**: ${escapeMdCell(x)}`));
      return [...lines, "", `**${summary(result)}**`, ...(why.length > 0 ? ["", ...why] : []), ""].join("\n");
    }
    case "table": {
      const all = [head, ...rows];
      const widths = head.map((_, c) => Math.max(...all.map((r) => [...(r[c] ?? "")].length)));
      const line = (r: string[]) =>
        r
          .map((x, c) => x + " ".repeat((widths[c] ?? 0) - [...x].length))
          .join("  ")
          .trimEnd();
      const why = result.scenarios.filter((s) => s.verdict === "regression").flatMap((s) => s.reasons.map((x) => `  ${s.scenario}: ${x}`));
      return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), "", summary(result), ...why, ""].join("\n");
    }
  }
}
