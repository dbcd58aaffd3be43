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
    expect(c.platform).toEqual({
      driver: "kubernetes",
      kubeconfig: "in-cluster",
      namespaces: { kafka: "kafka", platform: "gm-staging" },
      allow: { contexts: ["inClusterContext"], namespaces: ["kafka", "gm-staging"] },
    });
    expect(problems(`${svc}platform: { driver: kubernetes }`)).toEqual([
      "platform.allow: required (expected the contexts and namespaces the kubernetes driver may read)",
    ]);
    expect(problems(`${svc}platform: { driver: kubernetes, stackId: x, allow: { contexts: [], namespaces: [1] } }`)).toEqual([
      "platform.allow.contexts: expected a non-empty list, got an empty list",
      "platform.allow.namespaces[0]: expected a non-empty string, got 1",
      "platform.stackId: unknown key (expected one of driver, kubeconfig, context, namespaces, allow)",
    ]);
    expect(problems(`${svc}platform: { driver: nomad, stackId: s }`)).toEqual([
      'platform.driver: expected "docker" or "kubernetes", got "nomad"',
    ]);
  });

  it("takes ${NAME} from the environment, and names a variable that is not set with its field", () => {
    const yaml = 'services: { stats-api: [http://s:8080] }\npostgres: { url: "postgres://gm_prober:${PROBER_PG_PASSWORD}@pg:5432/gm" }\n';
    expect(parseProberConfig(yaml, { PROBER_PG_PASSWORD: "s3cret" }).postgres).toEqual({ url: "postgres://gm_prober:s3cret@pg:5432/gm" });
    expect(() => parseProberConfig(yaml, {})).toThrow(
      "postgres.url: environment variable PROBER_PG_PASSWORD is not set (referenced as ${PROBER_PG_PASSWORD})",
    );
    // a comment may explain the syntax without the variable being set
    expect(parseProberConfig(`# \${NOT_SET} is read from the environment\n${yaml}`, { PROBER_PG_PASSWORD: "x" }).postgres?.url).toBe(
      "postgres://gm_prober:x@pg:5432/gm",
    );
  });

  it("substitutes ${NAME} in values: an environment value with a newline and ': ' cannot add a key", () => {
    const yaml = "services: { stats-api: [http://s:8080] }\nsecurity:\n  secrets:\n    ADMIN_TOKEN: ${TOKEN}\n";
    const token = "0123456789abcdef\nlisten: 0.0.0.0:1\nintervalSeconds: 3000";
    const c = parseProberConfig(yaml, { TOKEN: token });
    expect(c.listen).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(c.intervalSeconds).toBe(5);
    expect(c.security?.secrets).toEqual({ ADMIN_TOKEN: token });
    // and a value that has to be a URL stays invalid instead of becoming keys
    expect(() => parseProberConfig('services: { stats-api: ["${U}"] }\n', { U: "http://s:8080\nlisten: 0.0.0.0:1" })).toThrow(
      /services\.stats-api\[0\]: expected a URL \(http or https\), got a string of 31 characters/,
    );
  });

  it("never echoes a secret's value, also when it is the wrong kind of value", () => {
    const ps = problems('services: { stats-api: ["http://s:8080"] }\nsecurity: { secrets: { TOKEN: 12345678901234567, B: [1] } }\n');
    expect(ps).toEqual([
      "security.secrets.TOKEN: expected a non-empty string, got a number (not shown: a secret)",
      "security.secrets.B: expected a non-empty string, got a list",
    ]);
  });

  it("refuses an unknown key at any depth (strict objects)", () => {
    expect(problems('services: { stats-api: ["http://s:8080"] }\nhysteresis: { resolveAfter: 3, resolveBefore: 1 }\n')).toEqual([
      "hysteresis.resolveBefore: unknown key (expected one of resolveAfter)",
    ]);
    expect(
      problems('services: { stats-api: ["http://s:8080"] }\nsecurity: { protected: [{ url: "http://s:8080/admin", verb: GET }] }\n'),
    ).toEqual(["security.protected[0].verb: unknown key (expected one of method, url)"]);
  });

  it("never echoes a URL's password, also one with # in it", () => {
    const ps = problems('services: { stats-api: ["http://s:8080"] }\npostgres: { url: "postgres://gm:pa#ss@pg:5432/gm" }\n');
    expect(ps).toEqual(['postgres.url: expected a postgres: or postgresql: URL, got "postgres://gm:***@pg:5432/gm"']);
    expect(ps.join("\n")).not.toContain("pa#ss");
  });

  it("refuses a listen port above 65535, and services that probe nothing", () => {
    expect(problems('services: { stats-api: ["http://s:8080"] }\nlisten: 127.0.0.1:99999\n')).toEqual([
      'listen: expected host:port with a port from 0 to 65535, got "127.0.0.1:99999"',
    ]);
    expect(problems("services: {}\n")).toEqual(["services: expected at least one service with a list of base URLs, got none"]);
  });

  it("does not quote a file that is not a configuration", () => {
    const ps = problems("root:$y$j9T$hunter2hash:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n");
    expect(ps).toEqual([expect.stringMatching(/^\(file\): not a prober configuration: none of its keys is intervalSeconds, /)]);
    expect(problems("SECRET=hunter2\u0000HOME=/root\u0000")).toEqual(["(file): expected a mapping (a prober configuration), got string"]);
    const keys = problems("services: { stats-api: [http://s] }\n'root:hunter2:1': x\n");
    expect(keys.join("\n")).not.toContain("hunter2");
  });

  it("refuses duplicate keys and alias bombs with a message", () => {
    expect(problems("services: { stats-api: [http://s] }\nservices: {}\n")).toEqual([
      '(file): duplicate key "services" (line 2): each key may appear once in a mapping',
    ]);
    let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i <= 12; i++)
      bomb += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    expect(problems(bomb)[0]).toMatch(/^\(file\): more than 100 aliases/);
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
      'services.ingest-api[0]: expected a URL (http or https), got "not-a-url"',
      "services.billing.roles: required for billing, a service GameMetrics Pro does not define (roles are known only for ingest-api, event-processor-service, stats-api): write `billing: { urls: [...], roles: { produces, consumes, postgresPool, stateless, scalable } }`",
      'intervalSeconds: expected a number from 0.5 to 3600, got "fast"',
      'kafka.brokers[0]: expected host:port, got "nohost"',
      'postgres.url: expected a postgres: or postgresql: URL, got "mysql://x"',
      "colour: unknown key (expected one of intervalSeconds, timeoutMs, maxInFlight, windowSeconds, listen, services, kafka, postgres, synthetic, security, prometheus, alertmanager, loki, platform, policy, hysteresis, journal)",
    ]);
  });

  it("requires services and refuses a file that is not YAML", () => {
    expect(problems("{}")).toEqual(["services: required (a mapping of service name to a list of base URLs, or to urls and roles)"]);
    expect(problems("services: [")[0]).toMatch(/^\(file\): not valid YAML/);
  });
});
