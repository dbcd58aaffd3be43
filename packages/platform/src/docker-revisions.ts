/**
 * Revisions of a service on the testcontainers stack, the way a Deployment keeps them on its ReplicaSets:
 * each revision is recorded on the service's containers themselves (labels), so the record is replaced in
 * the same engine call that replaces the container — no file can disagree with what runs, it survives the
 * runner, and it goes with the stack. A revision holds the template it runs (the image and every
 * environment variable any revision changed), its time, and what changed from the one before (secrets
 * masked, for people). A restart, a scale or a pool-size change by the runbook is not a revision: those
 * copy the labels unchanged. Pure: the driver (docker.ts) reads and writes the labels.
 *
 * The template's values are real (a rollback must restore a password, not `***`): the labels are as
 * readable as the container's environment, which holds the same values, and nothing prints them —
 * `Rollout.changes` is what is shown.
 */
import { describeEnvDiff } from "@gm/runbook/deployments";
import type { Rollout } from "@gm/runbook/ports";
import type { ServiceName } from "@gm/runbook/snapshot";

/** Labels on every instance of a service: the revision it runs and the history (JSON, oldest first). */
export const REVISION_LABEL = "io.gamemetrics.revision";
export const HISTORY_LABEL = "io.gamemetrics.revisions";
/** Revisions kept, as a Deployment's default `revisionHistoryLimit`. */
export const HISTORY_LIMIT = 10;

/** The part of a container a revision decides: the image and the variables deployments changed (null: unset). */
export interface Template {
  image: string;
  env: Record<string, string | null>;
}

export interface RevisionRecord {
  revision: number;
  createdAt: string;
  template: Template;
  /** what changed from the revision before, one line each, secrets masked */
  changes: string[];
  /** the revision it restored, when made by a rollback */
  rollbackOf?: number;
  /** why, in words (`gm-chaos stack deploy`, `rollback to revision 1`) */
  cause: string;
}

/** What `deploy` asks for: variables to set (null: unset) and/or another image. */
export interface DeployChange {
  env?: Record<string, string | null>;
  image?: string;
}

/** The history a container's labels hold; a container from `stack up` has none: its own revision 1, created with it. */
export function readHistory(labels: Readonly<Record<string, string>>, image: string, createdAt: string): RevisionRecord[] {
  const raw = labels[HISTORY_LABEL];
  if (raw) {
    try {
      const list = JSON.parse(raw) as RevisionRecord[];
      if (Array.isArray(list) && list.length > 0) return list;
    } catch {
      // a label someone edited by hand: start again from what runs
    }
  }
  return [{ revision: 1, createdAt, template: { image, env: {} }, changes: [], cause: "the stack's own (gm-chaos stack up)" }];
}

/** The revision running now: the label's, else the newest recorded. */
export function currentRevision(labels: Readonly<Record<string, string>>, history: readonly RevisionRecord[]): number {
  const n = Number(labels[REVISION_LABEL]);
  return Number.isInteger(n) && n > 0 ? n : (history.at(-1)?.revision ?? 1);
}

const envText = (v: string | null | undefined): string => (v === null || v === undefined ? "" : v);

/** Lines saying what changed between two templates, secrets masked. */
export function templateChanges(before: Template, after: Template): string[] {
  const strip = (e: Record<string, string | null>) =>
    Object.fromEntries(Object.entries(e).filter((x): x is [string, string] => x[1] !== null && x[1] !== undefined));
  const lines = describeEnvDiff(strip(before.env), strip(after.env));
  return before.image === after.image ? lines : [`image ${before.image} → ${after.image}`, ...lines];
}

/**
 * The history after a new revision with `change` applied to what runs (`runningEnv`, `runningImage`);
 * null when it changes nothing (as a Deployment makes no revision for an unchanged template). Every
 * earlier revision learns the value a newly touched variable had (what ran), so any of them can be restored.
 */
export function nextRevision(
  history: readonly RevisionRecord[],
  runningImage: string,
  runningEnv: Readonly<Record<string, string>>,
  change: DeployChange,
  at: string,
  cause: string,
  rollbackOf?: number,
): { history: RevisionRecord[]; record: RevisionRecord } | null {
  const touched = Object.keys(change.env ?? {});
  const before: Template = {
    image: runningImage,
    env: Object.fromEntries(
      [...new Set([...Object.keys(history.at(-1)?.template.env ?? {}), ...touched])].map((k) => [k, runningEnv[k] ?? null]),
    ),
  };
  const after: Template = { image: change.image ?? runningImage, env: { ...before.env, ...change.env } };
  if (before.image === after.image && Object.keys(after.env).every((k) => envText(after.env[k]) === envText(before.env[k]))) return null;
  const backfilled = history.map((r) => ({
    ...r,
    template: { ...r.template, env: { ...Object.fromEntries(touched.map((k) => [k, runningEnv[k] ?? null])), ...r.template.env } },
  }));
  const record: RevisionRecord = {
    revision: Math.max(0, ...history.map((r) => r.revision)) + 1,
    createdAt: at,
    template: after,
    changes: templateChanges(before, after),
    cause,
    ...(rollbackOf !== undefined ? { rollbackOf } : {}),
  };
  return { history: [...backfilled, record].slice(-HISTORY_LIMIT), record };
}

/** The revision `rollback` restores: `toRevision`, else the newest one before the current (as `kubectl rollout undo`). */
export function rollbackTarget(history: readonly RevisionRecord[], current: number, toRevision?: number): RevisionRecord | string {
  const have = history.map((r) => r.revision).join(", ");
  if (toRevision !== undefined) {
    if (toRevision === current) return `revision ${toRevision} is the one running (has: ${have})`;
    return history.find((r) => r.revision === toRevision) ?? `no revision ${toRevision} (has: ${have})`;
  }
  const older = history.filter((r) => r.revision < current).sort((a, b) => b.revision - a.revision)[0];
  return older ?? `no previous revision to roll back to (has: ${have})`;
}

/** The history as the port's rollouts, newest first. */
export function toRollouts(service: ServiceName, history: readonly RevisionRecord[], current: number): Rollout[] {
  return [...history]
    .sort((a, b) => b.revision - a.revision)
    .map((r) => ({
      service,
      revision: r.revision,
      createdAt: r.createdAt,
      images: [r.template.image],
      changeCause: r.cause,
      current: r.revision === current,
      changes: r.changes,
      rollbackOf: r.rollbackOf ?? null,
    }));
}
