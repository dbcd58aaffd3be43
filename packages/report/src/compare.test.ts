import { describe, expect, it } from "vitest";
import { compareMetric, compareReports, renderComparison } from "./compare.js";
import type { DrillReport } from "./schema.js";
import { at, dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

function withTimings(r: DrillReport, t: Partial<DrillReport["timings"]>): DrillReport {
  r.timings = { ...r.timings, ...t };
  return r;
}

describe("compareMetric", () => {
  it("flips to regression just above tolerance (and only above minSeconds)", () => {
    // old 100 s, tolerance 20%: +20 s is not "more than", +20.001 s is
    expect(compareMetric(100, 120, 0.2, 2).verdict).toBe("unchanged");
    expect(compareMetric(100, 120.001, 0.2, 2).verdict).toBe("regression");
    expect(compareMetric(100, 79.999, 0.2, 2).verdict).toBe("improvement");
    // 5 s → 7 s is +40% but only 2 s: unchanged; 5 → 7.01 is a regression
    expect(compareMetric(5, 7, 0.2, 2).verdict).toBe("unchanged");
    expect(compareMetric(5, 7.01, 0.2, 2).verdict).toBe("regression");
  });

  it("deltas in seconds and as a fraction", () => {
    expect(compareMetric(12, 30, 0.2, 2)).toEqual({ old: 12, new: 30, deltaSeconds: 18, deltaPercent: 1.5, verdict: "regression" });
    expect(compareMetric(0, 3, 0.2, 2).deltaPercent).toBeNull();
  });

  it("a phase no longer reached is a regression; newly reached an improvement", () => {
    expect(compareMetric(12, null, 0.2, 2).verdict).toBe("regression");
    expect(compareMetric(null, 12, 0.2, 2).verdict).toBe("improvement");
    expect(compareMetric(null, null, 0.2, 2).verdict).toBe("unchanged");
  });
});

describe("compareReports", () => {
  it("per scenario verdicts: unchanged, regression, new, missing; regressions counted", () => {
    const old = [kafkaBrokerDownPassed(), dbPoolExhaustedFailed()];
    const slow = withTimings(kafkaBrokerDownPassed(), { detectSeconds: 30 });
    const extra = kafkaBrokerDownPassed();
    extra.drill.scenario = "service-oom";
    const res = compareReports(old, [slow, extra]);
    expect(res.scenarios.map((s) => [s.scenario, s.verdict])).toEqual([
      ["db-pool-exhausted", "missing"],
      ["kafka-broker-down", "regression"],
      ["service-oom", "new"],
    ]);
    expect(res.regressions).toBe(1);
    const k = res.scenarios[1]!;
    expect(k.metrics?.detect).toMatchObject({ old: 12, new: 30, deltaSeconds: 18, deltaPercent: 1.5, verdict: "regression" });
    expect(k.metrics?.recover.verdict).toBe("unchanged");
    expect(k.reasons).toEqual(["detect regression: 12 s → 30 s (+18 s, +150%)"]);
  });

  it("tolerance is an option: the same change is unchanged at 2.0", () => {
    const res = compareReports([kafkaBrokerDownPassed()], [withTimings(kafkaBrokerDownPassed(), { detectSeconds: 30 })], { tolerance: 2 });
    expect(res.scenarios[0]?.verdict).toBe("unchanged");
    expect(res.regressions).toBe(0);
  });

  it("passed → failed is a regression even when faster; failed → passed an improvement", () => {
    const failed = withTimings(kafkaBrokerDownPassed(), { detectSeconds: 5 });
    failed.outcome = "failed";
    const down = compareReports([kafkaBrokerDownPassed()], [failed]).scenarios[0]!;
    expect(down.verdict).toBe("regression");
    expect(down.reasons[0]).toBe("outcome passed → failed");
    const fixed = dbPoolExhaustedFailed();
    fixed.outcome = "passed";
    fixed.timings.detectSeconds = 40;
    expect(compareReports([dbPoolExhaustedFailed()], [fixed]).scenarios[0]?.verdict).toBe("improvement");
  });

  it("uses the latest report of a scenario when a set has several", () => {
    const older = withTimings(kafkaBrokerDownPassed(), { detectSeconds: 50 });
    const latest = kafkaBrokerDownPassed();
    latest.startedAt = at(3600);
    const res = compareReports([kafkaBrokerDownPassed()], [latest, older]);
    expect(res.scenarios[0]?.metrics?.detect.new).toBe(12);
    expect(res.scenarios[0]?.verdict).toBe("unchanged");
  });

  it("rejects a negative tolerance", () => {
    expect(() => compareReports([], [], { tolerance: -1 })).toThrow("tolerance");
  });
});

describe("renderComparison", () => {
  const res = compareReports(
    [kafkaBrokerDownPassed(), dbPoolExhaustedFailed()],
    [withTimings(kafkaBrokerDownPassed(), { detectSeconds: 30 }), withTimings(dbPoolExhaustedFailed(), { recoverSeconds: 100 })],
  );

  it("table: aligned columns, summary and why", () => {
    const t = renderComparison(res, "table");
    const lines = t.split("\n");
    expect(lines[0]).toMatch(/^scenario {11}verdict {6}outcome {10}detect s/);
    expect(t).toContain("kafka-broker-down  regression   passed → passed");
    expect(t).toContain("12 → 30 (+18, +150%)");
    expect(t).toContain("db-pool-exhausted  improvement");
    expect(t).toContain("1 regression, 1 improvement in 2 scenarios (tolerance 20% and 2 s)");
    expect(t).toContain("  kafka-broker-down: detect regression: 12 s → 30 s (+18 s, +150%)");
  });

  it("markdown: a GitHub table with verdict icons", () => {
    const md = renderComparison(res, "markdown");
    expect(md).toContain("| scenario | verdict | outcome | detect s | mitigate s | recover s |\n|---|---|---|---|---|---|");
    expect(md).toContain(
      "| kafka-broker-down | ❌ regression | passed → passed | 12 → 30 (+18, +150%) | 41 → 41 (0, 0%) | 78 → 78 (0, 0%) |",
    );
    expect(md).toContain("| db-pool-exhausted | ✅ improvement |");
  });

  it("json: parseable, stable, with the regressions count", () => {
    const j = renderComparison(res, "json");
    expect(JSON.parse(j).regressions).toBe(1);
    expect(j).toBe(
      renderComparison(
        compareReports(
          [kafkaBrokerDownPassed(), dbPoolExhaustedFailed()],
          [withTimings(kafkaBrokerDownPassed(), { detectSeconds: 30 }), withTimings(dbPoolExhaustedFailed(), { recoverSeconds: 100 })],
        ),
        "json",
      ),
    );
  });
});
