import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { composeHostPorts, hostPortVariable, renderCompose } from "./compose.js";

interface ComposeFile {
  name?: string;
  services: Record<
    string,
    { image: string; container_name?: string; ports: string[]; environment: Record<string, string>; labels: Record<string, string> }
  >;
}

const file = parse(renderCompose()) as ComposeFile;
/** `${NAME:-default}` as Compose reads it. */
const v = (name: string, fallback: string | number) => `\${${name}:-${fallback}}`;

describe("docker-compose.yml", () => {
  it("has no top-level name (docker-compose 1.29 refuses it) and no container_name (two projects would collide)", () => {
    expect(file.name).toBeUndefined();
    for (const [name, svc] of Object.entries(file.services)) expect(svc.container_name, name).toBeUndefined();
  });

  it("takes every image from the variables `gm-chaos stack up` reads, defaulting to the public images", () => {
    expect(file.services["kafka-2"]!.image).toBe(v("GM_KAFKA_IMAGE", "apache/kafka:3.9.1"));
    expect(file.services["postgres"]!.image).toBe(v("GM_POSTGRES_IMAGE", "postgres:15"));
    expect(file.services["stats-api"]!.image).toBe(v("GM_PLATFORM_IMAGE", "gamemetrics/demo-platform:latest"));
  });

  it("publishes each host port on loopback through its variable, and Kafka advertises the port it publishes", () => {
    const ports = composeHostPorts();
    expect(ports.map((p) => `${p.service}=${p.defaultPort}`)).toEqual([
      "kafka-1=29092",
      "kafka-2=29093",
      "kafka-3=29094",
      "postgres=5432",
      "ingest-api=8081",
      "event-processor-service=8082",
      "stats-api=8083",
    ]);
    for (const p of ports)
      expect(file.services[p.service]!.ports).toEqual([
        expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:\\$\\{${p.variable}:-${p.defaultPort}\\}:\\d+$`)),
      ]);
    expect(hostPortVariable("event-processor-service")).toBe("GM_EVENT_PROCESSOR_SERVICE_PORT");
    expect(file.services["kafka-3"]!.environment["KAFKA_ADVERTISED_LISTENERS"]).toBe(
      `INTERNAL://kafka-3:19092,EXTERNAL://localhost:${v("GM_KAFKA_3_PORT", 29094)}`,
    );
  });

  it("labels every container with the stack id from GM_STACK_ID", () => {
    for (const svc of Object.values(file.services)) expect(svc.labels["io.gamemetrics.stack"]).toBe(v("GM_STACK_ID", "compose"));
  });
});
