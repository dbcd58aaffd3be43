import { describe, expect, it } from "vitest";
import { partitionLag, totalLag } from "./kafka-admin.js";

describe("partitionLag", () => {
  it("is end minus committed, sorted by partition; a partition never committed lags by what is retained", () => {
    const ends = [
      { partition: 2, low: 0, high: 10 },
      { partition: 0, low: 5, high: 40 },
      { partition: 1, low: 3, high: 7 },
    ];
    // kafkajs reports -1 for a partition the group has not committed
    const parts = partitionLag(
      ends,
      new Map([
        [0, 30],
        [1, -1],
      ]),
    );
    expect(parts).toEqual([
      { partition: 0, committedOffset: 30, endOffset: 40, lag: 10 },
      { partition: 1, committedOffset: null, endOffset: 7, lag: 4 },
      { partition: 2, committedOffset: null, endOffset: 10, lag: 10 },
    ]);
    expect(totalLag(parts)).toBe(24);
  });

  it("is never negative (a committed offset read after a newer end offset)", () => {
    expect(partitionLag([{ partition: 0, low: 0, high: 5 }], new Map([[0, 6]]))[0]?.lag).toBe(0);
  });
});
