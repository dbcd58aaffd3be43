/** Writes every rendering of a drill report into one directory (created if needed). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toSvg } from "./chart.js";
import { toHtml } from "./html.js";
import { toJson } from "./json.js";
import { toJUnit } from "./junit.js";
import { toMarkdown } from "./markdown.js";
import type { DrillReport } from "./schema.js";

export interface ReportFiles {
  json: string;
  junit: string;
  markdown: string;
  svg: string;
  html: string;
}

/** File names inside the report directory; report.md references signals.svg beside it. */
export const REPORT_FILE_NAMES: ReportFiles = {
  json: "report.json",
  junit: "junit.xml",
  markdown: "report.md",
  svg: "signals.svg",
  html: "report.html",
};

/** Writes report.json, junit.xml, report.md, signals.svg and report.html into `dir`; returns their paths. */
export async function writeReportFiles(dir: string, report: DrillReport): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const paths: ReportFiles = {
    json: join(dir, REPORT_FILE_NAMES.json),
    junit: join(dir, REPORT_FILE_NAMES.junit),
    markdown: join(dir, REPORT_FILE_NAMES.markdown),
    svg: join(dir, REPORT_FILE_NAMES.svg),
    html: join(dir, REPORT_FILE_NAMES.html),
  };
  // Render everything first, so a renderer bug leaves no half-written directory.
  const contents: [string, string][] = [
    [paths.json, toJson(report)],
    [paths.junit, toJUnit([report])],
    [paths.markdown, toMarkdown(report, { chart: REPORT_FILE_NAMES.svg })],
    [paths.svg, toSvg(report)],
    [paths.html, toHtml(report)],
  ];
  await Promise.all(contents.map(([p, text]) => writeFile(p, text, "utf8")));
  return paths;
}
