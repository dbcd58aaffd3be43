/**
 * Property-based tests of the severity policy parser (fast-check): no text makes it throw (a problem
 * list naming fields, or a policy); a generated valid override round-trips (the parsed policy is the
 * defaults with exactly what the file said); a wrong value anywhere is named by its field path.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { defaultPolicy, parsePolicy, type Policy } from "./policy.js";

const WEEK = 7 * 24 * 3600;
const ratio = fc.double({ min: 0, max: 1, noNaN: true });
const secs = (min: number) => fc.double({ min, max: WEEK, noNaN: true });

/** A whole valid policy: cross-field rules kept (p2 < p1, response times increasing, poll ≤ timeout). */
const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    minutes: fc
      .uniqueArray(fc.integer({ min: 1, max: WEEK / 60 }), { minLength: 4, maxLength: 4 })
      .map((m) => [...m].sort((a, b) => a - b)),
    escalations: fc.array(fc.constantFrom("page", "ticket-and-notify", "ticket") as fc.Arbitrary<"page" | "ticket-and-notify" | "ticket">, {
      minLength: 4,
      maxLength: 4,
    }),
    p2: fc.double({ min: 0, max: 0.99, noNaN: true }),
    gap: fc.double({ min: 0.001, max: 1, noNaN: true }),
    users: ratio,
    lag: fc.nat(),
    usage: ratio,
    waiting: fc.nat({ max: 1000 }),
    timeouts: fc.double({ min: 0, max: 1e6, noNaN: true }),
    memory: ratio,
    stall: secs(1),
    canary: secs(1),
    logTail: fc.integer({ min: 1, max: 100_000 }),
    timeout: secs(1),
    pollShare: fc.double({ min: 0.001, max: 1, noNaN: true }),
    oom: secs(0),
    minIdle: secs(0),
    protect: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
    poolFactor: fc.double({ min: 1, max: 100, noNaN: true }),
    memFactor: fc.double({ min: 1, max: 100, noNaN: true }),
    maxBytes: fc.integer({ min: 1, max: 2 ** 45 }),
    step: fc.integer({ min: 1, max: 10 }),
    maxReplicas: fc.integer({ min: 1, max: 100 }),
    recent: secs(0),
    provenDays: fc.double({ min: 0.001, max: 3650, noNaN: true }),
  })
  .map((g) => ({
    severities: {
      P0: { responseMinutes: g.minutes[0]!, escalation: g.escalations[0]! },
      P1: { responseMinutes: g.minutes[1]!, escalation: g.escalations[1]! },
      P2: { responseMinutes: g.minutes[2]!, escalation: g.escalations[2]! },
      P3: { responseMinutes: g.minutes[3]!, escalation: g.escalations[3]! },
    },
    thresholds: {
      errorRate: { p1Above: Math.min(1, g.p2 + g.gap), p2AtLeast: g.p2 },
      usersAffected: { p1Above: g.users },
      consumerLag: { above: g.lag },
      dbPool: { usageAtLeast: g.usage, waitingAbove: g.waiting, timeoutsPerSecondAbove: g.timeouts },
      memory: { usageAtLeast: g.memory },
      consumerStall: { seconds: g.stall },
      canary: { lossDeadlineSeconds: g.canary },
    },
    actions: {
      logTail: g.logTail,
      verify: { timeoutSeconds: g.timeout, pollSeconds: Math.max(Number.MIN_VALUE, g.timeout * g.pollShare) },
      oomWindowSeconds: g.oom,
      killIdle: { minIdleSeconds: g.minIdle, protect: g.protect },
      poolSize: { factor: g.poolFactor },
      memory: { factor: g.memFactor, maxBytes: g.maxBytes },
      scale: { step: g.step, maxReplicas: g.maxReplicas },
      recentDeploySeconds: g.recent,
    },
    verification: { provenWithinDays: g.provenDays },
  }));

type Tree = { [k: string]: Tree | unknown };
/** Every leaf path of a policy (`thresholds.errorRate.p1Above`), lists counted as leaves. */
function leaves(v: unknown, path = ""): string[] {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return [path];
  return Object.entries(v as Tree).flatMap(([k, x]) => leaves(x, path ? `${path}.${k}` : k));
}
function setAt(v: Tree, path: string, value: unknown): void {
  const keys = path.split(".");
  let o = v;
  for (const k of keys.slice(0, -1)) o = o[k] as Tree;
  o[keys.at(-1)!] = value;
}
const PATHS = leaves(defaultPolicy);

/** Malformed policy texts: random text, YAML of random values, YAML with random lines of a valid one. */
const malformedArb = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.jsonValue().map((v) => stringify(v)),
  fc.dictionary(fc.constantFrom("severities", "thresholds", "actions", "other", "P0"), fc.jsonValue()).map((v) => stringify(v)),
  fc.tuple(policyArb, fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), fc.nat()).map(([p, junk, at]) => {
    const lines = stringify(p).split("\n");
    lines.splice(at % (lines.length + 1), 0, ...junk);
    return lines.join("\n");
  }),
);

describe("parsePolicy, over generated input", { timeout: 120_000 }, () => {
  it("never throws: any text is a policy or a non-empty list of problems, each naming a field or the file", () => {
    fc.assert(
      fc.property(malformedArb, (text) => {
        const r = parsePolicy(text);
        if (!r.ok) {
          expect(r.problems.length).toBeGreaterThan(0);
          for (const p of r.problems)
            expect(p).toMatch(
              /^(\(root\)|\(yaml\)|[A-Za-z0-9_.-]+|\(a key that is not a field name; not shown\)|[A-Za-z0-9_.-]+\.\(a key that is not a field name; not shown\)): /,
            );
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a valid override round-trips: the defaults with exactly the sections the file gave", () => {
    fc.assert(
      fc.property(policyArb, fc.subarray(["severities", "thresholds", "actions"] as const), (p, sections) => {
        // cross-field rules are checked against the defaults a partial file keeps: give each section whole
        const override = Object.fromEntries(sections.map((s) => [s, p[s]]));
        const expected = { ...structuredClone(defaultPolicy), ...override };
        const r = parsePolicy(stringify(override));
        if (sections.length === 3 || r.ok) expect(r).toEqual({ ok: true, policy: expected });
        else expect(r.problems.every((x) => /must (be greater than|be below|not exceed)/.test(x))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("a wrong-typed value at any field is named by that field's path", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.constantFrom(...PATHS),
        fc.constantFrom<unknown>("seven", { a: 1 }, [1, 2], null, true, -1e300),
        (p, path, bad) => {
          const tree = structuredClone(p) as unknown as Tree;
          setAt(tree, path, bad);
          const r = parsePolicy(stringify(tree));
          if (r.ok) {
            // only a value of the right kind may pass: a list for protect
            expect(path === "actions.killIdle.protect" && Array.isArray(bad) && bad.every((x) => typeof x === "string")).toBe(true);
            return;
          }
          // a list's wrong item is named by its index: protect[0]
          expect(r.problems.some((x) => x.startsWith(`${path}: expected `) || x.startsWith(`${path}[`))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("an unknown key at any level is named with its path", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.constantFrom("", "severities", "severities.P1", "thresholds", "thresholds.dbPool", "actions", "actions.verify"),
        fc.stringMatching(/^[a-z][a-zA-Z]{2,12}$/),
        (p, at, key) => {
          const tree = structuredClone(p) as unknown as Tree;
          const parent = at === "" ? tree : (at.split(".").reduce((o, k) => o[k] as Tree, tree) as Tree);
          fc.pre(!(key in parent));
          parent[key] = 1;
          const r = parsePolicy(stringify(tree));
          expect(r.ok).toBe(false);
          if (!r.ok)
            expect(r.problems).toContain(
              `${at ? `${at}.` : ""}${key}: unknown key (expected one of ${Object.keys(at === "" ? defaultPolicy : (at.split(".").reduce((o, k) => (o as Tree)[k], defaultPolicy as unknown) as Tree)).join(", ")})`,
            );
        },
      ),
    );
  });
});
