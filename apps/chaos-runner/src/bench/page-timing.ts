/**
 * The measuring part of `npm run bench:page` (page-bench.ts), pure so that it can be tested without a
 * stack: which pipeline a notification came from and what it paged for (pageRecords), the first page of a
 * pipeline that matches a fault after its injection (firstPage), the floor, medians and spread over runs
 * (summarize), and the printed table. A fault a pipeline never paged for is `null` here and "not
 * detected" in the table, never a time.
 */
import { type Notification, renderTimeInterval } from "@gm/monitor/alertmanager-run";

/** Who sent the alert: gm-prober (no `pipeline` label) or one of the Prometheus profiles (its external label). */
export const PIPELINES = ["prober", "prometheus-kube", "prometheus-tuned"] as const;
export type Pipeline = (typeof PIPELINES)[number];

/**
 * The bench's two edits to the committed routing (the rest is the file's): `pipeline` joins the root
 * route's `group_by` (inherited by every severity route) and each inhibit rule's `equal`, so that one
 * pipeline's alert neither joins another's already-notified group (it would wait for the next
 * group_interval) nor silences it; and the business-hours interval is moved to now, so a P3 ticket is
 * measured rather than held until the next weekday 09:00. The prober's alerts have no `pipeline` label,
 * so for them nothing changes.
 */
export function benchRouting(config: Record<string, unknown>, now = new Date()): void {
  const route = config["route"] as { group_by?: string[] } | undefined;
  if (!route) throw new Error("routing: no route");
  route.group_by = [...(route.group_by ?? []), "pipeline"];
  for (const rule of (config["inhibit_rules"] ?? []) as { equal?: string[] }[]) rule.equal = [...(rule.equal ?? []), "pipeline"];
  renderTimeInterval(config, "business-hours", "inside", now);
}

/** One firing alert that reached a receiver, with the pipeline it came from. */
export interface PageRecord {
  at: number;
  pipeline: Pipeline | "unknown";
  labels: Record<string, string>;
  receiver: string;
  vendor: Notification["vendor"];
}

/**
 * A PagerDuty body carries the alerts' labels only as the text of the committed routing's
 * `details.firing` (Alertmanager's `pagerduty.default.instances` template: per alert "Labels:" then
 * " - name = value" lines, then "Annotations:"). Returns one label set per alert.
 */
export function labelsFromPagerDutyText(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let current: Record<string, string> | null = null;
  let inLabels = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("Labels:")) {
      current = {};
      out.push(current);
      inLabels = true;
      continue;
    }
    if (line.startsWith("Annotations:") || line.startsWith("Source:")) {
      inLabels = false;
      continue;
    }
    const m = /^ - ([A-Za-z_][A-Za-z0-9_]*) = (.*)$/.exec(line);
    if (m && inLabels && current) current[m[1]!] = m[2]!;
  }
  return out;
}

function pipelineOf(labels: Record<string, string>): Pipeline | "unknown" {
  const p = labels["pipeline"];
  if (p === undefined) return "prober";
  return (PIPELINES as readonly string[]).includes(p) ? (p as Pipeline) : "unknown";
}

/**
 * The firing alerts of one notification, each with its pipeline. Alertmanager's webhook JSON carries every
 * label; PagerDuty's Events API body carries them in `payload.custom_details.firing` (see
 * labelsFromPagerDutyText). A Slack message carries only its title (no pipeline): skipped — in the
 * committed routing Slack is notified by the same flush as the ticket webhook, which is recorded.
 */
export function pageRecords(n: Notification): PageRecord[] {
  const base = { at: n.at, receiver: n.receiver, vendor: n.vendor };
  switch (n.vendor) {
    case "webhook":
      return n.alerts.filter((a) => a.status === "firing").map((a) => ({ ...base, pipeline: pipelineOf(a.labels), labels: a.labels }));
    case "pagerduty": {
      const body = n.body as { event_action?: string; payload?: { custom_details?: Record<string, unknown> } };
      if (body.event_action === "resolve") return [];
      const firing = body.payload?.custom_details?.["firing"];
      if (typeof firing !== "string") return [];
      return labelsFromPagerDutyText(firing).map((labels) => ({ ...base, pipeline: pipelineOf(labels), labels }));
    }
    case "slack":
      return [];
  }
}

/** An alert that counts as a page for a fault: every field given must equal the alert's label. */
export interface AlertMatch {
  alertname?: string;
  kind?: string;
  subject?: string;
}

export function matches(labels: Record<string, string>, m: readonly AlertMatch[]): boolean {
  return m.some(
    (x) =>
      (x.alertname === undefined || labels["alertname"] === x.alertname) &&
      (x.kind === undefined || labels["kind"] === x.kind) &&
      (x.subject === undefined || labels["subject"] === x.subject),
  );
}

/** The first page of `pipeline` at or after `injectedAt` carrying an alert that matches; null when none. */
export function firstPage(
  records: readonly PageRecord[],
  pipeline: Pipeline,
  match: readonly AlertMatch[],
  injectedAt: number,
): PageRecord | null {
  let best: PageRecord | null = null;
  for (const r of records)
    if (r.pipeline === pipeline && r.at >= injectedAt && matches(r.labels, match) && (best === null || r.at < best.at)) best = r;
  return best;
}

/** Seconds from `from` to `to`, or null when `to` never happened. */
export function secondsBetween(from: number, to: number | null | undefined): number | null {
  return to === null || to === undefined ? null : (to - from) / 1000;
}

/** The floor: when the system itself showed the fault, plus one interval of the pipeline that looks. */
export function floorSeconds(shownAfterSeconds: number | null, intervalSeconds: number): number | null {
  return shownAfterSeconds === null ? null : shownAfterSeconds + intervalSeconds;
}

export interface Summary {
  runs: number;
  /** runs in which it was measured (paged, classified, shown) */
  detected: number;
  median: number | null;
  /** nearest-rank 95th percentile of the detected runs */
  p95: number | null;
  min: number | null;
  max: number | null;
}

/** Median, p95 (nearest rank), min and max of the runs that measured something; nulls are counted as not detected. */
export function summarize(values: readonly (number | null)[]): Summary {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return { runs: values.length, detected: 0, median: null, p95: null, min: null, max: null };
  const median = n % 2 === 1 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
  const p95 = xs[Math.max(0, Math.ceil(0.95 * n) - 1)]!;
  return { runs: values.length, detected: n, median, p95, min: xs[0]!, max: xs[n - 1]! };
}

/**
 * "12.3 s (10.1–14.0)", "12.3 s" for one run, `none` ("not detected") when no run measured it, "2/3: 12.3 s"
 * when some missed. `none` names what a missing time means where it is not a missed detection: "no page"
 * for a drill whose verdict expected none, "never" for a recovery that did not happen.
 */
export function formatSummary(s: Summary, none = "not detected"): string {
  if (s.detected === 0 || s.median === null) return none;
  const spread = s.detected > 1 ? ` (${s.min!.toFixed(1)}–${s.max!.toFixed(1)})` : "";
  const missed = s.detected < s.runs ? `${s.detected}/${s.runs}: ` : "";
  return `${missed}${s.median.toFixed(1)} s${spread}`;
}

/** One run of one fault: seconds from injection, null when it never happened. */
export interface FaultRun {
  fault: string;
  run: number;
  injectedAt: string;
  /** when the system itself showed the fault (the bench's own 0.5 s check), seconds after injection */
  shownSeconds: number | null;
  /** end of the prober's round whose classification first held the fault */
  classifiedSeconds: number | null;
  page: Record<Pipeline, { seconds: number | null; alert: string | null; receiver: string | null }>;
  /** per Prometheus pipeline, each of the fault's alerts: when it was seen firing and when first notified */
  alerts?: Partial<Record<Pipeline, AlertTiming[]>>;
  /** anything the run could not do cleanly (undo, recovery), in words */
  notes: string[];
}

/**
 * One of a fault's alerts in one Prometheus pipeline: when the bench's poll of that Prometheus'
 * /api/v1/alerts first saw it firing, and when Alertmanager first notified it. Fired but never notified
 * is an alert the routing held back (an inhibit rule: the P0 service-down of the same subject), which the
 * page column alone cannot tell from a rule that never fired.
 */
export interface AlertTiming {
  alert: string;
  firedSeconds: number | null;
  notifiedSeconds: number | null;
}

/** How an AlertMatch is named in the output: `alertname` or `alertname{subject}`. */
export function matchName(m: AlertMatch): string {
  return `${m.alertname ?? m.kind ?? "?"}${m.subject ? `{${m.subject}}` : ""}`;
}

/** Each match's fired and first-notified seconds after injection; `firedAt` is keyed by matchName. */
export function alertTimings(
  records: readonly PageRecord[],
  pipeline: Pipeline,
  plan: readonly AlertMatch[],
  injectedAt: number,
  firedAt: ReadonlyMap<string, number>,
): AlertTiming[] {
  return plan.map((m) => ({
    alert: matchName(m),
    firedSeconds: secondsBetween(injectedAt, firedAt.get(matchName(m))),
    notifiedSeconds: secondsBetween(injectedAt, firstPage(records, pipeline, [m], injectedAt)?.at),
  }));
}

/** One line per Prometheus pipeline of a run: "ScrapeProblem fired 16.0 s, notified 46.2 s; …", "never fired" when it did not. */
export function renderAlertTimings(run: FaultRun): string[] {
  const out: string[] = [];
  for (const p of PIPELINES) {
    const list = run.alerts?.[p];
    if (!list || list.length === 0) continue;
    const cells = list.map((a) =>
      a.firedSeconds === null && a.notifiedSeconds === null
        ? `${a.alert} never fired`
        : `${a.alert} fired ${a.firedSeconds === null ? "unseen" : `${a.firedSeconds.toFixed(1)} s`}, ${a.notifiedSeconds === null ? "never notified" : `notified ${a.notifiedSeconds.toFixed(1)} s`}`,
    );
    out.push(`alerts: ${run.fault} run ${run.run} ${p}: ${cells.join("; ")}`);
  }
  return out;
}

export interface FaultSummary {
  fault: string;
  goal: string;
  floorProberSeconds: Summary;
  floorKubeSeconds: Summary;
  classifiedSeconds: Summary;
  page: Record<Pipeline, Summary>;
}

export function summarizeFault(
  fault: string,
  goal: string,
  runs: readonly FaultRun[],
  intervals: { prober: number; kube: number },
): FaultSummary {
  const mine = runs.filter((r) => r.fault === fault);
  const page = Object.fromEntries(PIPELINES.map((p) => [p, summarize(mine.map((r) => r.page[p].seconds))])) as Record<Pipeline, Summary>;
  return {
    fault,
    goal,
    floorProberSeconds: summarize(mine.map((r) => floorSeconds(r.shownSeconds, intervals.prober))),
    floorKubeSeconds: summarize(mine.map((r) => floorSeconds(r.shownSeconds, intervals.kube))),
    classifiedSeconds: summarize(mine.map((r) => r.classifiedSeconds)),
    page,
  };
}

/** A fixed-width table: one row per fault, the median (min–max) of each column, the goal beside it. */
export function renderTable(rows: readonly FaultSummary[]): string {
  const head = ["fault", "runs", "floor (5 s)", "classified", "page: prober", "prober p95", "page: prom tuned", "page: prom kube", "goal"];
  const body = rows.map((r) => [
    r.fault,
    String(r.classifiedSeconds.runs),
    formatSummary(r.floorProberSeconds),
    formatSummary(r.classifiedSeconds),
    formatSummary(r.page.prober),
    r.page.prober.p95 === null ? "not detected" : `${r.page.prober.p95.toFixed(1)} s`,
    formatSummary(r.page["prometheus-tuned"]),
    formatSummary(r.page["prometheus-kube"]),
    r.goal,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join(" | ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("-|-"), ...body.map(line)].join("\n");
}
