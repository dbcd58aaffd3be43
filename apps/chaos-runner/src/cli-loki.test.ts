import { describe, expect, it, vi } from "vitest";
import { run } from "./cli.js";
import type { Out } from "./output.js";

const quiet: Out = { line: () => undefined, raw: () => undefined, json: () => undefined, progress: () => undefined };

describe("gm-chaos --loki-url", () => {
  it("is refused before anything is done when it is not an http(s) URL, naming the option (exit 2)", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      for (const args of [
        ["runbook", "high-consumer-lag", "--loki-url", "loki:3100"],
        ["drill", "kafka-broker-down", "--loki-url", "ftp://127.0.0.1:3100"],
      ]) {
        expect(await run(args, quiet), args.join(" ")).toBe(2);
        expect(String(err.mock.calls.at(-1)?.[0])).toMatch(
          /^gm-chaos: --loki-url: expected an http\(s\) URL such as http:\/\/127\.0\.0\.1:3100, got "(loki:3100|ftp:\/\/127\.0\.0\.1:3100)"\n$/,
        );
      }
    } finally {
      err.mockRestore();
    }
  });

  it("is described in the drill and runbook --help", async () => {
    for (const cmd of ["drill", "runbook"]) {
      const lines: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((s: unknown) => void lines.push(String(s)));
      try {
        await run([cmd, "--help"], quiet);
      } finally {
        log.mockRestore();
      }
      expect(lines.join("\n"), cmd).toMatch(/--loki-url\s+read the runbook's log steps from this Loki/);
    }
  });
});
