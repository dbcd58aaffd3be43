import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigFileError, MAX_CONFIG_BYTES, readConfigFile } from "./config-file.js";
import { loadProberConfig } from "./build-prober.js";

const dir = mkdtempSync(join(tmpdir(), "gm-config-file-"));
const error = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigFileError");
};

describe("readConfigFile", () => {
  it("reads a regular text file", () => {
    const f = join(dir, "ok.yaml");
    writeFileSync(f, "a: 1\n");
    expect(readConfigFile(f, "--config")).toBe("a: 1\n");
  });

  it("refuses a FIFO at once instead of waiting for a writer", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const t0 = Date.now();
    expect(error(() => readConfigFile(fifo, "--config"))).toBe(`--config ${fifo}: expected a regular file, got a FIFO`);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("refuses /dev/zero, a directory, a missing file, naming the field and the path", () => {
    expect(error(() => readConfigFile("/dev/zero", "policy"))).toBe("policy /dev/zero: expected a regular file, got a character device");
    const d = join(dir, "adir");
    mkdirSync(d);
    expect(error(() => readConfigFile(d, "--policy"))).toBe(`--policy ${d}: expected a regular file, got a directory`);
    expect(error(() => readConfigFile(join(dir, "missing.yaml"), "--config"))).toBe(
      `--config ${join(dir, "missing.yaml")}: cannot read: ENOENT`,
    );
  });

  it("refuses a file over the bound before reading it, and binary content, quoting none of it", () => {
    const big = join(dir, "big.yaml");
    writeFileSync(big, "a: 1\n".repeat(MAX_CONFIG_BYTES / 5 + 1));
    expect(error(() => readConfigFile(big, "--config"))).toMatch(/expected at most 1048576 bytes, the file has 1048580$/);
    const bin = join(dir, "environ");
    writeFileSync(bin, "DB_PASSWORD=hunter2\0HOME=/root\0");
    const m = error(() => readConfigFile(bin, "policy"));
    expect(m).toBe(`policy ${bin}: expected a YAML text file, got binary content (NUL bytes)`);
    // /proc files report size 0: the bound is enforced on what is read
    expect(error(() => readConfigFile("/proc/self/environ", "policy"))).not.toMatch(/PATH=|HOME=/);
  });
});

describe("loadProberConfig", () => {
  it("names the policy field and path but never prints the policy file's lines (a password among them)", () => {
    const shadow = join(dir, "shadow");
    writeFileSync(shadow, "root:$y$j9T$hunter2:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n");
    const cfg = join(dir, "prober.yaml");
    writeFileSync(cfg, `services: { stats-api: [http://127.0.0.1:1] }\npolicy: ${shadow}\n`);
    const m = error(() => loadProberConfig(cfg, {}));
    expect(m).toContain(`policy ${shadow}: invalid`);
    expect(m).not.toContain("hunter2");
    expect(m).not.toContain("daemon");
  });
});
