/**
 * The plots of docs/benchmarks.md (issue 11 §4), drawn from the benchmarks' own JSON so the pictures are
 * the numbers the tables print: time to page per fault and pipeline (`npm run bench:page`'s page.json)
 * as bars of the median with a min–max whisker, a fault a pipeline never paged marked "not detected".
 * The cost plot is bench:prober's own (cost.svg, beside its result.json).
 *   node apps/chaos-runner/dist/bench/bench-plots.js page.json [--out docs/benchmarks-page.svg]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** One pipeline's times for one fault, as page.json summarises them. */
export interface PageStat {
  runs: number;
  detected: number;
  median: number | null;
  min: number | null;
  max: number | null;
}
export interface PageSummary {
  fault: string;
  page: Record<string, PageStat>;
}

const COLOURS = ["#1b6ca8", "#d95f02", "#7570b3", "#66a61e"];
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars: one group per fault, one bar per pipeline, on a shared linear axis of seconds. */
export function pageSvg(summaries: readonly PageSummary[], title = "Time to page (s from injection; median, min–max)"): string {
  const pipelines = [...new Set(summaries.flatMap((s) => Object.keys(s.page)))];
  const bar = 14;
  const gap = 10;
  const left = 180;
  const width = 820;
  const plot = width - left - 120;
  const top = 40;
  const groupH = pipelines.length * bar + gap;
  const height = top + summaries.length * groupH + 40;
  const maxS = Math.max(10, ...summaries.flatMap((s) => Object.values(s.page).map((p) => p.max ?? p.median ?? 0)));
  const step = maxS > 200 ? 50 : maxS > 100 ? 25 : maxS > 40 ? 10 : 5;
  const axisMax = Math.ceil(maxS / step) * step;
  const x = (s: number) => left + (s / axisMax) * plot;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="16" font-size="13">${esc(title)}</text>`,
  ];
  for (let s = 0; s <= axisMax; s += step) {
    out.push(`<line x1="${x(s)}" y1="${top - 6}" x2="${x(s)}" y2="${height - 34}" stroke="#ddd"/>`);
    out.push(`<text x="${x(s)}" y="${height - 20}" text-anchor="middle">${s}</text>`);
  }
  summaries.forEach((sum, g) => {
    const y0 = top + g * groupH;
    out.push(`<text x="${left - 8}" y="${y0 + (pipelines.length * bar) / 2 + 4}" text-anchor="end">${esc(sum.fault)}</text>`);
    pipelines.forEach((p, i) => {
      const st = sum.page[p];
      const y = y0 + i * bar;
      const colour = COLOURS[i % COLOURS.length];
      if (!st || st.median === null || st.detected === 0) {
        out.push(`<text x="${left + 4}" y="${y + bar - 3}" fill="${colour}">${esc(p)}: not detected</text>`);
        return;
      }
      out.push(`<rect x="${left}" y="${y + 1}" width="${Math.max(1, x(st.median) - left)}" height="${bar - 2}" fill="${colour}"/>`);
      if (st.min !== null && st.max !== null && st.max > st.min)
        out.push(`<line x1="${x(st.min)}" y1="${y + bar / 2}" x2="${x(st.max)}" y2="${y + bar / 2}" stroke="#000"/>`);
      const label = `${st.median.toFixed(1)} s${st.detected < st.runs ? ` (${st.detected}/${st.runs} paged)` : ""}`;
      out.push(`<text x="${x(Math.max(st.median, st.max ?? 0)) + 4}" y="${y + bar - 3}">${esc(label)}</text>`);
    });
  });
  pipelines.forEach((p, i) => {
    const lx = left + i * 170;
    out.push(`<rect x="${lx}" y="${height - 12}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`);
    out.push(`<text x="${lx + 14}" y="${height - 3}">${esc(p)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

/** Reads page.json's summaries, naming what is missing. */
export function readPageSummaries(text: string, where: string): PageSummary[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const sums = (v as { summaries?: unknown })?.summaries;
  if (!Array.isArray(sums)) throw new Error(`${where}: expected bench:page's JSON with a "summaries" list`);
  return sums.map((s, i) => {
    const r = s as Partial<PageSummary>;
    if (typeof r.fault !== "string" || typeof r.page !== "object" || r.page === null)
      throw new Error(`${where}: summaries[${i}]: expected {fault, page}`);
    return { fault: r.fault, page: r.page };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args[0];
  const outAt = args.indexOf("--out");
  const out = outAt >= 0 ? args[outAt + 1] : "docs/benchmarks-page.svg";
  if (!file || file.startsWith("--") || !out) {
    process.stderr.write("usage: bench-plots.js page.json [--out FILE.svg]\n");
    process.exit(2);
  }
  try {
    writeFileSync(out, `${pageSvg(readPageSummaries(readFileSync(file, "utf8"), file))}\n`);
    process.stdout.write(`written ${out}\n`);
  } catch (err) {
    process.stderr.write(`bench-plots: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
