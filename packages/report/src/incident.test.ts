import { describe, expect, it } from "vitest";
import { toHtml } from "./html.js";
import { type IncidentHistory, incidentReport, type RecordedStep } from "./incident.js";
import { parseReport, toJson } from "./json.js";
import { toMarkdown } from "./markdown.js";

const at = (s: number) => new Date(Date.parse("2026-12-03T07:00:00.000Z") + s * 1000).toISOString();
const ID = "service-down-20261203T070010Z-3f9a";

function history(over: Partial<IncidentHistory> = {}): IncidentHistory {
  return {
    id: ID,
    kind: "service-down",
    subject: "stats-api",
    openedAt: at(10),
    clearSince: at(5),
    worstSeverity: "P0",
    worstResponseMinutes: 5,
    changes: [],
    evidenceLog: [
      {
        at: at(10),
        summary: "every instance of stats-api fails GET /health",
        evidence: [{ signal: "services[stats-api].healthy", observed: "0/1", threshold: "> 0" }],
      },
    ],
    resolvedAt: at(95),
    ...over,
  };
}

const step = (id: string, phase: RecordedStep["phase"], start: number, over: Partial<RecordedStep> = {}): RecordedStep => ({
  step: id,
  title: id,
  phase,
  runbookAction: id === "verify-service-healthy" ? "Verify resolution" : "Restart failing pods",
  effect: "read-only",
  decision: "ran",
  ok: true,
  startedAt: at(start),
  seconds: 2,
  output: [`${id} output`],
  undo: [],
  target: "oncall-1",
  ...over,
});

const steps = [
  step("check-health-endpoints", "triage", 30, { finding: "problem" }),
  step("restart-failing-instances", "mitigation", 40, {
    effect: "irreversible",
    finding: "acted",
    output: ["restarted gm-oncall-1-stats-api-1"],
  }),
  step("rollback-if-recent-change", "mitigation", 42, { decision: "advised", ok: undefined, output: ["advisory"] }),
  step("verify-service-healthy", "verification", 45, { seconds: 10 }),
];

describe("incidentReport", () => {
  it("times a resolved incident from the last clear round against its worst severity's response time", () => {
    const r = incidentReport({ history: history(), steps, journal: "/state/gm-prober", now: Date.parse(at(500)) });
    expect(r.incident).toMatchObject({ id: ID, severity: "P0", onsetAt: at(5), onsetSource: "last-clear-round", rootCause: null });
    // detect 5 s after the onset; mitigated when the restart ended (40 + 2 − 5); recovered at the resolution (95 − 5)
    expect(r.timings).toMatchObject({ detectSeconds: 5, mitigateSeconds: 37, recoverSeconds: 90, responseMinutes: 5 });
    expect(r.outcome).toBe("passed");
    expect(r.steps.map((s) => [s.id, s.effect, s.ok])).toEqual([
      ["check-health-endpoints", "read-only", true],
      ["restart-failing-instances", "irreversible", true],
      ["verify-service-healthy", "read-only", true],
    ]);
    expect(r.timeline.map((e) => e.message)).toContain("step rollback-if-recent-change advised: advisory");
    expect(r.checks.every((c) => c.ok)).toBe(true);
    // report.json is a valid report, read back the same
    expect(parseReport(toJson(r))).toEqual(JSON.parse(toJson(r)));
  });

  it("fails an incident that is still open, or recovered after its response time, and takes a given onset", () => {
    const open = incidentReport({ history: history({ resolvedAt: null }), steps: [], journal: "/j", now: Date.parse(at(100)) });
    expect(open.outcome).toBe("failed");
    expect(open.reasons).toEqual(["recovered within the response time: not resolved yet"]);
    const slow = incidentReport({ history: history({ resolvedAt: at(400) }), steps: [], journal: "/j", onsetAt: at(0), now: 0 });
    expect(slow.timings.recoverSeconds).toBe(400);
    expect(slow.reasons).toEqual(["recovered within the response time: 400 s from the onset, response time 5 min"]);
    expect(slow.incident?.onsetSource).toBe("given");
  });

  it("renders the drill report's files: root cause left to a person, evidence, steps and the post-incident lines", () => {
    const r = incidentReport({ history: history(), steps, journal: "/state/gm-prober", now: 0 });
    const md = toMarkdown(r);
    expect(md).toMatch(/^# Incident report: service-down P0 on stats-api — resolved\n/);
    expect(md).toContain(`Real incident \`${ID}\``);
    expect(md).toContain("## Root cause\n\n**To be filled in by a person.**");
    expect(md).toContain("| `services[stats-api].healthy` | 0/1 | &gt; 0 |");
    expect(md).toContain("| Time to recover | 1 min 30 s | — | 5 min | ✅ 3 min 30 s to spare |");
    expect(md).toContain("restart-failing-instances");
    expect(md).not.toContain("## Hypothesis");
    expect(md).not.toContain("## Clean-up");
    for (const line of [
      "1. **Document root cause** — to do: for a person to fill in (see Root cause)",
      "2. **Verify resolution** — done: verify-service-healthy ok",
      "4. **Conduct post-mortem meeting** — required: a P0 incident",
      "5. **Update runbooks**",
      "6. **Implement preventive measures** — 1 item(s):",
    ])
      expect(md).toContain(line);
    const html = toHtml(r);
    expect(html).toContain("<title>Incident report: service-down P0 on stats-api — resolved</title>");
    expect(html).toContain("<strong>To be filled in by a person.</strong>");
    expect(html).toContain("Conduct post-mortem meeting</strong> — required: a P0 incident");
  });

  it("makes the post-mortem optional below P1 and asks for verification when none ran", () => {
    const r = incidentReport({
      history: history({ kind: "high-error-rate", worstSeverity: "P2", worstResponseMinutes: 60 }),
      steps: [steps[0]!],
      journal: "/j",
      now: 0,
    });
    const md = toMarkdown(r);
    expect(md).toContain("4. **Conduct post-mortem meeting** — optional for a P2 incident: review this report");
    expect(md).toContain("2. **Verify resolution** — to do: no verification step was run (gm-chaos runbook --execute runs them)");
  });
});
