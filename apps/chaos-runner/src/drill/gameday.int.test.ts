/**
 * CI regression of the runbook automation: every drill in scenarios/ end to end on one real stack,
 * observed by gm-prober's own round at its default interval, alerting a real Alertmanager with the
 * committed routing; under the full verdict (pages, hypothesis, steps, recovery, integrity, clean-up).
 * Then no configured secret — the admin token, both PostgreSQL passwords, the password of the
 * Alertmanager the prober alerts (behind basic auth here) and of its receivers' secret files — is in anything the
 * game day wrote: the reports and JUnit (written as `gm-chaos drill --report-dir` writes them), the
 * drill's progress and --json lines, the prober's log lines and /metrics, `gm-chaos stack status` (text
 * and --json) and every container's log.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAlertmanager, startAlertmanager } from "@gm/monitor/alertmanager-run";
import { toJUnit } from "@gm/report/junit";
import type { DrillReport } from "@gm/report/schema";
import { writeReportFiles } from "@gm/report/write";
import { describeLeaks, findLeaks, type Secret } from "@gm/runbook/leaks";
import { redactUrl } from "@gm/runbook/redact";
import { createDockerPlatform } from "@gm/platform/docker";
import { startStack, type Stack } from "@gm/stack/stack";
import { drillPolicy } from "../commands/drill.js";
import { namedStackSecrets } from "../state.js";
import { containerLogArtifacts, drillOutputArtifacts, fileArtifacts, lineRecorder, stackStatusArtifacts } from "./artifacts.js";
import type { DrillProgress } from "./lifecycle.js";
import { defaultScenariosDir, loadScenarios } from "./load-scenarios.js";
import type { Observer } from "./observe.js";
import { runDrill, startDrillObserver } from "./run.js";

const policy = drillPolicy(undefined, defaultScenariosDir());
const scenarios = loadScenarios(["all"], defaultScenariosDir(), policy);

describe("game day: every drill passes", { timeout: 900_000 }, () => {
  let stack: Stack;
  let alertmanager: RunningAlertmanager;
  // one prober for the game day, running throughout as production's does
  let observer: Observer;
  // what the game day writes, collected for the secrets check at the end
  const work = mkdtempSync(join(tmpdir(), "gm-gameday-"));
  const reportDir = join(work, "reports");
  const reports: DrillReport[] = [];
  const progress: DrillProgress[] = [];
  const proberLog = lineRecorder("prober log lines");
  // The prober alerts an Alertmanager behind basic auth and the routing's receivers read a password from
  // their secret files (PagerDuty routing key, Slack URL, ticket token): both are configured secrets too.
  const alertmanagerPassword = randomBytes(12).toString("hex");
  const receiverPassword = randomBytes(12).toString("hex");

  beforeAll(async () => {
    let started: RunningAlertmanager;
    [stack, started] = await Promise.all([
      startStack({ brokers: 3, id: `t-gd-${Date.now().toString(36)}` }),
      startAlertmanager({ secret: receiverPassword }),
    ]);
    alertmanager = { ...started, url: started.url.replace("http://", `http://gm-prober:${alertmanagerPassword}@`), stop: started.stop };
    observer = await startDrillObserver({ endpoints: stack.endpoints, policy, alertmanager, log: proberLog.log });
  }, 300_000);

  afterAll(async () => {
    await observer?.stop();
    await Promise.all([stack?.stop(), alertmanager?.stop()]);
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  /**
   * A failed drill's evidence, printed before the assertions: the test's stack is removed afterwards, so
   * CI's log is all that is left. Every step's whole output (the progress shows the first line), each
   * container's state and the tail of its log.
   */
  async function explainFailure(name: string, report: DrillReport) {
    const lines = [`${name}: FAILED: ${report.reasons.join("; ")}`];
    for (const st of report.steps) lines.push(`-- step ${st.id} ${st.ok ? "ok" : "NOT ok"}`, ...st.output.map((l) => `   ${l}`));
    const platform = createDockerPlatform({ stackId: stack.endpoints.stackId });
    for (const c of stack.containers) {
      const info = await stack.inspect(c.name).catch(() => null);
      const state = info
        ? `running ${info.State.Running}, paused ${info.State.Paused}, exit ${info.State.ExitCode}, OOMKilled ${info.State.OOMKilled}, started ${info.State.StartedAt}`
        : "not found";
      lines.push(`-- container ${c.name}: ${state}`);
      const log = await platform.logs(c.name, 25).catch((e: Error) => [`(no log: ${e.message})`]);
      lines.push(...log.map((l) => `   ${l.slice(0, 400)}`));
    }
    console.log(lines.join("\n"));
  }

  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
    const report = await runDrill({
      scenario,
      endpoints: stack.endpoints,
      brokers: 3,
      policy,
      alertmanager,
      observer,
      onProgress: (p) => {
        progress.push(p);
        console.log(`${p.scenario} [${p.phase}] ${p.message}`);
      },
    });
    reports.push(report);
    await writeReportFiles(join(reportDir, scenario.name), report);
    if (report.outcome !== "passed") await explainFailure(scenario.name, report);
    const t = report.timings;
    console.log(
      `${scenario.name}: detect ${t.detectSeconds} s, page ${t.pageSeconds} s, mitigate ${t.mitigateSeconds} s, recover ${t.recoverSeconds} s, worst ${report.worstSeverity}, every ${report.observer?.intervalSeconds} s`,
    );
    expect(report.reasons).toEqual([]);
    expect(report.outcome).toBe("passed");
    expect(report.detected).toMatchObject(scenario.expect);
    expect(report.integrity?.lost).toBe(0);
    expect(report.cleanup.ok).toBe(true);
    expect(report.observer).toMatchObject({ intervalSeconds: 5, alertmanager: redactUrl(alertmanager.url) });

    // Time to detect is measured to the end of the prober round whose classification showed the
    // incident: the first round after the injection that has it, which ended after it started.
    const injected = Date.parse(report.timeline.find((e) => e.phase === "inject")!.at);
    const round = report.signals.find(
      (x) => Date.parse(x.at) >= injected && x.incidents.includes(`${scenario.expect.kind}:${scenario.expect.severity}`),
    )!;
    expect(round).toBeDefined();
    expect(Date.parse(round.at)).toBeGreaterThan(Date.parse(round.startedAt!));
    expect(t.detectSeconds!).toBeCloseTo((Date.parse(round.at) - injected) / 1000, 1);
  });

  it("no configured secret is in any artifact of the game day", async () => {
    expect(reports).toHaveLength(scenarios.length);
    writeFileSync(join(reportDir, "junit.xml"), toJUnit(reports, { suiteName: "gameday" }));
    const secrets: Secret[] = [
      ...namedStackSecrets(stack.endpoints),
      { name: "ALERTMANAGER_PASSWORD", value: alertmanagerPassword },
      { name: "RECEIVER_PASSWORD", value: receiverPassword },
    ];
    expect(secrets.map((x) => x.name)).toEqual([
      "ADMIN_TOKEN",
      "POSTGRES_PASSWORD",
      "PROBER_PG_PASSWORD",
      "ALERTMANAGER_PASSWORD",
      "RECEIVER_PASSWORD",
    ]);
    const artifacts = [
      ...fileArtifacts(reportDir, "reports"),
      ...drillOutputArtifacts(progress, reports),
      proberLog.artifact(),
      { name: "prober /metrics", text: (await observer.metrics?.()) ?? "" },
      ...stackStatusArtifacts(stack.endpoints, 3),
      ...(await containerLogArtifacts(stack.endpoints.stackId)),
    ];
    // every drill's five files, the JUnit of all, and each of the other sources, none of them empty
    expect(artifacts.filter((a) => a.name.startsWith("reports/"))).toHaveLength(scenarios.length * 5 + 1);
    expect(artifacts.filter((a) => a.text.trim() === "").map((a) => a.name)).toEqual([]);
    const leaks = findLeaks(artifacts, secrets);
    expect(leaks, describeLeaks(leaks)).toEqual([]);
    // the check is live: one line leaking a password, URL-encoded, among the same artifacts is found
    const planted = findLeaks(
      [...artifacts, { name: "planted", text: `dsn=${encodeURIComponent(stack.endpoints.proberPostgresUrl)}` }],
      secrets,
    );
    expect(planted.map((l) => [l.secret, l.artifact])).toEqual([["PROBER_PG_PASSWORD", "planted"]]);
  }, 120_000);
});
