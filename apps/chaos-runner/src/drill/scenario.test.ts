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
    expect(all.map((s) => s.name).sort()).toEqual(["db-pool-exhausted", "db-pool-exhausted-lock", "high-consumer-lag", "kafka-broker-down", "kafka-broker-down-majority", "service-oom"]);
    for (const s of all) expect(s.name.startsWith(s.incident)).toBe(true);
  });

  it("takes what a Kubernetes namespace drill expects instead, validated like the rest", () => {
    const oom = loadScenarios(["service-oom"], defaultScenariosDir(), defaultPolicy)[0]!;
    expect(oom.expect).toEqual({ kind: "service-oom", severity: "P1" });
    expect(oom.kubernetes).toEqual({ expect: { kind: "service-oom", severity: "P2" } });
    const base = "name: x\nincident: service-oom\nhypothesis: h\nfault: { type: memory-limit, params: { service: stats-api, bytes: 1 } }\nexpect: { kind: service-oom, severity: P1 }\n";
    expect(problems(`${base}kubernetes: { expect: { kind: oom, severity: P9 }, extra: 1 }`)).toEqual([
      "kubernetes.extra: unknown key (expected one of expect)",
      "kubernetes.expect.kind: expected one of service-down, data-loss, security-exposure, high-error-rate, kafka-broker-down, db-pool-exhausted, high-consumer-lag, service-oom, got \"oom\"",
      'kubernetes.expect.severity: expected one of P0, P1, P2, P3, got "P9"',
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
      "extra: unknown key (expected one of name, incident, hypothesis, stack, fault, expect, remediation, load, deadlines, kubernetes)",
      'name: expected lower-case words joined by dashes, got "Bad Name"',
      'incident: expected one of service-down, data-loss, security-exposure, high-error-rate, kafka-broker-down, db-pool-exhausted, high-consumer-lag, service-oom, got "meteor-strike"',
      'hypothesis: expected a non-empty string, got ""',
      "fault.params.colour: unknown key (expected one of count)",
      "fault.params.count: expected 1 to 3 (the stack's brokers), got 5",
      'expect.severity: expected one of P0, P1, P2, P3, got "P9"',
      "deadlines.detectSeconds: expected at most 300 (the P0 response time), got 9999",
    ]);
  });

  it("may tighten the runbook's response time, never loosen it", () => {
    const base = "name: x\nincident: high-consumer-lag\nhypothesis: h\nfault: { type: pause-consumers }\nexpect: { kind: high-consumer-lag, severity: P2 }\n";
    expect(parseScenario(base, "x.yaml", minutes).deadlines).toMatchObject({ detectSeconds: 3600, recoverSeconds: 3600 });
    expect(problems(`${base}deadlines: { recoverSeconds: 3601 }`)).toEqual(["deadlines.recoverSeconds: expected at most 3600 (the P2 response time), got 3601"]);
  });
});
