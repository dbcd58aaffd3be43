/**
 * The Grafana dashboard (deploy/grafana) charts what the prober exports: every metric a panel queries
 * must be one the prober registers, so a renamed gauge breaks this test rather than the dashboard.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createProberMetrics } from "./metrics.js";

const DASHBOARD = fileURLToPath(new URL("../../../deploy/grafana/gamemetrics-prober.json", import.meta.url));

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

describe("the Grafana dashboard", () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { uid: string; panels: Panel[]; annotations: { list: { expr?: string }[] } };
  const exported = new Set(
    createProberMetrics()
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  );
  const exprs = [
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
    ...dash.annotations.list.filter((a) => a.expr).map((a) => ({ where: "annotation", expr: a.expr! })),
  ];

  it("queries only metrics the prober exports", () => {
    const FUNCS = new Set(["sum", "min", "max", "or", "and", "vector", "changes", "rate", "by", "on"]);
    const unknown = exprs.flatMap(({ where, expr }) =>
      [...expr.replace(/\{[^}]*\}|\[[^\]]*\]|"[^"]*"/g, "").matchAll(/[a-z_][a-z0-9_]*/g)]
        .map((m) => m[0])
        .filter((name) => !FUNCS.has(name) && !exported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("shows the runbook's signals: incidents, error rate, lag, pool use, health, OOM", () => {
    const all = exprs.map((e) => e.expr).join(" ");
    for (const m of [
      "incident_active",
      "gm_error_rate",
      "gm_kafka_consumer_lag",
      "gm_pg_connection_usage_ratio",
      "probe_success",
      "gm_instance_oom_killed",
    ])
      expect(all).toContain(m);
    expect(dash.uid).toBe("gamemetrics-prober");
  });
});
