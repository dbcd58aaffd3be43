/**
 * Which runbook steps are proven: when each last passed a game-day drill, read from earlier reports
 * (report.json), and whether that is recent enough for the policy (`verification.provenWithinDays`).
 * A step "passed a drill" when it did its job (ok) in a drill that passed as a whole — a step that ran
 * in a drill which then failed (recovery missed, data lost) proved nothing about the incident. Reports
 * of real incidents (`incident` set) are not drills and prove nothing either.
 */
import type { LoadedReport } from "./report-files.js";

export interface StepProof {
  step: string;
  /** when the step last passed a drill (its start), null when never in these reports */
  lastPassedAt: string | null;
  /** the drill (scenario) and report file of that pass */
  drill: string | null;
  report: string | null;
  /** false: never passed, or not within the policy's window — the on-call output marks it **unverified** */
  verified: boolean;
  /** in words, for the output: "passed drill kafka-broker-down 3 day(s) ago (2026-11-30T10:02:11Z)" */
  note: string;
}

const DAY = 24 * 3600 * 1000;

/** The proof of each of `steps` in `reports`, judged at `now` against a window of `withinDays`. */
export function stepProofs(steps: readonly string[], reports: readonly LoadedReport[], now: number, withinDays: number): StepProof[] {
  const best = new Map<string, { at: string; drill: string; report: string }>();
  for (const { path, report } of reports) {
    if (report.outcome !== "passed" || report.incident !== undefined) continue;
    for (const s of report.steps) {
      if (!s.ok) continue;
      const prev = best.get(s.id);
      if (!prev || Date.parse(s.startedAt) > Date.parse(prev.at))
        best.set(s.id, { at: s.startedAt, drill: report.drill.scenario, report: path });
    }
  }
  return steps.map((step) => {
    const b = best.get(step);
    if (!b)
      return {
        step,
        lastPassedAt: null,
        drill: null,
        report: null,
        verified: false,
        note: "unverified: never passed a drill in these reports",
      };
    const days = (now - Date.parse(b.at)) / DAY;
    const ago = `${Math.max(0, Math.floor(days))} day(s) ago (${b.at})`;
    const verified = days <= withinDays;
    return {
      step,
      lastPassedAt: b.at,
      drill: b.drill,
      report: b.report,
      verified,
      note: verified
        ? `passed drill ${b.drill} ${ago}`
        : `unverified: last passed drill ${b.drill} ${ago}, not within ${withinDays} day(s)`,
    };
  });
}
