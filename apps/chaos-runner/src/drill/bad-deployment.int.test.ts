/**
 * A bad deployment on a real stack (Docker, Kafka, PostgreSQL): `gm-chaos stack deploy` as a subprocess
 * makes a revision and `stack rollback` restores the one before; then the bad-deployment drill end to end
 * — a revision of stats-api with a wrong database password under load, classified by the prober, found by
 * the runbook's review with what changed (the password masked), rolled back by its rollback step,
 * recovered, nothing lost. Then the same drill with the rollback step left out fails: the rollback is what
 * recovers, not time. A separate file from the game day (which runs every scenario, this one included)
 * so the deployment path can be run alone.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CATALOG } from "@gm/runbook/catalog";
import { createDockerPlatform } from "@gm/platform/docker";
import { startStack, type Stack } from "@gm/stack/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drillPolicy } from "../commands/drill.js";
import { defaultScenariosDir, loadScenarios } from "./load-scenarios.js";
import type { Observer } from "./observe.js";
import { runDrill, startDrillObserver } from "./run.js";

const policy = drillPolicy(undefined, defaultScenariosDir());
const scenario = loadScenarios(["bad-deployment"], defaultScenariosDir(), policy)[0]!;
const log = (p: { scenario: string; phase: string; message: string }) => console.log(`${p.scenario} [${p.phase}] ${p.message}`);
const cli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), "gm-state-baddeploy-"));
const gm = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, GM_STATE_DIR: stateDir }, timeout: 240_000 });

describe("a bad deployment on a real stack", { timeout: 900_000 }, () => {
  let stack: Stack;
  let observer: Observer;
  const id = `t-baddeploy-${Date.now().toString(36)}`;

  beforeAll(async () => {
    stack = await startStack({ brokers: 3, id });
    // the record `gm-chaos stack up` would have written, so the subprocess finds the stack by --stack-id
    process.env["GM_STATE_DIR"] = stateDir;
    const { saveStack } = await import("../state.js");
    saveStack({
      stackId: id,
      startedAt: new Date().toISOString(),
      brokers: 3,
      processorReplicas: 1,
      images: stack.options.images,
      endpoints: stack.endpoints,
    });
    observer = await startDrillObserver({ endpoints: stack.endpoints, policy });
  }, 300_000);

  afterAll(async () => {
    await observer?.stop();
    await stack?.stop();
  }, 60_000);

  it("gm-chaos stack deploy makes a revision with what changed, and stack rollback restores the one before", () => {
    const bad = gm("stack", "deploy", "stats-api", "--env", "PG_POOL_MAX=7", "--stack-id", id);
    expect(bad.stderr + bad.stdout).toContain("stats-api: revision 2 (current)");
    expect(bad.stdout).toContain("PG_POOL_MAX 10 → 7");
    expect(bad.status).toBe(0);
    const back = gm("stack", "rollback", "stats-api", "--stack-id", id);
    expect(back.stdout).toContain("rolled back from revision 2 to revision 1's template (now revision 3)");
    expect(back.status).toBe(0);
    // --json: roll forward to the bad revision, then run the undo it printed, which restores the good one
    const forward = gm("stack", "rollback", "stats-api", "--to-revision", "2", "--stack-id", id, "--json");
    expect(forward.status).toBe(0);
    const fwd = JSON.parse(forward.stdout) as {
      from: number;
      restored: number;
      revision: { revision: number; rollbackOf: number | null };
      undo: string;
    };
    expect(fwd).toMatchObject({ from: 3, restored: 2, revision: { revision: 4, rollbackOf: 2 } });
    expect(fwd.undo).toBe(`gm-chaos stack rollback stats-api --to-revision 3 --stack-id ${id}`);
    const undo = gm(...fwd.undo.split(" ").slice(1));
    expect(undo.stdout).toContain("rolled back from revision 4 to revision 3's template (now revision 5)");
    const list = gm("stack", "revisions", "stats-api", "--stack-id", id, "--json");
    const revs = (JSON.parse(list.stdout) as { revisions: { revision: number; current: boolean; rollbackOf: number | null }[] }).revisions;
    expect(revs.map((r) => [r.revision, r.current, r.rollbackOf])).toEqual([
      [5, true, 3],
      [4, false, 2],
      [3, false, 1],
      [2, false, null],
      [1, false, null],
    ]);
    // bad input changes nothing
    const unknown = gm("stack", "deploy", "stats-apj", "--env", "A=1", "--stack-id", id);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('got "stats-apj"');
  });

  it("bad-deployment passes: detected, the runbook finds the revision and rolls it back, recovered, nothing lost", async () => {
    const platform = createDockerPlatform({ stackId: id });
    // the revision running before the fault: the drill deploys the next one, the runbook restores this one's template
    const before = (await platform.rollouts("stats-api")).find((r) => r.current)!.revision;
    const report = await runDrill({ scenario, endpoints: stack.endpoints, brokers: 3, policy, observer, onProgress: log });
    expect(report.reasons).toEqual([]);
    expect(report.outcome).toBe("passed");
    expect(report.detected).toMatchObject({ kind: "high-error-rate", severity: "P1" });
    const review = report.steps.find((s) => s.id === "review-recent-deployments")!;
    expect(review).toMatchObject({ ok: true, finding: "problem" });
    expect(review.output[0]).toMatch(
      new RegExp(
        `^stats-api revision ${before + 1} \\(current\\): created .*; DATABASE_URL changed \\(in a masked secret: postgres://\\w+:\\*\\*\\*@`,
      ),
    );
    const rollback = report.steps.find((s) => s.id === "rollback-if-recent-change")!;
    expect(rollback).toMatchObject({ ok: true, finding: "acted" });
    expect(rollback.output.some((l) => l.startsWith(`undo: roll forward: rollback stats-api to revision ${before + 1}`))).toBe(true);
    expect(report.integrity).toMatchObject({ lost: 0, duplicates: 0, altered: 0 });
    expect(report.integrity!.acknowledged).toBeGreaterThan(1_000);
    expect(report.cleanup).toEqual({ ok: true, leftovers: [] });
    expect(report.hypothesisChecks?.every((c) => c.ok)).toBe(true);
    // no password in what the drill recorded
    const pw = decodeURIComponent(new URL(stack.endpoints.postgresUrl).password);
    expect(JSON.stringify(report)).not.toContain(pw);
    const current = (await platform.rollouts("stats-api")).find((r) => r.current)!;
    expect(current).toMatchObject({ revision: before + 2, rollbackOf: before });
  });

  it("without the rollback step the same drill does not recover: the rollback is what mitigates", async () => {
    const steps = CATALOG["high-error-rate"].steps.filter((s) => s.id !== "rollback-if-recent-change");
    const report = await runDrill({
      scenario: { ...scenario, deadlines: { ...scenario.deadlines, recoverSeconds: 60 } },
      endpoints: stack.endpoints,
      brokers: 3,
      policy,
      observer,
      steps,
      onProgress: log,
    });
    expect(report.outcome).toBe("failed");
    expect(report.reasons.join("\n")).toMatch(/recovered within 60 s/);
    // the fault's undo is the rollback: nothing of the bad revision is left even so
    expect(report.cleanup).toEqual({ ok: true, leftovers: [] });
  });
});
