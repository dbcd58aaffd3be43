import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { costRows, gamedayRows, lagRows, pageRows, summarizeDir, summaryTable } from "./bench-summary.js";
import { summarize } from "./page-timing.js";

const page = {
  faults: { "broker-kill": {}, "service-down": {}, lag: {} },
  summaries: [
    {
      fault: "service-down",
      classifiedSeconds: summarize([4, 5, 3, 4.5, 4.6]),
      page: {
        prober: summarize([4, 5, 3, 4.5, 4.6]),
        "prometheus-kube": summarize([12, 13, 11, 12, 14]),
        "prometheus-tuned": summarize([2, 3, 2, 2, 3]),
      },
    },
    {
      fault: "broker-kill",
      classifiedSeconds: summarize([5, 5, 5, 5, 5]),
      page: {
        prober: summarize([34, 35, 34, 35, 36]),
        "prometheus-kube": summarize([70, 72, 71, 70, 73]),
        "prometheus-tuned": summarize([30, 31, 30, 31, 30]),
      },
    },
    {
      fault: "lag",
      classifiedSeconds: summarize([3, 4]),
      page: { prober: summarize([3, 4]), "prometheus-kube": summarize([null, null]), "prometheus-tuned": summarize([6, 7]) },
    },
  ],
};

describe("pageRows", () => {
  it("judges the goal faults by the p95 of the prober's page and compares the medians", () => {
    const [down, broker, lag] = pageRows(page);
    expect(down).toMatchObject({ verdict: "met", goal: "≤ 15 s p95", runs: "5", ratio: "kube 2.67; tuned 0.44" });
    expect(down!.prober).toContain("4.5 s (3.0–5.0), p95 5.0");
    expect(broker).toMatchObject({ verdict: "NOT MET" });
    // no goal for lag; a pipeline that never paged says so, never a time
    expect(lag).toMatchObject({ verdict: "—", goal: "—" });
    expect(lag!.peers).toContain("kube-prometheus not detected");
    expect(lag!.ratio).toBe("kube —; tuned 1.86");
  });
  it("a goal fault missed in one run is not met, whatever the others did", () => {
    const missed = {
      ...page,
      summaries: [{ ...page.summaries[0]!, page: { ...page.summaries[0]!.page, prober: summarize([4, null, 4]) } }],
    };
    expect(pageRows(missed)[0]!.verdict).toBe("NOT MET");
  });
});

describe("lagRows", () => {
  const lag = {
    settings: { intervalSeconds: 5, stallSeconds: 60 },
    goals: [
      { goal: "gm-prober: equal when quiet", measured: "0 of 14 differ", met: true },
      { goal: "Burrow (peer): equal when quiet", measured: "0 of 14 differ", met: true },
      { goal: "gm-prober: within one interval, paused", measured: "largest 200", met: true },
      { goal: "Burrow (peer): within one interval, paused", measured: "largest 3232", met: false },
      { goal: "gm-prober: calls it (repetition 1)", measured: "stopped after 20 s", met: true },
    ],
    stalls: [
      { repetition: 1, prober: { status: "stopped", seconds: 20 }, burrowFirst: { status: "ERR", seconds: 98 } },
      { repetition: 2, prober: { status: "stopped", seconds: 18 }, burrowFirst: { status: "ERR", seconds: 102 } },
      { repetition: 3, prober: { status: "stopped", seconds: 22 }, burrowFirst: null },
    ],
  };
  it("pairs each prober goal with Burrow's and sums the stalls up over the repetitions", () => {
    const rows = lagRows(lag);
    expect(rows.map((r) => r.goal)).toEqual(["equal when quiet", "within one interval, paused", "≤ 65 s (stallSeconds + one interval)"]);
    expect(rows[2]!.measure).toBe("consumers paused: time to call the group stalled/stopped");
    expect(rows[1]).toMatchObject({ prober: "largest 200", peers: "Burrow: largest 3232", verdict: "met" });
    expect(rows[2]).toMatchObject({
      prober: "20.0 s (18.0–22.0)",
      runs: "3",
      verdict: "met",
      goal: "≤ 65 s (stallSeconds + one interval)",
    });
    expect(rows[2]!.peers).toBe("Burrow (first status not OK): 2/3: 100.0 s (98.0–102.0)");
  });
  it("one stall called late is not met", () => {
    const late = { ...lag, stalls: [...lag.stalls, { repetition: 4, prober: { status: "stopped", seconds: 66 }, burrowFirst: null }] };
    expect(lagRows(late).at(-1)!.verdict).toBe("NOT MET");
  });
});

describe("costRows", () => {
  const row = (targets: number, side: "gm-prober" | "blackbox+prometheus", cpuSeconds: number, rssMb: number) => ({
    targets,
    side,
    seconds: 60,
    cpuSeconds,
    peakRssBytes: rssMb * 1024 ** 2,
  });
  it("takes the median of several runs and judges 1,000 targets and 5,000 partitions", () => {
    const rows = costRows({
      cost: [
        row(1000, "gm-prober", 6, 400),
        row(1000, "gm-prober", 8, 450),
        row(1000, "gm-prober", 7, 500),
        row(1000, "blackbox+prometheus", 21, 460),
      ],
      lag: [
        { partitions: 10, medianMs: 5, requestsPerRead: 5 },
        { partitions: 5000, medianMs: 240, requestsPerRead: 5 },
      ],
    });
    expect(rows[0]).toMatchObject({ runs: "3", ratio: "3.00", verdict: "met" });
    expect(rows[0]!.prober).toBe("7.00 CPU s (6.00–8.00) = 11.7 % of a core");
    expect(rows[1]).toMatchObject({ measure: "peak RSS, 1000 HTTP targets", prober: "450 MB", verdict: "NOT MET" });
    expect(rows.find((r) => r.measure === "lag read, 5000 partitions")).toMatchObject({ verdict: "NOT MET" });
    expect(rows.at(-1)).toMatchObject({ prober: "5 / 5", verdict: "met" });
  });
  it("more CPU than the peer is not met even under 20 % of a core", () => {
    const rows = costRows({ cost: [row(1000, "gm-prober", 6, 100), row(1000, "blackbox+prometheus", 5, 100)], lag: [] });
    expect(rows[0]!.verdict).toBe("NOT MET");
  });
});

describe("gamedayRows", () => {
  it("counts passed drills over the runs and gives each drill's medians", () => {
    const d = (scenario: string, outcome: string, detect: number) => ({
      scenario,
      outcome,
      timings: { detectSeconds: detect, pageSeconds: null, recoverSeconds: 30 },
    });
    const rows = gamedayRows({
      runs: [
        { wallSeconds: 500, drills: [d("a", "passed", 4), d("b", "passed", 6)] },
        { wallSeconds: 520, drills: [d("a", "passed", 6), d("b", "failed", 8)] },
      ],
    });
    expect(rows[0]).toMatchObject({ prober: "510.0 s (500.0–520.0) wall; 3/4 drills passed", verdict: "NOT MET", runs: "2" });
    expect(rows[1]).toMatchObject({
      measure: "drill a: detect / page / recover",
      prober: "5.0 s (4.0–6.0) / no page / 30.0 s (30.0–30.0)",
    });
  });
});

describe("summarizeDir and summaryTable", () => {
  it("names the parts that did not run or wrote something else, and counts the goals", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-summary-"));
    writeFileSync(join(dir, "page.json"), JSON.stringify(page));
    mkdirSync(join(dir, "cost"));
    writeFileSync(join(dir, "cost", "result.json"), "{ not json");
    const rows = summarizeDir(dir);
    expect(rows.filter((r) => r.verdict === "not run").map((r) => `${r.part}: ${r.measure.split(" (")[0]}`)).toEqual([
      "lag: lag.json not found",
      "cost: cost/result.json: not a result of this part",
      "gameday: gameday.json not found",
    ]);
    const table = summaryTable(rows);
    expect(table.split("\n")[0]).toBe("| part | measure | gm-prober | peers | ratio (peer ÷ gm-prober) | runs | goal | verdict |");
    expect(table).toContain("goals: 1 met, 1 not met; 3 part(s) not run");
  });
  it("escapes a | inside a cell so the Markdown table keeps its columns", () => {
    const t = summaryTable([{ part: "lag", measure: "a | b", prober: "1", peers: "—", ratio: "—", runs: "1", goal: "—", verdict: "—" }]);
    expect(t.split("\n")[2]).toBe("| lag | a \\| b | 1 | — | — | 1 | — | — |");
  });
});
