/**
 * What `npm run bench:prober` measures a side with, kept pure where it can be: the CPU time and peak
 * RSS of a process tree read from /proc (utime+stime of /proc/<pid>/stat, VmHWM of /proc/<pid>/status),
 * and the log-log slope that says how a cost grows with the number of targets or partitions.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The kernel's clock ticks per second for utime/stime (USER_HZ, 100 on every Linux architecture Node runs on). */
export const CLOCK_TICKS = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process itself, in clock ticks */
  ticks: number;
  /** cutime + cstime: children it already waited for, in clock ticks */
  childTicks: number;
}

/**
 * One /proc/<pid>/stat line. The command name (field 2) is in parentheses and may itself hold spaces and
 * parentheses, so the fields are counted from the last ")".
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`/proc stat: expected "pid (comm) state …", got ${JSON.stringify(line.slice(0, 80))}`);
  const pid = Number(line.slice(0, open).trim());
  // after ")": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17)
  const rest = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number) => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc stat of ${pid}: field ${n} is not a number (${JSON.stringify(rest[n - 3])})`);
    return v;
  };
  return { pid, ppid: field(4), ticks: field(14) + field(15), childTicks: field(16) + field(17) };
}

/** VmHWM (peak resident set size) of a /proc/<pid>/status text, in bytes; undefined for a kernel thread or a zombie. */
export function parseVmHWM(status: string): number | undefined {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Every pid of the tree rooted at `roots` (the roots included) in a list of stats, by parent pid. */
export function treePids(stats: readonly ProcStat[], roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const present = new Set(stats.map((s) => s.pid));
  const out: number[] = [];
  const todo = roots.filter((r) => present.has(r));
  while (todo.length) {
    const pid = todo.pop()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeUsage {
  /** CPU seconds: utime+stime of every live process of the tree, plus the children each already reaped */
  cpuSeconds: number;
  /** the sum of every process's VmHWM (an upper bound of the tree's peak when its processes peaked apart) */
  peakRssBytes: number;
  pids: number[];
}

/** CPU seconds and peak RSS of the process trees rooted at `roots`, read from `/proc` now. */
export function readTreeUsage(roots: readonly number[], proc = "/proc"): TreeUsage {
  const stats: ProcStat[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      stats.push(parseProcStat(readFileSync(`${proc}/${name}/stat`, "utf8")));
    } catch {
      // gone between readdir and read
    }
  }
  const pids = treePids(stats, roots);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  let ticks = 0;
  let peak = 0;
  for (const pid of pids) {
    const s = byPid.get(pid)!;
    ticks += s.ticks + s.childTicks;
    try {
      peak += parseVmHWM(readFileSync(`${proc}/${pid}/status`, "utf8")) ?? 0;
    } catch {
      // exited meanwhile
    }
  }
  return { cpuSeconds: ticks / CLOCK_TICKS, peakRssBytes: peak, pids };
}

/**
 * The least-squares slope of log(y) against log(x): how y grows with x (1: linearly, 0: not at all,
 * 0.5: as its square root). Points with x or y ≤ 0 have no logarithm and are left out; undefined with
 * fewer than two distinct x left.
 */
export function logLogSlope(points: readonly { x: number; y: number }[]): number | undefined {
  const p = points.filter((q) => q.x > 0 && q.y > 0).map((q) => ({ x: Math.log(q.x), y: Math.log(q.y) }));
  if (new Set(p.map((q) => q.x)).size < 2) return undefined;
  const mx = p.reduce((s, q) => s + q.x, 0) / p.length;
  const my = p.reduce((s, q) => s + q.y, 0) / p.length;
  const sxy = p.reduce((s, q) => s + (q.x - mx) * (q.y - my), 0);
  const sxx = p.reduce((s, q) => s + (q.x - mx) ** 2, 0);
  return sxy / sxx;
}

/** The slope between each pair of neighbouring sizes, then over all of them: "0.98, 1.02, 1.01 (all 1.00)". */
export function describeGrowth(points: readonly { x: number; y: number }[]): string {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const steps = sorted.slice(1).map((q, i) => logLogSlope([sorted[i]!, q]));
  const all = logLogSlope(sorted);
  const f = (v: number | undefined) => (v === undefined ? "—" : v.toFixed(2));
  return `${steps.map(f).join(", ")} (all ${f(all)})`;
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
