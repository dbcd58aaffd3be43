import { describe, expect, it, vi } from "vitest";

// Counts what timingSafeEqual is asked to compare, so the test sees that every header is compared as
// a digest of the same length — never answered early because its length differs from the token's.
const compared = vi.hoisted(() => [] as [number, number][]);
vi.mock("node:crypto", async (original) => {
  const real = await original<typeof import("node:crypto")>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { bearerMatches } = await import("./stats.js");

const TOKEN = "0123456789abcdef0123456789abcdef";

describe("bearerMatches", () => {
  it("accepts exactly `Bearer <token>`", () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
  });

  it("refuses a wrong token of the same length, of another length, a prefix, no scheme and no header", () => {
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}0`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}0`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, 16)}`, TOKEN)).toBe(false);
    expect(bearerMatches("Bearer ", TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });

  it("compares in constant time whatever the length given: one comparison of two 32-byte digests each time", () => {
    const headers = [
      `Bearer ${TOKEN}`,
      `Bearer ${"x".repeat(TOKEN.length)}`,
      "Bearer x",
      `Bearer ${"x".repeat(10_000)}`,
      "Basic x",
      undefined,
    ];
    compared.length = 0;
    for (const h of headers) bearerMatches(h, TOKEN);
    expect(compared).toEqual(headers.map(() => [32, 32]));
  });
});
