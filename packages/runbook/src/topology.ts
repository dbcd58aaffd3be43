/**
 * The platform's topology as data: which services exist (any number, any names), where their
 * instances answer, their health and metrics endpoints, and their roles — produces to Kafka, consumes
 * a group, holds a PostgreSQL pool, stateless or not, scalable or not. The prober's collectors, the
 * classification and the runbook's steps read roles from it ("the consumer group's service", "the
 * services with a pool") instead of naming GameMetrics Pro's services, so a team that adds a service
 * describes it in the prober's file and gets its incidents and steps without a code change.
 * GameMetrics Pro's three services are the default description (`DEFAULT_TOPOLOGY`), not the type system.
 *
 * Validated with zod (strict objects: an unknown key is refused; every message names its field path).
 */
import { z } from "zod";

/** What a service does on the platform; the runbook's steps choose their targets by these. */
export interface ServiceRoles {
  /** Kafka topics it writes to */
  produces: string[];
  /** the consumer group it reads with, and the topic; null when it consumes nothing */
  consumes: { group: string; topic: string } | null;
  /** holds a PostgreSQL connection pool (PG_POOL_MAX): a pool-exhaustion incident concerns it */
  postgresPool: boolean;
  /** keeps no state of its own: an instance may be restarted or added freely */
  stateless: boolean;
  /** may be scaled horizontally by the runbook's steps */
  scalable: boolean;
}

/** One service of the platform. */
export interface ServiceDescription {
  name: string;
  /** base URL of each instance (http://host:port), as the prober reaches it; may be empty (instances found by the platform driver) */
  urls: string[];
  /** health endpoint path (GET, 200 = healthy) */
  health: string;
  /** Prometheus metrics endpoint path (http_requests_total, pg_pool_*) */
  metrics: string;
  roles: ServiceRoles;
}

/** The platform: its services, with the Kafka topics and groups and the database they use as roles. */
export interface Topology {
  services: ServiceDescription[];
}

/** The platform's own components, which are instances too (brokers, the database) but no described service. */
export const INFRASTRUCTURE = ["kafka", "postgres"] as const;

/** GameMetrics Pro's services and their roles: the default description, and the roles a file may leave out for these names. */
export const DEFAULT_ROLES: Readonly<Record<string, ServiceRoles>> = {
  "ingest-api": { produces: ["game-events"], consumes: null, postgresPool: false, stateless: true, scalable: true },
  "event-processor-service": {
    produces: [],
    consumes: { group: "event-processor-service", topic: "game-events" },
    postgresPool: true,
    stateless: true,
    scalable: true,
  },
  "stats-api": { produces: [], consumes: null, postgresPool: true, stateless: true, scalable: true },
};

/** GameMetrics Pro as a description: three services, no URLs (those come from the prober's file or the stack). */
export const DEFAULT_TOPOLOGY: Topology = {
  services: Object.entries(DEFAULT_ROLES).map(([name, roles]) => ({ name, urls: [], health: "/health", metrics: "/metrics", roles })),
};

/** A description built from the default services' names only, each with its URLs (e.g. what the prober probes). */
export function defaultTopologyFor(urls: Record<string, string[]>): Topology {
  return {
    services: Object.entries(urls).map(([name, u]) => ({
      name,
      urls: u,
      health: "/health",
      metrics: "/metrics",
      roles: DEFAULT_ROLES[name] ?? { produces: [], consumes: null, postgresPool: false, stateless: true, scalable: true },
    })),
  };
}

// ------------------------------------------------------------------------------------- schema

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const nonEmpty = z.string().min(1, "expected a non-empty string");
const baseUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, "expected an http or https URL")
  .transform((s) => s.replace(/\/+$/, ""));
const urlList = z.array(baseUrl).min(1, "expected a non-empty list of base URLs");
const path = z.string().regex(/^\/\S*$/, "expected a path starting with /");

/** The roles of one service as the prober's file writes them; omitted flags take the defaults below. */
export const serviceRolesSchema = z.strictObject({
  produces: z.array(nonEmpty).default([]),
  consumes: z.strictObject({ group: nonEmpty, topic: nonEmpty }).optional(),
  postgresPool: z.boolean().default(false),
  stateless: z.boolean().default(true),
  scalable: z.boolean().default(true),
});

/**
 * One entry of the prober's `services:` section: a list of base URLs (the short form; roles from the
 * defaults for GameMetrics Pro's names), or a mapping with `urls`, `health`, `metrics` and `roles`.
 */
export const serviceEntrySchema = z.preprocess(
  (v) => (Array.isArray(v) ? { urls: v } : v),
  z.strictObject({
    urls: urlList,
    health: path.default("/health"),
    metrics: path.default("/metrics"),
    roles: serviceRolesSchema.optional(),
  }),
);

/** The prober's `services:` section: service name → entry; at least one service. */
export const servicesSectionSchema = z
  .record(z.string().regex(SERVICE_NAME, "expected a service name: lower-case letters, digits and dashes"), serviceEntrySchema)
  .superRefine((services, ctx) => {
    if (Object.keys(services).length === 0)
      ctx.addIssue({ code: "custom", message: "expected at least one service with a list of base URLs, got none", path: [] });
    for (const [name, entry] of Object.entries(services))
      if (!entry.roles && !DEFAULT_ROLES[name])
        ctx.addIssue({
          code: "custom",
          path: [name, "roles"],
          message: `required for a service GameMetrics Pro does not define (its roles are known only for ${Object.keys(DEFAULT_ROLES).join(", ")}): produces, consumes, postgresPool, stateless, scalable`,
        });
  });

/** The issues of a zod error as this project's messages: `path: what was expected` (unknown keys named one by one). */
export function issueMessages(error: z.ZodError, prefix: string): string[] {
  const at = (p: PropertyKey[]) => [prefix, ...p.map((k) => (typeof k === "number" ? `[${k}]` : String(k)))].filter(Boolean).join(".").replace(/\.\[/g, "[");
  return error.issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? i.keys.map((k) => `${at([...i.path, k])}: unknown key`)
      : [`${at(i.path) || "(root)"}: ${i.message}`],
  );
}

/** Parses the prober's `services:` section into a description; `problems` names every bad field. */
export function parseServicesSection(raw: unknown, prefix = "services"): { ok: true; topology: Topology } | { ok: false; problems: string[] } {
  if (raw === undefined || raw === null)
    return { ok: false, problems: [`${prefix}: required (a mapping of service name to a list of base URLs, or to urls and roles)`] };
  const r = servicesSectionSchema.safeParse(raw);
  if (!r.success) return { ok: false, problems: issueMessages(r.error, prefix) };
  return {
    ok: true,
    topology: {
      services: Object.entries(r.data).map(([name, e]) => ({
        name,
        urls: e.urls,
        health: e.health,
        metrics: e.metrics,
        roles: e.roles ? { ...e.roles, consumes: e.roles.consumes ?? null } : DEFAULT_ROLES[name]!,
      })),
    },
  };
}

// ------------------------------------------------------------------------------------- lookups by role

/** The described services' names, in the description's order. */
export const serviceNames = (t: Topology): string[] => t.services.map((s) => s.name);

/** A described service by name, or undefined. */
export const serviceNamed = (t: Topology, name: string): ServiceDescription | undefined => t.services.find((s) => s.name === name);

/** The services that consume with `group` (the consumer group's service); every consumer when `group` names none. */
export function consumersOf(t: Topology, group?: string): string[] {
  const consumers = t.services.filter((s) => s.roles.consumes !== null);
  const of = consumers.filter((s) => s.roles.consumes?.group === group);
  return (of.length > 0 ? of : consumers).map((s) => s.name);
}

/** The services that hold a PostgreSQL pool. */
export const poolServices = (t: Topology): string[] => t.services.filter((s) => s.roles.postgresPool).map((s) => s.name);

/** The services the runbook may scale horizontally (scalable and stateless). */
export const scalableServices = (t: Topology): string[] =>
  t.services.filter((s) => s.roles.scalable && s.roles.stateless).map((s) => s.name);

/** Every Kafka topic the description names (produced to or consumed from). */
export const topicsOf = (t: Topology): string[] => [
  ...new Set(t.services.flatMap((s) => [...s.roles.produces, ...(s.roles.consumes ? [s.roles.consumes.topic] : [])])),
];

/** Every consumer group the description names. */
export const groupsOf = (t: Topology): string[] => [...new Set(t.services.flatMap((s) => (s.roles.consumes ? [s.roles.consumes.group] : [])))];

/** The instances the platform driver is asked for: every described service, then Kafka and PostgreSQL. */
export const instanceRoles = (t: Topology): string[] => [...serviceNames(t), ...INFRASTRUCTURE];
