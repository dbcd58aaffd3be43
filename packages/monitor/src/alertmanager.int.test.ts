/**
 * gm-prober's Alertmanager sink and reader against a real Alertmanager (Debian's
 * /usr/bin/prometheus-alertmanager) running the committed routing of deploy/alertmanager/alertmanager.yml
 * through the harness of alertmanager-run.ts: the receivers (PagerDuty, Slack, ticket webhook) point at
 * loopback stand-ins, the group timings are shortened to 1s and business hours are rendered to include
 * now; routes, matchers and inhibit rules are the file's. (alertmanager-routing.int.test.ts checks the
 * routing itself with the shipped timings and business hours.)
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Incident } from "@gm/runbook/incident";
import { freePort, waitFor as waitForWithin } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classify } from "@gm/runbook/classify";
import { defaultPolicy } from "@gm/runbook/policy";
import { emptySnapshot } from "@gm/runbook/snapshot";
import { createAlertmanagerReader } from "@gm/signals/external-alerts";
import { createAlertmanagerSink } from "./alertmanager.js";
import { COMMITTED_ROUTING, type RunningAlertmanager, renderTimeInterval, startAlertmanager } from "./alertmanager-run.js";

const AMTOOL_BIN = process.env["AMTOOL_BIN"] ?? "/usr/bin/amtool";
const DEADLINE_MS = 60_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = DEADLINE_MS) =>
  waitForWithin(what, check, timeoutMs, 200);
const execFileAsync = promisify(execFile);

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: "active" | "suppressed" | "unprocessed"; inhibitedBy: string[]; silencedBy: string[] };
  receivers: { name: string }[];
}

/** Group timings shortened to 1s (routes and matchers untouched), business hours around now. */
function shortened(config: Record<string, unknown>): void {
  const shorten = (route: Record<string, unknown>) => {
    for (const field of ["group_wait", "group_interval"]) if (field in route) route[field] = "1s";
    for (const child of (route["routes"] as Record<string, unknown>[] | undefined) ?? []) shorten(child);
  };
  shorten(config["route"] as Record<string, unknown>);
  renderTimeInterval(config, "business-hours", "inside");
}

function incident(kind: Incident["kind"], severity: Incident["severity"], subject: string, escalation: Incident["escalation"]): Incident {
  const responseMinutes = { P0: 5, P1: 15, P2: 60, P3: 240 }[severity];
  return {
    kind,
    severity,
    subject,
    summary: `${kind} on ${subject}`,
    evidence: [{ signal: `test.${kind}`, observed: 1, threshold: "> 0" }],
    responseMinutes,
    respondBy: new Date(Date.now() + responseMinutes * 60_000).toISOString(),
    escalation,
    steps: [],
  };
}

describe("createAlertmanagerSink against a real Alertmanager", { timeout: 120_000 }, () => {
  let am: RunningAlertmanager;
  let amUrl: string;

  const down = incident("service-down", "P0", "ingest-api", "page");
  const errors = incident("high-error-rate", "P1", "ingest-api", "page");
  const lag = incident("high-consumer-lag", "P2", "event-processor-service", "ticket-and-notify");
  const oom = incident("service-oom", "P3", "stats-api", "ticket");

  const apiAlerts = async (): Promise<ApiAlert[]> => {
    const res = await fetch(`${amUrl}/api/v2/alerts`);
    if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
    return (await res.json()) as ApiAlert[];
  };
  const notified = (vendor: string, status: "firing" | "resolved", kind: string) =>
    am.notifications.find((n) => n.vendor === vendor && n.alerts.some((a) => a.status === status && a.labels["kind"] === kind));

  beforeAll(async () => {
    am = await startAlertmanager({ edit: shortened });
    amUrl = am.url;
  }, 90_000);

  afterAll(async () => {
    await am?.stop();
  }, 30_000);

  it("the committed config passes amtool check-config", async () => {
    const { stdout } = await execFileAsync(AMTOOL_BIN, ["check-config", COMMITTED_ROUTING]);
    expect(stdout).toContain("SUCCESS");
  });

  it("routes P0 to the page receiver and P2 to ticket-and-notify, inhibits the P1 under the P0, and resolves", async () => {
    const sink = createAlertmanagerSink({ urls: [amUrl], timeoutMs: 5_000, generatorURL: "http://127.0.0.1:9464/status" });
    const sent = await sink.send([down, errors, lag, oom], []);
    expect(sent).toEqual({ ok: true, alerts: 4, results: [{ url: amUrl, ok: true, status: 200 }] });

    // Listed with the right labels; the P1 on the same subject as the P0 service-down is inhibited.
    const listed = await waitFor("4 alerts, the P1 inhibited", async () => {
      const alerts = await apiAlerts();
      const p1 = alerts.find((a) => a.labels["severity"] === "P1");
      return alerts.length === 4 && p1?.status.state === "suppressed" ? alerts : undefined;
    });
    const byName = new Map(listed.map((a) => [a.labels["alertname"], a]));
    expect(byName.get("GameMetricsServiceDown")).toMatchObject({
      labels: { kind: "service-down", severity: "P0", subject: "ingest-api", escalation: "page", service: "ingest-api" },
      annotations: {
        summary: "service-down on ingest-api",
        runbook: "docs/runbook.md#service-down-service-down",
        respond_by: down.respondBy,
      },
      status: { state: "active" },
      receivers: [{ name: "oncall-page" }],
    });
    expect(byName.get("GameMetricsHighErrorRate")?.status.inhibitedBy).toHaveLength(1);
    expect(byName.get("GameMetricsHighConsumerLag")).toMatchObject({
      labels: { kind: "high-consumer-lag", severity: "P2", subject: "event-processor-service", escalation: "ticket-and-notify" },
      receivers: [{ name: "team-ticket-notify" }],
    });
    expect(byName.get("GameMetricsServiceOom")).toMatchObject({
      labels: { kind: "service-oom", severity: "P3", subject: "stats-api", escalation: "ticket" },
      receivers: [{ name: "ticket-business-hours" }],
    });
    expect(JSON.parse(byName.get("GameMetricsServiceDown")?.annotations["evidence"] ?? "null")).toEqual(down.evidence);

    // Each severity reaches its receivers: the P0 pages PagerDuty, the P2 reaches Slack and the ticket
    // webhook, the P3 the ticket webhook (business hours rendered around now).
    const page = await waitFor("the P0 page", () => notified("pagerduty", "firing", "service-down"));
    expect(page.receiver).toBe("oncall-page");
    const slack = await waitFor("the P2 on Slack", () => notified("slack", "firing", "high-consumer-lag"));
    expect(slack.receiver).toBe("team-ticket-notify");
    const ticketNotify = await waitFor("the P2 ticket", () => notified("webhook", "firing", "high-consumer-lag"));
    expect(ticketNotify.receiver).toBe("team-ticket-notify");
    const ticket = await waitFor("the P3 ticket", () => notified("webhook", "firing", "service-oom"));
    expect(ticket.receiver).toBe("ticket-business-hours");
    expect(am.notifications.some((n) => n.alerts.some((a) => a.labels["kind"] === "high-error-rate"))).toBe(false);

    // Resolving the P0 (while re-sending the others) ends it now, notifies the page receiver and lifts the inhibition.
    const before = Date.now();
    const resolved = await sink.send([errors, lag, oom], [down]);
    expect(resolved.ok).toBe(true);
    const resolvedCall = await waitFor("the P0 resolved on the page receiver", () => notified("pagerduty", "resolved", "service-down"));
    expect(resolvedCall.at).toBeGreaterThanOrEqual(before);
    expect(resolvedCall.body).toMatchObject({ event_action: "resolve" });
    await waitFor("the P0 gone from the active alerts and the P1 active", async () => {
      const alerts = await apiAlerts();
      const p1 = alerts.find((a) => a.labels["severity"] === "P1");
      return !alerts.some((a) => a.labels["severity"] === "P0") && p1?.status.state === "active" ? true : undefined;
    });
    await waitFor("the P1 paged once no longer inhibited", () => notified("pagerduty", "firing", "high-error-rate"));
  });

  it("reads alerts raised elsewhere: a security alert is P0 security-exposure, any other a P3 incident with its labels; skips the prober's own", async () => {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { labels: { alertname: "WafIntrusionDetected", incident: "security", severity: "critical" }, annotations: {} },
        { labels: { alertname: "NodeDiskFilling", team: "infra", instance: "node-3", severity: "warning" }, annotations: {} },
      ]),
    });
    expect(res.status).toBe(200);
    const read = createAlertmanagerReader({ urls: ["http://127.0.0.1:1", amUrl], timeoutMs: 2_000 });
    const external = await waitFor("the external alerts", async () => {
      const list = await read();
      return list.some((a) => a.name === "WafIntrusionDetected") && list.some((a) => a.name === "NodeDiskFilling") ? list : undefined;
    });
    expect(external.find((a) => a.name === "WafIntrusionDetected")).toMatchObject({ security: true });
    expect(external.find((a) => a.name === "NodeDiskFilling")).toMatchObject({
      security: false,
      labels: { alertname: "NodeDiskFilling", team: "infra", instance: "node-3", severity: "warning" },
    });
    expect(external.every((a) => a.labels["source"] !== "gm-prober")).toBe(true);
    const snapshot = { ...emptySnapshot(new Date().toISOString()), externalAlerts: external };
    const incidents = classify(snapshot, defaultPolicy);
    expect(incidents).toContainEqual(expect.objectContaining({ kind: "security-exposure", severity: "P0" }));
    expect(incidents.filter((i) => i.kind === "external-alert")).toEqual([
      expect.objectContaining({
        severity: "P3",
        subject: "NodeDiskFilling",
        escalation: "ticket",
        evidence: [
          expect.objectContaining({ observed: '{alertname="NodeDiskFilling", instance="node-3", severity="warning", team="infra"}' }),
        ],
      }),
    ]);
  });

  it("reports an unreachable Alertmanager as an error result, still delivering to the live one", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const sink = createAlertmanagerSink({ urls: [amUrl, dead], timeoutMs: 2_000, generatorURL: "http://127.0.0.1:9464/status" });
    const report = await sink.send([lag], []);
    expect(report.ok).toBe(false);
    expect(report.results[0]).toEqual({ url: amUrl, ok: true, status: 200 });
    expect(report.results[1]).toMatchObject({ url: dead, ok: false });
    expect(report.results[1]?.error).toContain(`POST ${dead}/api/v2/alerts`);
    expect(report.results[1]?.error).toContain("ECONNREFUSED");
  });
});
