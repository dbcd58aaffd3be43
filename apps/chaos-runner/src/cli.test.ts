import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { run } from "./cli.js";
import type { Out } from "./output.js";

function capture(): Out & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    line: (s) => void lines.push(s),
    raw: (s) => void lines.push(s),
    json: (v) => void lines.push(JSON.stringify(v)),
    progress: () => undefined,
  };
}

// The first parse imports the drill commands lazily (kafkajs, pg, testcontainers): seconds on a busy 2-core machine.
describe("gm-chaos argument parsing", { timeout: 30_000 }, () => {
  it("refuses a bad broker count naming the option, with exit code 2", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await run(["stack", "up", "--brokers", "2"], capture())).toBe(2);
      expect(String(err.mock.calls[0]?.[0])).toMatch(/brokers.*Given: 2.*Choices: 1, 3/s);
      expect(await run(["demo", "--events", "0"], capture())).toBe(2);
      expect(String(err.mock.calls[1]?.[0])).toMatch(/--events: expected a positive integer, got 0/);
      expect(await run(["nonsense"], capture())).toBe(2);
      // A stack this runner did not start, and that is not allowed, is refused before anything is done.
      expect(await run(["drill", "kafka-broker-down", "--stack-id", "someone-elses"], capture())).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/refusing to act on stack "someone-elses".*--allow someone-elses/);
      // the on-call runbook reaches nothing by cluster names: the option is not offered, so it is refused
      expect(await run(["runbook", "high-consumer-lag", "--platform", "kubernetes", "--cluster-dns", "10.0.0.10"], capture())).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/Unknown argument.*cluster-dns/s);
    } finally {
      err.mockRestore();
    }
  });

  it("prints the compose file without touching Docker", async () => {
    const out = capture();
    expect(await run(["stack", "compose"], out)).toBe(0);
    expect(out.lines.join("")).toMatch(/^# GENERATED/);
  });
});

describe("gm-chaos as a process", () => {
  it("has --help on every command and exits 0", { timeout: 60_000 }, () => {
    const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
    for (const args of [
      ["--help"],
      ["stack", "--help"],
      ["stack", "up", "--help"],
      ["stack", "status", "--help"],
      ["stack", "down", "--help"],
      ["demo", "--help"],
    ]) {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/Options:/);
    }
    const bad = spawnSync(process.execPath, [cli, "stack", "up", "--brokers", "5"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/brokers/);
  });
});
