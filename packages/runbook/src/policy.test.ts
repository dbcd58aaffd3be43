import { describe, expect, it } from "vitest";
import { defaultPolicy, parsePolicy } from "./policy.js";

const problems = (yaml: string): string[] => {
  const r = parsePolicy(yaml);
  if (r.ok) throw new Error("expected problems");
  return r.problems;
};

describe("defaultPolicy", () => {
  it("holds the runbook's numbers", () => {
    expect(defaultPolicy.severities).toEqual({
      P0: { responseMinutes: 5, escalation: "page" },
      P1: { responseMinutes: 15, escalation: "page" },
      P2: { responseMinutes: 60, escalation: "ticket-and-notify" },
      P3: { responseMinutes: 240, escalation: "ticket" },
    });
    expect(defaultPolicy.thresholds.errorRate).toEqual({ p1Above: 0.1, p2AtLeast: 0.05 });
    expect(defaultPolicy.thresholds.usersAffected).toEqual({ p1Above: 0.5 });
    expect(defaultPolicy.thresholds.consumerLag).toEqual({ above: 10_000 });
    expect(defaultPolicy.thresholds.dbPool).toEqual({ usageAtLeast: 0.9, waitingAbove: 0, timeoutsPerSecondAbove: 0 });
    expect(defaultPolicy.thresholds.memory).toEqual({ usageAtLeast: 0.9 });
    expect(defaultPolicy.actions.killIdle.protect).toEqual(["gm-prober"]);
  });
});

describe("parsePolicy", () => {
  it("returns the defaults for an empty file", () => {
    expect(parsePolicy("")).toEqual({ ok: true, policy: defaultPolicy });
    expect(parsePolicy("# nothing\n")).toEqual({ ok: true, policy: defaultPolicy });
  });

  it("merges an override onto the defaults, keeping the rest", () => {
    const r = parsePolicy(`
severities:
  P3: { escalation: ticket-and-notify }
thresholds:
  errorRate: { p1Above: 0.2 }
actions:
  killIdle: { protect: [gm-prober, backup] }
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.thresholds.errorRate).toEqual({ p1Above: 0.2, p2AtLeast: 0.05 });
    expect(r.policy.severities.P3).toEqual({ responseMinutes: 240, escalation: "ticket-and-notify" });
    expect(r.policy.actions.killIdle).toEqual({ minIdleSeconds: 30, protect: ["gm-prober", "backup"] });
    expect(r.policy.thresholds.consumerLag).toEqual(defaultPolicy.thresholds.consumerLag);
  });

  it("does not mutate the defaults", () => {
    parsePolicy("thresholds: { consumerLag: { above: 5 } }");
    expect(defaultPolicy.thresholds.consumerLag.above).toBe(10_000);
  });

  it.each([
    [
      "a string for a ratio",
      "thresholds:\n  errorRate:\n    p1Above: ten\n",
      'thresholds.errorRate.p1Above: expected a number between 0 and 1, got "ten"',
    ],
    [
      "a ratio above 1",
      "thresholds: { errorRate: { p1Above: 10 } }",
      "thresholds.errorRate.p1Above: expected a number between 0 and 1, got 10",
    ],
    [
      "a negative ratio",
      "thresholds: { memory: { usageAtLeast: -0.1 } }",
      "thresholds.memory.usageAtLeast: expected a number between 0 and 1, got -0.1",
    ],
    [
      "an unknown key",
      "thresholds: { errorRate: { p3Above: 0.01 } }",
      "thresholds.errorRate.p3Above: unknown key (expected one of p1Above, p2AtLeast)",
    ],
    [
      "an unknown top-level key",
      "thresholdz: {}",
      "thresholdz: unknown key (expected one of severities, thresholds, actions, verification)",
    ],
    ["an unknown severity", "severities: { P4: { responseMinutes: 1000 } }", "severities.P4: unknown key (expected one of P0, P1, P2, P3)"],
    ["a list for a mapping", "thresholds: [1, 2]", "thresholds: expected a mapping, got a list"],
    ["a scalar at the root", "42", "(root): expected a mapping, got 42"],
    ["a fractional lag", "thresholds: { consumerLag: { above: 10.5 } }", "thresholds.consumerLag.above: expected an integer ≥ 0, got 10.5"],
    ["a null", "thresholds: { consumerLag: { above: null } }", "thresholds.consumerLag.above: expected an integer ≥ 0, got null"],
    [
      "a negative duration",
      "actions: { verify: { timeoutSeconds: -5 } }",
      "actions.verify.timeoutSeconds: expected a duration in seconds from 0 to 604800 (a week), got -5",
    ],
    [
      "a zero poll",
      "actions: { verify: { pollSeconds: 0 } }",
      "actions.verify.pollSeconds: expected a duration in seconds > 0 and at most 604800 (a week), got 0",
    ],
    [
      "negative response minutes",
      "severities: { P3: { responseMinutes: -1 } }",
      "severities.P3.responseMinutes: expected a duration in minutes > 0 and at most 10080 (a week), got -1",
    ],
    // 2e11 minutes passed once and then crashed classify (a respondBy no Date can hold)
    [
      "response minutes beyond a week",
      "severities: { P3: { responseMinutes: 2e11 } }",
      "severities.P3.responseMinutes: expected a duration in minutes > 0 and at most 10080 (a week), got 200000000000",
    ],
    [
      "a stall of a year",
      "thresholds: { consumerStall: { seconds: 31536000 } }",
      "thresholds.consumerStall.seconds: expected a duration in seconds > 0 and at most 604800 (a week), got 31536000",
    ],
    [
      "an unknown escalation",
      "severities: { P2: { escalation: email } }",
      'severities.P2.escalation: expected one of page, ticket-and-notify, ticket, got "email"',
    ],
    ["a factor below 1", "actions: { memory: { factor: 0.5 } }", "actions.memory.factor: expected a factor ≥ 1, got 0.5"],
    [
      "a non-string in a list",
      "actions: { killIdle: { protect: [gm-prober, 3] } }",
      "actions.killIdle.protect[1]: expected a string, got 3",
    ],
    [
      "overlapping error thresholds",
      "thresholds: { errorRate: { p2AtLeast: 0.2 } }",
      "thresholds.errorRate.p2AtLeast: must be below thresholds.errorRate.p1Above (0.1), got 0.2",
    ],
    [
      "equal error thresholds",
      "thresholds: { errorRate: { p1Above: 0.05 } }",
      "thresholds.errorRate.p2AtLeast: must be below thresholds.errorRate.p1Above (0.05), got 0.05",
    ],
    [
      "P1 responding slower than P2",
      "severities: { P1: { responseMinutes: 90 } }",
      "severities.P2.responseMinutes: must be greater than severities.P1.responseMinutes (90), got 60",
    ],
    [
      "P0 as slow as P1",
      "severities: { P0: { responseMinutes: 15 } }",
      "severities.P1.responseMinutes: must be greater than severities.P0.responseMinutes (15), got 15",
    ],
    [
      "a poll longer than the timeout",
      "actions: { verify: { timeoutSeconds: 10, pollSeconds: 30 } }",
      "actions.verify.pollSeconds: must not exceed actions.verify.timeoutSeconds (10), got 30",
    ],
  ])("rejects %s with one message naming the path", (_, yaml, message) => {
    expect(problems(yaml)).toEqual([message]);
  });

  it("reports YAML errors with their position", () => {
    expect(problems("thresholds: {}\nthresholds: {}\n")).toEqual([
      '(yaml): duplicate key "thresholds" (line 2): each key may appear once in a mapping',
    ]);
    for (const p of problems("thresholds: { errorRate: [")) expect(p).toMatch(/^\(yaml\): not valid YAML \(line 1, column 27\): /);
  });

  it("never quotes a file that is not a policy (a secret among its lines)", () => {
    const shadow = "root:$y$j9T$hunter2hash:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n";
    const environ = "DB_PASSWORD=hunter2\u0000HOME=/root\u0000";
    for (const text of [shadow, environ, "password: hunter2\nroot:hunter2:x: y\n"]) {
      const ps = problems(text);
      expect(ps.join("\n")).not.toContain("hunter2");
      expect(ps.length).toBeGreaterThan(0);
    }
    expect(problems(shadow)).toEqual(["(root): not a policy file: none of its keys is severities, thresholds, actions, verification"]);
  });

  it("refuses an alias bomb with a message", () => {
    let text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i <= 12; i++)
      text += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    expect(problems(text)).toEqual([
      "(yaml): more than 100 aliases resolved: refused (a resource-exhaustion attack, or a file that is not a configuration)",
    ]);
  });

  it("reports several problems at once, in file order", () => {
    expect(
      problems(`
severities:
  P1: { responseMinutes: fast, escalation: pager }
thresholds:
  errorRate: { p1Above: "ten" }
  consumerLag: { above: -1, below: 5 }
actions:
  verify: { timeoutSeconds: -1 }
`),
    ).toEqual([
      'severities.P1.responseMinutes: expected a duration in minutes > 0 and at most 10080 (a week), got "fast"',
      'severities.P1.escalation: expected one of page, ticket-and-notify, ticket, got "pager"',
      'thresholds.errorRate.p1Above: expected a number between 0 and 1, got "ten"',
      "thresholds.consumerLag.above: expected an integer ≥ 0, got -1",
      "thresholds.consumerLag.below: unknown key (expected one of above)",
      "actions.verify.timeoutSeconds: expected a duration in seconds from 0 to 604800 (a week), got -1",
    ]);
  });

  it("reports every ordering problem of the response times", () => {
    expect(problems("severities: { P0: { responseMinutes: 300 } }")).toEqual([
      "severities.P1.responseMinutes: must be greater than severities.P0.responseMinutes (300), got 15",
    ]);
    expect(problems("severities: { P3: { responseMinutes: 1 }, P2: { responseMinutes: 2 } }")).toEqual([
      "severities.P2.responseMinutes: must be greater than severities.P1.responseMinutes (15), got 2",
      "severities.P3.responseMinutes: must be greater than severities.P2.responseMinutes (2), got 1",
    ]);
  });
});

describe("parsePolicy and Object.prototype", () => {
  it("refuses constructor, __proto__ and toString as unknown keys (they found Object.prototype's and passed unchecked)", () => {
    for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(problems(`severities:\n  P3:\n    ${key}: 1\n`)).toEqual([
        `severities.P3.${key}: unknown key (expected one of responseMinutes, escalation)`,
      ]);
      expect(problems(`${key}: 1\n`)).toEqual([`${key}: unknown key (expected one of severities, thresholds, actions, verification)`]);
    }
  });
});
