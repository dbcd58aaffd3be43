/**
 * What a drill's verdict is made of, besides detection, recovery, integrity and clean-up — pure, so each
 * part is unit-tested: every page the prober would have sent (nothing worse and nothing unexpected than
 * the drill file says), the hypothesis's measurable claims against what was observed, and every step
 * that ran having done its job.
 */
import { type Incident, SEVERITIES, type Severity } from "@gm/runbook/incident";
import type { Policy } from "@gm/runbook/policy";
import type { Check, IncidentOpen, StepRecord, ToleranceResult } from "@gm/report/schema";
import type { ExpectedCollateral, Scenario, Tolerance } from "./scenario.js";

const rank = (s: Severity) => SEVERITIES.indexOf(s);
/** `a` is at most as severe as `b` (P3 is at most P1). */
const atMost = (a: Severity, b: Severity) => rank(a) >= rank(b);

/** One request the drill's load made: which service, when it was answered, and how ("202", "503", "error"). */
export interface RequestOutcome {
  service: string;
  at: number;
  status: string;
}

/**
 * Every incident the prober had open (after hysteresis: what it pages on) from the injection on, once per
 * kind and subject at its worst severity, judged against the drill file: the expected incident (any
 * severity up to the expected one), listed collateral (up to its listed severity), or unexpected.
 */
export function judgeIncidents(
  samples: readonly { at: number; active: readonly Incident[] }[],
  from: number,
  expect: { kind: Incident["kind"]; severity: Severity },
  alsoExpected: readonly ExpectedCollateral[],
  policy: Policy,
): IncidentOpen[] {
  const seen = new Map<string, { i: Incident; firstSeenAt: number }>();
  for (const x of samples) {
    if (x.at < from) continue;
    for (const i of x.active) {
      const k = `${i.kind}|${i.subject}`;
      const had = seen.get(k);
      if (!had) seen.set(k, { i, firstSeenAt: x.at });
      else if (rank(i.severity) < rank(had.i.severity)) had.i = i;
    }
  }
  return [...seen.values()].map(({ i, firstSeenAt }) => {
    const base = {
      kind: i.kind,
      severity: i.severity,
      subject: i.subject,
      firstSeenAt: new Date(firstSeenAt).toISOString(),
      page: policy.severities[i.severity].escalation,
    };
    if (i.kind === expect.kind) {
      return atMost(i.severity, expect.severity)
        ? { ...base, verdict: "expected" as const, reason: "the incident this drill exercises" }
        : { ...base, verdict: "worse" as const, reason: `worse than the expected ${expect.severity}` };
    }
    const listed = alsoExpected.find((c) => c.kind === i.kind && c.subject === i.subject);
    if (!listed) return { ...base, verdict: "unexpected" as const, reason: "not listed in the drill file's alsoExpected" };
    return atMost(i.severity, listed.severity)
      ? { ...base, verdict: "collateral" as const, reason: listed.reason }
      : { ...base, verdict: "worse" as const, reason: `listed up to ${listed.severity} (${listed.reason})` };
  });
}

/** The worst severity among the incidents open, or null. */
export function worstSeverity(open: readonly IncidentOpen[]): Severity | null {
  return open.reduce<Severity | null>((w, o) => (w === null || rank(o.severity) < rank(w) ? o.severity : w), null);
}

/** The check of the pages: fails naming every incident that was worse than or not in the drill file. */
export function pagesCheck(open: readonly IncidentOpen[]): Check {
  const bad = open.filter((o) => o.verdict === "worse" || o.verdict === "unexpected");
  const worst = worstSeverity(open);
  return {
    name: "nothing worse or unexpected was open",
    ok: bad.length === 0,
    detail:
      bad.length > 0
        ? bad.map((o) => `${o.kind} ${o.severity} on ${o.subject} (${o.verdict}: ${o.reason}; would ${pageWord(o.page)})`).join("; ")
        : `worst open: ${worst ?? "none"}; ${open.filter((o) => o.verdict === "collateral").length} expected collateral incident(s)`,
  };
}

const pageWord = (e: IncidentOpen["page"]) =>
  e === "page" ? "page on-call" : e === "ticket-and-notify" ? "open a ticket and notify the team" : "open a ticket";

/** A window of the drill, in epoch ms. */
export interface Window {
  from: number;
  to: number;
}

/**
 * Measures each tolerance in its window: `5xx-share` from the load's own requests (answered 5xx, or not
 * answered at all: "error"; "skipped" — never sent, the generator's in-flight bound — is not counted),
 * `error-rate` and `lag` from the prober's rounds that ended in the window. Nothing measured is a failed claim.
 */
export function measureTolerances(
  tolerances: readonly Tolerance[],
  windows: { fault: Window | null; after: Window | null },
  samples: readonly {
    at: number;
    snapshot: { errorRates: { service: string; rate: number | null }[]; kafka: { groups: { totalLag: number }[] } | null };
  }[],
  requests: readonly RequestOutcome[],
): ToleranceResult[] {
  return tolerances.map((t): ToleranceResult => {
    const w = windows[t.during];
    const base = { claim: t.claim, signal: t.signal, ...(t.service ? { service: t.service } : {}), during: t.during, max: t.max };
    if (!w)
      return {
        ...base,
        observed: null,
        ok: false,
        detail: `not measured: the drill never reached its ${t.during === "fault" ? "fault" : "post-recovery"} window`,
      };
    const inWindow = (at: number) => at >= w.from && at <= w.to;
    switch (t.signal) {
      case "5xx-share": {
        const rs = requests.filter((r) => r.service === t.service && inWindow(r.at) && r.status !== "skipped");
        if (rs.length === 0)
          return { ...base, observed: null, ok: false, detail: `not measured: no request to ${t.service} answered in the window` };
        const bad = rs.filter((r) => r.status === "error" || r.status.startsWith("5")).length;
        const share = bad / rs.length;
        return {
          ...base,
          observed: round4(share),
          ok: share <= t.max,
          detail: `${bad} of ${rs.length} request(s) to ${t.service} answered 5xx or not at all (${pct(share)}; tolerance ${pct(t.max)})`,
        };
      }
      case "error-rate": {
        const rates = samples
          .filter((x) => inWindow(x.at))
          .flatMap((x) => x.snapshot.errorRates.filter((e) => e.service === t.service && e.rate !== null).map((e) => e.rate as number));
        if (rates.length === 0)
          return {
            ...base,
            observed: null,
            ok: false,
            detail: `not measured: the prober observed no error rate of ${t.service} in the window`,
          };
        const worst = Math.max(...rates);
        return {
          ...base,
          observed: round4(worst),
          ok: worst <= t.max,
          detail: `worst error rate of ${t.service} over ${rates.length} round(s): ${pct(worst)} (tolerance ${pct(t.max)})`,
        };
      }
      case "lag": {
        const lags = samples
          .filter((x) => inWindow(x.at) && x.snapshot.kafka)
          .map((x) => x.snapshot.kafka!.groups.reduce((n, g) => n + g.totalLag, 0));
        if (lags.length === 0)
          return { ...base, observed: null, ok: false, detail: "not measured: the prober observed no consumer lag in the window" };
        const worst = Math.max(...lags);
        return {
          ...base,
          observed: worst,
          ok: worst <= t.max,
          detail: `worst total lag over ${lags.length} round(s): ${worst} (tolerance ${t.max})`,
        };
      }
      default: {
        const never: never = t.signal;
        throw new Error(`unknown tolerance signal ${String(never)}`);
      }
    }
  });
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;

/** One check per step that ended NOT ok: failed, unless the drill file says it may fail (and why). */
export function stepChecks(steps: readonly StepRecord[], mayFail: Scenario["mayFail"]): Check[] {
  return steps
    .filter((s) => !s.ok)
    .map((s) => {
      const allowed = mayFail.find((m) => m.step === s.id);
      const what = s.output[0] ?? "no output";
      return allowed
        ? { name: `step ${s.id} may fail`, ok: true, detail: `NOT ok (${what}), allowed: ${allowed.reason}` }
        : { name: `step ${s.id} did its job`, ok: false, detail: `NOT ok: ${what}` };
    });
}
