/**
 * The drill's signals as a self-contained SVG (no script, no external asset, presentation attributes
 * only, so it can be inlined into HTML or opened on its own): four stacked panels sharing the time
 * axis — error rate, consumer lag, pool usage, healthy services — with vertical markers for the
 * phases (inject, detected, each remediation step, recovered). Time is in seconds from injection.
 */
import { defaultPolicy } from "@gm/runbook/policy";
import { injectedAt } from "./analysis.js";
import { escapeXml } from "./escape.js";
import type { DrillReport, SignalSample } from "./schema.js";

export interface ChartOptions {
  /** total width in px; default 760 */
  width?: number;
  /** height of one panel in px; default 80 */
  panelHeight?: number;
  /** dashed line on the lag panel; default the policy's consumer-lag threshold (10,000) */
  lagThreshold?: number;
  /** dashed line on the pool panel, 0..1; default the policy's pool threshold (0.9) */
  poolThreshold?: number;
}

export const MARKER_COLORS = { inject: "#d62728", detected: "#ff7f0e", step: "#1f77b4", recovered: "#2ca02c" } as const;

interface Marker {
  kind: keyof typeof MARKER_COLORS;
  label: string;
  t: number;
}

interface Panel {
  title: string;
  values: (number | null)[];
  yMax: number;
  yTicks: { v: number; label: string }[];
  step: boolean;
  threshold?: { v: number; label: string };
  /** a second, faint step line (services probed on the health panel) */
  ceiling?: (number | null)[];
}

const SERIES = "#6a3d9a";
const GRID = "#e4e4e4";
const LABEL_ROW = 13;
const CHAR_WIDTH = 6.2;

const r1 = (n: number): string => String(Math.round(n * 10) / 10);
const pct = (v: number): string => `${Math.round(v * 100)}%`;

/** 1, 2, 2.5, 5 × 10^k at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** 12000 → "12k", 2500 → "2.5k", 900 → "900". */
export function shortCount(v: number): string {
  if (Math.abs(v) >= 1_000_000) return `${Math.round(v / 100_000) / 10}M`;
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Math.round(v));
}

/** A tick step (seconds) giving at most `max` ticks over `range` seconds. */
export function tickStep(range: number, max = 8): number {
  for (const s of [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]) if (range / s <= max) return s;
  return niceCeil(range / max);
}

function markers(report: DrillReport): Marker[] {
  const inject = report.timeline.find((e) => e.phase === "inject");
  const t0 = Date.parse(injectedAt(report));
  const out: Marker[] = [];
  if (inject) out.push({ kind: "inject", label: "inject", t: t0 });
  const detect = report.timings.detectSeconds;
  const detectEvent = report.timeline.find((e) => e.phase === "detect");
  if (detect !== null) out.push({ kind: "detected", label: `detected +${Math.round(detect)} s`, t: t0 + detect * 1000 });
  else if (detectEvent) out.push({ kind: "detected", label: "detected", t: Date.parse(detectEvent.at) });
  for (const s of report.steps) out.push({ kind: "step", label: s.ok ? s.id : `${s.id} ✗`, t: Date.parse(s.startedAt) });
  const recover = report.timings.recoverSeconds;
  const recoverEvent = report.timeline.find((e) => e.phase === "recover");
  if (recover !== null) out.push({ kind: "recovered", label: `recovered +${Math.round(recover)} s`, t: t0 + recover * 1000 });
  else if (recoverEvent) out.push({ kind: "recovered", label: "recovered", t: Date.parse(recoverEvent.at) });
  return out.filter((m) => Number.isFinite(m.t));
}

function panels(samples: SignalSample[], lagThreshold: number, poolThreshold: number): Panel[] {
  const lag = samples.map((s) => s.lag);
  const lagMax = Math.max(0, ...lag.filter((v): v is number => v !== null));
  const lagTop = niceCeil(Math.max(lagMax, lagThreshold * 1.2));
  const hasLag = lag.some((v) => v !== null);
  const services = Math.max(1, ...samples.map((s) => s.services));
  return [
    {
      title: "error rate",
      values: samples.map((s) => s.errorRate),
      yMax: 1,
      yTicks: [0, 0.5, 1].map((v) => ({ v, label: pct(v) })),
      step: false,
    },
    {
      title: "consumer lag (messages)",
      values: lag,
      yMax: lagTop,
      yTicks: [0, lagTop / 2, lagTop].map((v) => ({ v, label: shortCount(v) })),
      step: false,
      ...(hasLag ? { threshold: { v: lagThreshold, label: `${lagThreshold.toLocaleString("en-US")} threshold` } } : {}),
    },
    {
      title: "pool usage",
      values: samples.map((s) => s.poolUsage),
      yMax: 1,
      yTicks: [0, 0.5, 1].map((v) => ({ v, label: pct(v) })),
      step: false,
      threshold: { v: poolThreshold, label: `${pct(poolThreshold)} threshold` },
    },
    {
      title: `healthy services (of ${services})`,
      values: samples.map((s) => (s.services > 0 ? s.healthy : null)),
      ceiling: samples.map((s) => (s.services > 0 ? s.services : null)),
      yMax: services,
      yTicks: [0, services].map((v) => ({ v, label: String(v) })),
      step: true,
    },
  ];
}

/** Path data and lone points for a series with gaps (null) — a gap breaks the line. */
function trace(xs: number[], ys: (number | null)[], step: boolean): { d: string; dots: [number, number][] } {
  let d = "";
  const dots: [number, number][] = [];
  let run: [number, number][] = [];
  const flush = () => {
    if (run.length === 1 && run[0]) dots.push(run[0]);
    else if (run.length > 1) {
      run.forEach(([x, y], i) => {
        if (i === 0) d += `M${r1(x)} ${r1(y)}`;
        else if (step) d += `H${r1(x)}V${r1(y)}`;
        else d += `L${r1(x)} ${r1(y)}`;
      });
    }
    run = [];
  };
  ys.forEach((y, i) => {
    const x = xs[i];
    if (y === null || x === undefined) flush();
    else run.push([x, y]);
  });
  flush();
  return { d, dots };
}

/** The signals chart of one drill as a standalone SVG document. */
export function toSvg(report: DrillReport, opts: ChartOptions = {}): string {
  const width = opts.width ?? 760;
  const panelH = opts.panelHeight ?? 80;
  const lagThreshold = opts.lagThreshold ?? defaultPolicy.thresholds.consumerLag.above;
  const poolThreshold = opts.poolThreshold ?? defaultPolicy.thresholds.dbPool.usageAtLeast;
  const left = 64;
  const right = 16;
  const plotW = width - left - right;

  const samples = report.signals.filter((s) => Number.isFinite(Date.parse(s.at)));
  const ms = markers(report);
  const t0 = Date.parse(injectedAt(report));
  const hasInject = report.timeline.some((e) => e.phase === "inject");
  const times = [...samples.map((s) => Date.parse(s.at)), ...ms.map((m) => m.t)];
  if (times.length === 0) times.push(Date.parse(report.startedAt), Date.parse(report.finishedAt));
  const finite = times.filter(Number.isFinite);
  let tMin = finite.length > 0 ? Math.min(...finite) : 0;
  let tMax = finite.length > 0 ? Math.max(...finite) : 0;
  if (tMax - tMin < 2000) {
    // A single sample (or none): a window of ±1 s keeps the scale finite and the point centred.
    tMin -= 1000;
    tMax += 1000;
  }
  const x = (t: number): number => left + ((t - tMin) / (tMax - tMin)) * plotW;

  // Marker labels: greedy rows so no two labels overlap.
  const sorted = [...ms].sort((a, b) => a.t - b.t);
  const rowEnds: number[] = [];
  const placed = sorted.map((m) => {
    const w = m.label.length * CHAR_WIDTH + 4;
    const mx = x(m.t);
    const anchorEnd = mx + w > width - 2;
    const [from, to] = anchorEnd ? [mx - w, mx] : [mx, mx + w];
    let row = rowEnds.findIndex((end) => end < from);
    if (row === -1) {
      row = rowEnds.length;
      rowEnds.push(to);
    } else rowEnds[row] = to;
    return { m, mx, row, anchorEnd };
  });

  const titleH = 22;
  const labelsTop = titleH + 6;
  const panelGap = 24;
  const plotTop = labelsTop + rowEnds.length * LABEL_ROW + panelGap;
  const ps = panels(samples, lagThreshold, poolThreshold);
  const panelTop = (i: number) => plotTop + i * (panelH + panelGap);
  const bottom = panelTop(ps.length - 1) + panelH;
  const height = bottom + 40;

  const xs = samples.map((s) => x(Date.parse(s.at)));
  const range = (tMax - tMin) / 1000;
  const step = tickStep(range);
  const rel = (t: number) => (t - t0) / 1000;
  const ticks: number[] = [];
  for (let v = Math.ceil(rel(tMin) / step) * step; v <= rel(tMax) + 1e-9; v += step) ticks.push(v);

  const title = `${report.drill.scenario} — ${report.outcome}`;
  const desc = `Signals of drill ${report.drill.scenario} (${report.drill.fault.description}): error rate, consumer lag, pool usage and healthy services over time, seconds from injection.`;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<desc>${escapeXml(desc)}</desc>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold" fill="#222">${escapeXml(title)}</text>`,
    `<text x="${width - right}" y="16" text-anchor="end" fill="#666">${escapeXml(report.drill.fault.description)}</text>`,
  );

  ps.forEach((p, i) => {
    const top = panelTop(i);
    const y = (v: number) => top + panelH - (Math.min(Math.max(v, 0), p.yMax) / p.yMax) * panelH;
    out.push(`<g class="panel" data-panel="${escapeXml(p.title.split(" ")[0] ?? "")}">`);
    out.push(`<text x="${left}" y="${top - 5}" font-weight="bold" fill="#333">${escapeXml(p.title)}</text>`);
    out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${panelH}" fill="#fafafa" stroke="#cccccc"/>`);
    for (const t of ticks) {
      const tx = r1(x(t0 + t * 1000));
      out.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${top + panelH}" stroke="${GRID}"/>`);
    }
    const hasData = p.values.some((v) => v !== null);
    // Keep the top and bottom labels inside the panel's height, clear of the neighbours' labels.
    for (const t of hasData ? p.yTicks : []) {
      const ly = Math.min(Math.max(y(t.v) + 4, top + 9), top + panelH - 1);
      out.push(`<text x="${left - 4}" y="${r1(ly)}" text-anchor="end" fill="#666">${escapeXml(t.label)}</text>`);
    }
    if (!hasData) {
      out.push(
        `<text x="${r1(left + plotW / 2)}" y="${r1(top + panelH / 2 + 4)}" text-anchor="middle" fill="#999" font-style="italic">no data</text>`,
      );
    } else {
      if (p.threshold) {
        const ty = r1(y(p.threshold.v));
        out.push(
          `<line class="threshold" data-threshold="${p.threshold.v}" x1="${left}" y1="${ty}" x2="${left + plotW}" y2="${ty}" stroke="#b22222" stroke-dasharray="5 3"/>`,
          `<text x="${left + plotW - 4}" y="${r1(y(p.threshold.v) - 3)}" text-anchor="end" fill="#b22222">${escapeXml(p.threshold.label)}</text>`,
        );
      }
      if (p.ceiling) {
        const c = trace(
          xs,
          p.ceiling.map((v) => (v === null ? null : y(v))),
          true,
        );
        if (c.d) out.push(`<path d="${c.d}" fill="none" stroke="#999999" stroke-dasharray="2 2"/>`);
      }
      const s = trace(
        xs,
        p.values.map((v) => (v === null ? null : y(v))),
        p.step,
      );
      if (s.d) out.push(`<path class="series" d="${s.d}" fill="none" stroke="${SERIES}" stroke-width="1.6" stroke-linejoin="round"/>`);
      for (const [dx, dy] of s.dots) out.push(`<circle class="series" cx="${r1(dx)}" cy="${r1(dy)}" r="2.5" fill="${SERIES}"/>`);
    }
    out.push("</g>");
  });

  // Time axis: tick labels under the last panel.
  for (const t of ticks) {
    out.push(`<text class="tick" x="${r1(x(t0 + t * 1000))}" y="${bottom + 14}" text-anchor="middle" fill="#444">${t}</text>`);
  }
  out.push(
    `<text x="${r1(left + plotW / 2)}" y="${bottom + 30}" text-anchor="middle" fill="#444">${hasInject ? "seconds from injection" : "seconds from start"}</text>`,
  );

  // Phase markers over every panel, labels in their rows above the first.
  for (const { m, mx, row, anchorEnd } of placed) {
    const color = MARKER_COLORS[m.kind];
    const ly = labelsTop + (row + 1) * LABEL_ROW - 3;
    out.push(
      `<g class="marker" data-marker="${m.kind}">`,
      `<line x1="${r1(mx)}" y1="${ly + 2}" x2="${r1(mx)}" y2="${bottom}" stroke="${color}" stroke-width="1.5" stroke-opacity="0.85"${m.kind === "step" ? ' stroke-dasharray="4 2"' : ""}/>`,
      `<text x="${r1(anchorEnd ? mx - 2 : mx + 2)}" y="${ly}" text-anchor="${anchorEnd ? "end" : "start"}" fill="${color}">${escapeXml(m.label)}</text>`,
      "</g>",
    );
  }

  out.push("</svg>", "");
  return out.join("\n");
}
