/**
 * The runbook's post-incident report ("Post-Incident › Write incident report") for a drill, as GitHub
 * Markdown. The signals chart is a separate file (signals.svg, see chart.ts) referenced as an image:
 * GitHub renders neither inline <svg> nor data: URIs reliably in Markdown.
 */
import {
  type FollowUp,
  followUps,
  formatSeconds,
  incidentPostIncident,
  injectedAt,
  needsPostMortem,
  ROOT_CAUSE_PLACEHOLDER,
  secondsBetween,
  timingRows,
} from "./analysis.js";
import { escapeMdCell, escapeMdCellKeepCode, escapeMdInline, fenceFor, stripInvalidXml } from "./escape.js";
import type { DrillReport } from "./schema.js";

export interface MarkdownOptions {
  /** relative path of the signals chart; null leaves the chart out. Default "signals.svg". */
  chart?: string | null;
}

export const OUTCOME_ICON = { passed: "✅", failed: "❌", aborted: "⚠️" } as const;
const yes = (ok: boolean): string => (ok ? "✅" : "❌");

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** "+12 s" / "−5 s" from injection. */
export function offset(seconds: number): string {
  const r = Math.round(seconds * 10) / 10;
  return r < 0 ? `−${-r} s` : `+${r} s`;
}

function value(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? "undefined");
}

function followUpLine(f: FollowUp): string {
  return `- [ ] **${f.priority}** (${f.area}) ${escapeMdInline(f.text)}`;
}

/** The post-incident report of one drill. */
export function toMarkdown(report: DrillReport, opts: MarkdownOptions = {}): string {
  const inc = report.incident;
  // a real incident has no signal samples to chart
  const chart = inc ? null : opts.chart === undefined ? "signals.svg" : opts.chart;
  const d = report.drill;
  const from = inc ? "From onset" : "From injection";
  const inject = injectedAt(report);
  const out: string[] = [];
  const section = (title: string, ...body: string[]) => out.push(`## ${title}`, "", ...body.flatMap((b) => [b, ""]));

  if (inc) {
    out.push(
      `# Incident report: ${inc.kind} ${inc.severity} on ${escapeMdInline(inc.subject)} — ${inc.resolvedAt ? "resolved" : "open"}`,
      "",
    );
    out.push(
      `Real incident \`${inc.id}\`, detected by gm-prober (journal \`${inc.journal.replace(/`/g, "'")}\`): opened ${inc.openedAt}, ${inc.resolvedAt ? `resolved ${inc.resolvedAt}` : "**not resolved yet**"}; times count from the onset, ${inc.onsetAt} (${{ "last-clear-round": "the end of the last prober round without it: the incident began after this", given: "as given", opened: "its opening: the prober had just started" }[inc.onsetSource]}).`,
      "",
    );
  } else out.push(`# Incident report: ${escapeMdInline(d.scenario)} drill — ${OUTCOME_ICON[report.outcome]} ${report.outcome}`, "");
  if (!inc)
    out.push(
      `Game-day drill \`${d.file.replace(/`/g, "'")}\` against ${d.target.kind} \`${d.target.name.replace(/`/g, "'")}\`, ${report.startedAt} → ${report.finishedAt} (${formatSeconds(secondsBetween(report.startedAt, report.finishedAt))}).`,
      "",
    );
  if (inc) {
    if (report.reasons.length > 0) out.push(...report.reasons.map((r) => `- ❌ ${escapeMdInline(r)}`), "");
  } else if (report.outcome === "passed") out.push(`**Outcome: ${OUTCOME_ICON.passed} passed** — the hypothesis held.`, "");
  else
    out.push(
      `**Outcome: ${OUTCOME_ICON[report.outcome]} ${report.outcome}**`,
      "",
      ...report.reasons.map((r) => `- ${escapeMdInline(r)}`),
      "",
    );

  const rows = timingRows(report);
  section(
    "Summary",
    table(
      ["", from, inc ? "Deadline" : "Drill deadline", `Response time (${d.expected.severity})`, "Result"],
      rows.map((r) => [
        r.label,
        formatSeconds(r.seconds),
        r.deadlineSeconds === null ? "—" : formatSeconds(r.deadlineSeconds),
        formatSeconds(r.responseSeconds),
        `${yes(r.ok)} ${r.note}`,
      ]),
    ),
  );

  const hyp = report.hypothesisChecks ?? [];
  if (!inc)
    section(
      "Hypothesis",
      `> ${escapeMdInline(d.hypothesis).replace(/\n/g, "\n> ")}`,
      ...(hyp.length > 0
        ? [
            "Its measurable claims:",
            table(
              ["Claim", "Signal", "During", "Tolerance", "Observed", "Held"],
              hyp.map((h) => [
                escapeMdCell(h.claim),
                `${h.signal}${h.service ? ` of ${escapeMdCell(h.service)}` : ""}`,
                h.during,
                `≤ ${h.max}`,
                h.observed === null ? "not measured" : String(h.observed),
                `${yes(h.ok)} ${escapeMdCell(h.detail)}`,
              ]),
            ),
          ]
        : []),
    );
  if (report.observer) {
    const ob = report.observer;
    section(
      "How it was observed",
      `${escapeMdInline(ob.source)}: every ${ob.intervalSeconds} s, collector timeout ${ob.timeoutMs} ms, error-rate window ${ob.windowSeconds} s, an incident resolves after ${ob.resolveAfterRounds} clean round(s). Times to detect are taken at the end of the round that showed the incident.${ob.alertmanager ? ` Alerts went to a real Alertmanager (${escapeMdInline(ob.alertmanager)}) with the committed routing; time to page is when its receiver got the notification.` : " No Alertmanager: time to page not measured."}`,
    );
  }

  const params = Object.entries(d.fault.params).sort(([a], [b]) => a.localeCompare(b));
  if (inc) section("Root cause", inc.rootCause === null ? ROOT_CAUSE_PLACEHOLDER : escapeMdInline(inc.rootCause));
  else
    section(
      "Root cause",
      `Injected fault: **${escapeMdInline(d.fault.description)}** (\`${d.fault.type.replace(/`/g, "'")}\`) at ${inject}. Expected incident: **${d.expected.kind} ${d.expected.severity}**.`,
      params.length > 0
        ? table(
            ["Parameter", "Value"],
            params.map(([k, v]) => [escapeMdCell(k), escapeMdCell(value(v))]),
          )
        : "The fault has no parameters.",
    );

  const det = report.detected;
  const pageText = { page: "page on-call", "ticket-and-notify": "ticket + notify team", ticket: "ticket" } as const;
  const verdictText = {
    expected: "✅ expected",
    collateral: "✅ expected collateral",
    worse: "❌ worse than expected",
    unexpected: "❌ unexpected",
  } as const;
  const opened =
    report.incidentsOpen && report.incidentsOpen.length > 0
      ? [
          `What the prober had open from the injection on (worst: ${report.worstSeverity ?? "none"}), and the page each would have caused:`,
          table(
            ["Incident", "Worst severity", "Subject", "Opened", "Page", "Verdict", "Why"],
            report.incidentsOpen.map((i) => [
              i.kind,
              i.severity,
              escapeMdCell(i.subject),
              offset(secondsBetween(inject, i.firstSeenAt)),
              pageText[i.page],
              verdictText[i.verdict],
              escapeMdCell(i.reason),
            ]),
          ),
        ]
      : [];
  const seen =
    report.incidentsSeen.length > 0
      ? table(
          ["Incident", "Severity", "Subject", "First seen"],
          report.incidentsSeen.map((i) => [i.kind, i.severity, escapeMdCell(i.subject), offset(secondsBetween(inject, i.firstSeenAt))]),
        )
      : "No incident was open at any time during the drill.";
  if (det) {
    const match = det.kind === d.expected.kind && det.severity === d.expected.severity;
    section(
      "Detected incident",
      inc
        ? `**${det.kind} ${det.severity}** opened ${formatSeconds(report.timings.detectSeconds)} after the onset, with this evidence:`
        : `**${det.kind} ${det.severity}** after ${formatSeconds(report.timings.detectSeconds)} — ${match ? "✅ as expected" : `❌ expected ${d.expected.kind} ${d.expected.severity}`}.`,
      det.evidence.length > 0
        ? table(
            ["Signal", "Observed", "Threshold"],
            det.evidence.map((e) => [
              `\`${e.signal.replace(/`/g, "'").replace(/\|/g, "\\|")}\``,
              escapeMdCell(String(e.observed)),
              escapeMdCell(e.threshold),
            ]),
          )
        : "No evidence recorded.",
      ...(inc
        ? [
            inc.changes.length > 0
              ? `Severity changes: ${inc.changes.map((c) => `${c.from} → ${c.to} at ${c.at}`).join("; ")}.`
              : `Its severity stayed ${inc.severity}.`,
          ]
        : ["Every incident seen during the drill:", seen, ...opened]),
    );
  } else section("Detected incident", "❌ **Not detected.**", "Every incident seen during the drill:", seen);

  if (chart !== null) section("Signals", `![signals: error rate, consumer lag, pool usage and healthy services over time](${chart})`);

  section(
    "Timeline",
    report.timeline.length > 0
      ? table(
          [from, "Time", "Phase", "Event"],
          report.timeline.map((e) => [offset(secondsBetween(inject, e.at)), e.at, e.phase, escapeMdCell(e.message)]),
        )
      : "No events recorded.",
  );

  if (report.steps.length === 0) section("Remediation", "No remediation step was taken.");
  else {
    const details = report.steps.map((s) => {
      const text = stripInvalidXml(s.output.join("\n")) || "(no output)";
      const fence = fenceFor(text);
      return [
        `<details><summary>${yes(s.ok)} <code>${escapeMdInline(s.id)}</code> output (${s.output.length} line${s.output.length === 1 ? "" : "s"})</summary>`,
        "",
        fence,
        text,
        fence,
        "",
        "</details>",
      ].join("\n");
    });
    section(
      "Remediation",
      table(
        ["#", "Step", "Runbook action", "Phase", "Started", "Seconds", "Did its job", "Finding"],
        report.steps.map((s, i) => [
          String(i + 1),
          `${escapeMdCell(s.title)} (\`${s.id}\`)${s.mutates ? " · mutating" : ""}`,
          escapeMdCellKeepCode(s.runbookAction),
          s.phase,
          offset(secondsBetween(inject, s.startedAt)),
          String(Math.round(s.seconds * 10) / 10),
          yes(s.ok),
          s.finding ?? "—",
        ]),
      ),
      ...details,
    );
  }

  const integ = report.integrity;
  if (!integ)
    section(
      "Data integrity",
      inc
        ? "Not checked: a real incident (the prober's canary is its data-loss check; a loss would be its own data-loss incident)."
        : "Not checked in this drill.",
    );
  else {
    const altered = integ.altered ?? 0;
    const ok = integ.lost === 0 && integ.duplicates === 0 && altered === 0;
    const code = (ids: string[]) => ids.map((id) => `\`${id.replace(/`/g, "'")}\``).join(", ");
    section(
      "Data integrity",
      `${yes(ok)} ${integ.lost === 0 ? "No acknowledged event was lost." : `**${integ.lost} acknowledged event${integ.lost === 1 ? " was" : "s were"} lost.**`}${integ.duplicates > 0 ? ` ${integ.duplicates} duplicated.` : ""}${integ.altered === undefined ? " Content not compared." : altered > 0 ? ` **${altered} stored altered.**` : " None altered."}`,
      table(
        ["Acknowledged", "Found", "Lost", "Duplicates", "Altered"],
        [
          [
            String(integ.acknowledged),
            String(integ.found),
            String(integ.lost),
            String(integ.duplicates),
            integ.altered === undefined ? "not compared" : String(altered),
          ],
        ],
      ),
      ...(integ.lostSample.length > 0 ? [`Lost, for example: ${code(integ.lostSample)}`] : []),
      ...((integ.alteredSample ?? []).length > 0 ? [`Altered, for example: ${code(integ.alteredSample ?? [])}`] : []),
    );
  }

  const c = report.cleanup;
  if (!inc)
    section(
      "Clean-up",
      c.ok && c.leftovers.length === 0
        ? "✅ Everything the drill created was removed: no leftovers."
        : [
            `❌ Clean-up ${c.ok ? "finished" : "failed"}; leftovers:`,
            "",
            ...(c.leftovers.length > 0 ? c.leftovers.map((l) => `- ${escapeMdInline(l)}`) : ["- (none listed)"]),
          ].join("\n"),
    );

  section(
    "Checks",
    report.checks.length > 0
      ? table(
          ["Check", "Result", "Detail"],
          report.checks.map((k) => [escapeMdCell(k.name), yes(k.ok), escapeMdCell(k.detail)]),
        )
      : "No checks recorded.",
  );

  const items = followUps(report);
  const runbook = items.filter((f) => f.runbook);
  const preventive = items.filter((f) => !f.runbook);
  if (inc) {
    section(
      "Resolution and post-incident follow-ups",
      "From the runbook's Resolution and Post-Incident lists:",
      incidentPostIncident(report, items)
        .flatMap((l, i) => [`${i + 1}. **${l.line}** — ${escapeMdInline(l.status)}`, ...l.items.map((f) => `   ${followUpLine(f)}`)])
        .join("\n"),
    );
    return out.join("\n").replace(/\n+$/, "\n");
  }
  section(
    "Post-incident follow-ups",
    "From the runbook's Post-Incident list:",
    [
      "1. **Write incident report** — ✅ this document.",
      `2. **Conduct post-mortem meeting** — ${needsPostMortem(report, items) ? "required: the drill failed or found a P0–P2 problem." : "optional: review this report at the next game-day."}`,
      `3. **Update runbooks** — ${runbook.length > 0 ? `${runbook.length} item${runbook.length === 1 ? "" : "s"}:` : "no change needed."}`,
      ...runbook.map((f) => `   ${followUpLine(f)}`),
      `4. **Implement preventive measures** — ${preventive.length > 0 ? `${preventive.length} item${preventive.length === 1 ? "" : "s"}:` : "none: the hypothesis held."}`,
      ...preventive.map((f) => `   ${followUpLine(f)}`),
    ].join("\n"),
  );

  return out.join("\n").replace(/\n+$/, "\n");
}
