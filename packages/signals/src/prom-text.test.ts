import { describe, expect, it } from "vitest";
import { first, parsePrometheusText, sum } from "./prom-text.js";

const text = `# HELP http_requests_total HTTP requests
# TYPE http_requests_total counter
http_requests_total{route="/events",method="POST",code="202",service="ingest-api"} 90
http_requests_total{route="/events",method="POST",code="503",service="ingest-api"} 7
http_requests_total{route="/events",method="POST",code="500",service="ingest-api"} 3
http_requests_total{route="/health",method="GET",code="200",service="ingest-api"} 12
pg_pool_waiting{service="stats-api"} 4
weird{label="a \\"quoted\\" value"} 1 1700000000000
up +Inf
`;

describe("parsePrometheusText", () => {
  it("parses names, labels, values and escaped quotes", () => {
    const s = parsePrometheusText(text);
    expect(s).toHaveLength(7);
    expect(s[5]).toEqual({ name: "weird", labels: { label: 'a "quoted" value' }, value: 1 });
    expect(first(s, "up")).toBe(Number.POSITIVE_INFINITY);
    expect(first(s, "missing")).toBeNull();
  });

  it("sums matching samples", () => {
    const s = parsePrometheusText(text);
    expect(sum(s, "http_requests_total")).toBe(112);
    expect(sum(s, "http_requests_total", (l) => l["code"]!.startsWith("5"))).toBe(10);
    expect(first(s, "pg_pool_waiting")).toBe(4);
  });
});
