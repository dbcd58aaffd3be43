import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { journalRunner } from "./journal.js";

const launcher = fileURLToPath(new URL("../../bin/gm-chaos.js", import.meta.url));
const cli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

describe("journalRunner", () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });
  /** A process whose command line holds `args` (node ignores the arguments after -e's script). */
  const holding = (...args: string[]) => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30_000)", ...args], { stdio: "ignore" });
    children.push(child);
    return child.pid as number;
  };

  it("knows a runner started through the launcher npm links (bin/gm-chaos.js) or through dist/cli.js", () => {
    expect(journalRunner({ pid: holding(launcher, "drill", "all") })).toEqual({ running: true });
    // under vitest this module's own dist/cli.js would be src/cli.js: name it
    expect(journalRunner({ pid: holding(cli, "drill", "all") }, cli)).toEqual({ running: true });
  });

  it("refuses a process of gm-chaos that is not a drill, or of another program", () => {
    expect(journalRunner({ pid: holding(launcher, "stack", "status") })).toMatchObject({ running: false });
    expect(journalRunner({ pid: holding("/usr/bin/other", "drill") })).toMatchObject({ running: false });
  });
});
