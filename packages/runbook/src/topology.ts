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
import { describeValue } from "./schema-problems.js";
import { showKey } from "./yaml-text.js";

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
  }, "expected a URL (http or https)")
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

/** The mapping form of one entry of the prober's `services:` section. */
export const serviceEntryObject = z.strictObject({
  urls: urlList,
  health: path.default("/health"),
  metrics: path.default("/metrics"),
  roles: serviceRolesSchema.optional(),
});

/**
 * The prober's `services:` section, for JSON Schema export: service name → a list of base URLs (the
 * short form; roles from the defaults for GameMetrics Pro's names), or a mapping with `urls`, `health`,
 * `metrics` and `roles`. `parseServicesSection` parses it with messages that name each field.
 */
export const servicesSectionSchema = z.record(
  z.string().regex(SERVICE_NAME, "expected a service name: lower-case letters, digits and dashes"),
  z.union([urlList, serviceEntryObject]),
);

/** A value after "got": the same rendering as every other file's messages (a long or multi-line text by its length). */
const show = describeValue;
/** A key as a path segment: bare when it reads as a field name, else not shown (it may be a file's content). */
const segment = (k: string): string => (showKey(k) === `"${k}"` ? k : showKey(k));

/**
 * The issues of a zod error as this project's messages: `path: what was expected, got value`; unknown
 * keys named one by one with the keys that are allowed. Parse with `reportInput: true` for the values.
 */
export function issueMessages(error: z.ZodError, prefix: string): string[] {
  const at = (p: readonly PropertyKey[]) =>
    p.reduce<string>(
      (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${segment(String(k))}` : segment(String(k))),
      prefix,
    ) || "(root)";
  return error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") return i.keys.map((k) => `${at([...i.path, k])}: unknown key`);
    const input = "input" in i ? i.input : undefined;
    if (i.code === "invalid_type" && input === undefined) return [`${at(i.path)}: required`];
    const expected = i.message.replace(/^Invalid input: /, "").replace(/, received \w+$/, "");
    return [`${at(i.path)}: ${expected}${input !== undefined ? `, got ${show(input)}` : ""}`];
  });
}

const ENTRY_KEYS = Object.keys(serviceEntryObject.shape);
const ROLE_KEYS = Object.keys(serviceRolesSchema.shape);

/**
 * Parses the prober's `services:` section into a description: each entry on its own, so a message names
 * the path the file wrote (`services.stats-api[0]` for the list form); `problems` names every bad field.
 */
export function parseServicesSection(
  raw: unknown,
  prefix = "services",
): { ok: true; topology: Topology } | { ok: false; problems: string[] } {
  if (raw === undefined || raw === null)
    return { ok: false, problems: [`${prefix}: required (a mapping of service name to a list of base URLs, or to urls and roles)`] };
  if (typeof raw !== "object" || Array.isArray(raw)) return { ok: false, problems: [`${prefix}: expected a mapping, got ${show(raw)}`] };
  const problems: string[] = [];
  const services: ServiceDescription[] = [];
  const entries = Object.entries(raw as Record<string, unknown>);
  // a prober that probes nothing would report "healthy" forever
  if (entries.length === 0) problems.push(`${prefix}: expected at least one service with a list of base URLs, got none`);
  for (const [name, v] of entries) {
    const path = `${prefix}.${segment(name)}`;
    if (!SERVICE_NAME.test(name)) {
      problems.push(`${path}: expected a service name (lower-case letters, digits and dashes, at most 63)`);
      continue;
    }
    if (Array.isArray(v)) {
      const r = urlList.safeParse(v, { reportInput: true });
      if (!r.success) problems.push(...issueMessages(r.error, path));
      else if (!DEFAULT_ROLES[name]) problems.push(rolesRequired(path, name));
      else services.push({ name, urls: r.data, health: "/health", metrics: "/metrics", roles: DEFAULT_ROLES[name] });
      continue;
    }
    const r = serviceEntryObject.safeParse(v, { reportInput: true });
    if (!r.success) {
      problems.push(
        ...issueMessages(r.error, path).map((m) =>
          m.endsWith(": unknown key")
            ? `${m} (expected one of ${(m.includes(".roles.") ? ROLE_KEYS : ENTRY_KEYS).join(", ")})`
            : m.startsWith(`${path}: expected object`)
              ? `${path}: expected a list of base URLs, or a mapping of ${ENTRY_KEYS.join(", ")}${m.slice(m.indexOf(", got"))}`
              : m,
        ),
      );
      continue;
    }
    const e = r.data;
    const roles = e.roles ? { ...e.roles, consumes: e.roles.consumes ?? null } : DEFAULT_ROLES[name];
    if (!roles) problems.push(rolesRequired(path, name));
    else services.push({ name, urls: e.urls, health: e.health, metrics: e.metrics, roles });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, topology: { services } };
}

const rolesRequired = (path: string, name: string) =>
  `${path}.roles: required for ${name}, a service GameMetrics Pro does not define (roles are known only for ${Object.keys(DEFAULT_ROLES).join(", ")}): write \`${name}: { urls: [...], roles: { produces, consumes, postgresPool, stateless, scalable } }\``;

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
export const groupsOf = (t: Topology): string[] => [
  ...new Set(t.services.flatMap((s) => (s.roles.consumes ? [s.roles.consumes.group] : []))),
];

/** The instances the platform driver is asked for: every described service, then Kafka and PostgreSQL. */
export const instanceRoles = (t: Topology): string[] => [...serviceNames(t), ...INFRASTRUCTURE];
