import { classify } from "@gm/runbook/classify";
import { defaultPolicy } from "@gm/runbook/policy";
import { describe, expect, it } from "vitest";
import type { InstanceInfo, PlatformPort } from "@gm/runbook/ports";
import { parseServicesSection } from "@gm/runbook/topology";
import { createSignals, instances } from "./collect-round.js";

describe("a snapshot", () => {
  it("never carries a URL's password into collection errors or incident evidence", async () => {
    const signals = createSignals({
      timeoutMs: 500,
      windowSeconds: 60,
      // nothing listens on port 1: every collector fails, with the URL in its error
      services: { "stats-api": ["http://probe:svc-s3cret@127.0.0.1:1"], "ingest-api": ["http://127.0.0.1:1"] },
    });
    try {
      const snapshot = await signals.snapshot();
      const text = JSON.stringify({ snapshot, incidents: classify(snapshot, defaultPolicy) });
      expect(snapshot.collectionErrors.length).toBeGreaterThan(0);
      expect(text).toContain("http://probe:***@127.0.0.1:1");
      expect(text).not.toContain("svc-s3cret");
    } finally {
      await signals.close();
    }
  });

  it("never carries a configured secret's value (security.secrets), wherever it appears", async () => {
    const token = "tok-0123456789abcdef";
    const signals = createSignals({
      timeoutMs: 500,
      windowSeconds: 60,
      // a token in a URL's query and path: nothing listens there, so it is in the instances, the
      // collectors' errors and the service-down incident's evidence
      services: { "stats-api": [`http://127.0.0.1:1/x?token=${token}`], "ingest-api": [`http://127.0.0.1:1/${token}`] },
      security: {
        protectedEndpoints: [{ method: "DELETE", url: `http://127.0.0.1:1/admin?t=${token}` }],
        publicEndpoints: [],
        secrets: { adminToken: token, short: "0123" },
      },
    });
    try {
      const snapshot = await signals.snapshot();
      const incidents = classify(snapshot, defaultPolicy);
      const text = JSON.stringify({ snapshot, incidents });
      expect(incidents.map((i) => i.kind)).toContain("service-down");
      expect(text).not.toContain(token);
      expect(text).toContain("http://127.0.0.1:1/x?token=***");
    } finally {
      await signals.close();
    }
  });
});

describe("the instances collector", () => {
  it("asks the platform for every described service, a fourth one too, then Kafka and PostgreSQL", async () => {
    const asked: string[] = [];
    const platform = {
      listInstances: async (service: string): Promise<InstanceInfo[]> => {
        asked.push(service);
        return [
          {
            name: `${service}-1`,
            service,
            running: true,
            restarts: 0,
            exitCode: null,
            oomKilled: false,
            memoryLimitBytes: null,
            memoryUsageBytes: null,
            startedAt: null,
          },
        ];
      },
    } as unknown as PlatformPort;
    const described = parseServicesSection({
      "stats-api": ["http://stats:8080"],
      "leaderboard-api": { urls: ["http://leaderboard:8080"], roles: { postgresPool: true } },
    });
    if (!described.ok) throw new Error(described.problems.join("; "));
    const found = await instances(platform, described.topology);
    expect(asked).toEqual(["stats-api", "leaderboard-api", "kafka", "postgres"]);
    expect(found.map((i) => i.instance)).toEqual(["stats-api-1", "leaderboard-api-1", "kafka-1", "postgres-1"]);
  });
});
