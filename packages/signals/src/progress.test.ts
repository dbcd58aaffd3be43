import { describe, expect, it } from "vitest";
import { judgeProgress, lagSeconds } from "./progress.js";

const base = { group: "g", members: 2, totalLag: 500, lagTrend: 10, stallSeconds: 30 };

describe("judgeProgress", () => {
  it("is stalled when committed offsets stop moving for stallSeconds while lagging", () => {
    const committed = [
      { t: 0, v: 100 },
      { t: 5_000, v: 200 },
      { t: 10_000, v: 200 },
      { t: 40_000, v: 200 },
    ];
    expect(judgeProgress({ ...base, committed, now: 34_999 }).status).toBe("ok");
    expect(judgeProgress({ ...base, committed, now: 35_000 })).toEqual({
      group: "g",
      status: "stalled",
      secondsSinceCommitMoved: 30,
      lagGrowing: true,
    });
  });

  it("is stopped when the group has no members and lags; ok when it has no lag", () => {
    const committed = [
      { t: 0, v: 1 },
      { t: 1_000, v: 1 },
    ];
    expect(judgeProgress({ ...base, members: 0, committed, now: 2_000 }).status).toBe("stopped");
    expect(judgeProgress({ ...base, members: 0, totalLag: 0, committed, now: 2_000 }).status).toBe("ok");
  });

  it("is unknown before two samples", () => {
    expect(judgeProgress({ ...base, committed: [{ t: 0, v: 1 }], now: 1 }).status).toBe("unknown");
  });
});

describe("lagSeconds", () => {
  const history = [
    { t: 1_000, v: 10 },
    { t: 2_000, v: 20 },
    { t: 3_000, v: 30 },
  ];
  it("is the time since the end offset first passed the committed offset", () => {
    expect(lagSeconds(history, 15, 30, 5_000)).toBe(3);
    expect(lagSeconds(history, 25, 30, 5_000)).toBe(2);
    expect(lagSeconds(history, 30, 30, 5_000)).toBe(0);
    expect(lagSeconds(history, 5, 30, 5_000)).toBe(4);
    expect(lagSeconds([], 5, 30, 5_000)).toBeNull();
  });
});
