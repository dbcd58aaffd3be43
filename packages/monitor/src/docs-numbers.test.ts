/**
 * Every number docs/runbook.md states is the number the prober runs with: the classification's
 * thresholds (the policy the prober is built with) and what createProber hands the collectors.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "@gm/runbook/policy";
import { ConfigError, parseProberConfig } from "./config.js";
import { collectorThresholds } from "./prober.js";

const doc = readFileSync(new URL("../../../docs/runbook.md", import.meta.url), "utf8");
const row = (label: string): string => {
  const line = doc.split("\n").find((l) => l.startsWith(`| ${label}`));
  if (!line) throw new Error(`docs/runbook.md has no thresholds row "${label}"`);
  return line;
};
const numbers = (s: string) => [...s.matchAll(/(\d[\d,]*(?:\.\d+)?)\s*(%|s\b|messages)?/g)].map((m) => ({ n: Number(m[1]!.replace(/,/g, "")), unit: m[2] ?? "" }));

describe("docs/runbook.md states the numbers the prober runs with", () => {
  const t = defaultPolicy.thresholds;
  const used = collectorThresholds(defaultPolicy);

  it("the collectors' numbers: stall seconds and canary loss deadline", () => {
    expect(numbers(row("Consumer stalled"))).toContainEqual({ n: used.stallSeconds, unit: "s" });
    expect(numbers(row("Canary loss deadline"))).toContainEqual({ n: used.canaryLossDeadlineSeconds, unit: "s" });
  });

  it("the classification's thresholds", () => {
    expect(numbers(row("Error rate"))).toEqual(expect.arrayContaining([{ n: t.errorRate.p1Above * 100, unit: "%" }, { n: t.errorRate.p2AtLeast * 100, unit: "%" }]));
    expect(numbers(row("Users affected"))).toContainEqual({ n: t.usersAffected.p1Above * 100, unit: "%" });
    expect(numbers(row("Consumer group lag"))).toContainEqual({ n: t.consumerLag.above, unit: "messages" });
    expect(numbers(row("PostgreSQL connections"))).toContainEqual({ n: t.dbPool.usageAtLeast * 100, unit: "%" });
    expect(numbers(row("Memory"))).toContainEqual({ n: t.memory.usageAtLeast * 100, unit: "%" });
  });

  it("the prober's file cannot set them: it names the policy field instead", () => {
    const problems = (() => {
      try {
        parseProberConfig("services: { ingest-api: [http://a] }\nkafka: { brokers: [k:9092], stallSeconds: 30 }\nsynthetic: { players: 2, lossDeadlineSeconds: 60 }\n");
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      "kafka.stallSeconds: not a prober setting; the policy's thresholds.consumerStall.seconds is the single source of this number (set it in the policy file the configuration names with `policy:`)",
      "synthetic.lossDeadlineSeconds: not a prober setting; the policy's thresholds.canary.lossDeadlineSeconds is the single source of this number (set it in the policy file the configuration names with `policy:`)",
    ]);
  });
});
