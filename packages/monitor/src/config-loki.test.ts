import { describe, expect, it } from "vitest";
import { ConfigError, parseProberConfig } from "./config.js";

const svc = "services: { stats-api: [http://127.0.0.1:8083] }\nplatform: { driver: docker, stackId: s1 }\n";

function problems(yaml: string): string[] {
  try {
    parseProberConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("prober configuration: loki", () => {
  it("takes loki.url, without a trailing slash", () => {
    expect(parseProberConfig(`${svc}loki: { url: "http://127.0.0.1:3100/" }`).loki).toEqual({ url: "http://127.0.0.1:3100" });
    expect(parseProberConfig(svc).loki).toBeUndefined();
  });

  it("names loki.url when it is missing or not an http(s) URL, and needs a platform", () => {
    expect(problems(`${svc}loki: {}`)).toEqual(["loki.url: required (expected a http: or https: URL)"]);
    expect(problems(`${svc}loki: { url: "loki:3100" }`)).toEqual(['loki.url: expected a http: or https: URL, got "loki:3100"']);
    expect(problems(`${svc}loki: { url: http://x, tenant: a }`)).toEqual(["loki.tenant: unknown key (expected one of url)"]);
    expect(problems(`services: { stats-api: [http://127.0.0.1:8083] }\nloki: { url: "http://127.0.0.1:3100" }`)).toEqual([
      "loki: needs platform (Loki is where the platform's logs are read)",
    ]);
  });
});
