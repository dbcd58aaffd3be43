import { describe, expect, it } from "vitest";
import { difference } from "./lag-compare.js";
import { burrowToml, lagTable, parseOptions, producedPerSecond, type Sample, summarize } from "./lag-bench.js";

describe("parseOptions", () => {
  it("defaults to 5 samples per phase, one repetition, the prober's 5 s interval, paused consumers and Burrow", () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      samples: 5,
      repeat: 1,
      interval: 5,
      brokers: 1,
      halt: "pause",
      burrow: true,
      json: "bench-results/lag.json",
    });
    expect(o.policy).toMatch(/scenarios\/policy\.yaml$/);
    expect(parseOptions(["--no-burrow", "--halt", "stop", "--brokers", "3"])).toMatchObject({ burrow: false, halt: "stop", brokers: 3 });
  });

  it("names the option and what it expected", () => {
    expect(() => parseOptions(["--samples", "0"])).toThrow('--samples: expected a whole number from 1 to 100, got "0"');
    expect(() => parseOptions(["--brokers", "2"])).toThrow('--brokers: expected 1 or 3, got "2"');
    expect(() => parseOptions(["--halt", "kill"])).toThrow('--halt: expected pause or stop, got "kill"');
    expect(() => parseOptions(["--rate", "fast"])).toThrow(/--rate: expected a whole number/);
    expect(() => parseOptions(["--bogus"])).toThrow(/Unknown option '--bogus' \(options: /);
  });
});

describe("burrowToml", () => {
  const toml = burrowToml({ dir: "/tmp/b", zookeeper: "127.0.0.1:2181", brokers: ["127.0.0.1:9094", "127.0.0.1:9095"], httpPort: 8123 });
  it("points Burrow's cluster and consumer modules at every broker, its HTTP on loopback, with Burrow's shipped window", () => {
    const section = (name: string) => toml.split("\n[")[toml.split("\n[").findIndex((s) => s.startsWith(`${name}]`))] ?? "";
    expect(section("cluster.gm")).toContain('servers=["127.0.0.1:9094", "127.0.0.1:9095"]');
    expect(section("consumer.gm")).toContain('servers=["127.0.0.1:9094", "127.0.0.1:9095"]');
    expect(section("consumer.gm")).toContain('cluster="gm"');
    expect(section("httpserver.default")).toContain('address="127.0.0.1:8123"');
    expect(section("zookeeper")).toContain('servers=["127.0.0.1:2181"]');
    expect(section("storage.default")).toContain("intervals=10");
    expect(section("cluster.gm")).toContain("offset-refresh=10");
  });
});

// A sample as the bench records it: three reads of lag per partition at `at`.
function sample(
  phase: Sample["phase"],
  at: number,
  kcg: number[],
  prober: number[],
  burrow: number[],
  end: number[],
  repetition = 1,
): Sample {
  const parts = (lags: number[]) =>
    lags.map((lag, partition) => ({ partition, committedOffset: end[partition]! - lag, endOffset: end[partition]!, lag }));
  const read = <T>(value: T, endedAt: number) => ({ ok: true, value, startedAt: endedAt - 100, endedAt });
  const k = parts(kcg).map((p) => ({ ...p, topic: "t" }));
  const p = parts(prober);
  const b = parts(burrow).map((x) => ({ ...x, topic: "t", status: "OK" as const, lastCommitAt: null, complete: 1 }));
  return {
    phase,
    repetition,
    at,
    skewMs: 150,
    kcg: read({ group: "g", noActiveMembers: false, members: 1, partitions: k }, at),
    prober: read({ partitions: p, total: prober.reduce((a, x) => a + x, 0), status: "ok", secondsSinceCommitMoved: 0 }, at + 150),
    burrow: read({ group: "g", status: "OK" as const, complete: 1, totalLag: burrow.reduce((a, x) => a + x, 0), partitions: b }, at + 120),
    proberVsKcg: difference(k, p),
    burrowVsKcg: difference(k, b),
  };
}

describe("producedPerSecond", () => {
  it("is the growth of the end offsets Kafka's tool read, per second", () => {
    const s = [sample("load", 0, [0, 0], [0, 0], [0, 0], [100, 100]), sample("load", 5000, [0, 0], [0, 0], [0, 0], [600, 600])];
    expect(producedPerSecond(s)).toBe(200);
    expect(producedPerSecond(s.slice(0, 1))).toBeNull();
  });
});

describe("summarize and lagTable", () => {
  const samples = [
    sample("paused-load", 0, [10, 20], [12, 20], [0, 15], [100, 200]),
    sample("paused-load", 5000, [30, 40], [30, 43], [25, 40], [120, 220]),
    sample("paused-load", 10_000, [50, 60], [51, 60], [50, 50], [140, 240]),
    sample("paused-quiet", 20_000, [70, 80], [70, 80], [70, 80], [160, 260]),
  ];

  it("gives per phase the medians and spreads of each source's difference from Kafka's tool, in total, per partition and the largest of one", () => {
    const s = summarize("paused-load", samples)!;
    expect(s.samples).toBe(3);
    expect(s.producedPerSecond).toBe(8);
    expect(s.kcgTotal).toEqual({ n: 3, median: 70, min: 30, max: 110 });
    expect(s.prober.diffTotal).toEqual({ n: 3, median: 2, min: 1, max: 3 });
    expect(s.prober.maxAbsPartition).toEqual({ n: 3, median: 2, min: 1, max: 3 });
    expect(s.burrow!.diffTotal).toEqual({ n: 3, median: -10, min: -15, max: -5 });
    expect(s.perPartition).toEqual([
      { partition: 0, prober: 1, burrow: -5 },
      { partition: 1, prober: 0, burrow: -5 },
    ]);
    expect(summarize("load", samples)).toBeNull();
  });

  it("prints one row per phase and the per-partition differences", () => {
    const text = lagTable([summarize("paused-load", samples)!, summarize("paused-quiet", samples)!]);
    expect(text).toContain(
      "| consumers paused, load running | 3 | 150 | 8 | 70 (30…110) | 73 (32…111) | 2 (1…3) | 2 (1…3) | 65 (15…100) | -10 (-15…-5) | 10 (5…10) |",
    );
    expect(text).toContain("| consumers paused, offsets quiet | 1 | 150 | — | 150 | 150 | 0 | 0 | 150 | 0 | 0 |");
    expect(text).toContain("| consumers paused, load running | 1 / -5 | 0 / -5 |");
    expect(lagTable([summarize("paused-load", samples)!], "stop")).toContain("| consumers stopped, load running | 3 |");
  });
});
