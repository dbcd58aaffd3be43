import { describe, expect, it } from "vitest";
import { type ServiceUrls, probeHealth } from "./http-health.js";
import { inFlightLimit } from "./in-flight.js";
import { probingTimeoutMs } from "./collect-round.js";

/** A `get` that holds each request until released, counting how many are open at once. */
function heldGets() {
  let open = 0;
  let peak = 0;
  const pending: (() => void)[] = [];
  const started: string[] = [];
  const get = (url: string) =>
    new Promise<number>((resolve) => {
      open++;
      peak = Math.max(peak, open);
      started.push(url);
      pending.push(() => {
        open--;
        resolve(200);
      });
    });
  const releaseAll = async () => {
    // let queued work take freed slots, then release it too, until nothing is left
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setImmediate(r));
      const now = pending.splice(0);
      if (now.length === 0 && open === 0) return;
      for (const p of now) p();
    }
  };
  return { get, releaseAll, peak: () => peak, started };
}

describe("inFlightLimit", () => {
  it("never runs more than its bound at once, and runs everything", async () => {
    const h = heldGets();
    const limit = inFlightLimit(3);
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => limit(() => h.get(`u${i}`))));
    await h.releaseAll();
    expect(await all).toHaveLength(10);
    expect(h.peak()).toBe(3);
    expect(h.started).toEqual(Array.from({ length: 10 }, (_, i) => `u${i}`));
  });

  it("frees the slot of a work that failed", async () => {
    const limit = inFlightLimit(1);
    await expect(limit(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(limit(async () => 7)).resolves.toBe(7);
  });

  it("refuses a bound that is not a whole number ≥ 1", () => {
    expect(() => inFlightLimit(0)).toThrow(/whole number ≥ 1, got 0/);
    expect(() => inFlightLimit(1.5)).toThrow(/got 1.5/);
  });
});

describe("probeHealth with a bound", () => {
  it("probes every instance with at most the bound's requests open", async () => {
    const h = heldGets();
    const services: ServiceUrls = { a: Array.from({ length: 7 }, (_, i) => `http://a${i}`), b: ["http://b0", "http://b1"] };
    const result = probeHealth(services, 1000, h.get, () => "/health", inFlightLimit(2));
    await h.releaseAll();
    const health = await result;
    expect(h.peak()).toBe(2);
    expect(health.flatMap((s) => s.instances).filter((i) => i.ok)).toHaveLength(9);
  });
});

describe("probingTimeoutMs", () => {
  it("is 2 timeouts while every request fits one wave, one more per further wave", () => {
    expect(probingTimeoutMs(3, 256, 2000)).toBe(4000);
    expect(probingTimeoutMs(256, 256, 2000)).toBe(4000);
    expect(probingTimeoutMs(257, 256, 2000)).toBe(6000);
    expect(probingTimeoutMs(1000, 256, 2000)).toBe(10_000);
    expect(probingTimeoutMs(0, 256, 2000)).toBe(4000);
  });
});
