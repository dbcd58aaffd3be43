/**
 * A real incident, caused by hand on a real stack, gets the report a drill gets: `gm-chaos stack up`,
 * the real `gm-prober run` against it with its journal, `docker stop` of stats-api (by hand, not a
 * drill) → the prober opens service-down P0 with an id → `gm-chaos runbook <id> --execute --yes`
 * restarts it and verifies → the prober resolves it → `gm-chaos report incident <id>` writes report.md,
 * report.html and report.json, checked here. Then graded autonomy's undo: `gm-chaos runbook
 * high-consumer-lag --execute --yes` scales the consumers up (a reversible step, its undo in the fault
 * journal) and `gm-chaos recover` scales them back.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { removeStack } from "@gm/stack/docker";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const prober = fileURLToPath(new URL("../../prober/dist/cli.js", import.meta.url));
const state = mkdtempSync(join(tmpdir(), "gm-oncall-"));
const journalDir = join(state, "prober");
const env = { ...process.env, GM_STATE_DIR: state, GM_PROBER_STATE_DIR: journalDir, TESTCONTAINERS_RYUK_DISABLED: "true" };
const gm = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env, timeout: 420_000 });
const id = `t-oncall-${Date.now().toString(36)}`;
const processors = () =>
  spawnSync(
    "docker",
    ["ps", "-q", "--filter", `label=io.gamemetrics.stack=${id}`, "--filter", "label=io.gamemetrics.role=event-processor-service"],
    {
      encoding: "utf8",
    },
  )
    .stdout.trim()
    .split("\n")
    .filter(Boolean).length;

interface LogLine {
  event?: string;
  id?: string;
  kind?: string;
  subject?: string;
  severity?: string;
}

describe("a real incident on the stack, end to end", { timeout: 900_000 }, () => {
  let probe: ChildProcess | undefined;
  afterAll(async () => {
    probe?.kill("SIGTERM");
    await removeStack(id);
  }, 120_000);

  it("journals the incident, records the runbook's steps against it and writes its report", async () => {
    const config = join(state, "prober.yaml");
    const up = gm("stack", "up", "--brokers", "1", "--id", id, "--prober-config", config);
    expect(up.status, up.stderr).toBe(0);
    // port 0: the OS picks a free one (other stacks and probers share this machine)
    writeFileSync(config, readFileSync(config, "utf8").replace(/^listen: .*$/m, "listen: 127.0.0.1:0"));

    probe = spawn(process.execPath, [prober, "run", "--config", config, "--journal-dir", journalDir], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: LogLine[] = [];
    let buffered = "";
    probe.stdout?.on("data", (c: Buffer) => {
      buffered += c.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const l of parts) if (l.startsWith("{")) lines.push(JSON.parse(l) as LogLine);
    });
    const until = async (what: string, f: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
      expect(f(), `${what}; prober said: ${JSON.stringify(lines.slice(-5))}`).toBe(true);
    };
    // steady state first: a few rounds with nothing open (the windows settle)
    await new Promise((r) => setTimeout(r, 20_000));
    const before = lines.length;

    // the incident, by hand
    const stoppedAt = new Date().toISOString();
    expect(spawnSync("docker", ["stop", "-t", "1", `gm-${id}-stats-api`]).status).toBe(0);
    const opened = () =>
      lines.slice(before).find((l) => l.event === "incident_opened" && l.kind === "service-down" && l.subject === "stats-api");
    await until("service-down opened on stats-api", () => opened() !== undefined, 60_000);
    const incident = opened()!.id!;
    expect(incident).toMatch(/^service-down-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    console.log(`stopped stats-api at ${stoppedAt}; the prober opened ${incident} ${opened()!.severity}`);

    // the on-call engineer runs its steps, unattended (--yes), with no earlier game day to prove them
    const reports = join(state, "no-game-days");
    mkdirSync(reports);
    const oncall = gm("runbook", incident, "--execute", "--yes", "--stack-id", id, "--report-dir", reports, "--json");
    expect(oncall.status, oncall.stderr).toBe(0);
    const ran = JSON.parse(oncall.stdout) as {
      incidentId: string;
      steps: {
        step: string;
        decision: string;
        ok?: boolean;
        effect: string;
        output: string[];
        proof: { verified: boolean; note: string };
      }[];
    };
    console.log(
      ran.steps
        .map((s) => `${s.step}: ${s.decision}${s.ok === undefined ? "" : s.ok ? " ok" : " NOT ok"} [${s.effect}] ${s.output[0] ?? ""}`)
        .join("\n"),
    );
    expect(ran.incidentId).toBe(incident);
    expect(ran.steps.find((s) => s.step === "restart-failing-instances")).toMatchObject({
      decision: "ran",
      ok: true,
      effect: "irreversible",
      output: ["restarted stats-api"],
    });
    expect(ran.steps.find((s) => s.step === "verify-service-healthy")).toMatchObject({ decision: "ran", ok: true });
    expect(ran.steps.every((s) => s.proof.verified === false && s.proof.note.startsWith("unverified"))).toBe(true);

    const resolved = () => lines.find((l) => l.event === "incident_resolved" && l.id === incident);
    await until(`${incident} resolved`, () => resolved() !== undefined, 120_000);

    const out = join(state, "report");
    const rep = gm("report", "incident", incident, "--out", out);
    expect(rep.status, rep.stderr).toBe(0);
    console.log(rep.stdout.trim());
    const json = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as {
      incident: { id: string; severity: string; resolvedAt: string | null; onsetSource: string; rootCause: null };
      timings: { detectSeconds: number; recoverSeconds: number; responseMinutes: number };
      steps: { id: string; ok: boolean }[];
      detected: { evidence: { signal: string }[] };
    };
    expect(json.incident).toMatchObject({ id: incident, severity: "P0", onsetSource: "last-clear-round", rootCause: null });
    expect(json.incident.resolvedAt).not.toBeNull();
    expect(json.timings.responseMinutes).toBe(5);
    expect(json.timings.detectSeconds).toBeGreaterThanOrEqual(0);
    expect(json.timings.recoverSeconds).toBeGreaterThan(json.timings.detectSeconds);
    expect(json.detected.evidence.length).toBeGreaterThan(0);
    expect(json.steps.map((s) => s.id)).toEqual(
      expect.arrayContaining(["check-health-endpoints", "restart-failing-instances", "verify-service-healthy"]),
    );
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toMatch(/^# Incident report: service-down P0 on stats-api — resolved\n/);
    expect(md).toContain(`Real incident \`${incident}\``);
    expect(md).toContain("## Root cause\n\n**To be filled in by a person.**");
    expect(md).toContain("`restart-failing-instances`");
    expect(md).toContain("**Conduct post-mortem meeting** — required: a P0 incident");
    expect(md).toContain("**Verify resolution** — done: verify-service-healthy ok");
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain(`<code>${incident}</code>`);

    // graded autonomy's undo on the real stack: a reversible step's undo goes to the fault journal, recover takes it back
    expect(processors()).toBe(1);
    const scale = gm("runbook", "high-consumer-lag", "--execute", "--yes", "--stack-id", id, "--report-dir", reports);
    expect(scale.status, scale.stderr).toBe(0);
    console.log(scale.stdout.trim());
    expect(scale.stdout).toContain("undo recorded: scale event-processor-service back to 1 replica(s)");
    expect(scale.stdout).toMatch(/1 undo\(s\) recorded in .*faults\/runbook-.*\.json: gm-chaos recover undoes them/);
    expect(processors()).toBe(2);
    const rec = gm("recover", "--steady-timeout", "180");
    console.log(rec.stdout.trim());
    expect(rec.status, rec.stderr).toBe(0);
    expect(rec.stdout).toMatch(/recovered 1 fault/);
    expect(processors()).toBe(1);
  });
});
