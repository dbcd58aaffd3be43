import { describe, expect, it } from "vitest";
import { FAULT_NAMES, parseArgs, UsageError } from "./page-bench.js";

describe("bench:page's command line", () => {
  it("defaults to one run of every fault, JSON in bench-results/page.json", () => {
    expect(parseArgs([])).toEqual({ runs: 1, faults: [...FAULT_NAMES], json: "bench-results/page.json", timeoutSeconds: 300 });
  });
  it("takes --runs, --faults (a subset, in the order given), --json and --timeout, with = or a space", () => {
    expect(parseArgs(["--runs", "5", "--faults=oom,broker-kill", "--json", "/tmp/x.json", "--timeout=90"])).toEqual({
      runs: 5,
      faults: ["oom", "broker-kill"],
      json: "/tmp/x.json",
      timeoutSeconds: 90,
    });
  });
  it("refuses bad input with a message naming the option and what was expected", () => {
    const msg = (argv: string[]) => {
      try {
        parseArgs(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(" ")}`);
    };
    expect(msg(["--runs", "0"])).toBe('--runs: expected a whole number from 1 to 50, got "0"');
    expect(msg(["--runs", "2.5"])).toContain("--runs: expected a whole number");
    expect(msg(["--runs"])).toBe("--runs: expected a value");
    expect(msg(["--faults", "oom,disk-full"])).toBe(
      '--faults: expected a comma-separated list of broker-kill, service-down, lag, pool-exhausted, oom, 5xx, got "disk-full"',
    );
    expect(msg(["--timeout", "-1"])).toContain("--timeout: expected a whole number from 1 to 3600");
    expect(msg(["--verbose"])).toBe("--verbose: unknown option (expected --runs, --faults, --json or --timeout)");
  });
});
