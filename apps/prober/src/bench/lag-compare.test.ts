import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BURROW_CALLS,
  difference,
  firstCall,
  loadGoal,
  PROBER_CALLS,
  ParseError,
  parseBurrowLag,
  parseConsumerGroupsDescribe,
  quietGoal,
  skewMs,
  spread,
  stallGoal,
  sumLag,
} from "./lag-compare.js";

// Real output captured from a stack (Kafka 3.9.1's kafka-consumer-groups.sh in the broker container,
// Debian's Burrow 1.2.1), see fixtures/README.md.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");
const GROUP = "event-processor-service";

describe("parseConsumerGroupsDescribe", () => {
  it("reads every partition's committed offset, end offset and lag, sorted by partition, and counts the owners", () => {
    const r = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-lagging.txt"), GROUP);
    expect(r.noActiveMembers).toBe(false);
    expect(r.members).toBe(1);
    expect(r.partitions.map((p) => [p.partition, p.committedOffset, p.endOffset, p.lag])).toEqual([
      [0, 240, 360, 120],
      [1, 280, 420, 140],
      [2, 323, 483, 160],
      [3, 400, 600, 200],
      [4, 360, 540, 180],
      [5, 400, 600, 200],
    ]);
    expect(r.partitions.every((p) => p.topic === "game-events")).toBe(true);
    expect(sumLag(r.partitions)).toBe(1000);
  });

  it('reads "-" as no number: a partition the group never committed', () => {
    const r = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-uncommitted.txt"), GROUP);
    expect(r.partitions.find((p) => p.partition === 2)).toMatchObject({ committedOffset: 3, endOffset: 3, lag: 0 });
    expect(r.partitions.find((p) => p.partition === 0)).toMatchObject({ committedOffset: null, endOffset: 0, lag: null });
  });

  it("sees a group whose members are all gone (the paused consumers' sessions expired)", () => {
    const r = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-no-members.txt"), GROUP);
    expect(r.noActiveMembers).toBe(true);
    expect(r.members).toBe(0);
    expect(sumLag(r.partitions)).toBe(1000);
  });

  it("throws the tool's own error for a group that does not exist (it prints it on stdout and exits 0)", () => {
    expect(() => parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-no-group.txt"), "nosuchgroup")).toThrow(
      /Error: Consumer group 'nosuchgroup' does not exist/,
    );
  });

  it("names the field and the row of a value it cannot read", () => {
    const bad = fixture("kafka-consumer-groups-lagging.txt").replace(/ 120 /, " 12x ");
    expect(() => parseConsumerGroupsDescribe(bad, GROUP)).toThrow(/LAG of row .*expected a whole number or "-", got "12x"/);
    expect(() => parseConsumerGroupsDescribe("no header here", GROUP)).toThrow(ParseError);
    expect(() => parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-lagging.txt"), "other")).toThrow(/GROUP of row/);
  });
});

describe("parseBurrowLag", () => {
  it("reads the status and each partition's lag, committed offset and last commit from Burrow's /lag", () => {
    const r = parseBurrowLag(fixture("burrow-lag-ok.json"), GROUP);
    expect(r.status).toBe("OK");
    expect(r.totalLag).toBe(1000);
    expect(r.partitions.map((p) => [p.partition, p.committedOffset, p.lag, p.endOffset])).toEqual([
      [0, 240, 120, 360],
      [1, 280, 140, 420],
      [2, 323, 160, 483],
      [3, 400, 200, 600],
      [4, 360, 180, 540],
      [5, 400, 200, 600],
    ]);
    expect(r.partitions[0]!.lastCommitAt).toBe(1796282461295);
  });

  it("reads Burrow's error statuses", () => {
    const r = parseBurrowLag(fixture("burrow-lag-stop.json"), GROUP);
    expect(r.status).toBe("ERR");
    expect(r.partitions.some((p) => p.status === "STOP")).toBe(true);
  });

  it("has no lag for a partition without a commit in its window (Burrow prints 0 there)", () => {
    const r = parseBurrowLag(fixture("burrow-lag-partial.json"), GROUP);
    const none = r.partitions.filter((p) => p.committedOffset === null);
    expect(none.length).toBeGreaterThan(0);
    expect(none.every((p) => p.lag === null)).toBe(true);
  });

  it("reads a group Burrow does not know as NOTFOUND with no partitions", () => {
    const r = parseBurrowLag(fixture("burrow-lag-notfound.json"), "nosuchgroup");
    expect(r).toMatchObject({ status: "NOTFOUND", partitions: [] });
  });

  it("throws an error answer, a wrong group and a field of the wrong type, naming it", () => {
    expect(() => parseBurrowLag('{"error":true,"message":"cluster or consumer not found"}', GROUP)).toThrow(
      /cluster or consumer not found/,
    );
    expect(() => parseBurrowLag(fixture("burrow-lag-ok.json"), "other")).toThrow(/status.group/);
    expect(() => parseBurrowLag(fixture("burrow-lag-ok.json").replace('"current_lag":120', '"current_lag":"120"'), GROUP)).toThrow(
      /status.partitions\[0\].current_lag: expected a number, got "120"/,
    );
    expect(() =>
      parseBurrowLag(fixture("burrow-lag-ok.json").replace('"status":"OK","complete"', '"status":"FINE","complete"'), GROUP),
    ).toThrow(/status.status: expected one of/);
    expect(() => parseBurrowLag("<html>", GROUP)).toThrow(/expected JSON/);
  });
});

describe("difference", () => {
  it("is zero everywhere for Kafka's tool and Burrow in the same quiet round of a bench run", () => {
    const kcg = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-quiet.txt"), GROUP);
    const burrow = parseBurrowLag(fixture("burrow-lag-quiet.json"), GROUP);
    expect(sumLag(kcg.partitions)).toBe(23400);
    expect(difference(kcg.partitions, burrow.partitions)).toMatchObject({ total: 0, maxAbsPartition: 0, uncomparable: [] });
  });

  it("is Burrow's lag minus the tool's, per partition, in a round under load (the two read end offsets at different moments)", () => {
    const kcg = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-paused-load.txt"), GROUP);
    const burrow = parseBurrowLag(fixture("burrow-lag-stop.json"), GROUP);
    const d = difference(kcg.partitions, burrow.partitions);
    expect(sumLag(kcg.partitions)).toBe(22750);
    expect(burrow.totalLag).toBe(22950);
    expect(d.partitions.map((p) => p.diff)).toEqual([35, 39, 29, 29, 32, 36]);
    expect(d).toMatchObject({ total: 200, maxAbsPartition: 39, uncomparable: [] });
  });

  it("is zero everywhere for Kafka's tool and Burrow read at the same quiet moment", () => {
    const kcg = parseConsumerGroupsDescribe(fixture("kafka-consumer-groups-no-members.txt"), GROUP);
    const burrow = parseBurrowLag(fixture("burrow-lag-ok.json"), GROUP);
    const d = difference(kcg.partitions, burrow.partitions);
    expect(d).toMatchObject({ total: 0, maxAbsPartition: 0, uncomparable: [] });
    expect(d.partitions.every((p) => p.diff === 0)).toBe(true);
  });

  it("is the other's lag minus the reference's, per partition and in total, with the largest of one partition", () => {
    const ref = [
      { partition: 0, committedOffset: 10, endOffset: 20, lag: 10 },
      { partition: 1, committedOffset: 5, endOffset: 5, lag: 0 },
      { partition: 2, committedOffset: null, endOffset: 7, lag: null },
    ];
    const other = [
      { partition: 0, committedOffset: 10, endOffset: 23, lag: 13 },
      { partition: 1, committedOffset: 5, endOffset: 4, lag: -1 },
      { partition: 2, committedOffset: null, endOffset: 7, lag: 7 },
      { partition: 3, committedOffset: 0, endOffset: 0, lag: 0 },
    ];
    const d = difference(ref, other);
    expect(d.total).toBe(2);
    expect(d.maxAbsPartition).toBe(3);
    expect(d.partitions).toEqual([
      { partition: 0, diff: 3 },
      { partition: 1, diff: -1 },
      { partition: 2, diff: null },
      { partition: 3, diff: null },
    ]);
    expect(d.uncomparable).toEqual([2, 3]);
  });
});

describe("skewMs", () => {
  it("is the spread of the reads' ends", () => {
    expect(skewMs([1000, 1250, 1100])).toBe(250);
    expect(skewMs([])).toBe(0);
  });
});

describe("firstCall", () => {
  const t0 = 1_000_000;
  it("is the first read at or after the pause with a calling status, in seconds after the pause", () => {
    const v = [
      { at: t0 - 5000, status: "stalled" }, // before the pause: not this pause's call
      { at: t0 + 5000, status: "ok" },
      { at: t0 + 20_000, status: "stopped" },
      { at: t0 + 10_000, status: "ok" },
      { at: t0 + 25_000, status: "stalled" },
    ];
    expect(firstCall(v, t0, PROBER_CALLS)).toEqual({ status: "stopped", seconds: 20 });
  });

  it("is null, never a time, when nothing called it", () => {
    expect(firstCall([{ at: t0 + 1000, status: "OK" }], t0, BURROW_CALLS)).toBeNull();
    expect(stallGoal("x", null, 60, 5, 150)).toEqual(expect.objectContaining({ measured: "not called within 150 s", met: false }));
  });
});

describe("goals", () => {
  const d = (diffs: number[]) =>
    difference(
      diffs.map((_, i) => ({ partition: i, committedOffset: 0, endOffset: 10, lag: 10 })),
      diffs.map((x, i) => ({ partition: i, committedOffset: 0, endOffset: 10 + x, lag: 10 + x })),
    );

  it("quiet: met only when every sample equals the reference on every partition", () => {
    expect(quietGoal("p", [d([0, 0]), d([0, 0])]).met).toBe(true);
    expect(quietGoal("p", [d([0, 0]), d([1, -1])])).toMatchObject({
      met: false,
      measured: "1 of 2 samples differ; largest partition difference 1",
    });
    expect(quietGoal("p", []).met).toBeNull();
  });

  it("load: met when every |total difference| is within one interval's production", () => {
    expect(loadGoal("p", [d([300, 200]), d([-500, 0])], 100, 5).met).toBe(true);
    expect(loadGoal("p", [d([300, 201])], 100, 5).met).toBe(false);
  });

  it("stall: met within stallSeconds + one interval", () => {
    expect(stallGoal("p", { status: "stalled", seconds: 65 }, 60, 5, 100).met).toBe(true);
    expect(stallGoal("p", { status: "stalled", seconds: 65.1 }, 60, 5, 100).met).toBe(false);
  });
});

describe("spread", () => {
  it("is the median, min and max", () => {
    expect(spread([5, 1, 3, 9])).toEqual({ n: 4, median: 4, min: 1, max: 9 });
    expect(spread([])).toBeNull();
  });
});
