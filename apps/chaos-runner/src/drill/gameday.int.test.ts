/** CI regression of the runbook automation: every drill in scenarios/ end to end on one real stack. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@gm/stack/stack";
import { drillPolicy } from "../commands/drill.js";
import { defaultScenariosDir, loadScenarios } from "./load-scenarios.js";
import { runDrill } from "./run.js";

const policy = drillPolicy(undefined, defaultScenariosDir());
const scenarios = loadScenarios(["all"], defaultScenariosDir(), policy);

describe("game day: every drill passes", { timeout: 900_000 }, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ brokers: 3, id: `t-gd-${Date.now().toString(36)}` });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
    const report = await runDrill({
      scenario,
      endpoints: stack.endpoints,
      brokers: 3,
      policy,
      onProgress: (p) => console.log(`${p.scenario} [${p.phase}] ${p.message}`),
    });
    expect(report.reasons).toEqual([]);
    expect(report.outcome).toBe("passed");
    expect(report.detected).toMatchObject(scenario.expect);
    expect(report.integrity?.lost).toBe(0);
    expect(report.cleanup.ok).toBe(true);
  });
});
