/** The endpoints a namespace drill reaches by cluster names, from the services' own env (the drills themselves: kubernetes-node.int.test.ts). */
import type { KubernetesPlatform } from "@gm/platform/kubernetes";
import { describe, expect, it } from "vitest";
import { namespaceEndpoints } from "./namespace.js";

const target = (name: string, namespace = "gamemetrics") => ({ namespace, workload: { kind: "Deployment", name } });

function fakeK8s(env: Record<string, Record<string, string>>): KubernetesPlatform {
  return {
    context: "admin@test",
    targets: {
      "ingest-api": target("ingest-api"),
      "event-processor-service": target("event-processor-service"),
      "stats-api": target("stats-api", "reads"),
      kafka: { namespace: "kafka", workload: { kind: "StatefulSet", name: "kafka" } },
    },
    workloadEnv: async (service: string) => env[service] ?? {},
  } as unknown as KubernetesPlatform;
}

const ENV = {
  "ingest-api": {
    PORT: "8080",
    KAFKA_BROKERS: "kafka-0.kafka-headless.kafka.svc:19092, kafka-1.kafka-headless.kafka.svc:19092",
    KAFKA_TOPIC: "game-events-v2",
  },
  "event-processor-service": { PORT: "8081", DATABASE_URL: "postgres://gm:pw@postgres.gamemetrics.svc:5432/gm" },
  "stats-api": { ADMIN_TOKEN: "tok" },
};

describe("namespaceEndpoints", () => {
  it("takes brokers, topic, database and token from the services' env, each service by its Service name", async () => {
    const e = await namespaceEndpoints(fakeK8s(ENV));
    expect(e).toMatchObject({
      stackId: "k8s:admin@test",
      kafkaBootstrapServers: ["kafka-0.kafka-headless.kafka.svc:19092", "kafka-1.kafka-headless.kafka.svc:19092"],
      postgresUrl: "postgres://gm:pw@postgres.gamemetrics.svc:5432/gm",
      topic: "game-events-v2",
      consumerGroup: "event-processor-service",
      adminToken: "tok",
      services: {
        "ingest-api": "http://ingest-api.gamemetrics.svc:8080",
        "event-processor-service": ["http://event-processor-service.gamemetrics.svc:8081"],
        "stats-api": "http://stats-api.reads.svc:8080",
      },
    });
  });

  it("names the workload and the variable it misses", async () => {
    await expect(namespaceEndpoints(fakeK8s({ ...ENV, "ingest-api": {} }))).rejects.toThrow(
      /deployment\/ingest-api -n gamemetrics: no KAFKA_BROKERS in its container's env/,
    );
    await expect(namespaceEndpoints(fakeK8s({ ...ENV, "event-processor-service": {} }))).rejects.toThrow(
      /deployment\/event-processor-service -n gamemetrics: no DATABASE_URL/,
    );
  });
});
