import { describe, expect, it } from "vitest";
import { decideRollback, describeEnvDiff, recentRevisions, revisionTiming } from "./deployments.js";
import type { Rollout } from "./ports.js";

const OPENED = Date.parse("2026-01-01T12:00:00.000Z");
const at = (secondsBefore: number) => new Date(OPENED - secondsBefore * 1000).toISOString();
const rev = (revision: number, secondsBefore: number, over: Partial<Rollout> = {}): Rollout => ({
  service: "stats-api",
  revision,
  createdAt: at(secondsBefore),
  images: ["gm/platform:1"],
  changeCause: null,
  current: false,
  ...over,
});

describe("revision window", () => {
  it("places a revision in the window before the incident, after it, or older (both ends included in the window)", () => {
    expect(revisionTiming(at(600), OPENED, 600)).toBe("in-window");
    expect(revisionTiming(at(0), OPENED, 600)).toBe("in-window");
    expect(revisionTiming(at(601), OPENED, 600)).toBe("older");
    expect(revisionTiming(at(-1), OPENED, 600)).toBe("after-incident");
    expect(revisionTiming("not a time", OPENED, 600)).toBe("older");
  });

  it("lists the revisions since the window began, newest first", () => {
    const list = [rev(1, 7200), rev(3, -5), rev(2, 300)];
    expect(recentRevisions(list, OPENED, 600).map((r) => r.revision)).toEqual([3, 2]);
  });
});

describe("rollback decision", () => {
  it("rolls back the current revision when it is within the window and the incident began after it", () => {
    const d = decideRollback("stats-api", [rev(2, 60, { current: true, changes: ["PG_POOL_MAX 10 → 1"] }), rev(1, 7200)], OPENED, 600);
    expect(d).toMatchObject({ action: "rollback", revision: { revision: 2 } });
    expect(d.why).toContain("PG_POOL_MAX 10 → 1");
  });

  it("does not roll back and says why", () => {
    const cases: [Rollout[], string][] = [
      [[], "no-revision"],
      [[rev(2, 601, { current: true }), rev(1, 7200)], "no-revision-in-window"],
      [[rev(2, -1, { current: true }), rev(1, 7200)], "incident-before-revision"],
      [[rev(3, 30, { current: true, rollbackOf: 2 }), rev(2, 60), rev(1, 7200)], "already-rolled-back"],
      [[rev(1, 60, { current: true })], "no-previous-revision"],
      // a recent revision that is no longer current was already replaced: the current one is judged
      [[rev(3, 7000, { current: true }), rev(4, 60)], "no-revision-in-window"],
    ];
    for (const [list, reason] of cases) expect(decideRollback("stats-api", list, OPENED, 600)).toMatchObject({ action: "none", reason });
  });
});

describe("what changed, secrets masked", () => {
  it("names each changed variable; a password change shows as a change without its value", () => {
    const before = {
      PG_POOL_MAX: "10",
      DATABASE_URL: "postgres://gm:s3cret@postgres:5432/gm",
      ADMIN_TOKEN: "a".repeat(20),
      LOG_LEVEL: "info",
    };
    const after = {
      ...before,
      PG_POOL_MAX: "1",
      DATABASE_URL: "postgres://gm:wrong@postgres:5432/gm",
      ADMIN_TOKEN: "b".repeat(20),
      NEW: "x",
    };
    const lines = describeEnvDiff(before, after);
    expect(lines).toEqual([
      "ADMIN_TOKEN changed (in a masked secret: ***)",
      "DATABASE_URL changed (in a masked secret: postgres://gm:***@postgres:5432/gm)",
      "NEW (unset) → x",
      "PG_POOL_MAX 10 → 1",
    ]);
    expect(lines.join("\n")).not.toMatch(/s3cret|wrong|aaaa|bbbb/);
  });
});
