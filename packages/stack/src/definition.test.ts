import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderCompose } from "./compose.js";
import { containerSpecs, kraftClusterId, resolveOptions, StackOptionError } from "./definition.js";

const images = { kafka: "k:1", postgres: "p:1", platform: "d:1" };
let n = 0;
const random = () => (n++).toString(16).padStart(32, "0");

describe("stack definition", () => {
  it("configures three KRaft brokers with replication factor 3 and min.insync.replicas 2", () => {
    const s = resolveOptions({ brokers: 3, id: "abc" }, random, images);
    const specs = containerSpecs(s, [41001, 41002, 41003]);
    const kafka = specs.filter((c) => c.role === "kafka");
    expect(kafka.map((k) => k.name)).toEqual(["kafka-1", "kafka-2", "kafka-3"]);
    expect(kafka[1]!.env).toMatchObject({
      KAFKA_NODE_ID: "2",
      KAFKA_ADVERTISED_LISTENERS: "INTERNAL://kafka-2:19092,EXTERNAL://127.0.0.1:41002",
      KAFKA_CONTROLLER_QUORUM_VOTERS: "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093",
      KAFKA_DEFAULT_REPLICATION_FACTOR: "3",
      KAFKA_MIN_INSYNC_REPLICAS: "2",
    });
    expect(kafka[1]!.ports).toEqual([{ container: 9094, host: 41002 }]);
    expect(s.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // an id starting with "-" reads as an option to kafka-storage format: every broker would exit
    expect(kraftClusterId("f8".repeat(16))).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(Buffer.from("f8".repeat(16), "hex").toString("base64url")).toMatch(/^-/);
  });

  it("labels every container with the stack id and its role", () => {
    const s = resolveOptions({ brokers: 1, id: "abc", processorReplicas: 2 }, random, images);
    const specs = containerSpecs(s, [41001]);
    expect(specs.map((c) => c.name)).toEqual([
      "kafka-1",
      "postgres",
      "ingest-api",
      "event-processor-service-1",
      "event-processor-service-2",
      "stats-api",
    ]);
    for (const c of specs)
      expect(c.labels).toMatchObject({ "io.gamemetrics.stack": "abc", "io.gamemetrics.role": c.role, "io.gamemetrics.managed": "true" });
    expect(specs.find((c) => c.name === "event-processor-service-2")!.env).toMatchObject({
      KAFKA_BROKERS: "kafka-1:19092",
      PG_POOL_MAX: "10",
    });
  });

  it("refuses bad options naming the field", () => {
    expect(() => resolveOptions({ brokers: 2 as 1 }, random, images)).toThrow(new StackOptionError("brokers", "1 or 3", 2));
    expect(() => resolveOptions({ processorReplicas: -1 }, random, images)).toThrow(/processorReplicas: expected an integer from 0 to 8/);
    expect(() => resolveOptions({ id: "Bad Id" }, random, images)).toThrow(/stack option id/);
    expect(() => resolveOptions({ kafkaVersion: "latest" }, random, images)).toThrow(/kafkaVersion: expected a version such as 3.9.1/);
  });

  it("loads the JMX exporter agent into every broker only when asked: files copied, KAFKA_OPTS, its port published", () => {
    const plain = containerSpecs(resolveOptions({ brokers: 3, id: "abc" }, random, images), [41001, 41002, 41003]);
    for (const k of plain.filter((c) => c.role === "kafka")) {
      expect(k.env["KAFKA_OPTS"], k.name).toBeUndefined();
      expect(k.files, k.name).toBeUndefined();
      expect(k.ports, k.name).toHaveLength(1);
    }
    const agent = { jar: "/x/.bench/jmx_prometheus_javaagent-1.0.1.jar", config: "/x/deploy/bench/prometheus/jmx-kafka.yml" };
    const s = resolveOptions({ brokers: 3, id: "abc", kafkaJmxExporter: agent }, random, images);
    const specs = containerSpecs(s, [41001, 41002, 41003]);
    for (const k of specs.filter((c) => c.role === "kafka")) {
      expect(k.env["KAFKA_OPTS"], k.name).toBe(
        "-javaagent:/opt/jmx-exporter/jmx_prometheus_javaagent.jar=9404:/opt/jmx-exporter/config.yml",
      );
      expect(k.files, k.name).toEqual([
        { source: agent.jar, target: "/opt/jmx-exporter/jmx_prometheus_javaagent.jar" },
        { source: agent.config, target: "/opt/jmx-exporter/config.yml" },
      ]);
      expect(k.ports, k.name).toContainEqual({ container: 9404, host: null });
    }
    // only the brokers
    for (const c of specs.filter((x) => x.role !== "kafka")) expect(c.files, c.name).toBeUndefined();
    expect(() => resolveOptions({ kafkaJmxExporter: { ...agent, jar: "agent.jar" } }, random, images)).toThrow(
      /kafkaJmxExporter\.jar: expected an absolute path to the agent's \.jar, got "agent\.jar"/,
    );
    expect(() => resolveOptions({ kafkaJmxExporter: { ...agent, config: "" } }, random, images)).toThrow(/kafkaJmxExporter\.config/);
  });

  it("docker-compose.yml is generated from this definition and has not drifted", () => {
    const committed = readFileSync(fileURLToPath(new URL("../../../docker-compose.yml", import.meta.url)), "utf8");
    expect(committed).toBe(renderCompose());
  });

  it("starts a service beyond the three from the same image, under its own name and role, with its program's environment", () => {
    const s = resolveOptions({ id: "abc", extraServices: [{ name: "leaderboard-api", program: "stats-api" }] }, random, images);
    const lb = containerSpecs(s, [41001]).find((c) => c.name === "leaderboard-api")!;
    expect(lb).toMatchObject({ role: "leaderboard-api", image: "d:1", dependsOn: ["postgres"], ports: [{ container: 8080, host: null }] });
    expect(lb.env).toMatchObject({ SERVICE: "stats-api", PG_POOL_MAX: "10", ADMIN_TOKEN: s.adminToken });
    expect(lb.env["KAFKA_BROKERS"]).toBeUndefined();
    expect(Object.values(lb.labels)).toEqual(["true", "abc", "leaderboard-api", "leaderboard-api"]);
    expect(() => resolveOptions({ extraServices: [{ name: "stats-api", program: "stats-api" }] }, random, images)).toThrow(
      'stack option extraServices[0].name: expected a new name: lower-case letters, digits and dashes, not a name the stack uses, got "stats-api"',
    );
    expect(() => resolveOptions({ extraServices: [{ name: "x", program: "billing" as "stats-api" }] }, random, images)).toThrow(
      "stack option extraServices[0].program: expected one of ingest-api, event-processor-service, stats-api",
    );
  });
});
