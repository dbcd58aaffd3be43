import { parseProberConfig } from "@gm/monitor/config";
import type { StackEndpoints } from "@gm/stack/stack";
import { describe, expect, it } from "vitest";
import { proberConfigFor } from "./prober-config.js";

const endpoints: StackEndpoints = {
  stackId: "abc",
  kafkaBootstrapServers: ["127.0.0.1:41001"],
  kafkaInternalBootstrapServers: ["kafka-1:19092"],
  postgresUrl: "postgres://gm:pw@127.0.0.1:5432/gm",
  proberPostgresUrl: "postgres://gm_prober:pw2@127.0.0.1:5432/gm",
  services: { "ingest-api": "http://127.0.0.1:1", "stats-api": "http://127.0.0.1:2", "event-processor-service": ["http://127.0.0.1:3"] },
  extraServices: { "leaderboard-api": { url: "http://127.0.0.1:4", program: "stats-api" } },
  topic: "game-events",
  consumerGroup: "event-processor-service",
  adminToken: "tok",
  network: "n",
};

describe("the prober configuration a stack writes", () => {
  it("describes a service beyond the three with the roles of the program it runs, and gm-prober accepts it", () => {
    const c = parseProberConfig(proberConfigFor(endpoints));
    expect(c.services["leaderboard-api"]).toEqual(["http://127.0.0.1:4"]);
    expect(c.topology.services.find((s) => s.name === "leaderboard-api")?.roles).toEqual({
      produces: [],
      consumes: null,
      postgresPool: true,
      stateless: true,
      scalable: true,
    });
  });
});
