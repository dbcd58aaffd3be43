/**
 * JUnit XML for CI test reporters: one <testsuite> per drill (named by scenario) with one <testcase>
 * for the drill as a whole and one per check, all with classname `gameday.<scenario>`.
 * A failed drill or check is a <failure>; an aborted drill is <skipped/> (it proved nothing either
 * way), and so are its failed checks. The de-facto schema: https://github.com/testmoapp/junitxml
 */
import { escapeXml, escapeXmlAttr } from "./escape.js";
import type { DrillReport } from "./schema.js";

export interface JUnitOptions {
  /** name of the <testsuites> element; default "gameday" */
  suiteName?: string;
}

interface Case {
  name: string;
  time: number;
  result: { kind: "passed" } | { kind: "failure" | "skipped"; message: string; details: string };
}

const seconds = (n: number): string => (Number.isFinite(n) && n > 0 ? (Math.round(n * 1000) / 1000).toFixed(3) : "0.000");

function drillSeconds(r: DrillReport): number {
  return Math.max(0, (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000);
}

function cases(r: DrillReport): Case[] {
  const aborted = r.outcome === "aborted";
  const details = [
    `outcome: ${r.outcome}`,
    ...r.reasons.map((x) => `reason: ${x}`),
    `fault: ${r.drill.fault.description}`,
    `expected: ${r.drill.expected.kind} ${r.drill.expected.severity}`,
    `detected: ${r.detected ? `${r.detected.kind} ${r.detected.severity}` : "nothing"}`,
    `detect/mitigate/recover (s): ${r.timings.detectSeconds ?? "-"}/${r.timings.mitigateSeconds ?? "-"}/${r.timings.recoverSeconds ?? "-"}`,
    ...r.checks.filter((c) => !c.ok).map((c) => `check failed: ${c.name}: ${c.detail}`),
  ].join("\n");
  const message = r.reasons.join("; ") || `drill ${r.outcome}`;
  const drill: Case = {
    name: `drill ${r.drill.scenario}`,
    time: drillSeconds(r),
    result: r.outcome === "passed" ? { kind: "passed" } : { kind: aborted ? "skipped" : "failure", message, details },
  };
  const checks = r.checks.map(
    (c): Case => ({
      name: c.name,
      time: 0,
      result: c.ok ? { kind: "passed" } : { kind: aborted ? "skipped" : "failure", message: c.detail, details: `${c.name}: ${c.detail}` },
    }),
  );
  return [drill, ...checks];
}

function renderCase(c: Case, classname: string): string {
  const open = `    <testcase name="${escapeXmlAttr(c.name)}" classname="${escapeXmlAttr(classname)}" time="${seconds(c.time)}"`;
  switch (c.result.kind) {
    case "passed":
      return `${open}/>`;
    case "failure":
      return `${open}>\n      <failure message="${escapeXmlAttr(c.result.message)}" type="${c.name.startsWith("drill ") ? "DrillFailed" : "CheckFailed"}">${escapeXml(c.result.details)}</failure>\n    </testcase>`;
    case "skipped":
      return `${open}>\n      <skipped message="${escapeXmlAttr(c.result.message)}"/>\n    </testcase>`;
  }
}

/** JUnit XML for one or more drill reports, totals on <testsuites>. */
export function toJUnit(reports: DrillReport[], opts: JUnitOptions = {}): string {
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  let time = 0;
  const suites = reports.map((r) => {
    const cs = cases(r);
    const f = cs.filter((c) => c.result.kind === "failure").length;
    const s = cs.filter((c) => c.result.kind === "skipped").length;
    tests += cs.length;
    failures += f;
    skipped += s;
    time += drillSeconds(r);
    const classname = `gameday.${r.drill.scenario}`;
    const props = [
      ["scenario", r.drill.scenario],
      ["file", r.drill.file],
      ["outcome", r.outcome],
      ["fault", `${r.drill.fault.type}: ${r.drill.fault.description}`],
      ["expected", `${r.drill.expected.kind} ${r.drill.expected.severity}`],
      ["target", `${r.drill.target.kind}:${r.drill.target.name}`],
    ]
      .map(([k, v]) => `      <property name="${escapeXmlAttr(k ?? "")}" value="${escapeXmlAttr(v ?? "")}"/>`)
      .join("\n");
    const out = r.timeline.map((e) => `${e.at} [${e.phase}] ${e.message}`).join("\n");
    return [
      `  <testsuite name="${escapeXmlAttr(r.drill.scenario)}" tests="${cs.length}" failures="${f}" errors="0" skipped="${s}" time="${seconds(drillSeconds(r))}" timestamp="${escapeXmlAttr(r.startedAt)}">`,
      `    <properties>\n${props}\n    </properties>`,
      ...cs.map((c) => renderCase(c, classname)),
      `    <system-out>${escapeXml(out)}</system-out>`,
      "  </testsuite>",
    ].join("\n");
  });
  const name = opts.suiteName ?? "gameday";
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXmlAttr(name)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}">`,
    ...suites,
    "</testsuites>",
    "",
  ].join("\n");
}
