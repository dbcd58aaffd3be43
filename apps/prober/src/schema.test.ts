/** `gm-prober schema`: the committed JSON Schemas are what the command prints, so an editor checks files against the truth. */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "./cli.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** stdout of `gm-prober <args>` run in-process, and its exit code. */
async function gmProber(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  const code = await run(args);
  vi.restoreAllMocks();
  return { code, stdout };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("gm-prober schema", () => {
  it.each([
    ["config", "prober-config.schema.json"],
    ["policy", "policy.schema.json"],
  ])("%s: the committed schemas/%s is what `gm-prober schema` prints", async (kind, file) => {
    const { code, stdout } = await gmProber(["schema", kind]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" });
    expect(stdout).toBe(readFileSync(join(ROOT, "schemas", file), "utf8"));
  });

  it("needs no --config, and refuses an unknown kind with exit 2", async () => {
    expect((await gmProber(["schema"])).stdout).toBe(readFileSync(join(ROOT, "schemas", "prober-config.schema.json"), "utf8"));
    expect((await gmProber(["schema", "nonsense"])).code).toBe(2);
    expect((await gmProber(["check"])).code).toBe(2);
  });
});
