import { CATALOG } from "@gm/runbook/catalog";
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "@gm/runbook/policy";
import { defaultScenariosDir, loadScenarios } from "./load-scenarios.js";
import { parseScenario, ScenarioError } from "./scenario.js";

const minutes = (s: "P0" | "P1" | "P2" | "P3") => defaultPolicy.severities[s].responseMinutes;

function problems(yaml: string): string[] {
  try {
    parseScenario(yaml, "x.yaml", minutes);
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
  return [];
}

describe("drill files", () => {
  it("every committed drill is valid and named after a runbook incident", () => {
    const all = loadScenarios(["all"], defaultScenariosDir(), defaultPolicy);
    expect(all.map((s) => s.name).sort()).toEqual([
      "bad-deployment",
      "db-pool-exhausted",
      "db-pool-exhausted-lock",
      "high-consumer-lag",
      "kafka-broker-down",
      "kafka-broker-down-majority",
      "service-oom",
    ]);
    // named after its incident, or after the runbook line it drills and indexed under its incident (bad-deployment: high-error-rate)
    for (const s of all) expect(s.name.startsWith(s.incident) || CATALOG[s.incident].drills.includes(s.name), s.name).toBe(true);
  });

  it("takes what a Kubernetes namespace drill expects instead, validated like the rest", () => {
    const oom = loadScenarios(["service-oom"], defaultScenariosDir(), defaultPolicy)[0]!;
    expect(oom.expect).toEqual({ kind: "service-oom", severity: "P1" });
    expect(oom.kubernetes).toEqual({ expect: { kind: "service-oom", severity: "P2" } });
    const base =
      "name: x\nincident: service-oom\nhypothesis: h\nfault: { type: memory-limit, params: { service: stats-api, bytes: 1 } }\nexpect: { kind: service-oom, severity: P1 }\n";
    expect(problems(`${base}kubernetes: { expect: { kind: oom, severity: P9 }, extra: 1 }`)).toEqual([
      'kubernetes.expect.kind: expected one of service-down, data-loss, security-exposure, high-error-rate, kafka-broker-down, db-pool-exhausted, high-consumer-lag, service-oom, external-alert, got "oom"',
      'kubernetes.expect.severity: expected one of P0, P1, P2, P3, got "P9"',
      "kubernetes.extra: unknown key (expected one of expect, alsoExpected, mayFail)",
    ]);
  });

  it("reports one message per problem, naming the field", () => {
    expect(
      problems(`
name: Bad Name
incident: meteor-strike
hypothesis: ""
fault: { type: kill-broker, params: { count: 5, colour: red } }
expect: { kind: kafka-broker-down, severity: P9 }
deadlines: { detectSeconds: 9999 }
extra: 1
`),
    ).toEqual([
      'name: expected lower-case words joined by dashes, got "Bad Name"',
      'incident: expected one of service-down, data-loss, security-exposure, high-error-rate, kafka-broker-down, db-pool-exhausted, high-consumer-lag, service-oom, external-alert, got "meteor-strike"',
      'hypothesis: expected a non-empty string, got ""',
      "fault.params.colour: unknown key (expected one of count)",
      'expect.severity: expected one of P0, P1, P2, P3, got "P9"',
      "extra: unknown key (expected one of name, incident, hypothesis, stack, fault, expect, alsoExpected, tolerances, mayFail, remediation, load, deadlines, kubernetes)",
      // rules between fields come after the fields; no deadline rule while the severity itself is wrong
      "fault.params.count: expected 1 to 3 (the stack's brokers), got 5",
    ]);
  });

  it("takes only a plain table name for lock-table: the name reaches SQL run as the superuser", () => {
    const base = "name: x\nincident: db-pool-exhausted\nhypothesis: h\nexpect: { kind: db-pool-exhausted, severity: P2 }\n";
    const lock = (table: string) => `${base}fault: { type: lock-table, params: { table: ${JSON.stringify(table)} } }\n`;
    for (const ok of ["events", "public.events", "_t1", "Events_2", "a".repeat(63)]) {
      expect(parseScenario(lock(ok), "x.yaml", minutes).fault.params).toEqual({ table: ok });
    }
    const expected = "expected a table name ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified, at most 63 characters each)";
    for (const bad of [
      "events TO PUBLIC; DROP TABLE events; --",
      'events"; DROP TABLE events; --',
      "events;",
      "1events",
      "a.b.c",
      "public.",
      "ev ents",
      "events\u0000",
      "a".repeat(64),
      "",
    ]) {
      // a value with a control character (NUL) may be a file's content: only its length is shown
      const got = /\p{Cc}/u.test(bad) ? `a string of ${bad.length} characters` : JSON.stringify(bad);
      expect(problems(lock(bad))).toEqual([`fault.params.table: ${expected}, got ${got}`]);
    }
  });

  it("may tighten the runbook's response time, never loosen it", () => {
    const base =
      "name: x\nincident: high-consumer-lag\nhypothesis: h\nfault: { type: pause-consumers }\nexpect: { kind: high-consumer-lag, severity: P2 }\n";
    expect(parseScenario(base, "x.yaml", minutes).deadlines).toMatchObject({ detectSeconds: 3600, recoverSeconds: 3600 });
    expect(problems(`${base}deadlines: { recoverSeconds: 3601 }`)).toEqual([
      "deadlines.recoverSeconds: expected at most 3600 (the P2 response time), got 3601",
    ]);
  });
});

describe("drill files: verdict fields", () => {
  const base =
    "name: x\nincident: high-consumer-lag\nhypothesis: h\nfault: { type: pause-consumers }\nexpect: { kind: high-consumer-lag, severity: P2 }\n";

  it("checks stack and load too, in the same run as everything else (never silently a default)", () => {
    expect(problems(`${base}stack: { pgPoolMax: 0, processorReplicas: 99 }\nload: { rate: -5 }\nextra: 1\n`)).toEqual([
      "stack.processorReplicas: expected an integer from 1 to 8, got 99",
      "stack.pgPoolMax: expected an integer from 1 to 200, got 0",
      "load.rate: expected a number from 1 to 500, got -5",
      "extra: unknown key (expected one of name, incident, hypothesis, stack, fault, expect, alsoExpected, tolerances, mayFail, remediation, load, deadlines, kubernetes)",
    ]);
  });

  it("takes collateral, tolerances and steps that may fail, each validated", () => {
    const sc = parseScenario(
      `${base}alsoExpected: [{ kind: service-down, severity: P0, subject: event-processor-service, reason: every replica is paused }]
tolerances: [{ claim: producing keeps succeeding, signal: 5xx-share, service: ingest-api, max: 0.01 }]
mayFail: [{ step: lag-scale-up-consumers, reason: one partition }]
`,
      "x.yaml",
      minutes,
    );
    expect(sc.alsoExpected).toEqual([
      { kind: "service-down", severity: "P0", subject: "event-processor-service", reason: "every replica is paused" },
    ]);
    expect(sc.tolerances).toEqual([
      { claim: "producing keeps succeeding", signal: "5xx-share", service: "ingest-api", during: "fault", max: 0.01 },
    ]);
    expect(sc.mayFail).toEqual([{ step: "lag-scale-up-consumers", reason: "one partition" }]);
    expect(
      problems(`${base}alsoExpected: [{ kind: service-down, severity: P7, subject: x }]
tolerances: [{ claim: c, signal: latency, max: 2 }, { claim: c, signal: 5xx-share }]
mayFail: [{ step: restart-the-world, reason: r }]
`),
    ).toEqual([
      'alsoExpected[0].severity: expected one of P0, P1, P2, P3, got "P7"',
      "alsoExpected[0].reason: required (expected a non-empty string)",
      'tolerances[0].signal: expected one of 5xx-share, error-rate, lag, got "latency"',
      "tolerances[1].max: required (expected the most the signal may reach: a number from 0 to 1 (to 1000000000000 for lag))",
      "tolerances[0].max: expected a number from 0 to 1, got 2",
      "tolerances[1].service: required for signal 5xx-share (the service whose requests are measured)",
      'mayFail[0].step: expected one of the high-consumer-lag steps (lag-check-consumer-status, lag-check-processing-errors, lag-scale-up-consumers, verify-kafka-broker-health, verify-lag-drains), got "restart-the-world"',
    ]);
  });
});

describe("the game-day policy", () => {
  it("changes only the automated steps' timing: the thresholds drills are judged by are the runbook's (and docs/runbook.md's)", async () => {
    const { drillPolicy } = await import("../commands/drill.js");
    expect(drillPolicy(undefined, defaultScenariosDir()).thresholds).toEqual(defaultPolicy.thresholds);
  });
});

describe("the catalog's drill index", () => {
  it("lists every drill file under its incident, and only files that exist", async () => {
    const { CATALOG } = await import("@gm/runbook/catalog");
    const all = loadScenarios(["all"], defaultScenariosDir(), defaultPolicy);
    const indexed = Object.values(CATALOG)
      .flatMap((c) => c.drills.map((d) => `${c.kind}/${d}`))
      .sort();
    expect(indexed).toEqual(all.map((s) => `${s.incident}/${s.name}`).sort());
  });

  it("refuses fault parameters and load that are not what they say: fractions, negatives, paths, NaN", () => {
    const head = "name: x\nincident: kafka-broker-down\nhypothesis: h\nexpect: { kind: kafka-broker-down, severity: P2 }\n";
    expect(problems(`${head}fault: { type: kill-broker, params: { count: 1.5 } }\n`)).toEqual([
      "fault.params.count: expected a whole number from 1 to 10000, got 1.5",
    ]);
    expect(problems(`${head}fault: { type: hold-connections, params: { count: -3 } }\n`)).toEqual([
      "fault.params.count: expected a whole number from 1 to 10000, got -3",
    ]);
    expect(problems(`${head}fault: { type: memory-limit, params: { service: stats-api, bytes: -1 } }\n`)).toEqual([
      "fault.params.bytes: expected a whole number of bytes from 1 to 1099511627776 (1 TiB), got -1",
    ]);
    expect(problems(`${head}fault: { type: memory-limit, params: { service: ../../etc, bytes: 16777216 } }\n`)).toEqual([
      'fault.params.service: expected one of ingest-api, event-processor-service, stats-api, got "../../etc"',
    ]);
    const ok = `${head}fault: { type: kill-broker, params: { count: 1 } }\n`;
    expect(problems(`${ok}load: { rate: .nan }\n`)).toEqual(["load.rate: expected a number from 1 to 500, got NaN"]);
    expect(problems(`${ok}load: { reads: .inf }\n`)).toEqual(["load.reads: expected a number from 0 to 500, got Infinity"]);
    expect(problems(ok)).toEqual([]);
  });

  it("takes binary data (!!binary) for one wrong value, not for the hundreds of keys a Buffer inherits", () => {
    expect(problems("!!binary aGVsbG8=\n")).toEqual(["(root): expected a mapping, got binary or tagged data"]);
    const ok =
      "name: x\nincident: kafka-broker-down\nhypothesis: h\nexpect: { kind: kafka-broker-down, severity: P2 }\nfault: { type: kill-broker }\n";
    expect(problems(`${ok}stack: !!binary aGVsbG8=\n`)).toEqual(["stack: expected a mapping, got binary or tagged data"]);
  });

  it("never quotes the lines of a file that is not a drill", () => {
    const shadow = "root:$y$j9T$hunter2:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n";
    expect(problems(shadow)).toEqual([expect.stringMatching(/^\(file\): not a drill file: none of its keys is name, incident/)]);
    expect(problems(`name: x\n'root:hunter2:1': y\n`).join("\n")).not.toContain("hunter2");
  });
});
