import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { toJson } from "./json.js";
import type { DrillReport } from "./schema.js";
import { stepProofs } from "./proof.js";
import { loadReportsTolerant } from "./report-files.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

// the passed kafka drill's steps start at 10:00:44Z / 10:00:46Z on 2025-03-14
const NOW = Date.parse("2025-03-20T10:00:00.000Z");
const loaded = (path: string, report = kafkaBrokerDownPassed()) => ({ path, report });

describe("stepProofs", () => {
  it("gives the last pass of each step in a passed drill, verified within the policy's window", () => {
    const older = kafkaBrokerDownPassed();
    for (const s of older.steps) s.startedAt = "2025-03-01T09:00:00.000Z";
    const [status, restart] = stepProofs(
      ["kafka-check-broker-status", "kafka-restart-broker"],
      [loaded("a/report.json", older), loaded("b/report.json")],
      NOW,
      30,
    );
    expect(status).toEqual({
      step: "kafka-check-broker-status",
      lastPassedAt: "2025-03-14T10:00:44.000Z",
      drill: "kafka-broker-down",
      report: "b/report.json",
      verified: true,
      note: "passed drill kafka-broker-down 5 day(s) ago (2025-03-14T10:00:44.000Z)",
    });
    expect(restart).toMatchObject({ verified: true, report: "b/report.json" });
  });

  it("marks unverified a step that never passed, passed too long ago, or only ran in a failed drill", () => {
    const failed = dbPoolExhaustedFailed();
    const proofs = stepProofs(
      ["kafka-restart-broker", "db-check-active-connections", "oom-verify-no-oom"],
      [loaded("k/report.json"), loaded("d/report.json", failed)],
      NOW,
      5,
    );
    expect(proofs.map((p) => [p.step, p.verified, p.note])).toEqual([
      [
        "kafka-restart-broker",
        false,
        "unverified: last passed drill kafka-broker-down 5 day(s) ago (2025-03-14T10:00:46.000Z), not within 5 day(s)",
      ],
      // ok in its drill, but the drill failed: it proved nothing
      ["db-check-active-connections", false, "unverified: never passed a drill in these reports"],
      ["oom-verify-no-oom", false, "unverified: never passed a drill in these reports"],
    ]);
  });

  it("does not count a step that was not ok, nor a real incident's report", () => {
    const notOk = kafkaBrokerDownPassed();
    notOk.steps[0]!.ok = false;
    const incident = { ...kafkaBrokerDownPassed(), incident: { id: "kafka-broker-down-20250314T100000Z-abcd" } as DrillReport["incident"] };
    const [p] = stepProofs(["kafka-check-broker-status"], [loaded("x/report.json", notOk), loaded("i/report.json", incident)], NOW, 30);
    expect(p?.verified).toBe(false);
  });
});

describe("loadReportsTolerant", () => {
  it("reads every report under a directory and names the bad ones instead of stopping", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gm-proof-"));
    mkdirSync(join(dir, "kafka-broker-down"));
    mkdirSync(join(dir, "broken"));
    writeFileSync(join(dir, "kafka-broker-down", "report.json"), toJson(kafkaBrokerDownPassed()));
    writeFileSync(join(dir, "broken", "report.json"), '{"schemaVersion": 1}');
    const r = await loadReportsTolerant(dir);
    expect(r.reports.map((x) => x.report.drill.scenario)).toEqual(["kafka-broker-down"]);
    expect(r.problems).toEqual([expect.stringMatching(/broken\/report\.json: report\.drill: expected an object.*; skipped$/)]);
    expect(await loadReportsTolerant(join(dir, "missing"))).toMatchObject({
      reports: [],
      problems: [expect.stringMatching(/missing: cannot read/)],
    });
  });
});
