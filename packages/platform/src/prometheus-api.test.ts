/** Parsing Prometheus's /api/v1/targets and /api/v1/query answers, and what a missing target reads like. */
import { describe, expect, it } from "vitest";
import { missingTargets, parseQuery, parseTargets } from "./prometheus-api.js";

const target = (labels: Record<string, string>, health: string, lastError = "", lastScrape = "2026-12-03T18:00:00.5Z") => ({
  discoveredLabels: { __address__: "10.88.0.9:9464" },
  labels: { job: "kubernetes-pods", ...labels },
  scrapePool: "kubernetes-pods",
  scrapeUrl: "http://10.88.0.9:9464/metrics",
  lastError,
  lastScrape,
  health,
});
const targets = (...t: unknown[]) => JSON.stringify({ status: "success", data: { activeTargets: t, droppedTargets: [] } });

describe("parseTargets", () => {
  it("reads labels, health, the last error and the last scrape's time", () => {
    const [t, fresh] = parseTargets(
      targets(
        target({ namespace: "gamemetrics-ops", app: "gm-prober", pod: "gm-prober-1" }, "up"),
        target({ app: "x" }, "unknown", "", "0001-01-01T00:00:00Z"),
      ),
    );
    expect(t).toEqual({
      labels: { job: "kubernetes-pods", namespace: "gamemetrics-ops", app: "gm-prober", pod: "gm-prober-1" },
      scrapeUrl: "http://10.88.0.9:9464/metrics",
      health: "up",
      lastError: "",
      lastScrape: Date.parse("2026-12-03T18:00:00.5Z"),
    });
    expect(fresh).toMatchObject({ health: "unknown", lastScrape: null });
  });
  it("throws on an error answer or another shape, quoting it", () => {
    expect(() => parseTargets('{"status":"error","errorType":"bad_data","error":"nope"}')).toThrow("/api/v1/targets: status error: nope");
    expect(() => parseTargets("<html>")).toThrow("/api/v1/targets: not JSON: <html>");
    expect(() => parseTargets('{"status":"success","data":{}}')).toThrow(/no data.activeTargets/);
  });
});

describe("parseQuery", () => {
  it("reads an instant vector and a range vector, times in ms", () => {
    const vector = { resultType: "vector", result: [{ metric: { pod: "p" }, value: [1764784800.5, "3"] }] };
    expect(parseQuery(JSON.stringify({ status: "success", data: vector }))).toEqual([
      { metric: { pod: "p" }, samples: [{ at: 1764784800500, value: 3 }] },
    ]);
    const matrix = {
      resultType: "matrix",
      result: [
        {
          metric: { __name__: "up" },
          values: [
            [1764784800, "1"],
            [1764784805, "0"],
          ],
        },
      ],
    };
    expect(parseQuery(JSON.stringify({ status: "success", data: matrix }))[0]!.samples).toEqual([
      { at: 1764784800000, value: 1 },
      { at: 1764784805000, value: 0 },
    ]);
  });
  it("refuses a scalar or string result", () => {
    expect(() => parseQuery(JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "1"] } }))).toThrow(
      /expected a vector or a matrix, got resultType scalar/,
    );
  });
});

describe("missingTargets", () => {
  const all = parseTargets(
    targets(
      target({ namespace: "gamemetrics", app: "stats-api", pod: "stats-api-a" }, "up"),
      target(
        { namespace: "gamemetrics", app: "stats-api", pod: "stats-api-b" },
        "down",
        'Get "http://10.88.0.7:8080/metrics": connection refused',
      ),
      target({ namespace: "gamemetrics-ops", app: "gm-prober", pod: "gm-prober-1" }, "up"),
    ),
  );
  it("is empty when every wanted app has its targets up", () => {
    expect(
      missingTargets(all, [
        ["gamemetrics-ops", "gm-prober", 1],
        ["gamemetrics", "stats-api", 1],
      ]),
    ).toEqual([]);
  });
  it("names the targets that are not up with their errors, and apps not discovered at all", () => {
    expect(
      missingTargets(all, [
        ["gamemetrics", "stats-api", 2],
        ["gamemetrics", "ingest-api", 2],
      ]),
    ).toEqual([
      'gamemetrics/stats-api: 1 of 2 targets up; stats-api-b down (Get "http://10.88.0.7:8080/metrics": connection refused)',
      "gamemetrics/ingest-api: 0 of 2 targets up, none discovered",
    ]);
  });
});
