import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseReport } from "./json.js";
import { dbPoolExhaustedFailed } from "./test-fixtures.js";
import { writeReportFiles } from "./write.js";

describe("writeReportFiles", () => {
  let base = "";
  afterEach(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("creates the directory and writes the five files, returning their paths", async () => {
    base = await mkdtemp(join(tmpdir(), "gm-report-"));
    const dir = join(base, "drills", "db-pool-exhausted");
    const report = dbPoolExhaustedFailed();
    const paths = await writeReportFiles(dir, report);
    expect(paths).toEqual({
      json: join(dir, "report.json"),
      junit: join(dir, "junit.xml"),
      markdown: join(dir, "report.md"),
      svg: join(dir, "signals.svg"),
      html: join(dir, "report.html"),
    });
    expect(parseReport(await readFile(paths.json, "utf8"))).toEqual(report);
    expect(await readFile(paths.junit, "utf8")).toContain('failures="3"');
    expect(await readFile(paths.markdown, "utf8")).toContain("](signals.svg)");
    expect(await readFile(paths.svg, "utf8")).toMatch(/^<svg /);
    expect(await readFile(paths.html, "utf8")).toContain("<svg ");
    // twice is fine (overwrites)
    await expect(writeReportFiles(dir, report)).resolves.toEqual(paths);
  });
});
