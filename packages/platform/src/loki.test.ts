/**
 * The Loki client against loopback HTTP servers: the Loki test double (push, query_range with
 * selectors and line filters), a server that records what it is asked, one that never answers and an
 * address where nothing listens.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceInfo, PlatformPort } from "@gm/runbook/ports";
import { freePort } from "@gm/docker-engine/net";
import { dockerLogsToStreams, levelOf, rfc3339ToNs } from "./loki-feed.js";
import { type LokiTestDouble, startLokiTestDouble } from "./loki-test-double.js";
import { createLokiLogs, LokiError, LokiOptionError, withLokiLogs } from "./loki.js";

const ns = (msAgo: number, extra = 0) => (BigInt(Date.now() - msAgo) * 1_000_000n + BigInt(extra)).toString();
const json = (level: string, msg: string) => JSON.stringify({ level, service: "ingest-api", msg });

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("createLokiLogs", () => {
  let loki: LokiTestDouble;

  beforeAll(async () => {
    loki = await startLokiTestDouble();
    const client = createLokiLogs({ url: loki.url });
    // Two streams (levels) of one instance, interleaved in time, and a second instance.
    await client.push([
      {
        stream: { instance: "ingest-api", level: "info" },
        values: [1, 3, 4, 6].map((i) => [ns(10_000 - i * 100), json("info", `line ${i}`)] as [string, string]),
      },
      {
        stream: { instance: "ingest-api", level: "error" },
        values: [2, 5].map((i) => [ns(10_000 - i * 100), json("error", `line ${i}`)] as [string, string]),
      },
      { stream: { instance: "stats-api" }, values: [[ns(500), "stats line"]] },
      { stream: { instance: "old" }, values: [[ns(7_200_000), "two hours ago"]] },
    ]);
  });
  afterAll(() => loki.close());

  it("reads the newest N lines of an instance, oldest first, across its streams", async () => {
    const client = createLokiLogs({ url: `${loki.url}/` });
    expect(await client.logs("ingest-api", 4)).toEqual([3, 4, 5, 6].map((i) => json(i === 5 ? "error" : "info", `line ${i}`)));
    expect(await client.logs("ingest-api", 100)).toHaveLength(6);
    expect(await client.logs("stats-api", 5)).toEqual(["stats line"]);
    expect(await client.logs("nobody", 5)).toEqual([]);
    expect(await client.logs("ingest-api", 0)).toEqual([]);
    // Backward from now, the tail as the limit, within the lookback (the 2-hour-old line is out).
    const last = new URL(
      `http://x${loki.requests
        .filter((r) => r.includes("limit=100"))
        .at(-1)
        ?.replace(/^GET /, "")}`,
    );
    expect(Object.fromEntries(last.searchParams)).toMatchObject({ query: '{instance="ingest-api"}', limit: "100", direction: "backward" });
    expect(Number(BigInt(last.searchParams.get("start")!) / 1_000_000n)).toBeGreaterThan(Date.now() - 3_600_000 - 60_000);
    expect(await createLokiLogs({ url: loki.url }).logs("old", 5)).toEqual([]);
    expect(await createLokiLogs({ url: loki.url, lookbackSeconds: 3 * 3600 }).logs("old", 5)).toEqual(["two hours ago"]);
  });

  it("runs LogQL with line filters and a custom selector, and returns entries with labels", async () => {
    const client = createLokiLogs({ url: loki.url, selector: (i) => `{instance="${i}", level="error"}` });
    expect(await client.logs("ingest-api", 10)).toEqual([json("error", "line 2"), json("error", "line 5")]);
    const errors = await client.query('{instance=~"ingest-api|stats-api"} |= "error"', { limit: 10 });
    expect(errors.map((e) => e.line)).toEqual([json("error", "line 5"), json("error", "line 2")]);
    expect(errors[0]).toMatchObject({ labels: { instance: "ingest-api", level: "error" } });
    expect(errors[0]!.ts).toMatch(/^\d{19}$/);
    const forward = await client.query('{instance="ingest-api"} != "error"', { direction: "forward", limit: 2 });
    expect(forward.map((e) => e.line)).toEqual([json("info", "line 1"), json("info", "line 3")]);
  });

  it("reports Loki's own message for a query it refuses", async () => {
    const client = createLokiLogs({ url: loki.url });
    const err = await client.query("{instance=}").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LokiError);
    expect(err).toMatchObject({ code: "http-status", status: 400, retriable: false });
    expect((err as Error).message).toBe(
      `loki ${loki.url}: query "{instance=}" failed: HTTP 400: parse error at line 1, col 11: syntax error: expecting STRING`,
    );
    await expect(client.query("{}")).rejects.toThrow(/HTTP 400: parse error : queries require at least one regexp or equality matcher/);
    await expect(client.logs("x", 6000)).rejects.toThrow(/max entries limit per query exceeded/);
  });

  it("sends LogQL as written (parsers and label filters are Loki's business)", async () => {
    const seen: string[] = [];
    const { server, url } = await listen((req, res) => {
      seen.push(req.url ?? "");
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "success", data: { resultType: "streams", result: [] } }));
    });
    try {
      const q = '{service="event-processor-service"} | json | level="error"';
      expect(
        await createLokiLogs({ url: `${url}/loki-prefix` }).query(q, { limit: 7, start: new Date(1_000), end: new Date(2_000) }),
      ).toEqual([]);
      const u = new URL(`http://x${seen[0]}`);
      expect(u.pathname).toBe("/loki-prefix/loki/api/v1/query_range");
      expect(Object.fromEntries(u.searchParams)).toEqual({
        query: q,
        limit: "7",
        direction: "backward",
        start: "1000000000",
        end: "2000000000",
      });
    } finally {
      server.close();
    }
  });

  it("refuses a metric query's matrix and a malformed answer, naming the query", async () => {
    const { server, url } = await listen((req, res) => {
      const body = req.url?.includes("rate")
        ? { status: "success", data: { resultType: "matrix", result: [] } }
        : { status: "success", data: { resultType: "streams", result: [{ stream: {}, values: [[1, "x"]] }] } };
      res.writeHead(200).end(JSON.stringify(body));
    });
    try {
      const client = createLokiLogs({ url });
      await expect(client.query('rate({a="b"}[1m])')).rejects.toThrow(/got a matrix: query\(\) runs log queries/);
      await expect(client.query('{a="b"}')).rejects.toThrow(/query "\{a=\\"b\\"\}" failed: malformed entry \[1,"x"\]/);
    } finally {
      server.close();
    }
  });

  it("pushes JSON, drops empty streams, checks label names, and reports a push Loki refuses", async () => {
    const bodies: string[] = [];
    const { server, url } = await listen((req, res) => {
      let b = "";
      req.on("data", (c: Buffer) => (b += c.toString()));
      req.on("end", () => {
        bodies.push(`${req.method} ${req.url} ${req.headers["content-type"]} ${b}`);
        if (b.includes("too old"))
          res.writeHead(400).end("entry for stream '{instance=\"x\"}' has timestamp too old: 1970-01-01T00:00:00Z\n");
        else res.writeHead(204).end();
      });
    });
    try {
      const client = createLokiLogs({ url });
      await client.push([]);
      await client.push([{ stream: { a: "b" }, values: [] }]);
      expect(bodies).toEqual([]);
      await client.push([{ stream: { instance: "x" }, values: [["1700000000000000001", "hello"]] }]);
      expect(bodies).toEqual([
        `POST /loki/api/v1/push application/json {"streams":[{"stream":{"instance":"x"},"values":[["1700000000000000001","hello"]]}]}`,
      ]);
      await expect(client.push([{ stream: { "bad-name": "x" }, values: [["1", "l"]] }])).rejects.toThrow(LokiOptionError);
      await expect(client.push([{ stream: { instance: "x" }, values: [["1", "too old"]] }])).rejects.toThrow(
        `loki ${url}: push of 1 entry in 1 stream(s) failed: HTTP 400: entry for stream '{instance="x"}' has timestamp too old`,
      );
    } finally {
      server.close();
    }
  });

  it("refuses a bad URL or option naming the field and the expected form", () => {
    for (const bad of ["", "loki:3100", "ftp://127.0.0.1:3100", "not a url", "http://127.0.0.1:3100/?x=1"]) {
      expect(() => createLokiLogs({ url: bad })).toThrow(LokiOptionError);
      expect(() => createLokiLogs({ url: bad })).toThrow(
        `loki.url: expected an http(s) URL such as http://127.0.0.1:3100, got ${JSON.stringify(bad)}`,
      );
    }
    expect(() => createLokiLogs({ url: undefined as unknown as string })).toThrow(
      "loki.url: expected an http(s) URL such as http://127.0.0.1:3100, got undefined",
    );
    expect(() => createLokiLogs({ url: "http://127.0.0.1:3100", timeoutMs: 0 })).toThrow(
      "loki.timeoutMs: expected a positive number of milliseconds, got 0",
    );
    expect(() => createLokiLogs({ url: "http://127.0.0.1:3100", lookbackSeconds: -1 })).toThrow(
      "loki.lookbackSeconds: expected a positive number of seconds, got -1",
    );
  });

  it("fails fast and clearly when nothing listens, and within the timeout when Loki hangs", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    let t = Date.now();
    const refused = await createLokiLogs({ url: dead, timeoutMs: 2_000 })
      .logs("ingest-api", 5)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "unreachable", retriable: true, url: dead });
    expect((refused as Error).message).toMatch(new RegExp(`^loki ${dead}: query .* failed: fetch failed: ECONNREFUSED`));
    expect(Date.now() - t).toBeLessThan(2_000);
    expect(await createLokiLogs({ url: dead }).ready()).toBe(false);

    const { server, url } = await listen(() => undefined); // accepts, never answers
    try {
      t = Date.now();
      const hung = await createLokiLogs({ url, timeoutMs: 300 })
        .logs("ingest-api", 5)
        .catch((e: unknown) => e);
      const took = Date.now() - t;
      expect(hung).toMatchObject({ code: "timeout", retriable: true });
      expect((hung as Error).message).toContain("no answer within 300 ms");
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(2_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("withLokiLogs", () => {
  it("reads logs from Loki and everything else from the wrapped driver, and says so", async () => {
    const calls: string[] = [];
    const inst: InstanceInfo = {
      name: "a",
      service: "stats-api",
      running: true,
      restarts: 0,
      exitCode: null,
      oomKilled: false,
      memoryLimitBytes: null,
      memoryUsageBytes: null,
      startedAt: null,
    };
    const driver: PlatformPort & { extra(): string } = {
      logSource: "docker",
      extra: () => "kept",
      listInstances: async () => [inst],
      logs: async () => ["from docker"],
      restart: async (i) => void calls.push(`restart ${i}`),
      memoryLimit: async () => null,
      setMemoryLimit: async () => undefined,
      replicas: async () => 1,
      scale: async () => undefined,
      setPoolSize: async () => undefined,
      poolSize: async () => 10,
    };
    const p = withLokiLogs(driver, { logs: async (i, n) => [`loki ${i} ${n}`] });
    expect(await p.logs("a", 3)).toEqual(["loki a 3"]);
    expect(p.logSource).toBe("loki");
    expect(await p.listInstances("stats-api")).toEqual([inst]);
    await p.restart("a");
    expect(calls).toEqual(["restart a"]);
    expect(p.extra()).toBe("kept");
    expect(driver.logSource).toBe("docker");
  });
});

describe("docker log lines for Loki", () => {
  it("parses the engine's timestamps to nanoseconds and JSON levels", () => {
    expect(rfc3339ToNs("2024-05-01T12:00:00.123456789Z")).toBe("1714564800123456789");
    expect(rfc3339ToNs("2024-05-01T12:00:00.5Z")).toBe("1714564800500000000");
    expect(rfc3339ToNs("2024-05-01T12:00:00Z")).toBe("1714564800000000000");
    expect(rfc3339ToNs("yesterday")).toBeNull();
    expect(levelOf('{"level":"ERROR","msg":"x"}')).toBe("error");
    expect(levelOf('{"msg":"x"}')).toBeNull();
    expect(levelOf("[2024] INFO plain")).toBeNull();
  });

  it("groups lines into one stream per level, oldest first, after the cursor", () => {
    const text = [
      `2024-05-01T12:00:02.000000000Z ${json("error", "b")}`,
      `2024-05-01T12:00:01.000000000Z ${json("info", "a")}`,
      "2024-05-01T12:00:03.000000000Z plain text",
      "2024-05-01T12:00:04.000000000Z ",
      "no timestamp",
      `2024-05-01T12:00:00.000000000Z ${json("info", "old")}`,
    ].join("\n");
    const r = dockerLogsToStreams(text, { instance: "ingest-api" }, "1714564800000000000");
    expect(r.count).toBe(3);
    expect(r.lastNs).toBe("1714564803000000000");
    expect(r.streams).toEqual([
      { stream: { instance: "ingest-api", level: "error" }, values: [["1714564802000000000", json("error", "b")]] },
      { stream: { instance: "ingest-api", level: "info" }, values: [["1714564801000000000", json("info", "a")]] },
      { stream: { instance: "ingest-api" }, values: [["1714564803000000000", "plain text"]] },
    ]);
  });
});
