import { describe, expect, it } from "vitest";
import { growth, type IncidentEvent, medianMax, type ScheduledFault, scoreSoak } from "./soak-score.js";

const s = 1000;
const opts = { graceMs: 60 * s, detectAfterUndoMs: 15 * s, startedAt: 0, endedAt: 3600 * s };
const fault = (over: Partial<ScheduledFault>): ScheduledFault => ({
  id: 1,
  name: "kill-broker",
  description: "",
  injectedAt: 100 * s,
  undoneAt: 140 * s,
  expect: [{ kind: "kafka-broker-down", subject: "kafka", severity: "P2" }],
  allow: [{ kind: "high-consumer-lag", subject: "*" }],
  applied: true,
  ...over,
});
const ev = (
  at: number,
  event: IncidentEvent["event"],
  kind: IncidentEvent["kind"],
  severity: IncidentEvent["severity"],
  subject: string,
  from?: IncidentEvent["severity"],
): IncidentEvent => ({ at: at * s, event, kind, severity, subject, ...(from ? { from } : {}) });

describe("scoreSoak", () => {
  it("detects an expected incident: time from injection to open, from undo to resolve, worst severity", () => {
    const r = scoreSoak(
      [fault({})],
      [
        ev(105, "opened", "kafka-broker-down", "P2", "kafka"),
        ev(110, "changed", "kafka-broker-down", "P1", "kafka", "P2"),
        ev(170, "resolved", "kafka-broker-down", "P1", "kafka"),
      ],
      opts,
    );
    expect(r.detections).toEqual([
      expect.objectContaining({ detectMs: 5 * s, resolveMs: 30 * s, worstSeverity: "P1", alreadyOpen: false }),
    ]);
    expect(r.recall).toBe(1);
    expect(r.kinds).toEqual([
      expect.objectContaining({ kind: "kafka-broker-down", expected: 1, detected: 1, recall: 1, opened: 1, explained: 1, precision: 1 }),
    ]);
    expect(r.missed).toEqual([]);
    // the escalation to P1 is a page during the fault that expects it: neither false nor unexpected
    expect(r.falsePages).toEqual([]);
    expect(r.unexpectedPages).toEqual([]);
  });

  it("a fault whose expected incident never opens (or opens for another subject, or too late) is missed", () => {
    const late = scoreSoak([fault({})], [ev(156, "opened", "kafka-broker-down", "P2", "kafka")], opts);
    expect(late.missed).toHaveLength(1);
    expect(late.recall).toBe(0);
    const other = scoreSoak(
      [fault({ expect: [{ kind: "service-down", subject: "stats-api" }] })],
      [ev(105, "opened", "service-down", "P0", "ingest-api")],
      opts,
    );
    expect(other.missed).toEqual([expect.objectContaining({ kind: "service-down", subject: "stats-api" })]);
    // …and the other subject's P0 inside the window is an unexpected page, not a false one
    expect(other.unexpectedPages).toEqual([
      expect.objectContaining({ kind: "service-down", subject: "ingest-api", during: ["#1 kill-broker"] }),
    ]);
    expect(other.falsePages).toEqual([]);
    // within detectAfterUndoMs of the undo still counts
    expect(scoreSoak([fault({})], [ev(154, "opened", "kafka-broker-down", "P2", "kafka")], opts).recall).toBe(1);
  });

  it("a page outside every fault's window (injection to undo + grace) is a false page; inside the grace it is explained", () => {
    const r = scoreSoak(
      [fault({})],
      [
        ev(50, "opened", "service-down", "P0", "stats-api"),
        ev(190, "opened", "high-consumer-lag", "P1", "event-processor-service"),
        ev(201, "opened", "high-consumer-lag", "P1", "event-processor-service"),
      ],
      opts,
    );
    expect(r.falsePages.map((p) => p.at)).toEqual([50 * s, 201 * s]);
    expect(r.unexplained.map((e) => e.at)).toEqual([50 * s, 201 * s]);
    const lag = r.kinds.find((k) => k.kind === "high-consumer-lag")!;
    expect(lag).toMatchObject({ expected: 0, recall: null, opened: 2, explained: 1, precision: 0.5 });
  });

  it("a P3 or P2 outside every window is unexplained (precision) but not a page; an escalation to P1 is", () => {
    const r = scoreSoak(
      [],
      [
        ev(10, "opened", "db-pool-exhausted", "P3", "postgres"),
        ev(20, "changed", "db-pool-exhausted", "P1", "postgres", "P3"),
        ev(30, "changed", "db-pool-exhausted", "P0", "postgres", "P1"),
      ],
      opts,
    );
    expect(r.unexplained).toHaveLength(1);
    expect(r.falsePages).toEqual([expect.objectContaining({ at: 20 * s, event: "changed", severity: "P1" })]);
  });

  it("an incident already open at the injection counts as detected at once, and is marked", () => {
    const r = scoreSoak(
      [fault({ injectedAt: 100 * s })],
      [ev(90, "opened", "kafka-broker-down", "P2", "kafka"), ev(160, "resolved", "kafka-broker-down", "P2", "kafka")],
      opts,
    );
    expect(r.detections[0]).toMatchObject({ detectMs: 0, alreadyOpen: true, resolveMs: 20 * s, worstSeverity: "P2" });
    // not part of the detection time statistics
    expect(r.detectMs).toEqual({ median: null, max: null });
  });

  it("a fault that could not be applied counts for nothing; one that must stay quiet counts no recall", () => {
    const r = scoreSoak([fault({ applied: false }), fault({ id: 2, name: "garbage-metrics", expect: [], allow: [] })], [], opts);
    expect(r.detections).toEqual([]);
    expect(r.recall).toBeNull();
  });

  it("lists what is still open at the end", () => {
    const r = scoreSoak(
      [],
      [
        ev(10, "opened", "high-error-rate", "P2", "all"),
        ev(20, "opened", "service-down", "P0", "stats-api"),
        ev(30, "resolved", "service-down", "P0", "stats-api"),
      ],
      opts,
    );
    expect(r.openAtEnd).toEqual([{ kind: "high-error-rate", subject: "all", severity: "P2" }]);
  });
});

describe("medianMax and growth", () => {
  it("median of odd and even counts, max", () => {
    expect(medianMax([3, 1, 2])).toEqual({ median: 2, max: 3 });
    expect(medianMax([4, 1, 2, 3])).toEqual({ median: 2.5, max: 4 });
    expect(medianMax([])).toEqual({ median: null, max: null });
  });
  it("growth compares the median of the first three samples after the warm-up with the last three", () => {
    const samples = [100, 500, 200, 210, 190, 230, 220, 240].map((value, i) => ({ at: i * 10, value }));
    const g = growth(samples, 20);
    expect(g).toMatchObject({ first: 100, last: 240, max: 500, afterWarmup: 200, atEnd: 230 });
    expect(g.growth).toBeCloseTo(0.15);
    expect(growth([], 0).growth).toBeNull();
  });
});
