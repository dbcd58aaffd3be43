/**
 * Incident lifecycle with hysteresis, so an alert does not flap: an incident opens at its first
 * detection (detection speed matters), escalates at once, but resolves — or de-escalates — only after
 * `resolveAfter` consecutive rounds without it (or at the lower severity).
 */
import { SEVERITIES, type Incident, type Severity } from "@gm/runbook/incident";

export type Transition =
  | { type: "opened"; incident: Incident }
  | { type: "changed"; incident: Incident; from: Severity }
  | { type: "resolved"; incident: Incident };

interface Tracked {
  incident: Incident;
  openedAt: string;
  missing: number;
  lowerFor: number;
}

const key = (i: Pick<Incident, "kind" | "subject">) => `${i.kind}|${i.subject}`;
const rank = (s: Severity) => SEVERITIES.indexOf(s);

/** `seed`: incidents already open (a restarted prober's, from its journal): continued, resolved after `resolveAfter` rounds without them. */
export function createIncidentTracker(resolveAfter: number, seed: Incident[] = []) {
  const open = new Map<string, Tracked>(seed.map((i) => [key(i), { incident: i, openedAt: i.respondBy, missing: 0, lowerFor: 0 }]));
  return {
    /** Feed one round's classification; returns what changed. */
    update(found: Incident[]): Transition[] {
      const out: Transition[] = [];
      const seen = new Set<string>();
      for (const inc of found) {
        const k = key(inc);
        seen.add(k);
        const t = open.get(k);
        if (!t) {
          open.set(k, { incident: inc, openedAt: inc.respondBy, missing: 0, lowerFor: 0 });
          out.push({ type: "opened", incident: inc });
          continue;
        }
        t.missing = 0;
        const from = t.incident.severity;
        if (rank(inc.severity) < rank(from)) {
          // Worse: escalate now, keeping the original response deadline if it was earlier.
          t.incident = inc;
          t.lowerFor = 0;
          out.push({ type: "changed", incident: inc, from });
        } else if (rank(inc.severity) > rank(from)) {
          t.lowerFor += 1;
          if (t.lowerFor >= resolveAfter) {
            t.incident = inc;
            t.lowerFor = 0;
            out.push({ type: "changed", incident: inc, from });
          } else
            t.incident = {
              ...inc,
              severity: from,
              responseMinutes: t.incident.responseMinutes,
              respondBy: t.incident.respondBy,
              escalation: t.incident.escalation,
            };
        } else {
          t.lowerFor = 0;
          t.incident = { ...inc, respondBy: t.incident.respondBy };
        }
      }
      for (const [k, t] of open) {
        if (seen.has(k)) continue;
        t.missing += 1;
        if (t.missing >= resolveAfter) {
          open.delete(k);
          out.push({ type: "resolved", incident: t.incident });
        }
      }
      return out;
    },
    /** Incidents open now (including those waiting out their hysteresis). */
    active(): Incident[] {
      return [...open.values()].map((t) => t.incident);
    },
  };
}
