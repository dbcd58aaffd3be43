/**
 * Loading report.json files for `gm-chaos report compare OLD NEW`: each path is a report file or a
 * directory searched recursively for `report.json` / `*.report.json`. The file system is injected,
 * so the logic is testable without disk; `nodeReportFs` is the real one.
 */
import { constants } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseReport, ReportFormatError } from "./json.js";
import type { DrillReport } from "./schema.js";

/** The file-system calls loadReports needs. */
export interface ReportFs {
  readFile(path: string): Promise<string>;
  /** entry names (not paths) of a directory */
  readdir(path: string): Promise<string[]>;
  isDirectory(path: string): Promise<boolean>;
}

/** A report.json is a few hundred KiB; past this it is not one, and reading it could exhaust memory. */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

/**
 * A regular file's text, at most MAX_REPORT_BYTES: a FIFO (which would wait for a writer for ever) or
 * /dev/zero (endless) is refused before it is read.
 */
async function readRegularFile(path: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new Error(
        `expected a regular file, got ${st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : st.isCharacterDevice() ? "a character device" : "something else"}`,
      );
    if (st.size > MAX_REPORT_BYTES) throw new Error(`expected at most ${MAX_REPORT_BYTES} bytes, the file has ${st.size}`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

export const nodeReportFs: ReportFs = {
  readFile: readRegularFile,
  readdir: (p) => readdir(p),
  isDirectory: async (p) => (await stat(p)).isDirectory(),
};

export interface LoadedReport {
  path: string;
  report: DrillReport;
}

/** A report file that could not be read or is not a valid DrillReport; the message starts with the file. */
export class ReportLoadError extends Error {
  override readonly name = "ReportLoadError";
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${message}`, options);
  }
}

const isReportFile = (name: string) => name === "report.json" || name.endsWith(".report.json");

async function collect(fs: ReportFs, dir: string, out: string[]): Promise<void> {
  const names = (await fs.readdir(dir)).sort();
  for (const name of names) {
    const p = join(dir, name);
    if (await fs.isDirectory(p)) await collect(fs, p, out);
    else if (isReportFile(name)) out.push(p);
  }
}

/**
 * Every report under `paths`, in path order. Throws ReportLoadError for a missing path, a directory
 * without reports, or an invalid file (naming the file and the field).
 */
export async function loadReports(paths: string[], fs: ReportFs = nodeReportFs): Promise<LoadedReport[]> {
  const files: string[] = [];
  for (const p of paths) {
    let dir: boolean;
    try {
      dir = await fs.isDirectory(p);
    } catch (e) {
      throw new ReportLoadError(p, `cannot read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    if (!dir) {
      files.push(p);
      continue;
    }
    const found: string[] = [];
    await collect(fs, p, found);
    if (found.length === 0) throw new ReportLoadError(p, "no report.json in this directory or below");
    files.push(...found);
  }
  const out: LoadedReport[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fs.readFile(file);
    } catch (e) {
      throw new ReportLoadError(file, `cannot read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    try {
      out.push({ path: file, report: parseReport(text) });
    } catch (e) {
      if (e instanceof ReportFormatError) throw new ReportLoadError(file, e.message, { cause: e });
      throw e;
    }
  }
  return out;
}

/**
 * Every readable report under `dir`, for a lookup that must not stop at one bad file (which steps passed
 * earlier game days): a file that cannot be read or is not a DrillReport is told in `problems` (file and
 * field) and skipped; a missing directory is no report and one problem.
 */
export async function loadReportsTolerant(
  dir: string,
  fs: ReportFs = nodeReportFs,
): Promise<{ reports: LoadedReport[]; problems: string[] }> {
  const files: string[] = [];
  try {
    if (!(await fs.isDirectory(dir))) return { reports: [], problems: [`${dir}: not a directory of reports`] };
    await collect(fs, dir, files);
  } catch (e) {
    return { reports: [], problems: [`${dir}: cannot read (${e instanceof Error ? e.message : String(e)})`] };
  }
  const reports: LoadedReport[] = [];
  const problems: string[] = [];
  for (const file of files) {
    try {
      reports.push({ path: file, report: parseReport(await fs.readFile(file)) });
    } catch (e) {
      problems.push(`${file}: ${e instanceof Error ? e.message : String(e)}; skipped`);
    }
  }
  return { reports, problems };
}
