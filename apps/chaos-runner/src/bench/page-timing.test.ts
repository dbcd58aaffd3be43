import { describe, expect, it } from "vitest";
import type { Notification } from "@gm/monitor/alertmanager-run";
import {
  alertTimings,
  type FaultRun,
  firstPage,
  floorSeconds,
  formatSummary,
  labelsFromPagerDutyText,
  pageRecords,
  renderAlertTimings,
  renderTable,
  summarize,
  summarizeFault,
} from "./page-timing.js";

// What Alertmanager 0.25's `pagerduty.default.instances` renders for two firing alerts (the committed
// routing's `details.firing`).
const PD_FIRING = `Labels:
 - alertname = PrometheusTargetMissing
 - kind = service-down
 - pipeline = prometheus-tuned
 - severity = P0
 - subject = ingest-api
Annotations:
 - summary = Prometheus target missing (instance 127.0.0.1:1234)
Source: http://prom/graph
Labels:
 - alertname = GameMetricsServiceDown
 - kind = service-down
 - severity = P0
 - subject = ingest-api
Annotations:
 - summary = ingest-api down
Source: http://prober
`;

const pd = (at: number, firing: string, action = "trigger"): Notification => ({
  at,
  path: "/pagerduty/oncall-page",
  receiver: "oncall-page",
  vendor: "pagerduty",
  alerts: [],
  body: { event_action: action, payload: { custom_details: { firing } } },
});
const hook = (at: number, labels: Record<string, string>, status: "firing" | "resolved" = "firing"): Notification => ({
  at,
  path: "/alertmanager",
  receiver: "team-ticket-notify",
  vendor: "webhook",
  alerts: [{ status, labels }],
  body: {},
});

describe("pageRecords: which pipeline a notification came from", () => {
  it("reads every alert's labels out of a PagerDuty body, the prober's being the one without a pipeline label", () => {
    const labels = labelsFromPagerDutyText(PD_FIRING);
    expect(labels).toEqual([
      { alertname: "PrometheusTargetMissing", kind: "service-down", pipeline: "prometheus-tuned", severity: "P0", subject: "ingest-api" },
      { alertname: "GameMetricsServiceDown", kind: "service-down", severity: "P0", subject: "ingest-api" },
    ]);
    const recs = pageRecords(pd(1_000, PD_FIRING));
    expect(recs.map((r) => [r.pipeline, r.at, r.receiver])).toEqual([
      ["prometheus-tuned", 1_000, "oncall-page"],
      ["prober", 1_000, "oncall-page"],
    ]);
  });

  it("keeps annotations out of the labels, ignores resolve events, resolved webhook alerts and Slack", () => {
    expect(labelsFromPagerDutyText(PD_FIRING)[0]).not.toHaveProperty("summary");
    expect(pageRecords(pd(1, PD_FIRING, "resolve"))).toEqual([]);
    expect(pageRecords(hook(1, { alertname: "X" }, "resolved"))).toEqual([]);
    expect(pageRecords({ ...hook(1, { alertname: "X" }), vendor: "slack" })).toEqual([]);
  });

  it("labels a webhook alert by its pipeline label, an unknown one as unknown", () => {
    expect(pageRecords(hook(5, { alertname: "A", pipeline: "prometheus-kube" }))[0]!.pipeline).toBe("prometheus-kube");
    expect(pageRecords(hook(5, { alertname: "A" }))[0]!.pipeline).toBe("prober");
    expect(pageRecords(hook(5, { alertname: "A", pipeline: "grafana" }))[0]!.pipeline).toBe("unknown");
  });
});

describe("firstPage: the first matching page of a pipeline after injection", () => {
  const recs = [
    ...pageRecords(hook(900, { alertname: "BlackboxProbeFailed", pipeline: "prometheus-kube", kind: "kafka-broker-down" })),
    ...pageRecords(hook(2_000, { alertname: "PrometheusTargetMissing", pipeline: "prometheus-kube", subject: "event-processor-service" })),
    ...pageRecords(hook(3_000, { alertname: "BlackboxProbeFailed", pipeline: "prometheus-kube", kind: "kafka-broker-down" })),
    ...pageRecords(hook(2_500, { alertname: "BlackboxProbeFailed", pipeline: "prometheus-tuned", kind: "kafka-broker-down" })),
    ...pageRecords(hook(4_000, { alertname: "GameMetricsKafkaBrokerDown", kind: "kafka-broker-down" })),
  ];
  it("skips pages from before the injection, of other pipelines and of other alerts", () => {
    expect(firstPage(recs, "prometheus-kube", [{ alertname: "BlackboxProbeFailed" }], 1_000)?.at).toBe(3_000);
    expect(firstPage(recs, "prometheus-tuned", [{ alertname: "BlackboxProbeFailed" }], 1_000)?.at).toBe(2_500);
    expect(firstPage(recs, "prober", [{ kind: "kafka-broker-down" }], 1_000)?.at).toBe(4_000);
  });
  it("matches on every field given (a subject narrows it) and is null when nothing matched", () => {
    expect(firstPage(recs, "prometheus-kube", [{ alertname: "PrometheusTargetMissing", subject: "ingest-api" }], 0)).toBeNull();
    expect(firstPage(recs, "prometheus-kube", [{ alertname: "PrometheusTargetMissing", subject: "event-processor-service" }], 0)?.at).toBe(
      2_000,
    );
    expect(firstPage(recs, "prober", [{ kind: "service-oom" }], 0)).toBeNull();
  });
});

describe("alertTimings: which of a fault's alerts fired and which were notified", () => {
  const recs = [
    ...pageRecords(hook(31_000, { alertname: "BlackboxProbeFailed", pipeline: "prometheus-tuned", subject: "kafka-3" })),
    ...pageRecords(hook(45_000, { alertname: "UnderReplicatedPartitions", pipeline: "prometheus-tuned", subject: "kafka" })),
    ...pageRecords(hook(47_000, { alertname: "UnderReplicatedPartitions", pipeline: "prometheus-kube", subject: "kafka" })),
  ];
  const plan = [{ alertname: "BlackboxProbeFailed" }, { alertname: "UnderReplicatedPartitions" }, { alertname: "ScrapeProblem" }];
  it("each alert of the plan: fired from the poll's map, notified from its own pipeline's first page after injection", () => {
    const fired = new Map([
      ["BlackboxProbeFailed", 1_500],
      ["UnderReplicatedPartitions", 15_000],
      ["ScrapeProblem", 16_000],
    ]);
    expect(alertTimings(recs, "prometheus-tuned", plan, 1_000, fired)).toEqual([
      { alert: "BlackboxProbeFailed", firedSeconds: 0.5, notifiedSeconds: 30 },
      { alert: "UnderReplicatedPartitions", firedSeconds: 14, notifiedSeconds: 44 },
      { alert: "ScrapeProblem", firedSeconds: 15, notifiedSeconds: null },
    ]);
    // a subject narrows the match and names it
    const oom = alertTimings(
      recs,
      "prometheus-tuned",
      [{ alertname: "PrometheusTargetMissing", subject: "stats-api" }],
      0,
      new Map([["PrometheusTargetMissing{stats-api}", 2_000]]),
    );
    expect(oom).toEqual([{ alert: "PrometheusTargetMissing{stats-api}", firedSeconds: 2, notifiedSeconds: null }]);
  });
  it("prints fired but never notified apart from never fired", () => {
    const run: FaultRun = {
      fault: "oom",
      run: 1,
      injectedAt: "",
      shownSeconds: 1,
      classifiedSeconds: 2,
      page: {
        prober: { seconds: 2, alert: null, receiver: null },
        "prometheus-kube": { seconds: null, alert: null, receiver: null },
        "prometheus-tuned": { seconds: 3, alert: null, receiver: null },
      },
      alerts: {
        "prometheus-tuned": [
          { alert: "ContainerOomKiller", firedSeconds: null, notifiedSeconds: null },
          { alert: "DockerContainerOomKilled", firedSeconds: 4.25, notifiedSeconds: null },
          { alert: "PrometheusTargetMissing{stats-api}", firedSeconds: 2, notifiedSeconds: 3 },
        ],
      },
      notes: [],
    };
    expect(renderAlertTimings(run)).toEqual([
      "alerts: oom run 1 prometheus-tuned: ContainerOomKiller never fired; DockerContainerOomKilled fired 4.3 s, never notified; PrometheusTargetMissing{stats-api} fired 2.0 s, notified 3.0 s",
    ]);
  });
});

describe("summaries", () => {
  it("median, nearest-rank p95, min and max of the detected runs; nulls count as not detected", () => {
    expect(summarize([3, 1, 2])).toEqual({ runs: 3, detected: 3, median: 2, p95: 3, min: 1, max: 3 });
    expect(summarize([4, 1, 3, 2])).toMatchObject({ median: 2.5, p95: 4 });
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(summarize(twenty).p95).toBe(19);
    expect(summarize([null, 5, null])).toEqual({ runs: 3, detected: 1, median: 5, p95: 5, min: 5, max: 5 });
    expect(summarize([null, null])).toEqual({ runs: 2, detected: 0, median: null, p95: null, min: null, max: null });
  });

  it("prints 'not detected' for a fault never paged, never a time, and says how many runs missed", () => {
    expect(formatSummary(summarize([null, null]))).toBe("not detected");
    expect(formatSummary(summarize([]))).toBe("not detected");
    expect(formatSummary(summarize([12.34]))).toBe("12.3 s");
    expect(formatSummary(summarize([10, 14, 12]))).toBe("12.0 s (10.0–14.0)");
    expect(formatSummary(summarize([10, null, 14]))).toBe("2/3: 12.0 s (10.0–14.0)");
  });

  it("the floor is when the system showed the fault plus one interval, none when it never showed", () => {
    expect(floorSeconds(0.4, 5)).toBe(5.4);
    expect(floorSeconds(null, 5)).toBeNull();
  });

  it("a fault's row: its own runs only, each pipeline's column from its own pages", () => {
    const run = (fault: string, prober: number | null, kube: number | null, shown: number | null): FaultRun => ({
      fault,
      run: 1,
      injectedAt: "",
      shownSeconds: shown,
      classifiedSeconds: prober === null ? null : prober - 1,
      page: {
        prober: { seconds: prober, alert: null, receiver: null },
        "prometheus-kube": { seconds: kube, alert: null, receiver: null },
        "prometheus-tuned": { seconds: null, alert: null, receiver: null },
      },
      notes: [],
    });
    const runs = [run("oom", 8, 95, 1), run("oom", 10, null, 2), run("lag", 50, 50, 5)];
    const s = summarizeFault("oom", "goal", runs, { prober: 5, kube: 30 });
    expect(s.page.prober).toMatchObject({ runs: 2, detected: 2, median: 9 });
    expect(s.page["prometheus-kube"]).toMatchObject({ runs: 2, detected: 1, median: 95 });
    expect(s.page["prometheus-tuned"].detected).toBe(0);
    expect(s.floorProberSeconds.median).toBe(6.5);
    expect(s.floorKubeSeconds.median).toBe(31.5);
    const table = renderTable([s]);
    expect(table).toContain("not detected");
    expect(table.split("\n")[2]).toMatch(
      /^oom +\| 2 +\| 6\.5 s \(6\.0–7\.0\) +\| 8\.0 s \(7\.0–9\.0\) +\| 9\.0 s \(8\.0–10\.0\) +\| 10\.0 s +\| not detected +\| 1\/2: 95\.0 s +\| goal$/,
    );
  });
});
