/**
 * Deployments as the runbook judges them (pure): a deployment is a revision of a service (a Kubernetes
 * Deployment's ReplicaSet, a `gm-chaos stack deploy`), never a restart, so the runbook's own restarts and
 * scale-ups do not look like changes. "Review recent deployments" lists the revisions created within the
 * policy's window before the incident opened; "Rollback deployment if recent change" rolls back only the
 * revision the service runs now, when it is recent and the incident began after it — and says why not
 * otherwise. What changed is described with secrets masked (`describeEnvChange`).
 */
import type { Rollout } from "./ports.js";
import { REDACTED, redactText } from "./redact.js";

/** A revision's place relative to the incident: within the window before it opened, after it opened, or older. */
export type RevisionTiming = "in-window" | "after-incident" | "older";

/** Where `createdAt` falls, for an incident opened at `openedAt` (ms) and a window of `windowSeconds` before it. */
export function revisionTiming(createdAt: string, openedAt: number, windowSeconds: number): RevisionTiming {
  const t = Date.parse(createdAt);
  if (Number.isNaN(t) || t < openedAt - windowSeconds * 1000) return "older";
  return t > openedAt ? "after-incident" : "in-window";
}

/** The revisions worth showing: those created since the window began (in window, or after the incident opened), newest first. */
export function recentRevisions(rollouts: readonly Rollout[], openedAt: number, windowSeconds: number): Rollout[] {
  return [...rollouts]
    .filter((r) => revisionTiming(r.createdAt, openedAt, windowSeconds) !== "older")
    .sort((a, b) => b.revision - a.revision);
}

/** Why no rollback: each reason a step's output says in words. */
export type NoRollbackReason =
  | "no-revision"
  | "no-revision-in-window"
  | "incident-before-revision"
  | "already-rolled-back"
  | "no-previous-revision";

export type RollbackDecision =
  | { action: "rollback"; service: string; revision: Rollout; why: string }
  | { action: "none"; service: string; reason: NoRollbackReason; why: string };

/**
 * Whether to roll `service` back: only the revision it runs now is a candidate (an older recent revision
 * is already replaced), and only when it was created within `windowSeconds` before the incident opened
 * (at `openedAt`, ms). A revision that is itself a rollback is not undone again (that would re-apply the
 * change just removed); a revision with no predecessor has nothing to go back to.
 */
export function decideRollback(service: string, rollouts: readonly Rollout[], openedAt: number, windowSeconds: number): RollbackDecision {
  const none = (reason: NoRollbackReason, why: string): RollbackDecision => ({ action: "none", service, reason, why });
  const current = rollouts.find((r) => r.current);
  if (!current) return none("no-revision", `${service}: no revision is recorded as current; nothing to roll back`);
  const opened = new Date(openedAt).toISOString();
  const label = `${service} revision ${current.revision} (created ${current.createdAt})`;
  if (current.rollbackOf !== undefined && current.rollbackOf !== null)
    return none(
      "already-rolled-back",
      `${label} is already a rollback (it restored revision ${current.rollbackOf}); not rolled back again`,
    );
  switch (revisionTiming(current.createdAt, openedAt, windowSeconds)) {
    case "older":
      return none(
        "no-revision-in-window",
        `${label}: no revision within ${windowSeconds} s before the incident opened (${opened}); no rollback indicated`,
      );
    case "after-incident":
      return none("incident-before-revision", `${label}: the incident opened at ${opened}, before this revision; it is not the cause`);
    case "in-window":
      break;
  }
  if (!rollouts.some((r) => r.revision < current.revision))
    return none("no-previous-revision", `${label} is the first revision; there is no previous one to restore`);
  return {
    action: "rollback",
    service,
    revision: current,
    why: `${label} is within ${windowSeconds} s before the incident opened (${opened})${current.changes?.length ? `: ${current.changes.join("; ")}` : ""}`,
  };
}

/** Environment variable names whose values are secrets as a whole (not only a URL's password). */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL/i;

/** An environment value as it may be printed: masked whole when its name says secret, else with any URL password masked. */
export function maskEnvValue(name: string, value: string | null): string {
  if (value === null) return "(unset)";
  if (SECRET_NAME.test(name)) return REDACTED;
  return redactText(value);
}

/**
 * One line per changed variable, secrets masked: `PG_POOL_MAX 10 → 1`; a change that is only in a masked
 * part (a URL's password) still shows, as `DATABASE_URL changed (in a masked secret)`.
 */
export function describeEnvChange(name: string, from: string | null, to: string | null): string {
  const a = maskEnvValue(name, from);
  const b = maskEnvValue(name, to);
  if (a === b) return `${name} changed (in a masked secret: ${b})`;
  return `${name} ${a} → ${b}`;
}

/** What changed between two environments (name → value), one line per variable, sorted by name; secrets masked. */
export function describeEnvDiff(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((n) => before[n] !== after[n]).map((n) => describeEnvChange(n, before[n] ?? null, after[n] ?? null));
}
