/**
 * SIGKILL of the runner in the middle of a fault, then `gm-chaos recover`: the stack is back to steady
 * state. And with no one typing anything: the drill's watchdog undoes the fault once its lease lapses.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { removeStack } from "@gm/stack/docker";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const state = mkdtempSync(join(tmpdir(), "gm-state-"));
const env = { ...process.env, GM_STATE_DIR: state, TESTCONTAINERS_RYUK_DISABLED: "true" };
const gm = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env, timeout: 300_000 });
const id = `t-rec-${Date.now().toString(36)}`;

describe("recovery after the runner is killed", { timeout: 600_000 }, () => {
  afterAll(async () => {
    await removeStack(id);
  }, 60_000);

  it("undoes the fault from the journal and returns the stack to steady state", async () => {
    expect(gm("stack", "up", "--brokers", "1", "--id", id).status).toBe(0);
    // A drill whose fault lasts: the consumers stay paused until someone undoes it.
    const file = join(state, "paused.yaml");
    writeFileSync(
      file,
      `name: paused-consumers
incident: high-consumer-lag
hypothesis: paused consumers are undone by gm-chaos recover after the runner is killed
stack: { brokers: 1 }
fault: { type: pause-consumers }
expect: { kind: high-consumer-lag, severity: P2 }
remediation: none
load: { rate: 5, batch: 10, reads: 0 }
deadlines: { detectSeconds: 600, recoverSeconds: 600, drillSeconds: 900 }
`,
    );
    // a lease longer than the test: here `recover` undoes the fault, not the watchdog
    const drill = spawn(process.execPath, [cli, "drill", file, "--stack-id", id], {
      env: { ...env, GM_CHAOS_LEASE_SECONDS: "600" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    drill.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const deadline = Date.now() + 120_000;
    while (!err.includes("[detect]") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(err).toContain("[inject]");
    drill.kill("SIGKILL");
    await new Promise((r) => drill.on("exit", r));
    expect(readdirSync(join(state, "faults")).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    const paused = spawnSync("docker", ["inspect", "-f", "{{.State.Paused}}", `gm-${id}-event-processor-service`], { encoding: "utf8" });
    expect(paused.stdout.trim()).toBe("true");

    const rec = gm("recover");
    expect(rec.status, rec.stderr).toBe(0);
    expect(rec.stdout).toMatch(/recovered 1 fault/);
    expect(rec.stdout).toMatch(new RegExp(`stack ${id}: steady state`));
    expect(readdirSync(join(state, "faults")).filter((f) => f.endsWith(".json"))).toHaveLength(0);
    const after = spawnSync("docker", ["inspect", "-f", "{{.State.Paused}}", `gm-${id}-event-processor-service`], { encoding: "utf8" });
    expect(after.stdout.trim()).toBe("false");

    // The dead-man's switch: SIGKILL, nobody runs recover; the watchdog undoes the fault once the 5 s lease lapses.
    const dead = spawn(process.execPath, [cli, "drill", file, "--stack-id", id], {
      env: { ...env, GM_CHAOS_LEASE_SECONDS: "5" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err3 = "";
    dead.stderr.on("data", (c: Buffer) => {
      err3 += c.toString();
    });
    const d3 = Date.now() + 120_000;
    while (!err3.includes("[detect]") && Date.now() < d3) await new Promise((r) => setTimeout(r, 250));
    const dog = /watchdog pid (\d+) holds/.exec(err3);
    expect(dog, err3).not.toBeNull();
    dead.kill("SIGKILL");
    await new Promise((r) => dead.on("exit", r));
    const killedAt = Date.now();
    const isPaused = () =>
      spawnSync("docker", ["inspect", "-f", "{{.State.Paused}}", `gm-${id}-event-processor-service`], { encoding: "utf8" }).stdout.trim();
    expect(isPaused()).toBe("true");
    while (isPaused() === "true" && Date.now() - killedAt < 60_000) await new Promise((r) => setTimeout(r, 250));
    expect(isPaused()).toBe("false");
    console.log(`watchdog undid the fault ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL (lease 5 s)`);
    // its record (written once it checked that nothing is left), the journal removed, the process gone
    const gone = Date.now() + 15_000;
    const undoneRecord = () =>
      readdirSync(join(state, "watchdog"))
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(readFileSync(join(state, "watchdog", f), "utf8")) as { outcome: string; why: string })
        .find((r) => r.outcome === "undone");
    while (!undoneRecord() && Date.now() < gone) await new Promise((r) => setTimeout(r, 250));
    expect(undoneRecord()?.why).toMatch(/lapsed/);
    while (readdirSync(join(state, "faults")).some((f) => f.endsWith(".json")) && Date.now() < gone)
      await new Promise((r) => setTimeout(r, 250));
    expect(readdirSync(join(state, "faults")).filter((f) => f.endsWith(".json"))).toHaveLength(0);
    const running = () => existsSync(`/proc/${dog![1]}`) && !readFileSync(`/proc/${dog![1]}/stat`, "utf8").includes(") Z");
    while (running() && Date.now() < gone) await new Promise((r) => setTimeout(r, 250));
    expect(running()).toBe(false);
    expect(gm("recover").stdout).toMatch(/nothing to recover/);

    // SIGINT during a drill: the fault is undone within 10 s and the runner exits non-zero.
    const second = spawn(process.execPath, [cli, "drill", file, "--stack-id", id], { env, stdio: ["ignore", "pipe", "pipe"] });
    let err2 = "";
    second.stderr.on("data", (c: Buffer) => {
      err2 += c.toString();
    });
    const d2 = Date.now() + 120_000;
    while (!err2.includes("[detect]") && Date.now() < d2) await new Promise((r) => setTimeout(r, 250));
    const interruptedAt = Date.now();
    second.kill("SIGINT");
    const code = await new Promise<number | null>((r) => second.on("exit", r));
    expect(code).not.toBe(0);
    expect(Date.now() - interruptedAt).toBeLessThan(30_000);
    expect(err2).toMatch(/undoing the fault/);
    const unpaused = spawnSync("docker", ["inspect", "-f", "{{.State.Paused}}", `gm-${id}-event-processor-service`], { encoding: "utf8" });
    expect(unpaused.stdout.trim()).toBe("false");
    expect(readdirSync(join(state, "faults")).filter((f) => f.endsWith(".json"))).toHaveLength(0);

    // On-call mode: triage runs against the live stack; nothing that changes the system without --execute.
    const oncall = gm("runbook", "high-consumer-lag", "--stack-id", id, "--json");
    expect(oncall.status, oncall.stderr).toBe(0);
    const advice = JSON.parse(oncall.stdout) as { executed: boolean; steps: { step: string; phase: string; ran: boolean }[] };
    expect(advice.executed).toBe(false);
    expect(advice.steps.filter((x) => x.phase === "triage").every((x) => x.ran)).toBe(true);
    expect(advice.steps.find((x) => x.step === "lag-scale-up-consumers")).toMatchObject({ ran: false });

    // halt refuses new drills until resume
    expect(gm("halt").status).toBe(0);
    const refused = gm("drill", file, "--stack-id", id);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/halted/);
    expect(gm("resume").status).toBe(0);
  });
});
