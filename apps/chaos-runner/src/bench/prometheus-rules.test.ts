/**
 * The Prometheus pipeline's committed files (deploy/bench/prometheus/) as `npm run bench:page` runs them:
 * both rule files load in the real `promtool check rules`, their promtool unit tests pass (each rule fires
 * on its exporter's series with the labels that route it, and only after its `for:`), both configs pass
 * `promtool check config`, and the tuned rules are the kube-prometheus rules with only `for:` cut.
 * Skipped where promtool is not installed (Debian's prometheus package brings it: scripts/setup.sh).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const DIR = fileURLToPath(new URL("../../../../deploy/bench/prometheus/", import.meta.url));
const promtool = process.env["PROMTOOL_BIN"] ?? "/usr/bin/promtool";
const have = existsSync(promtool);

function run(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: DIR, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (file: string): Rule[] =>
  (parse(readFileSync(`${DIR}${file}`, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const seconds = (d: string | undefined) => {
  const m = /^(\d+)([smh])$/.exec(d ?? "0s");
  if (!m) throw new Error(`for: expected a duration such as 30s or 2m, got ${JSON.stringify(d)}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
};

describe.skipIf(!have)("deploy/bench/prometheus in the real promtool", () => {
  for (const profile of ["kube-prometheus", "tuned"]) {
    it(`rules.${profile}.yml loads (promtool check rules)`, () => {
      const r = run("check", "rules", `rules.${profile}.yml`);
      expect(r.out).toContain("SUCCESS");
      expect(r.code, r.out).toBe(0);
    });
    it(`rules.${profile}.yml fires as its unit tests say (promtool test rules)`, () => {
      const r = run("test", "rules", `rules.${profile}.test.yml`);
      expect(r.code, r.out).toBe(0);
    });
    it(`prometheus.${profile}.yml is a valid configuration (promtool check config)`, () => {
      const r = run("check", "config", `prometheus.${profile}.yml`);
      expect(r.code, r.out).toBe(0);
    });
  }
});

describe("the two profiles' rules", () => {
  it("are the same alerts, expressions, labels and annotations; tuned only waits at most two 5 s evaluations", () => {
    const kube = rules("rules.kube-prometheus.yml");
    const tuned = rules("rules.tuned.yml");
    expect(tuned.map((r) => r.alert)).toEqual(kube.map((r) => r.alert));
    for (const [i, k] of kube.entries()) {
      const t = tuned[i]!;
      expect({ ...t, for: undefined }, k.alert).toEqual({ ...k, for: undefined });
      expect(seconds(t.for), `${k.alert} tuned for:`).toBeLessThanOrEqual(Math.min(10, seconds(k.for)));
    }
    // every rule routes like the prober's incident would: a runbook severity, a kind and a subject
    for (const r of kube)
      expect(r.labels, r.alert).toMatchObject({
        severity: expect.stringMatching(/^P[0-3]$/),
        kind: expect.any(String),
        subject: expect.any(String),
      });
  });
});
