/** gm-chaos as a process given bad input: a message naming the option or file and an exit code, never a stack trace or a hang. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "gm-chaos-input-"));
let n = 0;

/** gm-chaos with its own state directory; stderr never holds a stack trace unless asked. */
function gm(args: string[], opts: { state?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const state = opts.state ?? join(dir, `state-${n++}`);
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    timeout: opts.timeout ?? 30_000,
    env: { ...process.env, GM_DEBUG: "", GM_STATE_DIR: state, ...opts.env },
  });
  return { ...r, state };
}
const noTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe("gm-chaos refuses bad input with a message", { timeout: 60_000 }, () => {
  it("report compare: missing directories and files that are not reports", () => {
    const missing = gm(["report", "compare", join(dir, "nope-old"), join(dir, "nope-new")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`gm-chaos: ${join(dir, "nope-old")}: cannot read`);
    noTrace(missing.stderr);
    mkdirSync(join(dir, "reports", "a"), { recursive: true });
    const bad = file("reports/a/report.json", "{not json");
    const r = gm(["report", "compare", join(dir, "reports"), join(dir, "reports")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`gm-chaos: ${bad}: report: expected JSON`);
    noTrace(r.stderr);
    const tol = gm(["report", "compare", join(dir, "reports"), join(dir, "reports"), "--tolerance", "abc"]);
    expect(tol.status).toBe(2);
    expect(tol.stderr).toContain("--tolerance: expected a fraction");
  });

  it("stack compose --write to a path it cannot write, --check against a missing file", () => {
    const w = gm(["stack", "compose", "--write", join(dir, "no-such-dir", "compose.yml")]);
    expect(w.status).toBe(2);
    expect(w.stderr).toContain(`--write ${join(dir, "no-such-dir", "compose.yml")}: cannot write: ENOENT`);
    noTrace(w.stderr);
    const d = gm(["stack", "compose", "--write", dir]);
    expect(d.status).toBe(2);
    expect(d.stderr).toContain(`--write ${dir}: cannot write: EISDIR`);
    const c = gm(["stack", "compose", "--check", join(dir, "missing.yml")]);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain(`--check ${join(dir, "missing.yml")}: cannot read: ENOENT`);
    noTrace(c.stderr);
    const fifo = join(dir, "compose.fifo");
    execFileSync("mkfifo", [fifo]);
    const f = gm(["stack", "compose", "--check", fifo], { timeout: 10_000 });
    expect(f.status).toBe(2);
    expect(f.stderr).toContain(`--check ${fifo}: expected a regular file, got a FIFO`);
  });

  it("plan on a directory, a FIFO, /dev/zero or an alias bomb as the policy", () => {
    const p = gm(["plan", dir]);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain(`drill ${dir}: expected a regular file, got a directory`);
    noTrace(p.stderr);
    const fifo = join(dir, "policy.fifo");
    execFileSync("mkfifo", [fifo]);
    const f = gm(["plan", "service-oom", "--policy", fifo], { timeout: 10_000 });
    expect(f.status).toBe(2);
    expect(f.stderr).toContain(`--policy ${fifo}: expected a regular file, got a FIFO`);
    const z = gm(["plan", "service-oom", "--policy", "/dev/zero"], { timeout: 10_000 });
    expect(z.status).toBe(2);
    expect(z.stderr).toContain("--policy /dev/zero: expected a regular file, got a character device");
    let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i <= 12; i++)
      bomb += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    const b = gm(["plan", "service-oom", "--policy", file("bomb.yaml", bomb)]);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain("more than 100 aliases");
    noTrace(b.stderr);
  });

  it("corrupt state files under the state directory are named, not a stack trace", () => {
    const state = join(dir, "corrupt-state");
    mkdirSync(join(state, "stacks"), { recursive: true });
    writeFileSync(join(state, "stacks", "a.json"), "{corrupt");
    const s = gm(["stack", "down"], { state });
    expect(s.status).toBe(2);
    expect(s.stderr).toContain(`${join(state, "stacks", "a.json")}: not a readable stack record (invalid JSON)`);
    noTrace(s.stderr);
    mkdirSync(join(state, "faults"), { recursive: true });
    writeFileSync(join(state, "faults", "d.json"), '{"drillId": 3}');
    const r = gm(["recover"], { state });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${join(state, "faults", "d.json")}: not a fault journal`);
    noTrace(r.stderr);
  });

  it("drill --alertmanager-routing with an alias bomb or a bad receiver: exit 2 naming the file, before anything starts", () => {
    let bomb = "receivers: []\na0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i <= 12; i++)
      bomb += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    const f = file("routing-bomb.yml", bomb);
    const r = gm(["drill", "kafka-broker-down", "--alertmanager", "--alertmanager-routing", f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `gm-chaos: --alertmanager-routing ${f}: more than 100 aliases resolved: refused (a resource-exhaustion attack, or a file that is not a configuration)\n`,
    );
    const g = file("routing-bad.yml", "receivers:\n  - name: page\n    webhook_configs: [{ url: 5 }]\n");
    const b = gm(["drill", "kafka-broker-down", "--alertmanager", "--alertmanager-routing", g]);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain("receivers[0].webhook_configs[0].url: expected a http or https URL");
    noTrace(b.stderr);
  });

  it("a FIFO, a directory or /dev/zero in the state directory is named at once, not read (a FIFO hung the CLI)", () => {
    const state = join(dir, "fifo-state");
    mkdirSync(join(state, "stacks"), { recursive: true });
    mkdirSync(join(state, "faults"), { recursive: true });
    const fifo = join(state, "stacks", "a.json");
    execFileSync("mkfifo", [fifo]);
    const s = gm(["stack", "down"], { state, timeout: 15_000 });
    expect(s.error).toBeUndefined(); // no timeout
    expect(s.status).toBe(2);
    expect(s.stderr).toBe(`gm-chaos: stack record ${fifo}: expected a regular file, got a FIFO; move it away if nothing uses it\n`);
    const journalFifo = join(state, "faults", "d.json");
    execFileSync("mkfifo", [journalFifo]);
    const r = gm(["recover"], { state, timeout: 15_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`fault journal ${journalFifo}: expected a regular file, got a FIFO`);
    const other = join(dir, "zero-state");
    mkdirSync(join(other, "stacks"), { recursive: true });
    symlinkSync("/dev/zero", join(other, "stacks", "z.json"));
    mkdirSync(join(other, "stacks", "d.json"));
    const z = gm(["stack", "down"], { state: other, timeout: 15_000 });
    expect(z.error).toBeUndefined();
    expect(z.status).toBe(2);
    expect(z.stderr).toMatch(/got a (character device|directory)/);
    noTrace(z.stderr);
  });

  it("stack down --id ../../x is refused and deletes nothing outside the state directory", () => {
    const state = join(dir, "traversal", "a", "state");
    mkdirSync(join(state, "stacks"), { recursive: true });
    const outside = join(dir, "traversal", "a", "x.json");
    writeFileSync(outside, "{}\n");
    const r = gm(["stack", "down", "--id", "../../x"], { state });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--id: expected a stack id");
    expect(existsSync(outside)).toBe(true);
  });

  it("an unexpected error is one line (exit 1); --debug or GM_DEBUG=1 shows the stack trace", () => {
    const notADir = file("state-is-a-file", "");
    const r = gm(["stack", "down"], { state: notADir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^gm-chaos: .*ENOTDIR.*\[run with --debug or GM_DEBUG=1 for the stack trace\]/);
    expect(gm(["stack", "down", "--debug"], { state: notADir }).stderr).toMatch(/\n\s+at /);
    expect(gm(["stack", "down"], { state: notADir, env: { GM_DEBUG: "1" } }).stderr).toMatch(/\n\s+at /);
  });
});

describe("gm-chaos halt signals only its own drill runners", { timeout: 60_000 }, () => {
  const startTicks = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
  };
  const journal = (state: string, drillId: string, pid: number, pidStart?: string) => {
    mkdirSync(join(state, "faults"), { recursive: true });
    writeFileSync(
      join(state, "faults", `${drillId}.json`),
      JSON.stringify({
        drillId,
        stackId: "s",
        postgresUrl: "postgres://x",
        pid,
        ...(pidStart ? { pidStart } : {}),
        startedAt: new Date().toISOString(),
        entries: [],
      }),
    );
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const exited = (child: ReturnType<typeof spawn>) =>
    new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));

  it("refuses a pid that is another program or a reused pid, and stops a verified runner", async () => {
    const state = join(dir, "halt-state");
    // another program now holds the pid the journal names
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    // a stand-in for a drill runner: node running this CLI's path with "drill" (it only waits for SIGTERM)
    const runner = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", cli, "drill", "stand-in"], { stdio: "ignore" });
    const reused = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", cli, "drill", "reused"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 300));
      journal(state, "other-1", other.pid!);
      journal(state, "runner-1", runner.pid!, startTicks(runner.pid!));
      journal(state, "reused-1", reused.pid!, String(Number(startTicks(reused.pid!)) - 100));
      const h = gm(["halt"], { state });
      expect(h.status, h.stderr).toBe(0);
      expect(h.stderr).toContain(`drill other-1: not signalling pid ${other.pid}: process ${other.pid} is not gm-chaos drill`);
      expect(h.stderr).toMatch(new RegExp(`drill reused-1: not signalling pid ${reused.pid}: .*the pid was reused`));
      expect(h.stderr).toContain(`asked drill runner-1 (pid ${runner.pid}) to stop`);
      await exited(runner);
      expect(alive(other.pid!)).toBe(true);
      expect(alive(reused.pid!)).toBe(true);
    } finally {
      other.kill("SIGKILL");
      runner.kill("SIGKILL");
      reused.kill("SIGKILL");
    }
  });
});
