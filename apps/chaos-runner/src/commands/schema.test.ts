import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { run } from "../cli.js";
import type { Out } from "../output.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** stdout of `gm-chaos <args>`, and its exit code. */
async function gmChaos(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const out: Out = {
    line: (s) => {
      stdout += `${s}\n`;
    },
    raw: (s) => {
      stdout += s;
    },
    json: (v) => {
      stdout += `${JSON.stringify(v, null, 2)}\n`;
    },
    progress: () => undefined,
  };
  const code = await run(args, out);
  return { code, stdout };
}

describe("gm-chaos schema", () => {
  it.each([
    ["drill", "drill.schema.json"],
    ["policy", "policy.schema.json"],
  ])("%s: the committed schemas/%s is what `gm-chaos schema` prints", async (kind, file) => {
    const { code, stdout } = await gmChaos(["schema", kind]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" });
    expect(stdout).toBe(readFileSync(join(ROOT, "schemas", file), "utf8"));
  });

  it("refuses an unknown kind with exit 2", async () => {
    expect((await gmChaos(["schema", "nonsense"])).code).toBe(2);
  });

  it("every shipped drill and policy file names its schema on its first line, by a path that exists", () => {
    const files: [string, string][] = [
      ...[
        "db-pool-exhausted-lock",
        "db-pool-exhausted",
        "high-consumer-lag",
        "kafka-broker-down-majority",
        "kafka-broker-down",
        "service-oom",
      ].map((n): [string, string] => [`scenarios/${n}.yaml`, "drill.schema.json"]),
      ["scenarios/policy.yaml", "policy.schema.json"],
      ["deploy/prober/prober.yaml", "prober-config.schema.json"],
    ];
    for (const [file, schema] of files) {
      const first = readFileSync(join(ROOT, file), "utf8").split("\n")[0] ?? "";
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, file).not.toBeNull();
      expect(resolve(dirname(join(ROOT, file)), m![1]!), file).toBe(join(ROOT, "schemas", schema));
      expect(existsSync(join(ROOT, "schemas", schema)), schema).toBe(true);
    }
  });
});
