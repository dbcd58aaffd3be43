import { describe, expect, it } from "vitest";
import { type GamedayRun, gamedayTable, parseGamedayArgs } from "./gameday-bench.js";

describe("parseGamedayArgs", () => {
  it("takes --runs and --json, one run and no file by default", () => {
    expect(parseGamedayArgs([])).toEqual({ runs: 1, json: null });
    expect(parseGamedayArgs(["--runs", "5", "--json", "/tmp/g.json"])).toEqual({ runs: 5, json: "/tmp/g.json" });
    expect(parseGamedayArgs(["--help"])).toMatchObject({ help: true });
  });
  it("names the option and what was expected", () => {
    expect(() => parseGamedayArgs(["--runs", "0"])).toThrow('--runs: expected a whole number ≥ 1, got "0"');
    expect(() => parseGamedayArgs(["--runs"])).toThrow('--runs: expected a whole number ≥ 1, got ""');
    expect(() => parseGamedayArgs(["--json"])).toThrow("--json: expected a file");
    expect(() => parseGamedayArgs(["--fast"])).toThrow('unknown option "--fast"');
  });
});

describe("gamedayTable", () => {
  const drill = (scenario: string, outcome: string, detect: number | null, reasons: string[] = []) => ({
    scenario,
    outcome,
    timings: { detectSeconds: detect, pageSeconds: 5, firstPage: null, mitigateSeconds: 10, recoverSeconds: 40 },
    worstSeverity: "P0",
    intervalSeconds: 5,
    integrity: { acknowledged: 1000, lost: 0 },
    reasons,
  });
  const run = (n: number, wall: number, drills: GamedayRun["drills"]): GamedayRun => ({
    run: n,
    wallSeconds: wall,
    stackStartSeconds: 60,
    exitCode: drills.every((d) => d.outcome === "passed") ? 0 : 1,
    reportDir: "/tmp/x",
    drills,
  });
  it("gives each drill's medians over the runs, how many passed, and every failure's reason", () => {
    const t = gamedayTable([
      run(1, 500, [drill("kafka-broker-down", "passed", 4), drill("service-oom", "passed", 6)]),
      run(2, 540, [drill("kafka-broker-down", "passed", 6), drill("service-oom", "failed", null, ["not detected"])]),
    ]);
    expect(t).toContain("| kafka-broker-down | 2/2 | 5.0 s (4.0–6.0) | 5.0 s (5.0–5.0) |");
    expect(t).toContain("| service-oom | 1/2 | 1/2: 6.0 s |");
    expect(t).toContain("whole game day 520.0 s (500.0–540.0) wall; stack start 60.0 s (60.0–60.0); exit codes 0, 1");
    expect(t).toContain("run 2 service-oom failed: not detected");
  });
  it("says 'no page' where no notification arrived and 'never' where nothing recovered, 'not detected' only for detection", () => {
    const quiet = {
      ...drill("kafka-broker-down", "passed", 5),
      timings: { detectSeconds: 5, pageSeconds: null, firstPage: null, mitigateSeconds: 8, recoverSeconds: 30 },
    };
    const stuck = {
      ...drill("service-oom", "failed", null),
      timings: { detectSeconds: null, pageSeconds: null, firstPage: null, mitigateSeconds: null, recoverSeconds: null },
    };
    const t = gamedayTable([run(1, 500, [quiet, stuck])]);
    expect(t).toContain("| kafka-broker-down | 1/1 | 5.0 s | no page | no page | 8.0 s | 30.0 s |");
    expect(t).toContain("| service-oom | 0/1 | not detected | no page | no page | never | never |");
  });
});
