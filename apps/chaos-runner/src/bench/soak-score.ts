/**
 * The soak's ground truth against the prober's incident log (pure): which scheduled fault explains
 * each incident the prober opened, precision and recall per incident kind, time to detect and to
 * resolve, pages with no fault to explain them, and the faults whose expected incident never came.
 *
 * A fault's window runs from its injection to its undo plus a grace period (what a fault leaves behind
 * for a while: a broker rejoining, a backlog draining, an error window emptying). An incident is
 * explained when it opened inside the window of a fault that expects or allows its kind and subject.
 * A page (P0/P1, opened or escalated to) inside no window at all is a false page; one inside a window
 * whose fault does not explain it is an unexpected page.
 */
import type { IncidentKind, Severity } from "@gm/runbook/incident";

export interface IncidentMatch {
  kind: IncidentKind;
  /** the incident's subject, "*" for any */
  subject: string;
}

export interface ScheduledFault {
  id: number;
  name: string;
  description: string;
  injectedAt: number;
  /** null: never undone before the end (or the soak stopped mid-fault and undid it in its clean-up) */
  undoneAt: number | null;
  /** incidents the runbook says this fault must open (recall is counted on these) */
  expect: (IncidentMatch & { severity?: Severity })[];
  /** incidents it may open as well (symptoms, not misses): explained, never counted against precision */
  allow: IncidentMatch[];
  /** false: applying it failed (it counts for nothing) */
  applied: boolean;
  /** what went wrong applying or undoing it */
  error?: string;
}

export interface IncidentEvent {
  at: number;
  event: "opened" | "changed" | "resolved";
  kind: IncidentKind;
  severity: Severity;
  subject: string;
  from?: Severity;
}

export interface ScoreOptions {
  /** a fault's window stays open this long after its undo */
  graceMs: number;
  /** an expected incident that opens this long after the undo still counts as detected */
  detectAfterUndoMs: number;
  startedAt: number;
  endedAt: number;
}

export interface Detection {
  faultId: number;
  fault: string;
  kind: IncidentKind;
  subject: string;
  expectedSeverity: Severity | null;
  /** ms from injection to the incident open (0 when it was already open) */
  detectMs: number | null;
  alreadyOpen: boolean;
  /** ms from the undo to its resolution */
  resolveMs: number | null;
  worstSeverity: Severity | null;
}

export interface Page {
  at: number;
  kind: IncidentKind;
  subject: string;
  severity: Severity;
  event: "opened" | "changed";
  /** the faults whose window holds it (none: a false page) */
  during: string[];
}

export interface KindScore {
  kind: IncidentKind;
  expected: number;
  detected: number;
  recall: number | null;
  opened: number;
  explained: number;
  precision: number | null;
  detectMs: { median: number | null; max: number | null };
  resolveMs: { median: number | null; max: number | null };
}

export interface Score {
  kinds: KindScore[];
  detections: Detection[];
  missed: Detection[];
  falsePages: Page[];
  unexpectedPages: Page[];
  /** incidents opened that no fault explains (any severity) */
  unexplained: IncidentEvent[];
  recall: number | null;
  detectMs: { median: number | null; max: number | null };
  resolveMs: { median: number | null; max: number | null };
  /** incidents still open when the soak ended */
  openAtEnd: { kind: IncidentKind; subject: string; severity: Severity }[];
}

const RANK: Record<Severity, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };
const isPage = (s: Severity) => s === "P0" || s === "P1";
const matches = (m: IncidentMatch, e: { kind: IncidentKind; subject: string }) =>
  m.kind === e.kind && (m.subject === "*" || m.subject === e.subject);

/** Median and maximum; nulls when empty. */
export function medianMax(xs: number[]): { median: number | null; max: number | null } {
  if (xs.length === 0) return { median: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, max: s[s.length - 1]! };
}

export function scoreSoak(faults: ScheduledFault[], log: IncidentEvent[], opts: ScoreOptions): Score {
  const events = [...log].sort((a, b) => a.at - b.at);
  const windowEnd = (f: ScheduledFault) => (f.undoneAt ?? opts.endedAt) + opts.graceMs;
  const windowsAt = (t: number) => faults.filter((f) => t >= f.injectedAt && t <= windowEnd(f));

  // the open incidents just before a moment (for "already open at injection")
  const openBefore = (t: number) => {
    const open = new Map<string, Severity>();
    for (const e of events) {
      if (e.at >= t) break;
      const k = `${e.kind}|${e.subject}`;
      if (e.event === "resolved") open.delete(k);
      else open.set(k, e.severity);
    }
    return open;
  };

  const detections: Detection[] = [];
  for (const f of faults) {
    if (!f.applied) continue;
    for (const x of f.expect) {
      const same = (e: IncidentEvent) => matches(x, e);
      const until = (f.undoneAt ?? opts.endedAt) + opts.detectAfterUndoMs;
      const wasOpen = [...openBefore(f.injectedAt).keys()].find((k) => {
        const [kind, subject] = k.split("|") as [IncidentKind, string];
        return same({ at: 0, event: "opened", kind, subject, severity: "P3" });
      });
      const first = events.find((e) => same(e) && e.event !== "resolved" && e.at >= f.injectedAt && e.at <= until);
      const detectedAt = wasOpen !== undefined ? f.injectedAt : first ? first.at : null;
      let resolveMs: number | null = null;
      let worst: Severity | null = wasOpen !== undefined ? (openBefore(f.injectedAt).get(wasOpen) ?? null) : null;
      if (detectedAt !== null) {
        const after = f.undoneAt ?? opts.endedAt;
        for (const e of events) {
          if (!same(e) || e.at < f.injectedAt) continue;
          if (e.event !== "resolved" && (worst === null || RANK[e.severity] < RANK[worst])) worst = e.severity;
          if (e.event === "resolved" && e.at >= after) {
            resolveMs = e.at - after;
            break;
          }
        }
        if (f.undoneAt === null) resolveMs = null;
      }
      detections.push({
        faultId: f.id,
        fault: f.name,
        kind: x.kind,
        subject: x.subject,
        expectedSeverity: x.severity ?? null,
        detectMs: detectedAt === null ? null : detectedAt - f.injectedAt,
        alreadyOpen: wasOpen !== undefined,
        resolveMs,
        worstSeverity: worst,
      });
    }
  }

  const explains = (f: ScheduledFault, e: { kind: IncidentKind; subject: string }) =>
    f.expect.some((m) => matches(m, e)) || f.allow.some((m) => matches(m, e));
  const opened = events.filter((e) => e.event === "opened");
  const unexplained = opened.filter((e) => !windowsAt(e.at).some((f) => explains(f, e)));

  const falsePages: Page[] = [];
  const unexpectedPages: Page[] = [];
  for (const e of events) {
    if (e.event === "resolved" || !isPage(e.severity)) continue;
    if (e.event === "changed" && e.from && isPage(e.from)) continue; // already a page (P1 → P0 is the same page)
    const during = windowsAt(e.at);
    const page: Page = {
      at: e.at,
      kind: e.kind,
      subject: e.subject,
      severity: e.severity,
      event: e.event,
      during: during.map((f) => `#${f.id} ${f.name}`),
    };
    if (during.length === 0) falsePages.push(page);
    else if (!during.some((f) => explains(f, e))) unexpectedPages.push(page);
  }

  const kindsSeen = new Set<IncidentKind>([...detections.map((d) => d.kind), ...opened.map((e) => e.kind)]);
  const kinds: KindScore[] = [...kindsSeen].sort().map((kind) => {
    const ds = detections.filter((d) => d.kind === kind);
    const found = ds.filter((d) => d.detectMs !== null);
    const op = opened.filter((e) => e.kind === kind);
    const ex = op.filter((e) => !unexplained.includes(e));
    return {
      kind,
      expected: ds.length,
      detected: found.length,
      recall: ds.length ? found.length / ds.length : null,
      opened: op.length,
      explained: ex.length,
      precision: op.length ? ex.length / op.length : null,
      detectMs: medianMax(found.filter((d) => !d.alreadyOpen).map((d) => d.detectMs!)),
      resolveMs: medianMax(ds.filter((d) => d.resolveMs !== null).map((d) => d.resolveMs!)),
    };
  });

  const end = openBefore(Number.POSITIVE_INFINITY);
  const found = detections.filter((d) => d.detectMs !== null);
  return {
    kinds,
    detections,
    missed: detections.filter((d) => d.detectMs === null),
    falsePages,
    unexpectedPages,
    unexplained,
    recall: detections.length ? found.length / detections.length : null,
    detectMs: medianMax(found.filter((d) => !d.alreadyOpen).map((d) => d.detectMs!)),
    resolveMs: medianMax(detections.filter((d) => d.resolveMs !== null).map((d) => d.resolveMs!)),
    openAtEnd: [...end].map(([k, severity]) => {
      const [kind, subject] = k.split("|") as [IncidentKind, string];
      return { kind, subject, severity };
    }),
  };
}

/** RSS or handle samples: first, last, max, and growth from the first sample after the warm-up to the end (median of 3 each side). */
export function growth(
  samples: { at: number; value: number }[],
  warmupEndsAt: number,
): {
  first: number | null;
  last: number | null;
  max: number | null;
  afterWarmup: number | null;
  atEnd: number | null;
  growth: number | null;
} {
  if (samples.length === 0) return { first: null, last: null, max: null, afterWarmup: null, atEnd: null, growth: null };
  const after = samples.filter((s) => s.at >= warmupEndsAt);
  const med = (xs: { value: number }[]) => medianMax(xs.map((x) => x.value)).median;
  const a = after.length >= 2 ? med(after.slice(0, 3)) : null;
  const b = after.length >= 2 ? med(after.slice(-3)) : null;
  return {
    first: samples[0]!.value,
    last: samples[samples.length - 1]!.value,
    max: Math.max(...samples.map((s) => s.value)),
    afterWarmup: a,
    atEnd: b,
    growth: a !== null && b !== null && a > 0 ? (b - a) / a : null,
  };
}
