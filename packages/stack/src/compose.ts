/**
 * Renders docker-compose.yml from the stack definition (the same one testcontainers starts).
 *
 * The file works with both Composes people have: the v2 plugin (`docker compose`) and Debian's
 * docker-compose 1.29 (Python), which refuses the top-level `name:` key, so the project name comes
 * from `-p` (or the folder). No `container_name`: Compose names containers after the project, so two
 * projects (a test's and someone's own) never collide. What differs between machines is a variable with
 * the documented value as default (`${VAR:-default}`, interpolated by both Composes): the images (the
 * same GM_*_IMAGE variables `gm-chaos stack up` reads, so the local builds of `npm run images` can
 * stand in for the public images), each published host port, and the stack label. Variables rather
 * than an override file, because an override cannot replace a published port: Compose concatenates
 * `ports` across files.
 */
import { LABEL } from "@gm/docker-engine/docker";
import { stringify } from "yaml";
import { type ContainerSpec, containerSpecs, defaultPublicImages, IMAGE_VARIABLES, resolveOptions } from "./definition.js";

/** Host ports people get from `docker compose up`: stable and documented. */
const COMPOSE_HOST_PORTS: Record<string, number> = {
  postgres: 5432,
  "ingest-api": 8081,
  "event-processor-service": 8082,
  "stats-api": 8083,
};
const KAFKA_HOST_PORTS = [29092, 29093, 29094];
/** The host Kafka's EXTERNAL listeners advertise: where `docker compose up` publishes them. */
const KAFKA_HOST = "localhost";

/** The variable that sets the stack label (`io.gamemetrics.stack`) of every container; default `compose`. */
export const STACK_ID_VARIABLE = "GM_STACK_ID";
const DEFAULT_STACK_ID = "compose";

/** The variable that moves a service's published host port: `ingest-api` → `GM_INGEST_API_PORT`. */
export function hostPortVariable(service: string): string {
  return `GM_${service.toUpperCase().replaceAll("-", "_")}_PORT`;
}

/** Every host port docker-compose.yml publishes: the service, its variable, and the port without it. */
export interface ComposeHostPort {
  service: string;
  variable: string;
  defaultPort: number;
}

export function composeHostPorts(): ComposeHostPort[] {
  return composeSpecs().flatMap((spec) =>
    spec.ports.map((p) => ({ service: spec.name, variable: hostPortVariable(spec.name), defaultPort: hostPort(spec, p) })),
  );
}

/** `${NAME:-default}`: the variable's value when set and not empty, else the default. */
function variable(name: string, fallback: string | number): string {
  return `\${${name}:-${fallback}}`;
}

/** Compose interpolates every value: a literal `$` is written `$$`. */
function literal(value: string): string {
  return value.replaceAll("$", () => "$$");
}

function composeSpecs(): ContainerSpec[] {
  // Fixed values so the file is reproducible; the password and token are for a local stack only.
  const fixed = ["ab12cd34ef56ab12cd34ef56ab12cd34", "0"];
  let i = 0;
  const s = resolveOptions(
    {
      id: DEFAULT_STACK_ID,
      brokers: 3,
      processorReplicas: 1,
      postgres: { password: "gamemetrics-local" },
      adminToken: "local-only-admin-token-change-me",
    },
    () => fixed[i++ % fixed.length] ?? "0",
    { ...defaultPublicImages("3.9.1"), platform: "gamemetrics/demo-platform:latest" },
  );
  return containerSpecs(s, KAFKA_HOST_PORTS, KAFKA_HOST);
}

function hostPort(spec: ContainerSpec, p: ContainerSpec["ports"][number]): number {
  return p.host ?? COMPOSE_HOST_PORTS[spec.name] ?? p.container;
}

export function renderCompose(): string {
  const specs = composeSpecs();
  const services: Record<string, unknown> = {};
  for (const spec of specs) services[spec.name] = service(spec);
  const header = [
    "# GENERATED from packages/stack/src/definition.ts by `npm run compose:generate`; do not edit by hand.",
    "# A test fails when this file drifts from the definition that `gm-chaos stack up` starts, and another",
    "# (packages/stack/src/compose.int.test.ts) brings it up with docker-compose and reads events back.",
    "# For `docker compose up` (v2) and Debian's `docker-compose up` (1.29); name the project with -p.",
    "# Build the demo image first: `npm run build` (bundles apps/demo-platform/image/app).",
    `# Variables (all optional): ${Object.values(IMAGE_VARIABLES).join(", ")} choose other images (e.g. the`,
    "# local builds of `npm run images`); GM_<SERVICE>_PORT moves a host port (GM_INGEST_API_PORT=18081);",
    `# ${STACK_ID_VARIABLE} sets the io.gamemetrics.stack label (default ${DEFAULT_STACK_ID}) that gm-chaos and the prober find containers by.`,
    "",
  ].join("\n");
  // The default network carries the stack labels too, so `gm-chaos stack down --id ID` removes it.
  const networks = { default: { labels: stackLabels({ [LABEL.managed]: "true", [LABEL.stack]: DEFAULT_STACK_ID }) } };
  return header + stringify({ services, networks }, { lineWidth: 0 });
}

/** Labels with the stack id made a variable. */
function stackLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k] = k === LABEL.stack ? variable(STACK_ID_VARIABLE, v) : literal(v);
  return out;
}

function service(spec: ContainerSpec): Record<string, unknown> {
  const role = spec.role === "kafka" ? "kafka" : spec.role === "postgres" ? "postgres" : "platform";
  const out: Record<string, unknown> = { image: variable(IMAGE_VARIABLES[role], spec.image), hostname: spec.name };
  if (spec.command) out["command"] = spec.command.map(literal);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.env)) env[k] = literal(v);
  if (spec.role === "kafka") {
    // Host clients must be told the host port actually published, so the advertised listener follows its variable.
    const port = hostPort(spec, spec.ports[0] ?? { container: 0, host: null });
    const advertised = `EXTERNAL://${KAFKA_HOST}:${port}`;
    const listeners = env["KAFKA_ADVERTISED_LISTENERS"] ?? "";
    if (!listeners.includes(advertised))
      throw new Error(`${spec.name} KAFKA_ADVERTISED_LISTENERS: expected it to contain ${advertised}, got ${JSON.stringify(listeners)}`);
    env["KAFKA_ADVERTISED_LISTENERS"] = listeners.replace(
      advertised,
      `EXTERNAL://${KAFKA_HOST}:${variable(hostPortVariable(spec.name), port)}`,
    );
  }
  out["environment"] = env;
  out["ports"] = spec.ports.map((p) => `127.0.0.1:${variable(hostPortVariable(spec.name), hostPort(spec, p))}:${p.container}`);
  out["labels"] = stackLabels(spec.labels);
  if (spec.dependsOn.length) out["depends_on"] = spec.dependsOn;
  if (spec.memoryBytes) out["mem_limit"] = `${spec.memoryBytes / 1024 / 1024}m`;
  out["restart"] = "unless-stopped";
  // Built from its Dockerfile when the image is missing.
  if (role === "platform") out["build"] = { context: "apps/demo-platform" };
  return out;
}
