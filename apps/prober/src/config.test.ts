import { describe, expect, it } from "vitest";
import { ConfigError, parseProberConfig } from "./config.js";

function problems(yaml: string): string[] {
  try {
    parseProberConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("prober configuration", () => {
  it("parses a full file with defaults", () => {
    const c = parseProberConfig(`
services:
  ingest-api: [http://127.0.0.1:8081/]
  stats-api: [http://127.0.0.1:8083]
kafka: { brokers: ["127.0.0.1:29092"], expectedBrokers: 3 }
postgres: { url: "postgres://gm_prober:x@127.0.0.1:5432/gm" }
alertmanager: { urls: [http://127.0.0.1:9093] }
`);
    expect(c).toMatchObject({
      intervalSeconds: 5,
      listen: { host: "127.0.0.1", port: 9464 },
      services: { "ingest-api": ["http://127.0.0.1:8081"] },
      kafka: { topic: "game-events", groups: ["event-processor-service"], expectedBrokers: 3, stallSeconds: 30 },
      hysteresis: { resolveAfter: 3 },
    });
  });

  it("names the path of every bad field", () => {
    expect(
      problems(`
intervalSeconds: fast
services:
  ingest-api: [not-a-url]
  billing: [http://x]
kafka: { brokers: ["nohost"] }
postgres: { url: "mysql://x" }
colour: blue
`),
    ).toEqual([
      "colour: unknown key (expected one of intervalSeconds, timeoutMs, windowSeconds, listen, services, kafka, postgres, synthetic, security, prometheus, alertmanager, platform, policy, hysteresis)",
      "services.billing: unknown key (expected one of ingest-api, event-processor-service, stats-api)",
      'services.ingest-api[0]: expected a URL, got "not-a-url"',
      'intervalSeconds: expected a number from 0.5 to 3600, got "fast"',
      'kafka.brokers[0]: expected host:port, got "nohost"',
      'postgres.url: expected a postgres: or postgresql: URL, got "mysql://x"',
    ]);
  });

  it("requires services and refuses a file that is not YAML", () => {
    expect(problems("{}")).toEqual(["services: required (a mapping of service name to a list of base URLs)"]);
    expect(problems("services: [")[0]).toMatch(/^\(file\): not valid YAML/);
  });
});
