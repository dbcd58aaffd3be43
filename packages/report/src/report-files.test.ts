import { describe, expect, it } from "vitest";
import { toJson } from "./json.js";
import { loadReports, ReportLoadError, type ReportFs } from "./report-files.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

/** An in-memory file system: keys are file paths; directories are implied by them. */
function memFs(files: Record<string, string>): ReportFs {
  const isDir = (p: string) => Object.keys(files).some((f) => f.startsWith(`${p}/`));
  return {
    readFile: async (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`ENOENT: ${p}`);
      return t;
    },
    readdir: async (p) => [
      ...new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(`${p}/`))
          .map((f) => f.slice(p.length + 1).split("/")[0] ?? ""),
      ),
    ],
    isDirectory: async (p) => {
      if (isDir(p)) return true;
      if (p in files) return false;
      throw new Error(`ENOENT: ${p}`);
    },
  };
}

describe("loadReports", () => {
  const fs = memFs({
    "old/kafka-broker-down/report.json": toJson(kafkaBrokerDownPassed()),
    "old/kafka-broker-down/junit.xml": "<testsuites/>",
    "old/nested/deeper/db.report.json": toJson(dbPoolExhaustedFailed()),
    "old/notes.json": "{}",
    "single.json": toJson(kafkaBrokerDownPassed()),
    "empty/readme.txt": "",
    "broken/report.json": JSON.stringify({ ...kafkaBrokerDownPassed(), outcome: "meh" }),
  });

  it("finds report.json and *.report.json recursively in directories, takes files as given", async () => {
    const got = await loadReports(["old", "single.json"], fs);
    expect(got.map((g) => [g.path, g.report.drill.scenario])).toEqual([
      ["old/kafka-broker-down/report.json", "kafka-broker-down"],
      ["old/nested/deeper/db.report.json", "db-pool-exhausted"],
      ["single.json", "kafka-broker-down"],
    ]);
  });

  it("names the file and the field of an invalid report", async () => {
    await expect(loadReports(["broken"], fs)).rejects.toThrow(
      'broken/report.json: report.outcome: expected one of "passed", "failed", "aborted"',
    );
  });

  it("a directory without reports or a missing path is an error naming it", async () => {
    await expect(loadReports(["empty"], fs)).rejects.toThrow("empty: no report.json in this directory or below");
    await expect(loadReports(["nope.json"], fs)).rejects.toBeInstanceOf(ReportLoadError);
  });
});

describe("loadReports on the real file system", () => {
  it("refuses a FIFO and /dev/zero as a report at once, naming the file", async () => {
    const { execFileSync } = await import("node:child_process");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const fifo = join(mkdtempSync(join(tmpdir(), "gm-report-")), "report.json");
    execFileSync("mkfifo", [fifo]);
    await expect(loadReports([fifo])).rejects.toThrow(`${fifo}: cannot read (expected a regular file, got a FIFO)`);
    await expect(loadReports(["/dev/zero"])).rejects.toThrow("/dev/zero: cannot read (expected a regular file, got a character device)");
  });
});
