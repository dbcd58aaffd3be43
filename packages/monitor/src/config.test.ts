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
      kafka: { topic: "game-events", groups: ["event-processor-service"], expectedBrokers: 3 },
      hysteresis: { resolveAfter: 3 },
    });
  });

  it("takes the kubernetes driver with its allowlist, and names what is missing or wrong in it", () => {
    const svc = "services: { stats-api: [http://stats-api.gm-staging:8080] }\n";
    const c = parseProberConfig(`${svc}
platform: { driver: kubernetes, kubeconfig: in-cluster, namespaces: { platform: gm-staging }, allow: { contexts: [inClusterContext], namespaces: [kafka, gm-staging] } }
`);
    expect(c.platform).toEqual({ driver: "kubernetes", kubeconfig: "in-cluster", namespaces: { kafka: "kafka", platform: "gm-staging" }, allow: { contexts: ["inClusterContext"], namespaces: ["kafka", "gm-staging"] } });
    expect(problems(`${svc}platform: { driver: kubernetes }`)).toEqual(["platform.allow: required for the kubernetes driver (contexts and namespaces it may read)"]);
    expect(problems(`${svc}platform: { driver: kubernetes, stackId: x, allow: { contexts: [], namespaces: [1] } }`)).toEqual([
      "platform.stackId: unknown key (expected one of driver, kubeconfig, context, namespaces, allow)",
      "platform.allow.contexts: expected a non-empty list, got []",
      "platform.allow.namespaces[0]: expected a non-empty string, got 1",
    ]);
    expect(problems(`${svc}platform: { driver: nomad, stackId: s }`)).toEqual(['platform.driver: expected "docker" or "kubernetes", got "nomad"']);
  });

  it("takes ${NAME} from the environment, and names a variable that is not set with its line", () => {
    const yaml = "services: { stats-api: [http://s:8080] }\npostgres: { url: \"postgres://gm_prober:${PROBER_PG_PASSWORD}@pg:5432/gm\" }\n";
    expect(parseProberConfig(yaml, { PROBER_PG_PASSWORD: "s3cret" }).postgres).toEqual({ url: "postgres://gm_prober:s3cret@pg:5432/gm" });
    expect(() => parseProberConfig(yaml, {})).toThrow("line 2: environment variable PROBER_PG_PASSWORD is not set (referenced as ${PROBER_PG_PASSWORD})");
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
      "colour: unknown key (expected one of intervalSeconds, timeoutMs, windowSeconds, listen, services, kafka, postgres, synthetic, security, prometheus, alertmanager, loki, platform, policy, hysteresis)",
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
