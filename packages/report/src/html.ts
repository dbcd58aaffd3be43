/**
 * The post-incident report as one static HTML page: inline CSS, the signals chart inline, the same
 * sections as the Markdown report; no script, no external asset, so it can be attached to a ticket
 * or opened from a CI artifact as is.
 */
import {
  followUps,
  formatSeconds,
  incidentPostIncident,
  injectedAt,
  needsPostMortem,
  ROOT_CAUSE_PLACEHOLDER,
  secondsBetween,
  timingRows,
} from "./analysis.js";
import { type ChartOptions, toSvg } from "./chart.js";
import { escapeXml as h } from "./escape.js";
import { OUTCOME_ICON, offset } from "./markdown.js";
import type { DrillReport } from "./schema.js";

export interface HtmlOptions {
  chart?: ChartOptions;
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1000px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
.meta { color: #666; margin-top: 0; }
.outcome { display: inline-block; padding: .3em .8em; border-radius: 4px; font-weight: bold; color: #fff; }
.outcome.passed { background: #2e7d32; } .outcome.failed { background: #c62828; } .outcome.aborted { background: #ef6c00; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 180px; }
.card.ok { border-left: 5px solid #2e7d32; } .card.bad { border-left: 5px solid #c62828; }
.card .v { font-size: 1.6em; font-weight: bold; } .card .l { color: #666; font-size: .9em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d32; } .bad { color: #c62828; }
blockquote { margin: 0; padding: .4em 1em; border-left: 4px solid #ccc; color: #444; background: #fafafa; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .92em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
details { margin: .3em 0; } summary { cursor: pointer; }
.chart { overflow-x: auto; } .chart svg { max-width: 100%; height: auto; }
.prio { font-weight: bold; }
`;

const mark = (ok: boolean): string => (ok ? '<span class="ok">✅</span>' : '<span class="bad">❌</span>');

function table(head: string[], rows: string[][], numeric: number[] = []): string {
  const th = head.map((c) => `<th>${h(c)}</th>`).join("");
  const trs = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody>\n</table>`;
}

/** The report as a self-contained HTML page (cells passed to `table` are already-escaped HTML). */
export function toHtml(report: DrillReport, opts: HtmlOptions = {}): string {
  const d = report.drill;
  const inc = report.incident;
  const from = inc ? "From onset" : "From injection";
  const inject = injectedAt(report);
  const title = inc
    ? `Incident report: ${inc.kind} ${inc.severity} on ${inc.subject} — ${inc.resolvedAt ? "resolved" : "open"}`
    : `Incident report: ${d.scenario} drill — ${report.outcome}`;
  const body: string[] = [];
  const section = (name: string, ...parts: string[]) => body.push(`<section>\n<h2>${h(name)}</h2>\n${parts.join("\n")}\n</section>`);

  if (inc)
    body.push(
      `<h1>${h(title)}</h1>`,
      `<p class="meta">Real incident <code>${h(inc.id)}</code>, detected by gm-prober (journal <code>${h(inc.journal)}</code>): opened ${h(inc.openedAt)}, ${inc.resolvedAt ? `resolved ${h(inc.resolvedAt)}` : "<strong>not resolved yet</strong>"}; times count from the onset, ${h(inc.onsetAt)} (${h(inc.onsetSource)}).</p>`,
    );
  else
    body.push(
      `<h1>${h(`Incident report: ${d.scenario} drill`)}</h1>`,
      `<p class="meta">Game-day drill <code>${h(d.file)}</code> against ${h(d.target.kind)} <code>${h(d.target.name)}</code>, ${h(report.startedAt)} → ${h(report.finishedAt)} (${h(formatSeconds(secondsBetween(report.startedAt, report.finishedAt)))})</p>`,
      `<p><span class="outcome ${report.outcome}">${OUTCOME_ICON[report.outcome]} ${h(report.outcome)}</span></p>`,
    );
  if (report.reasons.length > 0) body.push(`<ul class="reasons">${report.reasons.map((r) => `<li>${h(r)}</li>`).join("")}</ul>`);

  const rows = timingRows(report);
  section(
    "Summary",
    `<div class="cards">${rows
      .map(
        (r) =>
          `<div class="card ${r.ok ? "ok" : "bad"}"><div class="l">${h(r.label)}</div><div class="v">${h(formatSeconds(r.seconds))}</div><div class="l">${mark(r.ok)} ${h(r.note)}</div></div>`,
      )
      .join("")}</div>`,
    table(
      ["", from, inc ? "Deadline" : "Drill deadline", `Response time (${d.expected.severity})`, "Result"],
      rows.map((r) => [
        h(r.label),
        h(formatSeconds(r.seconds)),
        h(r.deadlineSeconds === null ? "—" : formatSeconds(r.deadlineSeconds)),
        h(formatSeconds(r.responseSeconds)),
        `${mark(r.ok)} ${h(r.note)}`,
      ]),
      [1, 2, 3],
    ),
  );

  if (!inc) {
    section("Signals", `<div class="chart">\n${toSvg(report, opts.chart).trimEnd()}\n</div>`);
    section("Hypothesis", `<blockquote>${h(d.hypothesis)}</blockquote>`);
  }

  const params = Object.entries(d.fault.params).sort(([a], [b]) => a.localeCompare(b));
  if (inc)
    section(
      "Root cause",
      inc.rootCause === null
        ? `<p class="todo">${h(ROOT_CAUSE_PLACEHOLDER)
            .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
            .replace(/`(.+?)`/g, "<code>$1</code>")}</p>`
        : `<p>${h(inc.rootCause)}</p>`,
    );
  else
    section(
      "Root cause",
      `<p>Injected fault: <strong>${h(d.fault.description)}</strong> (<code>${h(d.fault.type)}</code>) at ${h(inject)}. Expected incident: <strong>${h(`${d.expected.kind} ${d.expected.severity}`)}</strong>.</p>`,
      params.length > 0
        ? table(
            ["Parameter", "Value"],
            params.map(([k, v]) => [h(k), `<code>${h(typeof v === "string" ? v : (JSON.stringify(v) ?? "undefined"))}</code>`]),
          )
        : "<p>The fault has no parameters.</p>",
    );

  const det = report.detected;
  const seen =
    report.incidentsSeen.length > 0
      ? table(
          ["Incident", "Severity", "Subject", "First seen"],
          report.incidentsSeen.map((i) => [h(i.kind), h(i.severity), h(i.subject), h(offset(secondsBetween(inject, i.firstSeenAt)))]),
        )
      : "<p>No incident was open at any time during the drill.</p>";
  if (det) {
    const match = det.kind === d.expected.kind && det.severity === d.expected.severity;
    section(
      "Detected incident",
      inc
        ? `<p><strong>${h(`${det.kind} ${det.severity}`)}</strong> opened ${h(formatSeconds(report.timings.detectSeconds))} after the onset, with this evidence:</p>`
        : `<p><strong>${h(`${det.kind} ${det.severity}`)}</strong> after ${h(formatSeconds(report.timings.detectSeconds))} — ${match ? `${mark(true)} as expected` : `${mark(false)} expected ${h(`${d.expected.kind} ${d.expected.severity}`)}`}.</p>`,
      table(
        ["Signal", "Observed", "Threshold"],
        det.evidence.map((e) => [`<code>${h(e.signal)}</code>`, h(String(e.observed)), h(e.threshold)]),
      ),
      ...(inc
        ? [
            `<p>${inc.changes.length > 0 ? h(`Severity changes: ${inc.changes.map((c) => `${c.from} → ${c.to} at ${c.at}`).join("; ")}.`) : h(`Its severity stayed ${inc.severity}.`)}</p>`,
          ]
        : ["<p>Every incident seen during the drill:</p>", seen]),
    );
  } else
    section(
      "Detected incident",
      `<p>${mark(false)} <strong>Not detected.</strong></p>`,
      "<p>Every incident seen during the drill:</p>",
      seen,
    );

  section(
    "Timeline",
    report.timeline.length > 0
      ? table(
          [from, "Time", "Phase", "Event"],
          report.timeline.map((e) => [h(offset(secondsBetween(inject, e.at))), h(e.at), h(e.phase), h(e.message)]),
          [0],
        )
      : "<p>No events recorded.</p>",
  );

  section(
    "Remediation",
    report.steps.length === 0
      ? "<p>No remediation step was taken.</p>"
      : table(
          ["#", "Step", "Runbook action", "Phase", "Started", "Seconds", "OK", "Output"],
          report.steps.map((s, i) => [
            String(i + 1),
            `${h(s.title)}<br><code>${h(s.id)}</code>${s.mutates ? " · mutating" : ""}`,
            h(s.runbookAction),
            h(s.phase),
            h(offset(secondsBetween(inject, s.startedAt))),
            h(String(Math.round(s.seconds * 10) / 10)),
            mark(s.ok),
            `<details><summary>${s.output.length} line${s.output.length === 1 ? "" : "s"}</summary><pre>${h(s.output.join("\n") || "(no output)")}</pre></details>`,
          ]),
          [0, 4, 5],
        ),
  );

  const integ = report.integrity;
  section(
    "Data integrity",
    integ
      ? [
          `<p>${mark(integ.lost === 0 && integ.duplicates === 0 && (integ.altered ?? 0) === 0)} ${integ.lost === 0 ? "No acknowledged event was lost." : `<strong>${integ.lost} acknowledged event${integ.lost === 1 ? " was" : "s were"} lost.</strong>`}${integ.duplicates > 0 ? ` ${integ.duplicates} duplicated.` : ""}${integ.altered === undefined ? " Content not compared." : integ.altered > 0 ? ` <strong>${integ.altered} stored altered.</strong>` : " None altered."}</p>`,
          table(
            ["Acknowledged", "Found", "Lost", "Duplicates", "Altered"],
            [
              [
                String(integ.acknowledged),
                String(integ.found),
                String(integ.lost),
                String(integ.duplicates),
                integ.altered === undefined ? "not compared" : String(integ.altered),
              ],
            ],
            [0, 1, 2, 3, 4],
          ),
          integ.lostSample.length > 0 ? `<p>Lost, for example: ${integ.lostSample.map((x) => `<code>${h(x)}</code>`).join(", ")}</p>` : "",
          (integ.alteredSample ?? []).length > 0
            ? `<p>Altered, for example: ${(integ.alteredSample ?? []).map((x) => `<code>${h(x)}</code>`).join(", ")}</p>`
            : "",
        ].join("\n")
      : inc
        ? "<p>Not checked: a real incident (the prober's canary is its data-loss check; a loss would be its own data-loss incident).</p>"
        : "<p>Not checked in this drill.</p>",
  );

  const c = report.cleanup;
  if (!inc)
    section(
      "Clean-up",
      c.ok && c.leftovers.length === 0
        ? `<p>${mark(true)} Everything the drill created was removed: no leftovers.</p>`
        : `<p>${mark(false)} Clean-up ${c.ok ? "finished" : "failed"}; leftovers:</p><ul>${(c.leftovers.length > 0 ? c.leftovers : ["(none listed)"]).map((l) => `<li>${h(l)}</li>`).join("")}</ul>`,
    );

  section(
    "Checks",
    report.checks.length > 0
      ? table(
          ["Check", "Result", "Detail"],
          report.checks.map((k) => [h(k.name), mark(k.ok), h(k.detail)]),
        )
      : "<p>No checks recorded.</p>",
  );

  const items = followUps(report);
  const li = (list: typeof items) =>
    list.length > 0
      ? `<ul>${list.map((f) => `<li><span class="prio">${h(f.priority)}</span> (${h(f.area)}) ${h(f.text)}</li>`).join("")}</ul>`
      : "";
  const runbook = items.filter((f) => f.runbook);
  const preventive = items.filter((f) => !f.runbook);
  if (inc)
    section(
      "Resolution and post-incident follow-ups",
      "<ol>",
      ...incidentPostIncident(report, items).map((l) => `<li><strong>${h(l.line)}</strong> — ${h(l.status)}${li(l.items)}</li>`),
      "</ol>",
    );
  else
    section(
      "Post-incident follow-ups",
      "<ol>",
      "<li><strong>Write incident report</strong> — ✅ this document.</li>",
      `<li><strong>Conduct post-mortem meeting</strong> — ${needsPostMortem(report, items) ? "required: the drill failed or found a P0–P2 problem." : "optional: review this report at the next game-day."}</li>`,
      `<li><strong>Update runbooks</strong> — ${runbook.length > 0 ? `${runbook.length} item(s):${li(runbook)}` : "no change needed."}</li>`,
      `<li><strong>Implement preventive measures</strong> — ${preventive.length > 0 ? `${preventive.length} item(s):${li(preventive)}` : "none: the hypothesis held."}</li>`,
      "</ol>",
    );

  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
