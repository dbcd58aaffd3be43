/**
 * The recording side of `npm run bench:page` against a real Alertmanager (Debian's) with the committed
 * routing and the bench's edits (benchRouting): alerts posted as gm-prober posts them (no `pipeline`
 * label) and as a Prometheus profile's carry (its external label) come back from the PagerDuty and ticket
 * stand-ins labelled with the right pipeline, and a second pipeline's alert of the same name and subject
 * gets its own notification rather than waiting in the first one's group.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerBinary, type RunningAlertmanager, startAlertmanager } from "@gm/monitor/alertmanager-run";
import { benchRouting, firstPage, type PageRecord, pageRecords, type Pipeline } from "./page-timing.js";

const bin = alertmanagerBinary();

async function post(url: string, labels: Record<string, string>): Promise<void> {
  const r = await fetch(`${url}/api/v2/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([{ labels, annotations: { summary: "bench receiver test" }, startsAt: new Date().toISOString() }]),
  });
  if (!r.ok) throw new Error(`alertmanager refused the alert: ${r.status} ${await r.text()}`);
}

async function waitForPage(am: RunningAlertmanager, pipeline: Pipeline, alertname: string, after: number): Promise<PageRecord> {
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    const hit = firstPage(am.notifications.flatMap(pageRecords), pipeline, [{ alertname }], after);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `no page of ${pipeline} for ${alertname}; notifications: ${JSON.stringify(am.notifications.map((n) => n.body)).slice(0, 2000)}`,
  );
}

describe.skipIf(!bin)("bench:page's receiver on a real Alertmanager", { timeout: 90_000 }, () => {
  let am: RunningAlertmanager;
  beforeAll(async () => {
    am = await startAlertmanager({ edit: (c) => benchRouting(c) });
  });
  afterAll(async () => {
    await am?.stop();
  });

  it("labels each P0 page (PagerDuty) with the pipeline that sent it, separately for the same alert name and subject", async () => {
    const t0 = Date.now();
    const labels = { alertname: "PrometheusTargetMissing", severity: "P0", kind: "service-down", subject: "ingest-api" };
    await post(am.url, { ...labels, pipeline: "prometheus-tuned" });
    const tuned = await waitForPage(am, "prometheus-tuned", "PrometheusTargetMissing", t0);
    expect(tuned.receiver).toBe("oncall-page");
    expect(tuned.labels).toMatchObject(labels);
    // The same alert from the other profile after the first group was notified: its own group, its own page.
    const t1 = Date.now();
    await post(am.url, { ...labels, pipeline: "prometheus-kube" });
    const kube = await waitForPage(am, "prometheus-kube", "PrometheusTargetMissing", t1);
    expect(kube.at).toBeGreaterThanOrEqual(t1);
    // gm-prober's alert has no pipeline label
    const t2 = Date.now();
    await post(am.url, { alertname: "GameMetricsServiceDown", severity: "P0", kind: "service-down", subject: "ingest-api" });
    const prober = await waitForPage(am, "prober", "GameMetricsServiceDown", t2);
    expect(prober.labels["kind"]).toBe("service-down");
    expect(prober.pipeline).toBe("prober");
  });

  it("records a P2 page from the ticket webhook (every label), not from Slack (title only)", async () => {
    const t0 = Date.now();
    await post(am.url, {
      alertname: "BlackboxProbeFailed",
      severity: "P2",
      kind: "kafka-broker-down",
      subject: "kafka-3",
      pipeline: "prometheus-kube",
    });
    // P2's group_wait is 30 s in the committed routing
    const deadline = Date.now() + 60_000;
    let hit: PageRecord | null = null;
    while (!hit && Date.now() < deadline) {
      hit = firstPage(am.notifications.flatMap(pageRecords), "prometheus-kube", [{ alertname: "BlackboxProbeFailed" }], t0);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(hit?.vendor).toBe("webhook");
    expect(hit?.receiver).toBe("team-ticket-notify");
    expect(am.notifications.some((n) => n.vendor === "slack" && n.at >= t0)).toBe(true);
  });
});
