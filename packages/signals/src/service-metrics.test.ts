import { describe, expect, it } from "vitest";
import { createServiceMetricsCollector } from "./service-metrics.js";

const exposition = (ok: number, errors: number) =>
  [
    "# HELP http_requests_total Requests",
    "# TYPE http_requests_total counter",
    `http_requests_total{route="/players/:id/stats",method="GET",code="200"} ${ok}`,
    `http_requests_total{route="/players/:id/stats",method="GET",code="500"} ${errors}`,
    `http_requests_total{route="/health",method="GET",code="200"} 40`,
    "",
  ].join("\n");

/** A fetch that answers each scrape with the next body (200). */
const answers = (bodies: string[]) => (async () => new Response(bodies.shift() ?? "", { status: 200 })) as unknown as typeof fetch;

describe("the services' /metrics error rate", () => {
  it("a /metrics answer without http_requests_total is a failed scrape, not a counter reset: the service's history does not land in the window", async () => {
    // stats-api answered 500 errors long ago (an earlier fault), none since. One scrape answered 200 with
    // garbage (the soak's garbage-metrics fault): read as a reset to zero, the next good scrape added the
    // whole history to the window — 500 old errors in one round, a P1 error rate for no error at all.
    const c = createServiceMetricsCollector({
      services: { "stats-api": ["http://stats"] },
      windowSeconds: 60,
      timeoutMs: 1_000,
      fetch: answers([exposition(500, 500), exposition(600, 500), "<html>502 bad gateway</html>\nnot a metric\n", exposition(700, 500)]),
    });
    await c.collect(0);
    await c.collect(5_000);
    const garbage = await c.collect(10_000);
    expect(garbage.failures).toEqual([{ url: "http://stats", error: expect.stringContaining("http_requests_total") }]);
    const after = await c.collect(15_000);
    const rate = after.errorRates.find((e) => e.service === "stats-api");
    expect(rate).toMatchObject({ requests: 200, errors: 0, rate: 0 });
    expect(rate?.recent).toMatchObject({ errors: 0, rate: 0 });
  });

  it("a real restart (the counters start from zero again) still counts what came after it", async () => {
    const c = createServiceMetricsCollector({
      services: { "stats-api": ["http://stats"] },
      windowSeconds: 60,
      timeoutMs: 1_000,
      fetch: answers([exposition(500, 0), exposition(600, 0), exposition(10, 5)]),
    });
    await c.collect(0);
    await c.collect(5_000);
    const r = await c.collect(10_000);
    expect(r.errorRates.find((e) => e.service === "stats-api")).toMatchObject({ requests: 115, errors: 5 });
  });
});
