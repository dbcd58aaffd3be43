import { describe, expect, it } from "vitest";
import { MARKER_COLORS, niceCeil, tickStep, toSvg } from "./chart.js";
import { at, dbPoolExhaustedFailed, kafkaBrokerDownPassed, xmlProblems } from "./test-fixtures.js";

const panel = (svg: string, name: string): string => {
  const m = new RegExp(`<g class="panel" data-panel="${name}">([\\s\\S]*?)</g>`).exec(svg);
  if (!m?.[1]) throw new Error(`no panel ${name}`);
  return m[1];
};

describe("toSvg", () => {
  const kafka = toSvg(kafkaBrokerDownPassed());
  const db = toSvg(dbPoolExhaustedFailed());

  it("is a self-contained, well-formed SVG: no script, no external reference", () => {
    for (const svg of [kafka, db]) {
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(xmlProblems(svg)).toEqual([]);
      expect(svg).not.toMatch(/<script|href=|url\(|@import/i);
    }
  });

  it("has four panels sharing the time axis, ticks in seconds from injection", () => {
    expect(kafka.match(/<g class="panel"/g)).toHaveLength(4);
    for (const p of ["error", "consumer", "pool", "healthy"]) expect(kafka).toContain(`data-panel="${p}"`);
    // 0..180 s drill, injection at +30 s: ticks every 30 s from −30 to 150
    const ticks = [...kafka.matchAll(/<text class="tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(ticks).toEqual(["-30", "0", "30", "60", "90", "120", "150"]);
    expect(kafka).toContain("seconds from injection");
  });

  it("draws the 10,000 lag threshold only when lag data exist", () => {
    expect(panel(kafka, "consumer")).toContain('class="threshold" data-threshold="10000"');
    expect(panel(kafka, "consumer")).toContain("10,000 threshold");
    // the db drill has no lag samples at all
    expect(panel(db, "consumer")).not.toContain("threshold");
    expect(panel(db, "consumer")).toContain(">no data</text>");
    expect(toSvg(kafkaBrokerDownPassed(), { lagThreshold: 25_000 })).toContain('data-threshold="25000"');
  });

  it("pool panel has the 90% line; health is a step line", () => {
    expect(panel(db, "pool")).toContain('data-threshold="0.9"');
    expect(panel(db, "pool")).toContain("90% threshold");
    expect(panel(kafka, "healthy")).toMatch(/<path class="series" d="M[\d.]+ [\d.]+(H[\d.]+V[\d.]+)+"/);
  });

  it("markers: inject red, detected orange, one blue per step with its id, recovered green", () => {
    const markers = [
      ...kafka.matchAll(/<g class="marker" data-marker="(\w+)">\n<line[^>]*stroke="([^"]+)"[^>]*\/>\n<text[^>]*>([^<]*)<\/text>/g),
    ].map((m) => [m[1], m[2], m[3]]);
    expect(markers).toEqual([
      ["inject", MARKER_COLORS.inject, "inject"],
      ["detected", MARKER_COLORS.detected, "detected +12 s"],
      ["step", MARKER_COLORS.step, "kafka-check-broker-status"],
      ["step", MARKER_COLORS.step, "kafka-restart-broker"],
      ["step", MARKER_COLORS.step, "verify-lag-drains"],
      ["recovered", MARKER_COLORS.recovered, "recovered +78 s"],
    ]);
    // detected at +12 s, i.e. between the 0 and 30 ticks
    expect(db).toContain("db-kill-idle-connections ✗");
  });

  it("labels that would overlap go to separate rows", () => {
    // detected (+12 s) and the first step (+14 s) are ~9 px apart
    const ys = [...kafka.matchAll(/data-marker="(detected|step)">\n<line[^>]*\/>\n<text x="[\d.]+" y="([\d.]+)"/g)].map((m) => m[2]);
    expect(new Set(ys.slice(0, 2)).size).toBe(2);
  });

  it("a null sample breaks the line (gap)", () => {
    // error rate is null at +120 s in the db drill: two runs, i.e. two M commands
    const d = /<path class="series" d="([^"]+)"/.exec(panel(db, "error"))?.[1] ?? "";
    expect(d.match(/M/g)).toHaveLength(2);
    const noGap = /<path class="series" d="([^"]+)"/.exec(panel(db, "pool"))?.[1] ?? "";
    expect(noGap.match(/M/g)).toHaveLength(1);
  });

  it("a single sample is a dot; no samples says no data in every panel", () => {
    const one = kafkaBrokerDownPassed();
    one.signals = one.signals.slice(8, 9);
    const svg1 = toSvg(one);
    expect(xmlProblems(svg1)).toEqual([]);
    expect(panel(svg1, "error")).toMatch(/<circle class="series" cx="[\d.]+" cy="[\d.]+"/);
    expect(panel(svg1, "error")).not.toContain("<path");

    const none = kafkaBrokerDownPassed();
    none.signals = [];
    none.timeline = [];
    none.steps = [];
    none.timings.detectSeconds = null;
    none.timings.recoverSeconds = null;
    const svg0 = toSvg(none);
    expect(xmlProblems(svg0)).toEqual([]);
    expect(svg0.match(/>no data</g)).toHaveLength(4);
    expect(svg0).not.toContain("NaN");
    expect(svg0).not.toContain("threshold");
    expect(svg0).toContain("seconds from start");
  });

  it("escapes all text", () => {
    const r = kafkaBrokerDownPassed();
    r.drill.scenario = 'a<b & "c"';
    r.drill.fault.description = "kill </svg><script>alert(1)</script>";
    r.steps[0]!.id = "x&y";
    const svg = toSvg(r);
    expect(svg).toContain("a&lt;b &amp; &quot;c&quot; — passed");
    expect(svg).toContain("&lt;/svg&gt;&lt;script&gt;");
    expect(svg).toContain(">x&amp;y</text>");
    expect(svg).not.toContain("<script");
    expect(xmlProblems(svg)).toEqual([]);
  });

  it("never emits NaN coordinates, even with an unparsable sample time", () => {
    const r = kafkaBrokerDownPassed();
    r.signals.push({ ...r.signals[0]!, at: "garbage" });
    r.signals.push({ ...r.signals[0]!, at: at(181) });
    expect(toSvg(r)).not.toContain("NaN");
  });
});

describe("scales", () => {
  it("niceCeil and tickStep", () => {
    expect([niceCeil(12_000), niceCeil(18_040), niceCeil(0), niceCeil(1)]).toEqual([20_000, 20_000, 1, 1]);
    expect(niceCeil(21_000)).toBe(25_000);
    expect([tickStep(180), tickStep(8), tickStep(3600)]).toEqual([30, 1, 600]);
  });
});
