/**
 * Snapshot → incidents. Every catalog rule runs; findings of the same (kind, subject) become one
 * incident with the worst severity and all their evidence. Collection errors alone raise nothing
 * (a collector failing is not a platform incident, and guessing would page people for a prober bug);
 * they are appended as evidence to incidents of the kinds that depend on that collector.
 */
import { CATALOG } from "./catalog.js";
import { type Evidence, INCIDENT_KINDS, type Incident, SEVERITIES, worse } from "./incident.js";
import { defaultPolicy, type Policy } from "./policy.js";
import type { Snapshot } from "./snapshot.js";

/** Classifies a snapshot; ordered by severity, then kind (catalog order), then subject. */
export function classify(snapshot: Snapshot, policy: Policy = defaultPolicy): Incident[] {
  const at = Date.parse(snapshot.at);
  if (Number.isNaN(at)) throw new Error(`snapshot.at: expected an ISO 8601 time, got ${JSON.stringify(snapshot.at)}`);
  const incidents: Incident[] = [];
  for (const kind of INCIDENT_KINDS) {
    const entry = CATALOG[kind];
    const bySubject = new Map<string, Incident & { summaries: string[] }>();
    for (const f of entry.detect(snapshot, policy)) {
      const prev = bySubject.get(f.subject);
      if (!prev) {
        bySubject.set(f.subject, {
          kind,
          severity: f.severity,
          subject: f.subject,
          summary: "",
          evidence: [...f.evidence],
          responseMinutes: 0,
          respondBy: "",
          escalation: "page",
          steps: entry.steps.map((s) => s.id),
          summaries: [f.summary],
        });
        continue;
      }
      // The worst finding's summary goes first: it is the one that set the severity.
      if (worse(f.severity, prev.severity) !== prev.severity) prev.summaries.unshift(f.summary);
      else prev.summaries.push(f.summary);
      prev.severity = worse(prev.severity, f.severity);
      prev.evidence.push(...f.evidence);
    }
    const failed: Evidence[] = snapshot.collectionErrors
      .filter((c) => entry.collectors.includes(c.collector))
      .map((c) => ({
        signal: `collectionErrors[${c.collector}]`,
        observed: c.error,
        threshold: "collector succeeds (this signal may be incomplete)",
      }));
    for (const { summaries, ...inc } of bySubject.values()) {
      const sev = policy.severities[inc.severity];
      incidents.push({
        ...inc,
        summary: [...new Set(summaries)].join("; "),
        evidence: [...inc.evidence, ...failed],
        responseMinutes: sev.responseMinutes,
        respondBy: new Date(at + sev.responseMinutes * 60_000).toISOString(),
        escalation: sev.escalation,
      });
    }
  }
  return incidents.sort(
    (a, b) =>
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
      INCIDENT_KINDS.indexOf(a.kind) - INCIDENT_KINDS.indexOf(b.kind) ||
      (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0),
  );
}
