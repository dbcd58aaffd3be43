import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeGrowth, logLogSlope, median, parseProcStat, parseVmHWM, readTreeUsage, treePids } from "./proc-stats.js";

// A real line of /proc/<pid>/stat (a node process), with utime 1234, stime 56, cutime 7, cstime 8.
const line = (pid: number, comm: string, ppid: number, utime: number, stime: number, cutime = 0, cstime = 0) =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 34816 ${pid} 4194304 12817 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 11 0 4402733 1198358528 31201 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0`;

describe("parseProcStat", () => {
  it("reads pid, ppid, utime+stime and cutime+cstime", () => {
    expect(parseProcStat(line(4242, "node", 1, 1234, 56, 7, 8))).toEqual({ pid: 4242, ppid: 1, ticks: 1290, childTicks: 15 });
  });
  it("counts fields from the last parenthesis: a command name with spaces and parentheses", () => {
    expect(parseProcStat(line(7, "a) S 99 (b", 3, 10, 20))).toEqual({ pid: 7, ppid: 3, ticks: 30, childTicks: 0 });
  });
  it("refuses a line that is not a stat line, quoting it", () => {
    expect(() => parseProcStat("garbage")).toThrow(/expected "pid \(comm\) state …", got "garbage"/);
  });
});

describe("parseVmHWM", () => {
  it("reads the peak RSS in bytes", () => {
    expect(parseVmHWM("Name:\tnode\nVmPeak:\t 1170272 kB\nVmHWM:\t  124800 kB\nVmRSS:\t  120000 kB\n")).toBe(124_800 * 1024);
  });
  it("is undefined without VmHWM (a kernel thread)", () => {
    expect(parseVmHWM("Name:\tkthreadd\nState:\tS (sleeping)\n")).toBeUndefined();
  });
});

describe("treePids", () => {
  const stats = [
    { pid: 1, ppid: 0, ticks: 0, childTicks: 0 },
    { pid: 10, ppid: 1, ticks: 0, childTicks: 0 },
    { pid: 11, ppid: 10, ticks: 0, childTicks: 0 },
    { pid: 12, ppid: 11, ticks: 0, childTicks: 0 },
    { pid: 20, ppid: 1, ticks: 0, childTicks: 0 },
  ];
  it("takes every descendant of the roots and nothing else", () => {
    expect(treePids(stats, [10]).sort((a, b) => a - b)).toEqual([10, 11, 12]);
    expect(treePids(stats, [10, 20]).sort((a, b) => a - b)).toEqual([10, 11, 12, 20]);
  });
  it("leaves out a root that is gone", () => {
    expect(treePids(stats, [99])).toEqual([]);
  });
});

describe("readTreeUsage", () => {
  it("sums CPU ticks (with reaped children) and VmHWM over the tree, in seconds and bytes", () => {
    const proc = mkdtempSync(join(tmpdir(), "proc-"));
    const put = (pid: number, stat: string, hwmKb?: number) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), "stat"), stat);
      writeFileSync(join(proc, String(pid), "status"), hwmKb === undefined ? "Name:\tx\n" : `Name:\tx\nVmHWM:\t${hwmKb} kB\n`);
    };
    put(100, line(100, "prometheus", 1, 300, 100, 50, 50), 1000);
    put(101, line(101, "child", 100, 20, 30), 24);
    put(200, line(200, "other", 1, 9999, 9999), 99_999);
    mkdirSync(join(proc, "self"));
    const u = readTreeUsage([100], proc);
    expect(u.cpuSeconds).toBeCloseTo((300 + 100 + 50 + 50 + 20 + 30) / 100);
    expect(u.peakRssBytes).toBe((1000 + 24) * 1024);
    expect(u.pids.sort()).toEqual([100, 101]);
  });
});

describe("logLogSlope", () => {
  it("is 1 for linear growth, 0 for constant, 0.5 for a square root", () => {
    expect(logLogSlope([10, 100, 1000].map((x) => ({ x, y: 3 * x })))).toBeCloseTo(1);
    expect(logLogSlope([10, 100, 1000].map((x) => ({ x, y: 7 })))).toBeCloseTo(0);
    expect(logLogSlope([10, 100, 10_000].map((x) => ({ x, y: Math.sqrt(x) })))).toBeCloseTo(0.5);
  });
  it("fits the least-squares line through scattered points", () => {
    // log10 x = 1, 2, 3; log10 y = 0, 2, 2 → slope 1
    expect(
      logLogSlope([
        { x: 10, y: 1 },
        { x: 100, y: 100 },
        { x: 1000, y: 100 },
      ]),
    ).toBeCloseTo(1);
  });
  it("leaves out points without a logarithm and needs two distinct x", () => {
    expect(
      logLogSlope([
        { x: 10, y: 0 },
        { x: 100, y: 5 },
      ]),
    ).toBeUndefined();
    expect(
      logLogSlope([
        { x: 10, y: 1 },
        { x: 10, y: 5 },
      ]),
    ).toBeUndefined();
  });
});

describe("describeGrowth", () => {
  it("prints each step's slope and the overall one, in order of size", () => {
    expect(
      describeGrowth([
        { x: 100, y: 100 },
        { x: 10, y: 10 },
        { x: 1000, y: 100 },
      ]),
    ).toBe("1.00, 0.00 (all 0.50)");
  });
});

describe("median", () => {
  it("takes the middle of an odd list and the mean of the two middles of an even one", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
