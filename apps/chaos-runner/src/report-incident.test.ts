/** `gm-chaos report incident <id>` in-process, on a journal written by the prober's own journal code. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIncidentTracker } from "@gm/monitor/hysteresis";
import { openIncidentJournal } from "@gm/monitor/incident-journal";
import type { Incident } from "@gm/runbook/incident";
import { describe, expect, it, vi } from "vitest";
import { run } from "./cli.js";
import type { Out } from "./output.js";

const quiet: Out = { line: () => undefined, raw: () => undefined, json: () => undefined, progress: () => undefined };
const down: Incident = {
  kind: "service-down",
  severity: "P0",
  subject: "stats-api",
  summary: "stats-api: all 1 instance(s) fail their health check",
  evidence: [{ signal: "services[stats-api].healthy", observed: false, threshold: "every instance not ok" }],
  responseMinutes: 5,
  respondBy: "2026-12-03T07:05:00.000Z",
  escalation: "page",
  steps: [],
};

/** A journal with one service-down opened and resolved, as gm-prober run writes it. */
function journal(): { dir: string; id: string } {
  const dir = mkdtempSync(join(tmpdir(), "gm-report-incident-"));
  const clock = { t: Date.parse("2026-12-03T07:00:00.000Z") };
  const j = openIncidentJournal({ dir, now: () => clock.t });
  const tracker = createIncidentTracker(3);
  let id = "";
  let previous: string | null = null;
  for (const found of [[], [down], [down], [], [], []] as Incident[][]) {
    clock.t += 5_000;
    const ids = j.record(tracker.update(found), tracker.active(), previous);
    previous = new Date(clock.t).toISOString();
    id ||= ids[0] ?? "";
  }
  return { dir, id };
}

describe("gm-chaos report incident", () => {
  it("writes the report files and keeps a root cause a person gave when it is written again", async () => {
    const { dir, id } = journal();
    const out = join(dir, "report");
    expect(await run(["report", "incident", id, "--journal-dir", dir, "--out", out], quiet)).toBe(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("## Root cause\n\n**To be filled in by a person.**");
    expect(
      await run(["report", "incident", id, "--journal-dir", dir, "--out", out, "--root-cause", "a bad deploy of stats-api"], quiet),
    ).toBe(0);
    expect(await run(["report", "incident", id, "--journal-dir", dir, "--out", out], quiet)).toBe(0);
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toContain("## Root cause\n\na bad deploy of stats-api");
    expect(md).toContain("1. **Document root cause** — done");
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).incident.rootCause).toBe("a bad deploy of stats-api");
  });

  it("refuses an id the journal does not have, or a bad onset, naming them (exit 2)", async () => {
    const { dir } = journal();
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await run(["report", "incident", "service-down-20261203T070000Z-ffff", "--journal-dir", dir], quiet)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(
        /^gm-chaos: <id>: no incident service-down-20261203T070000Z-ffff in the journal .* \(1 incident\(s\) there, the newest service-down-/,
      );
      expect(await run(["report", "incident", "service-down-20261203T070000Z-ffff", "--onset", "yesterday"], quiet)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/^gm-chaos: --onset: expected an ISO 8601 time/);
    } finally {
      err.mockRestore();
    }
  });
});
