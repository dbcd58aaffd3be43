import { describe, expect, it } from "vitest";
import { createPrometheusClient, createPrometheusErrorRate, PrometheusError, PrometheusOptionError } from "./prometheus.js";

type Fetch = typeof globalThis.fetch;

function vector(samples: { labels: Record<string, string>; value: string }[]) {
  return {
    status: "success",
    data: { resultType: "vector", result: samples.map((s) => ({ metric: s.labels, value: [1_700_000_000, s.value] })) },
  };
}

/** A fake Prometheus that answers by query text and records the requested URLs. */
function fakeFetch(answer: (query: string) => { status?: number; body: unknown }) {
  const seen: URL[] = [];
  const fetch: Fetch = async (input) => {
    const url = new URL(String(input));
    seen.push(url);
    const { status = 200, body } = answer(url.searchParams.get("query") ?? "");
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
  };
  return { fetch, seen };
}

describe("createPrometheusErrorRate", () => {
  it("computes per-service and total rates from two queries evaluated at the same instant", async () => {
    const { fetch, seen } = fakeFetch((q) =>
      q.includes('code=~"5.."')
        ? {
            body: vector([
              { labels: { service: "ingest-api" }, value: "12" },
              { labels: { service: "legacy" }, value: "1" },
            ]),
          }
        : {
            body: vector([
              { labels: { service: "stats-api" }, value: "0" },
              { labels: { service: "ingest-api" }, value: "100" },
              { labels: { service: "legacy" }, value: "10" },
            ]),
          },
    );
    const signals = await createPrometheusErrorRate({ url: "http://prom.test:9090/prefix", windowSeconds: 300, fetch }).collect();
    expect(signals).toEqual([
      { service: "ingest-api", source: "prometheus", windowSeconds: 300, requests: 100, errors: 12, rate: 0.12 },
      { service: "stats-api", source: "prometheus", windowSeconds: 300, requests: 0, errors: 0, rate: null },
      { service: "all", source: "prometheus", windowSeconds: 300, requests: 110, errors: 13, rate: 13 / 110 },
    ]);
    expect(seen.map((u) => u.pathname)).toEqual(["/prefix/api/v1/query", "/prefix/api/v1/query"]);
    expect(seen[0]?.searchParams.get("query")).toBe("sum by (service) (increase(http_requests_total[300s]))");
    expect(seen[0]?.searchParams.get("time")).toBe(seen[1]?.searchParams.get("time"));
  });

  it("reports no traffic at all as rate null", async () => {
    const { fetch } = fakeFetch(() => ({ body: vector([]) }));
    const signals = await createPrometheusErrorRate({ url: "http://prom.test:9090", windowSeconds: 60, fetch }).collect();
    expect(signals).toEqual([{ service: "all", source: "prometheus", windowSeconds: 60, requests: 0, errors: 0, rate: null }]);
  });

  it("checks its options when created, naming the field", () => {
    expect(() => createPrometheusErrorRate({ url: "prom:9090", windowSeconds: 60 })).toThrow(PrometheusOptionError);
    expect(() => createPrometheusErrorRate({ url: "http://p:9090", windowSeconds: 1.5 })).toThrow(/windowSeconds/);
    expect(() => createPrometheusErrorRate({ url: "http://p:9090", windowSeconds: 60, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe("createPrometheusClient", () => {
  it("turns a Prometheus error into a PrometheusError naming the URL, the query and the error type", async () => {
    const { fetch } = fakeFetch(() => ({ status: 400, body: { status: "error", errorType: "bad_data", error: "parse error" } }));
    const err = await createPrometheusClient({ url: "http://prom.test:9090", fetch })
      .queryVector("sum(")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ code: "query-error", retriable: false, status: 400, errorType: "bad_data", query: "sum(" });
    expect((err as Error).message).toBe('prometheus http://prom.test:9090: query "sum(" failed: bad_data: parse error (HTTP 400)');
  });

  it("reports a non-JSON 502 as a retriable http-status error", async () => {
    const { fetch } = fakeFetch(() => ({ status: 502, body: "<html>bad gateway</html>" }));
    await expect(createPrometheusClient({ url: "http://prom.test:9090", fetch }).queryScalar("up")).rejects.toMatchObject({
      code: "http-status",
      retriable: true,
      status: 502,
    });
  });

  it("reports a timeout as retriable", async () => {
    const fetch: Fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
    await expect(createPrometheusClient({ url: "http://prom.test:9090", timeoutMs: 20, fetch }).queryScalar("up")).rejects.toMatchObject({
      code: "timeout",
      retriable: true,
    });
  });

  it("queryScalar accepts a scalar or one sample, null for an empty vector, and refuses several samples", async () => {
    const answers: Record<string, unknown> = {
      scalar: { status: "success", data: { resultType: "scalar", result: [1, "+Inf"] } },
      one: vector([{ labels: {}, value: "0.5" }]),
      none: vector([]),
      two: vector([
        { labels: { a: "1" }, value: "1" },
        { labels: { a: "2" }, value: "2" },
      ]),
    };
    const { fetch } = fakeFetch((q) => ({ body: answers[q] }));
    const client = createPrometheusClient({ url: "http://prom.test:9090", fetch });
    expect(await client.queryScalar("scalar")).toBe(Number.POSITIVE_INFINITY);
    expect(await client.queryScalar("one")).toBe(0.5);
    expect(await client.queryScalar("none")).toBeNull();
    await expect(client.queryScalar("two")).rejects.toMatchObject({
      code: "bad-response",
      message: expect.stringContaining("at most one sample"),
    });
  });
});
