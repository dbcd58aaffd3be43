/** Renders docker-compose.yml from the stack definition (the same one testcontainers starts). */
import { stringify } from "yaml";
import { containerSpecs, defaultPublicImages, resolveOptions, type ContainerSpec } from "./definition.js";

/** Host ports people get from `docker compose up`: stable and documented. */
const COMPOSE_HOST_PORTS: Record<string, number> = { postgres: 5432, "ingest-api": 8081, "event-processor-service": 8082, "stats-api": 8083 };
const KAFKA_HOST_PORTS = [29092, 29093, 29094];

export function renderCompose(): string {
  // Fixed values so the file is reproducible; the password and token are for a local stack only.
  const fixed = ["ab12cd34ef56ab12cd34ef56ab12cd34", "0"];
  let i = 0;
  const s = resolveOptions(
    { id: "compose", brokers: 3, processorReplicas: 1, postgres: { password: "gamemetrics-local" }, adminToken: "local-only-admin-token-change-me" },
    () => fixed[i++ % fixed.length] ?? "0",
    { ...defaultPublicImages("3.9.1"), platform: "gamemetrics/demo-platform:latest" },
  );
  const specs = containerSpecs(s, KAFKA_HOST_PORTS, "localhost");
  const services: Record<string, unknown> = {};
  for (const spec of specs) services[spec.name] = service(spec);
  // Build the demo image from its Dockerfile when it is missing.
  for (const spec of specs) {
    if (spec.image === s.images.platform) (services[spec.name] as Record<string, unknown>)["build"] = { context: "apps/demo-platform" };
  }
  const header = [
    "# GENERATED from packages/stack/src/definition.ts by `npm run compose:generate`; do not edit by hand.",
    "# A test fails when this file drifts from the definition that `gm-chaos stack up` starts.",
    "# Build the demo image first: `npm run build` (bundles apps/demo-platform/image/app).",
    "",
  ].join("\n");
  return header + stringify({ name: "gamemetrics", services }, { lineWidth: 0 });
}

function service(spec: ContainerSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { image: spec.image, container_name: `gamemetrics-${spec.name}`, hostname: spec.name };
  if (spec.command) out["command"] = spec.command;
  out["environment"] = spec.env;
  out["ports"] = spec.ports.map((p) => `127.0.0.1:${p.host ?? COMPOSE_HOST_PORTS[spec.name] ?? p.container}:${p.container}`);
  out["labels"] = spec.labels;
  if (spec.dependsOn.length) out["depends_on"] = spec.dependsOn;
  if (spec.memoryBytes) out["mem_limit"] = `${spec.memoryBytes / 1024 / 1024}m`;
  out["restart"] = "unless-stopped";
  return out;
}
