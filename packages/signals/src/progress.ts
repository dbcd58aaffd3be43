/**
 * Consumer progress, the way Burrow judges it but in seconds instead of a window of ten commits:
 * a group with no members is stopped (nobody commits); a group whose committed offsets have not moved
 * for `stallSeconds` while it lags is stalled; otherwise ok. Pure, so it is tested without Kafka.
 */
import type { ConsumerProgress } from "@gm/runbook/snapshot";

export function judgeProgress(p: {
  group: string;
  members: number;
  committed: readonly { t: number; v: number }[];
  totalLag: number;
  lagTrend: number | null;
  stallSeconds: number;
  now: number;
}): ConsumerProgress {
  const last = p.committed[p.committed.length - 1];
  let movedAt: number | null = null;
  for (let i = p.committed.length - 1; i > 0; i--) {
    if (p.committed[i]!.v !== p.committed[i - 1]!.v) {
      movedAt = p.committed[i]!.t;
      break;
    }
  }
  const since = last ? (p.now - (movedAt ?? p.committed[0]!.t)) / 1000 : null;
  const lagGrowing = (p.lagTrend ?? 0) > 0;
  let status: ConsumerProgress["status"];
  if (p.members === 0 && p.totalLag > 0) status = "stopped";
  else if (p.committed.length < 2) status = "unknown";
  else if (p.totalLag > 0 && since !== null && since >= p.stallSeconds) status = "stalled";
  else status = "ok";
  return { group: p.group, status, secondsSinceCommitMoved: since, lagGrowing };
}

/**
 * Seconds the committed offset is behind the newest message: the time at which the partition's end
 * offset first reached the committed offset (from the end-offset history), subtracted from now.
 * 0 when caught up; the age of the oldest sample when the offset is older than the history.
 */
export function lagSeconds(history: readonly { t: number; v: number }[], committed: number, end: number, now: number): number | null {
  if (committed >= end) return 0;
  if (history.length === 0) return null;
  for (const h of history) {
    if (h.v > committed) return (now - h.t) / 1000;
  }
  return null;
}
