/**
 * CI regression of the runbook automation: every drill in scenarios/ end to end on one real stack,
 * observed by gm-prober's own round at its default interval, alerting a real Alertmanager with the
 * committed routing; under the full verdict (pages, hypothesis, steps, recovery, integrity, clean-up).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAlertmanager, startAlertmanager } from "@gm/monitor/alertmanager-run";
import { startStack, type Stack } from "@gm/stack/stack";
import { drillPolicy } from "../commands/drill.js";
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

  beforeAll(async () => {
    [stack, alertmanager] = await Promise.all([startStack({ brokers: 3, id: `t-gd-${Date.now().toString(36)}` }), startAlertmanager()]);
    observer = await startDrillObserver({ endpoints: stack.endpoints, policy, alertmanager });
  }, 300_000);

  afterAll(async () => {
    await observer?.stop();
    await Promise.all([stack?.stop(), alertmanager?.stop()]);
  }, 60_000);

  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
    const report = await runDrill({
      scenario,
      endpoints: stack.endpoints,
      brokers: 3,
      policy,
      alertmanager,
      observer,
      onProgress: (p) => console.log(`${p.scenario} [${p.phase}] ${p.message}`),
    });
    const t = report.timings;
    console.log(`${scenario.name}: detect ${t.detectSeconds} s, page ${t.pageSeconds} s, mitigate ${t.mitigateSeconds} s, recover ${t.recoverSeconds} s, worst ${report.worstSeverity}, every ${report.observer?.intervalSeconds} s`);
    expect(report.reasons).toEqual([]);
    expect(report.outcome).toBe("passed");
    expect(report.detected).toMatchObject(scenario.expect);
    expect(report.integrity?.lost).toBe(0);
    expect(report.cleanup.ok).toBe(true);
    expect(report.observer).toMatchObject({ intervalSeconds: 5, alertmanager: alertmanager.url });

    // Time to detect is measured to the end of the prober round whose classification showed the
    // incident: the first round after the injection that has it, which ended after it started.
    const injected = Date.parse(report.timeline.find((e) => e.phase === "inject")!.at);
    const round = report.signals.find((x) => Date.parse(x.at) >= injected && x.incidents.includes(`${scenario.expect.kind}:${scenario.expect.severity}`))!;
    expect(round).toBeDefined();
    expect(Date.parse(round.at)).toBeGreaterThan(Date.parse(round.startedAt!));
    expect(t.detectSeconds!).toBeCloseTo((Date.parse(round.at) - injected) / 1000, 1);
  });
});
