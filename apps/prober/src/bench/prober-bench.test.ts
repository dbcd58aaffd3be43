import { parseProberConfig } from "@gm/monitor/config";
import { parseYamlText } from "@gm/runbook/yaml-text";
import { describe, expect, it } from "vitest";
import {
  type CostResult,
  costTable,
  goalLines,
  type LagResult,
  medianCost,
  parseOptions,
  prometheusConfigYaml,
  proberConfigYaml,
} from "./prober-bench.js";

const urls = Array.from({ length: 7 }, (_, i) => `http://127.0.0.1:${4000 + (i % 2)}/prober/${i}`);

describe("proberConfigYaml", () => {
  it("is a configuration gm-prober accepts, probing every URL once, every 5 s, and nothing but HTTP", () => {
    const c = parseProberConfig(proberConfigYaml(urls, 9999));
    const probed = Object.values(c.services).flat();
    expect(probed.sort()).toEqual([...urls].sort());
    expect(c.intervalSeconds).toBe(5);
    expect(c.listen).toEqual({ host: "127.0.0.1", port: 9999 });
    expect(c.kafka).toBeUndefined();
    expect(c.postgres).toBeUndefined();
    expect(c.platform).toBeUndefined();
  });
});

describe("prometheusConfigYaml", () => {
  it("scrapes blackbox_exporter's /probe with module http_2xx for every target, each target its own instance", () => {
    const targets = urls.map((u) => `${u}/health`);
    const parsed = parseYamlText(prometheusConfigYaml(targets, "127.0.0.1:9115"));
    if (!parsed.ok) throw new Error(parsed.problem);
    // biome-ignore lint/suspicious/noExplicitAny: a YAML document read field by field below
    const c = parsed.value as any;
    expect(c.global.scrape_interval).toBe("5s");
    const job = c.scrape_configs[0];
    expect(job.metrics_path).toBe("/probe");
    expect(job.params).toEqual({ module: ["http_2xx"] });
    expect(job.static_configs[0].targets).toEqual(targets);
    expect(job.relabel_configs).toEqual([
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: "127.0.0.1:9115" },
    ]);
  });
});

describe("parseOptions", () => {
  it("takes the issue's sizes and 60 s by default", () => {
    const o = parseOptions([]);
    expect(o.targets).toEqual([10, 100, 1000, 10_000]);
    expect(o.partitions).toEqual([10, 100, 1000, 5000]);
    expect(o.seconds).toBe(60);
  });
  it("names the option and what was expected", () => {
    expect(() => parseOptions(["--targets", "10,abc"])).toThrow(
      /--targets: expected a comma-separated list of whole numbers from 1 to 10000, got "10,abc"/,
    );
    expect(() => parseOptions(["--seconds", "1"])).toThrow(/--seconds: expected a number from 5 to 3600, got "1"/);
    expect(() => parseOptions(["--only", "both"])).toThrow(/--only: expected cost or lag, got "both"/);
    expect(() => parseOptions(["--bogus"])).toThrow(/Unknown option '--bogus'/);
  });
});

/** One measurement of 1,000 targets for 60 s (what goalLines and medianCost read). */
const costRow = (side: CostResult["side"], cpuSeconds: number, rssMb: number, run?: number): CostResult => ({
  targets: 1000,
  side,
  ...(run !== undefined ? { run } : {}),
  seconds: 60,
  cpuSeconds,
  peakRssBytes: rssMb * 1024 ** 2,
  probesPerSecond: 200,
  expectedProbesPerSecond: 200,
  otherRequestsPerSecond: 200,
  targetServerCpuPercent: 30,
});

describe("goalLines", () => {
  const cost = costRow;
  const lag = (partitions: number, medianMs: number, requestsPerRead: number) =>
    ({ partitions, medianMs, requestsPerRead }) as unknown as LagResult;
  it("says met or NOT MET for each of issue 11's goals, with the measured value", () => {
    const lines = goalLines([cost("gm-prober", 13, 160), cost("blackbox+prometheus", 12, 90)], [lag(10, 20, 5), lag(5000, 250, 9)]);
    expect(lines).toEqual([
      "goal: 1,000 targets ≤ 20% of one core: 21.7% — NOT MET",
      "goal: 1,000 targets ≤ 150 MB peak RSS: 160 MB — NOT MET",
      "goal: 1,000 targets at most the peer's CPU: 13.00 vs 12.00 CPU s — NOT MET",
      "goal: 5,000 partitions' lag read ≤ 200 ms: median 250 ms — NOT MET",
      "goal: a constant number of Kafka requests per read: 5 / 9 — NOT MET",
    ]);
    expect(
      goalLines([cost("gm-prober", 6, 100), cost("blackbox+prometheus", 12, 90)], [lag(10, 20, 5), lag(5000, 150, 6)]).every((l) =>
        l.endsWith("met"),
      ),
    ).toBe(true);
  });
});

describe("--runs and medianCost", () => {
  const r = (side: CostResult["side"], run: number, cpuSeconds: number, rssMb: number) => costRow(side, cpuSeconds, rssMb, run);
  it("parses --runs as a whole number and says what was expected", () => {
    expect(parseOptions([]).runs).toBe(1);
    expect(parseOptions(["--runs", "5"]).runs).toBe(5);
    expect(() => parseOptions(["--runs", "2.5"])).toThrow('--runs: expected a whole number from 1 to 100, got "2.5"');
  });
  it("one row per size and side: the median of the runs with the spread, which the table and the goals read", () => {
    const m = medianCost([
      r("gm-prober", 1, 6, 400),
      r("blackbox+prometheus", 1, 20, 460),
      r("gm-prober", 2, 9, 300),
      r("gm-prober", 3, 7, 500),
    ]);
    expect(m.map((x) => [x.side, x.runs, x.cpuSeconds, x.cpuSecondsMin, x.cpuSecondsMax, x.peakRssBytes / 1024 ** 2])).toEqual([
      ["gm-prober", 3, 7, 6, 9, 400],
      ["blackbox+prometheus", 1, 20, 20, 20, 460],
    ]);
    expect(costTable(m)).toContain("| 1000 | gm-prober | 3 | 7.00 (6.00–9.00) |");
    expect(costTable(m)).toContain("| 400 (300–500) |");
    expect(goalLines(m, [])).toContain("goal: 1,000 targets at most the peer's CPU: 7.00 vs 20.00 CPU s — met");
  });
});
