/**
 * Against a real Alertmanager (Debian's /usr/bin/prometheus-alertmanager) running the committed routing
 * of deploy/alertmanager/alertmanager.yml: only the receiver URLs (→ a loopback webhook server in this
 * test) and the group timings (→ 1s) are replaced; routes, matchers and inhibit rules are the file's.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Incident } from "@gm/runbook/incident";
import { freePort, waitFor as waitForWithin } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { classify } from "@gm/runbook/classify";
import { defaultPolicy } from "@gm/runbook/policy";
import { emptySnapshot } from "@gm/runbook/snapshot";
import { createAlertmanagerReader } from "@gm/signals/external-alerts";
import { createAlertmanagerSink } from "./alertmanager.js";

const ALERTMANAGER_BIN = process.env["ALERTMANAGER_BIN"] ?? "/usr/bin/prometheus-alertmanager";
const AMTOOL_BIN = process.env["AMTOOL_BIN"] ?? "/usr/bin/amtool";
const DEPLOY_CONFIG = fileURLToPath(new URL("../../../deploy/alertmanager/alertmanager.yml", import.meta.url));
const DEADLINE_MS = 60_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = DEADLINE_MS) =>
  waitForWithin(what, check, timeoutMs, 200);
const execFileAsync = promisify(execFile);

interface WebhookAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}
interface WebhookCall {
  path: string;
  body: { receiver: string; status: string; alerts: WebhookAlert[] };
}
interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: "active" | "suppressed" | "unprocessed"; inhibitedBy: string[]; silencedBy: string[] };
  receivers: { name: string }[];
}

/** The deploy config with receivers pointed at `webhookOrigin` (same paths) and group timings shortened. */
function testConfig(deployYaml: string, webhookOrigin: string): string {
  const config = parse(deployYaml) as {
    route: Record<string, unknown>;
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  const shorten = (route: Record<string, unknown>) => {
    for (const field of ["group_wait", "group_interval"]) if (field in route) route[field] = "1s";
    for (const child of (route["routes"] as Record<string, unknown>[] | undefined) ?? []) shorten(child);
  };
  shorten(config.route);
  for (const receiver of config.receivers) {
    for (const hook of receiver.webhook_configs ?? []) hook.url = new URL(new URL(hook.url).pathname, webhookOrigin).href;
  }
  return stringify(config);
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
  let dir: string;
  let webhook: Server;
  let alertmanager: ChildProcess | undefined;
  let amUrl: string;
  const calls: WebhookCall[] = [];
  const output: string[] = [];

  const down = incident("service-down", "P0", "ingest-api", "page");
  const errors = incident("high-error-rate", "P1", "ingest-api", "page");
  const lag = incident("high-consumer-lag", "P2", "event-processor-service", "ticket-and-notify");
  const oom = incident("service-oom", "P3", "stats-api", "ticket");

  const apiAlerts = async (): Promise<ApiAlert[]> => {
    const res = await fetch(`${amUrl}/api/v2/alerts`);
    if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
    return (await res.json()) as ApiAlert[];
  };
  const notified = (path: string, status: "firing" | "resolved", alertname: string) =>
    calls.find((c) => c.path === path && c.body.alerts.some((a) => a.status === status && a.labels["alertname"] === alertname));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gm-prober-am-"));
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        calls.push({ path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString()) as WebhookCall["body"] });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    const webhookOrigin = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;

    const configFile = join(dir, "alertmanager.yml");
    await writeFile(configFile, testConfig(await readFile(DEPLOY_CONFIG, "utf8"), webhookOrigin));
    await execFileAsync(AMTOOL_BIN, ["check-config", configFile]);

    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    alertmanager = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    alertmanager.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
    alertmanager.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
    const exited = new Promise<never>((_, reject) =>
      alertmanager?.once("exit", (code) => reject(new Error(`alertmanager exited with ${code}:\n${output.join("").slice(-2000)}`))),
    );
    exited.catch(() => {});
    await Promise.race([exited, waitFor("Alertmanager ready", async () => ((await fetch(`${amUrl}/-/ready`)).ok ? true : undefined))]);
  }, 90_000);

  afterAll(async () => {
    if (alertmanager && alertmanager.exitCode === null && alertmanager.signalCode === null) {
      const child = alertmanager;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(killer);
    }
    await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it("the committed config passes amtool check-config", async () => {
    const { stdout } = await execFileAsync(AMTOOL_BIN, ["check-config", DEPLOY_CONFIG]);
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

    // The webhooks receive each severity on its receiver's path.
    const page = await waitFor("the P0 page", () => notified("/page", "firing", "GameMetricsServiceDown"));
    expect(page.body.receiver).toBe("oncall-page");
    const ticketNotify = await waitFor("the P2 ticket-and-notify", () =>
      notified("/ticket-notify", "firing", "GameMetricsHighConsumerLag"),
    );
    expect(ticketNotify.body.receiver).toBe("team-ticket-notify");
    const ticket = await waitFor("the P3 ticket", () => notified("/ticket", "firing", "GameMetricsServiceOom"));
    expect(ticket.body.receiver).toBe("ticket-business-hours");
    expect(calls.some((c) => c.body.alerts.some((a) => a.labels["alertname"] === "GameMetricsHighErrorRate"))).toBe(false);

    // Resolving the P0 (while re-sending the others) ends it now, notifies the page receiver and lifts the inhibition.
    const before = Date.now();
    const resolved = await sink.send([errors, lag, oom], [down]);
    expect(resolved.ok).toBe(true);
    const resolvedCall = await waitFor("the P0 resolved on the page receiver", () =>
      notified("/page", "resolved", "GameMetricsServiceDown"),
    );
    const endedAt = Date.parse(resolvedCall.body.alerts.find((a) => a.labels["alertname"] === "GameMetricsServiceDown")?.endsAt ?? "");
    expect(endedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(endedAt).toBeLessThanOrEqual(Date.now());
    await waitFor("the P0 gone from the active alerts and the P1 active", async () => {
      const alerts = await apiAlerts();
      const p1 = alerts.find((a) => a.labels["severity"] === "P1");
      return !alerts.some((a) => a.labels["severity"] === "P0") && p1?.status.state === "active" ? true : undefined;
    });
    await waitFor("the P1 paged once no longer inhibited", () => notified("/page", "firing", "GameMetricsHighErrorRate"));
  });

  it("reads a security alert raised elsewhere (for the P0 security rule) and skips the prober's own alerts", async () => {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { labels: { alertname: "WafIntrusionDetected", incident: "security", severity: "critical" }, annotations: {} },
      ]),
    });
    expect(res.status).toBe(200);
    const read = createAlertmanagerReader({ urls: ["http://127.0.0.1:1", amUrl], timeoutMs: 2_000 });
    const external = await waitFor("the external alert", async () => {
      const list = await read();
      return list.some((a) => a.name === "WafIntrusionDetected") ? list : undefined;
    });
    expect(external.find((a) => a.name === "WafIntrusionDetected")).toMatchObject({ security: true });
    expect(external.every((a) => a.labels["source"] !== "gm-prober")).toBe(true);
    const snapshot = { ...emptySnapshot(new Date().toISOString()), externalAlerts: external };
    expect(classify(snapshot, defaultPolicy)).toContainEqual(expect.objectContaining({ kind: "security-exposure", severity: "P0" }));
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
