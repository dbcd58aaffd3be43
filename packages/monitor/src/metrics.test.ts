import { emptySnapshot } from "@gm/runbook/snapshot";
import { describe, expect, it } from "vitest";
import { createProberMetrics } from "./metrics.js";

describe("the prober's /metrics", () => {
  it("keeps every round's duration in a histogram, so a round that overran the interval is still counted after the next one", async () => {
    const m = createProberMetrics();
    for (const seconds of [1.2, 7.5, 0.8]) m.record(emptySnapshot("2026-12-02T00:00:00Z"), [], [], seconds);
    const text = await m.registry.metrics();
    expect(text).toContain("gm_prober_round_seconds_count 3");
    // rounds within a 5 s interval: the others overran it
    expect(text).toContain('gm_prober_round_seconds_bucket{le="5"} 2');
    // the gauge keeps only the last one
    expect(text).toContain("gm_prober_round_duration_seconds 0.8");
  });
});
