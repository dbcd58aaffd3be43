/**
 * The escalation people get, against real Alertmanagers (Debian's /usr/bin/prometheus-alertmanager)
 * running the shipped deploy/alertmanager/alertmanager.yml: its receivers (PagerDuty, Slack, the ticket
 * webhook) point at stand-ins on loopback and read their secrets from files holding a test secret
 * (startAlertmanager → renderForStandIns); routes, matchers, group timings and inhibit rules are the
 * file's. The alerts come from gm-prober's own sink, so the labels are the ones production sends.
 *
 * Business hours are made deterministic by rendering only the `business-hours` interval: for "outside",
 * its `location` is a fixed-offset zone in which it is now 03:xx (the shipped weekdays and times kept);
 * for "inside", a zone in which it is now 12:xx, and the weekdays widened to today's when today is a
 * weekend there. Durations are printed, never asserted.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Incident } from "@gm/runbook/incident";
import { waitFor as waitForWithin } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertmanagerSink } from "./alertmanager.js";
import {
  COMMITTED_ROUTING,
  type RunningAlertmanager,
  alertmanagerBinary,
  renderForStandIns,
  renderTimeInterval,
  startAlertmanager,
} from "./alertmanager-run.js";

const AMTOOL_BIN = process.env["AMTOOL_BIN"] ?? "/usr/bin/amtool";
const execFileAsync = promisify(execFile);
const SECRET = "pd-routing-key-for-the-test";
// longer than the longest shipped group_wait (P3: 1m) plus Alertmanager's flush
const DEADLINE_MS = 120_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined> | T | undefined) => waitForWithin(what, check, DEADLINE_MS, 200);

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

describe.skipIf(!alertmanagerBinary())("the shipped escalation routing against a real Alertmanager", { timeout: 240_000 }, () => {
  let now: RunningAlertmanager;
  let outside: RunningAlertmanager;
  let inside: RunningAlertmanager;
  let outsideZone = "";
  let insideZone = "";

  beforeAll(async () => {
    [now, outside, inside] = await Promise.all([
      startAlertmanager({ secret: SECRET }),
      startAlertmanager({
        secret: SECRET,
        logLevel: "debug",
        edit: (config) => {
          outsideZone = renderTimeInterval(config, "business-hours", "outside");
        },
      }),
      startAlertmanager({
        secret: SECRET,
        edit: (config) => {
          insideZone = renderTimeInterval(config, "business-hours", "inside");
        },
      }),
    ]);
    console.log(`business hours rendered: outside in ${outsideZone}, inside in ${insideZone}`);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([now?.stop(), outside?.stop(), inside?.stop()]);
  }, 30_000);

  const sinkFor = (am: RunningAlertmanager) =>
    createAlertmanagerSink({ urls: [am.url], timeoutMs: 5_000, generatorURL: "http://127.0.0.1:9464/status" });

  it("amtool check-config accepts the shipped file and the file rendered for the stand-ins", async () => {
    const shipped = await execFileAsync(AMTOOL_BIN, ["check-config", COMMITTED_ROUTING]);
    expect(shipped.stdout).toContain("SUCCESS");
    const dir = await mkdtemp(join(tmpdir(), "gm-am-check-"));
    try {
      const rendered = renderForStandIns(await readFile(COMMITTED_ROUTING, "utf8"), { origin: "http://127.0.0.1:1", dir });
      for (const [path, content] of rendered.files) await writeFile(path, content);
      await writeFile(join(dir, "alertmanager.yml"), rendered.yaml);
      const out = await execFileAsync(AMTOOL_BIN, ["check-config", join(dir, "alertmanager.yml")]);
      expect(out.stdout).toContain("SUCCESS");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a P0 pages PagerDuty at once (group_wait 0s, no business hours), with the routing key from its file", async () => {
    const sentAt = Date.now();
    const sent = await sinkFor(now).send([incident("service-down", "P0", "ingest-api", "page")], []);
    expect(sent.ok).toBe(true);
    const page = await waitFor("the P0 at the PagerDuty stand-in", () => now.firstFiring("service-down", "P0", sentAt) ?? undefined);
    console.log(`P0 reached PagerDuty (${page.receiver}) after ${page.at - sentAt} ms`);
    expect(page).toMatchObject({ vendor: "pagerduty", receiver: "oncall-page", path: "/pagerduty/oncall-page" });
    expect(page.body).toMatchObject({
      routing_key: SECRET,
      event_action: "trigger",
      payload: {
        severity: "critical",
        custom_details: {
          kind: "service-down",
          severity: "P0",
          subject: "ingest-api",
          runbook: "docs/runbook.md#service-down-service-down",
        },
      },
    });
    // paged, and nothing else: no Slack, no ticket for a P0
    expect(now.notifications.filter((n) => n.alerts.some((a) => a.labels["severity"] === "P0")).map((n) => n.vendor)).toEqual([
      "pagerduty",
    ]);
  });

  it("a P2 reaches both Slack and the ticket webhook (with the ticket token from its file)", async () => {
    const sentAt = Date.now();
    expect((await sinkFor(now).send([incident("high-consumer-lag", "P2", "event-processor-service", "ticket-and-notify")], [])).ok).toBe(
      true,
    );
    const arrived = (vendor: string) =>
      now.notifications.find(
        (n) =>
          n.at >= sentAt && n.vendor === vendor && n.alerts.some((a) => a.status === "firing" && a.labels["kind"] === "high-consumer-lag"),
      );
    const slack = await waitFor("the P2 at the Slack stand-in", () => arrived("slack"));
    const ticket = await waitFor("the P2 at the ticket webhook", () => arrived("webhook"));
    console.log(`P2 reached Slack after ${slack.at - sentAt} ms and the ticket webhook after ${ticket.at - sentAt} ms`);
    expect(slack).toMatchObject({ receiver: "team-ticket-notify", path: `/slack/team-ticket-notify/${SECRET}` });
    expect(slack.body).toMatchObject({ channel: "#gamemetrics-oncall" });
    expect(ticket).toMatchObject({ receiver: "team-ticket-notify", path: "/alertmanager", authorization: `Bearer ${SECRET}` });
    expect(ticket.alerts[0]?.labels).toMatchObject({ severity: "P2", escalation: "ticket-and-notify", subject: "event-processor-service" });
  });

  it("a P3 outside business hours waits, and inside business hours is ticketed", async () => {
    const sentAt = Date.now();
    const p3 = incident("service-oom", "P3", "stats-api", "ticket");
    const [out, inn] = await Promise.all([sinkFor(outside).send([p3], []), sinkFor(inside).send([p3], [])]);
    expect(out.ok && inn.ok).toBe(true);

    const ticket = await waitFor("the P3 ticket inside business hours", () => inside.firstFiring("service-oom", "P3", sentAt) ?? undefined);
    console.log(`P3 inside business hours (${insideZone}) ticketed after ${ticket.at - sentAt} ms (shipped group_wait 1m)`);
    expect(ticket).toMatchObject({ vendor: "webhook", receiver: "ticket-business-hours", authorization: `Bearer ${SECRET}` });

    // Outside: Alertmanager flushed the group and muted it (its debug log says so), and nothing arrived
    // (a notification that did arrive ends the wait too, and fails below).
    await waitFor("the outside Alertmanager to mute the P3 group (or notify)", () =>
      outside.output().includes("Notifications not sent, route is not within active time") || outside.notifications.length > 0
        ? true
        : undefined,
    );
    console.log(`P3 outside business hours (${outsideZone}): muted at its flush after ${Date.now() - sentAt} ms, still waiting`);
    expect(outside.notifications).toEqual([]);
    const listed = (await (await fetch(`${outside.url}/api/v2/alerts`)).json()) as {
      labels: Record<string, string>;
      receivers: { name: string }[];
    }[];
    expect(listed).toMatchObject([{ labels: { kind: "service-oom", severity: "P3" }, receivers: [{ name: "ticket-business-hours" }] }]);
  });
});
