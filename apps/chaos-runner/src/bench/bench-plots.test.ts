import { describe, expect, it } from "vitest";
import { pageSvg, readPageSummaries } from "./bench-plots.js";

const stat = (median: number | null, min = median, max = median, detected = median === null ? 0 : 1) => ({
  runs: 1,
  detected,
  median,
  min,
  max,
});

describe("pageSvg", () => {
  it("draws one bar per pipeline per fault, its length the median, and marks a fault never paged", () => {
    const svg = pageSvg([
      { fault: "service-down", page: { prober: stat(4), "prometheus-kube": stat(40) } },
      { fault: "oom", page: { prober: stat(5), "prometheus-kube": stat(null) } },
    ]);
    const widths = [...svg.matchAll(/<rect x="180" y="[\d.]+" width="([\d.]+)" height="12"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(3);
    // 40 s is ten times 4 s on the linear axis
    expect(widths[1]! / widths[0]!).toBeCloseTo(10, 5);
    expect(svg).toContain("prometheus-kube: not detected");
    expect(svg).toContain("4.0 s");
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("says how many runs paged when some did not", () => {
    const svg = pageSvg([{ fault: "5xx", page: { prober: { runs: 5, detected: 3, median: 12, min: 10, max: 20 } } }]);
    expect(svg).toContain("12.0 s (3/5 paged)");
  });
});

describe("readPageSummaries", () => {
  it("names what is wrong with the file", () => {
    expect(() => readPageSummaries("{", "p.json")).toThrow(/p.json: not JSON/);
    expect(() => readPageSummaries("{}", "p.json")).toThrow(/"summaries" list/);
    expect(() => readPageSummaries('{"summaries":[{}]}', "p.json")).toThrow(/summaries\[0\]: expected \{fault, page\}/);
  });
});
