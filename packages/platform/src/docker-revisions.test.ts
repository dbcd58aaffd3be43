/** The stack's revisions (pure): what a deploy records, what a rollback restores, what is shown. */
import { describe, expect, it } from "vitest";
import { HISTORY_LIMIT, nextRevision, readHistory, rollbackTarget, toRollouts } from "./docker-revisions.js";

const URL_OK = "postgres://gm:good-s3cret@postgres:5432/gamemetrics";
const URL_BAD = "postgres://gm:wrong-pass@postgres:5432/gamemetrics";
const running = { DATABASE_URL: URL_OK, PG_POOL_MAX: "10", LOG_LEVEL: "info" };
const t = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, n)).toISOString();

describe("stack revisions", () => {
  it("a container from stack up is its own revision 1; a deploy is revision 2 with what changed, its password masked", () => {
    const h1 = readHistory({}, "gm/platform:1", t(0));
    expect(h1.map((r) => r.revision)).toEqual([1]);
    const next = nextRevision(h1, "gm/platform:1", running, { env: { DATABASE_URL: URL_BAD } }, t(5), "deploy")!;
    expect(next.record).toMatchObject({
      revision: 2,
      createdAt: t(5),
      template: { image: "gm/platform:1", env: { DATABASE_URL: URL_BAD } },
    });
    expect(next.record.changes).toEqual(["DATABASE_URL changed (in a masked secret: postgres://gm:***@postgres:5432/gamemetrics)"]);
    // revision 1 learns the value it ran with, so it can be restored
    expect(next.history[0]!.template.env).toEqual({ DATABASE_URL: URL_OK });
    const shown = JSON.stringify(toRollouts("stats-api", next.history, 2).map((r) => r.changes));
    expect(shown).not.toMatch(/good-s3cret|wrong-pass/);
  });

  it("an unchanged template is no revision (as a Deployment makes none)", () => {
    expect(nextRevision(readHistory({}, "i", t(0)), "i", running, { env: { PG_POOL_MAX: "10" } }, t(1), "deploy")).toBeNull();
  });

  it("rollback restores the revision before the current as a new revision; a second undo rolls forward (kubectl rollout undo)", () => {
    const h1 = readHistory({}, "img:1", t(0));
    const r2 = nextRevision(h1, "img:1", running, { env: { PG_POOL_MAX: "1" }, image: "img:2" }, t(1), "deploy")!;
    expect(r2.record.changes).toEqual(["image img:1 → img:2", "PG_POOL_MAX 10 → 1"]);
    const target = rollbackTarget(r2.history, 2);
    expect(target).toMatchObject({ revision: 1, template: { image: "img:1", env: { PG_POOL_MAX: "10" } } });
    if (typeof target === "string") throw new Error(target);
    const runningBad = { ...running, PG_POOL_MAX: "1" };
    const r3 = nextRevision(r2.history, "img:2", runningBad, target.template, t(2), "rollback", target.revision)!;
    expect(r3.record).toMatchObject({ revision: 3, rollbackOf: 1, changes: ["image img:2 → img:1", "PG_POOL_MAX 1 → 10"] });
    expect(rollbackTarget(r3.history, 3)).toMatchObject({ revision: 2 });
    expect(rollbackTarget(r3.history, 3, 42)).toBe("no revision 42 (has: 1, 2, 3)");
    expect(rollbackTarget(h1, 1)).toBe("no previous revision to roll back to (has: 1)");
    expect(toRollouts("stats-api", r3.history, 3).map((r) => [r.revision, r.current, r.rollbackOf])).toEqual([
      [3, true, 1],
      [2, false, null],
      [1, false, null],
    ]);
  });

  it("a variable the deploy adds is unset again by the rollback", () => {
    const h = nextRevision(readHistory({}, "i", t(0)), "i", running, { env: { NEW_FLAG: "on" } }, t(1), "deploy")!;
    expect(h.history[0]!.template.env).toEqual({ NEW_FLAG: null });
  });

  it("keeps the last revisions only, as a Deployment's revisionHistoryLimit", () => {
    let h = readHistory({}, "i", t(0));
    let env: Record<string, string> = { ...running };
    for (let n = 1; n <= HISTORY_LIMIT + 3; n++) {
      const next = nextRevision(h, "i", env, { env: { PG_POOL_MAX: String(n) } }, t(n), "deploy")!;
      h = next.history;
      env = { ...env, PG_POOL_MAX: String(n) };
    }
    expect(h).toHaveLength(HISTORY_LIMIT);
    expect(h.at(-1)!.revision).toBe(HISTORY_LIMIT + 4);
  });
});
