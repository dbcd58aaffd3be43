import { readFile } from "node:fs/promises";
import type { Incident } from "@gm/runbook/incident";
import { describe, expect, it } from "vitest";
import { AlertmanagerOptionError, alertName, createAlertmanagerSink, RUNBOOK_ANCHORS, toAlert } from "./alertmanager.js";

type Fetch = typeof globalThis.fetch;

const lag: Incident = {
  kind: "high-consumer-lag",
  severity: "P2",
  subject: "event-processor-service",
  summary: "consumer lag 12000 > 10000",
  evidence: [{ signal: "kafka.groups[event-processor-service].totalLag", observed: 12_000, threshold: "> 10000" }],
  responseMinutes: 60,
  respondBy: "2025-01-01T11:00:00.000Z",
  escalation: "ticket-and-notify",
  steps: ["check-consumers", "scale-consumers"],
};

function recordingFetch(status = 200) {
  const posts: { url: string; body: unknown }[] = [];
  const fetch: Fetch = async (input, init) => {
    posts.push({ url: String(input), body: JSON.parse(String(init?.body)) });
    return new Response(status === 200 ? "" : "bad alert", { status });
  };
  return { fetch, posts };
}

describe("toAlert", () => {
  it("labels what identifies the incident and annotates what changes", () => {
    expect(alertName("service-oom")).toBe("GameMetricsServiceOom");
    const alert = toAlert(lag, { startsAt: new Date("2025-01-01T10:00:00Z"), generatorURL: "http://prober:9464/" });
    expect(alert).toEqual({
      labels: {
        alertname: "GameMetricsHighConsumerLag",
        kind: "high-consumer-lag",
        severity: "P2",
        subject: "event-processor-service",
        escalation: "ticket-and-notify",
        source: "gm-prober",
        service: "event-processor-service",
      },
      annotations: {
        summary: "consumer lag 12000 > 10000",
        evidence: '[{"signal":"kafka.groups[event-processor-service].totalLag","observed":12000,"threshold":"> 10000"}]',
        respond_by: "2025-01-01T11:00:00.000Z",
        response_minutes: "60",
        steps: "check-consumers, scale-consumers",
        runbook: "docs/runbook.md#high-consumer-lag-high-consumer-lag",
      },
      startsAt: "2025-01-01T10:00:00.000Z",
      generatorURL: "http://prober:9464/",
    });
    expect(toAlert({ ...lag, subject: "kafka" }, { startsAt: new Date(), generatorURL: "http://p/" }).labels["service"]).toBeUndefined();
    // a service of the prober's description, beyond GameMetrics Pro's three, is a service too
    const down = { ...lag, kind: "service-down" as const, subject: "leaderboard-api" };
    const services = ["ingest-api", "event-processor-service", "stats-api", "leaderboard-api"];
    expect(toAlert(down, { startsAt: new Date(), generatorURL: "http://p/", services }).labels["service"]).toBe("leaderboard-api");
    expect(toAlert(down, { startsAt: new Date(), generatorURL: "http://p/" }).labels["service"]).toBeUndefined();
  });
});

describe("createAlertmanagerSink", () => {
  it("posts to every Alertmanager, keeps startsAt across re-sends and ends resolved alerts now", async () => {
    const { fetch, posts } = recordingFetch();
    let t = new Date("2025-01-01T10:05:00Z");
    const sink = createAlertmanagerSink({
      urls: ["http://am-1:9093", "http://am-2:9093/prefix"],
      generatorURL: "http://prober/",
      fetch,
      now: () => t,
    });
    const first = await sink.send([lag], []);
    expect(first).toEqual({
      ok: true,
      alerts: 1,
      results: [
        { url: "http://am-1:9093", ok: true, status: 200 },
        { url: "http://am-2:9093/prefix", ok: true, status: 200 },
      ],
    });
    expect(posts.map((p) => p.url)).toEqual(["http://am-1:9093/api/v2/alerts", "http://am-2:9093/prefix/api/v2/alerts"]);
    // detected at respondBy − responseMinutes
    expect(posts[0]?.body).toMatchObject([{ startsAt: "2025-01-01T10:00:00.000Z" }]);

    t = new Date("2025-01-01T10:10:00Z");
    await sink.send([{ ...lag, respondBy: "2025-01-01T11:09:00.000Z" }], []);
    expect(posts[2]?.body).toMatchObject([
      { startsAt: "2025-01-01T10:00:00.000Z", annotations: { respond_by: "2025-01-01T11:09:00.000Z" } },
    ]);
    expect((posts[2]?.body as { endsAt?: string }[] | undefined)?.[0]?.endsAt).toBeUndefined();

    await sink.send([], [lag]);
    expect(posts[4]?.body).toMatchObject([{ startsAt: "2025-01-01T10:00:00.000Z", endsAt: "2025-01-01T10:10:00.000Z" }]);
  });

  it("ends the old severity's alert when an incident changes severity, so its return starts afresh", async () => {
    const { fetch, posts } = recordingFetch();
    let t = new Date("2025-01-01T10:05:00Z");
    const sink = createAlertmanagerSink({ urls: ["http://am:9093"], generatorURL: "http://prober/", fetch, now: () => t });
    const p1: Incident = { ...lag, severity: "P1", escalation: "page", responseMinutes: 15, respondBy: "2025-01-01T10:20:00.000Z" };
    const p2: Incident = { ...lag, respondBy: "2025-01-01T11:06:00.000Z" };
    await sink.send([p1], []);
    t = new Date("2025-01-01T10:06:00Z");
    await sink.send([p2], []);
    type Posted = { labels: Record<string, string>; startsAt: string; endsAt?: string }[];
    const second = posts[1]?.body as Posted;
    expect(second.map((a) => [a.labels["severity"], a.endsAt ?? null])).toEqual([
      ["P2", null],
      ["P1", "2025-01-01T10:06:00.000Z"],
    ]);
    // the P1 comes back later: a new alert, started now, not the old one Alertmanager would send at once
    t = new Date("2025-01-01T10:30:00Z");
    await sink.send([{ ...p1, respondBy: "2025-01-01T10:45:00.000Z" }], []);
    const third = posts[2]?.body as Posted;
    expect(third.find((a) => a.labels["severity"] === "P1")?.startsAt).toBe("2025-01-01T10:30:00.000Z");
    expect(third.find((a) => a.labels["severity"] === "P2")?.endsAt).toBe("2025-01-01T10:30:00.000Z");
  });

  it("reports rejections and unreachable Alertmanagers as results instead of throwing", async () => {
    const rejected = await createAlertmanagerSink({
      urls: ["http://am:9093"],
      generatorURL: "http://p/",
      fetch: recordingFetch(400).fetch,
    }).send([lag], []);
    expect(rejected).toEqual({
      ok: false,
      alerts: 1,
      results: [{ url: "http://am:9093", ok: false, status: 400, error: "HTTP 400: bad alert" }],
    });

    const failing: Fetch = async () => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    };
    const down = await createAlertmanagerSink({ urls: ["http://am:9093"], generatorURL: "http://p/", fetch: failing }).send([lag], []);
    expect(down.ok).toBe(false);
    expect(down.results[0]?.error).toBe("POST http://am:9093/api/v2/alerts: fetch failed: ECONNREFUSED connect ECONNREFUSED");
  });

  it("posts nothing when there is nothing to say", async () => {
    const { fetch, posts } = recordingFetch();
    expect(await createAlertmanagerSink({ urls: ["http://am:9093"], generatorURL: "http://p/", fetch }).send([], [])).toEqual({
      ok: true,
      alerts: 0,
      results: [],
    });
    expect(posts).toEqual([]);
  });

  it("checks its options when created, naming the field", () => {
    expect(() => createAlertmanagerSink({ urls: [], generatorURL: "http://p/" })).toThrow(AlertmanagerOptionError);
    expect(() => createAlertmanagerSink({ urls: ["am:9093"], generatorURL: "http://p/" })).toThrow(/urls\[0\]/);
    expect(() => createAlertmanagerSink({ urls: ["http://am:9093"], generatorURL: "" })).toThrow(/generatorURL/);
  });
});

describe("RUNBOOK_ANCHORS", () => {
  it("points at a heading of docs/runbook.md for every kind", async () => {
    const runbook = await readFile(new URL("../../../docs/runbook.md", import.meta.url), "utf8");
    // GitHub's heading slug: lower case, punctuation other than "-" dropped, spaces → "-".
    const slugs = new Set(
      runbook
        .split("\n")
        .filter((l) => l.startsWith("#"))
        .map((l) =>
          l
            .replace(/^#+\s*/, "")
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\- _]/gu, "")
            .replace(/ /g, "-"),
        ),
    );
    for (const [kind, anchor] of Object.entries(RUNBOOK_ANCHORS)) expect(slugs.has(anchor), `${kind} → #${anchor}`).toBe(true);
  });
});
