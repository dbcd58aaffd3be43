/**
 * gm-prober's configuration file (YAML), parsed and validated once at the edge by a zod schema
 * (`proberConfigSchema`, ProberConfig inferred from it): every problem is reported with the path of its
 * field, what was expected and what was found (a URL's password and a secret's value never).
 */
import { check, jsonSchemaOf, obj } from "@gm/runbook/schema-problems";
import { DEFAULT_TOPOLOGY, groupsOf, parseServicesSection, servicesSectionSchema, type Topology, topicsOf } from "@gm/runbook/topology";
import { parseYamlText, showKey } from "@gm/runbook/yaml-text";
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// The schema (zod): ProberConfig is inferred from it; `gm-prober schema config` prints it as JSON Schema.

const e = (expected: string) => ({ error: expected });
/** A number in a range, every failure told with the same "expected" phrase. */
const num = (min: number, max: number, integer = false) => {
  const x = e(`${integer ? "an integer" : "a number"} from ${min} to ${max}`);
  return (integer ? z.number(x).int(x) : z.number(x)).min(min, x).max(max, x);
};
const text = z.string(e("a non-empty string")).min(1, e("a non-empty string"));
/** A base URL of one of `protocols`, kept without its trailing slashes. */
const url = (protocols = ["http:", "https:"]) => {
  const expected = `a ${protocols.join(" or ")} URL`;
  return z
    .string(e(expected))
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      { error: expected, params: { expected: true } },
    )
    .transform((s) => s.replace(/\/+$/, ""));
};
const nonEmptyList = <T extends z.ZodType>(item: T) => z.array(item, e("a non-empty list")).min(1, e("a non-empty list"));
const urls = nonEmptyList(url());
const hostPort = z.string(e("host:port")).regex(/^[^:\s]+:\d{1,5}$/, e("host:port"));
const LISTEN = /^(.+):(\d{1,5})$/;

const kubernetesPlatform = obj({
  driver: z.literal("kubernetes"),
  kubeconfig: text
    .optional()
    .describe('a kubeconfig file, or "in-cluster" (default: in-cluster inside a pod, else the default kubeconfig)'),
  context: text.optional(),
  namespaces: obj({ kafka: text.default("kafka"), platform: text.default("gamemetrics") }).prefault({}),
  allow: obj(
    { contexts: nonEmptyList(text), namespaces: nonEmptyList(text) },
    "the contexts and namespaces the kubernetes driver may read",
  ),
});

/** gm-prober's configuration file, as written (defaults filled in by the parse). */
export const proberConfigSchema = obj({
  intervalSeconds: num(0.5, 3600).default(5).describe("seconds between two rounds"),
  timeoutMs: num(50, 60_000, true).default(2000).describe("timeout of one collector, ms"),
  maxInFlight: num(1, 100_000, true)
    .default(256)
    .describe(
      "at most this many health probes and metrics scrapes in flight at once (a round of more queues; each probe's timeout starts with its slot)",
    ),
  windowSeconds: num(1, 3600).default(60).describe("error-rate window, seconds"),
  listen: z
    .string(e("host:port with a port from 0 to 65535"))
    .refine((s) => Number(LISTEN.exec(s)?.[2] ?? 65536) <= 65535, {
      error: "host:port with a port from 0 to 65535",
      params: { expected: true },
    })
    .default("127.0.0.1:9464")
    .transform((s) => {
      const m = LISTEN.exec(s);
      return { host: m?.[1] ?? "127.0.0.1", port: Number(m?.[2] ?? 9464) };
    })
    .describe("where /metrics and /healthz are served, host:port"),
  services: servicesSectionSchema.describe(
    "the platform's services: name → a list of base URLs of its instances (GameMetrics Pro's three names), or { urls, health, metrics, roles } (any other service; runbook/topology.ts)",
  ),
  kafka: obj({
    brokers: nonEmptyList(hostPort),
    expectedBrokers: num(1, 100, true).optional(),
    // defaults from the description's roles (the topic its services produce to, the groups they consume with)
    topic: text.optional(),
    groups: nonEmptyList(text).optional(),
  }).optional(),
  postgres: obj({ url: url(["postgres:", "postgresql:"]) }).optional(),
  synthetic: obj({ players: num(1, 1000, true).default(4) }).optional(),
  security: obj({
    protected: nonEmptyList(obj({ method: text.default("GET").transform((m) => m.toUpperCase()), url: url() })).default([]),
    public: nonEmptyList(url()).default([]),
    secrets: z.record(z.string(), text, e("a mapping of name to secret")).default({}),
  }).optional(),
  prometheus: obj({ url: url() }).optional(),
  alertmanager: obj({ urls }).optional(),
  loki: obj({ url: url() })
    .optional()
    .describe("Loki: where the platform's logs are read (LogQL, streams labelled instance=<name>) instead of the driver's"),
  platform: z
    .discriminatedUnion("driver", [obj({ driver: z.literal("docker"), stackId: text }), kubernetesPlatform], e('"docker" or "kubernetes"'))
    .optional(),
  policy: text.optional().describe("path of a severity-policy override (YAML), relative to the config file"),
  hysteresis: obj({ resolveAfter: num(1, 100, true).default(3) }).prefault({}),
  journal: obj({
    dir: text
      .optional()
      .describe("its directory (default: gm-prober run --journal-dir, else $GM_PROBER_STATE_DIR, else ~/.local/state/gm-prober)"),
    maxBytes: num(4096, 1024 ** 3, true)
      .default(1024 * 1024)
      .describe("a file is rotated before it passes this many bytes"),
    files: num(1, 100, true).default(3).describe("files kept, the current one included: at most files × maxBytes on disk"),
  })
    .optional()
    .describe("the incident journal gm-prober run writes (incidents.jsonl): each incident's life, for gm-chaos report incident <id>"),
});

type Checked = z.output<typeof proberConfigSchema>;
export type ProberConfig = Omit<Checked, "services" | "kafka"> & {
  /** service name → base URLs of its instances (the `urls` of `topology`'s services) */
  services: Record<string, string[]>;
  /** the platform's description: `services:` with each service's endpoints and roles (runbook/topology.ts) */
  topology: Topology;
  kafka?: Omit<NonNullable<Checked["kafka"]>, "topic" | "groups"> & { topic: string; groups: string[] };
};
/** Everything but `services`, which parseServicesSection checks entry by entry (its messages name the form the file used). */
const restSchema = proberConfigSchema.omit({ services: true });

/** The prober configuration's JSON Schema (`gm-prober schema config`; schemas/prober-config.schema.json). */
export function proberConfigJsonSchema(): string {
  return jsonSchemaOf(proberConfigSchema, {
    title: "gm-prober configuration",
    description:
      "gm-prober's configuration (every field below; README.md's prober section has examples): where to probe. ${NAME} in a value is read from the environment. Numbers that judge a signal are in the policy file it names with `policy:`.",
  });
}

const TOP = Object.keys(proberConfigSchema.shape);

/** gm-prober's defaults, for observers that take its settings without a file (a namespace drill). */
export const PROBER_DEFAULTS = {
  intervalSeconds: 5,
  timeoutMs: 2000,
  maxInFlight: 256,
  windowSeconds: 60,
  listen: { host: "127.0.0.1", port: 9464 },
  hysteresis: { resolveAfter: 3 },
} as const;

/** The groups whose lag the prober reads by default: those the description's services consume with, else GameMetrics Pro's. */
const defaultGroups = (t: Topology): string[] => (groupsOf(t).length > 0 ? groupsOf(t) : groupsOf(DEFAULT_TOPOLOGY));

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid prober configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `${NAME}` in a string value of the file is replaced by the environment variable NAME (upper case,
 * digits, _), so secrets such as the prober's PostgreSQL password come from a Secret while the file is
 * a ConfigMap. It is done in the parsed values, not in the text: a value with a newline and ": " stays
 * one string and cannot add a key. A variable that is not set is a problem naming it and the field.
 * Comments and keys are not expanded.
 */
export function expandEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  path = "",
  problems: string[] = [],
): { value: unknown; problems: string[] } {
  const at = (k: string | number) => (typeof k === "number" ? `${path}[${k}]` : path ? `${path}.${k}` : k);
  let out: unknown = value;
  if (typeof value === "string") {
    out = value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${path || "(root)"}: environment variable ${name} is not set (referenced as \${${name}})`);
        return "";
      }
      return v;
    });
  } else if (Array.isArray(value)) out = value.map((x, i) => expandEnv(x, env, at(i), problems).value);
  else if (isObj(value)) out = Object.fromEntries(Object.entries(value).map(([k, x]) => [k, expandEnv(x, env, at(k), problems).value]));
  return { value: out, problems };
}

export function parseProberConfig(text: string, env?: Record<string, string | undefined>): ProberConfig {
  const parsed = parseYamlText(text);
  if (!parsed.ok) throw new ConfigError([`(file): ${parsed.problem}`]);
  let raw: unknown = parsed.value;
  if (env) {
    const expanded = expandEnv(raw, env);
    if (expanded.problems.length) throw new ConfigError(expanded.problems);
    raw = expanded.value;
  }
  // the whole file as one string: not a prober configuration (say, /etc/shadow); never quote it
  if (raw !== null && raw !== undefined && !isObj(raw))
    throw new ConfigError([`(file): expected a mapping (a prober configuration), got ${Array.isArray(raw) ? "a list" : typeof raw}`]);
  const keys = isObj(raw) ? Object.keys(raw) : [];
  if (keys.length > 0 && !keys.some((k) => TOP.includes(k)) && keys.some((k) => showKey(k) !== `"${k}"`)) {
    throw new ConfigError([`(file): not a prober configuration: none of its keys is ${TOP.join(", ")}`]);
  }
  const problems: string[] = [];
  const top: Obj = isObj(raw) ? { ...raw } : {};
  // Numbers that judge a signal live in the policy only (one source for the prober, the drills and
  // docs/runbook.md); the prober's file says where to probe, not when a signal is bad.
  const moved = (section: string, key: string, policyField: string) => {
    const v = top[section];
    if (!isObj(v) || !Object.hasOwn(v, key)) return;
    problems.push(
      `${section}.${key}: not a prober setting; the policy's ${policyField} is the single source of this number (set it in the policy file the configuration names with \`policy:\`)`,
    );
    top[section] = Object.fromEntries(Object.entries(v).filter(([k]) => k !== key));
  };
  moved("kafka", "stallSeconds", "thresholds.consumerStall.seconds");
  moved("synthetic", "lossDeadlineSeconds", "thresholds.canary.lossDeadlineSeconds");
  // a secret's value is never quoted, also when it is the wrong kind of value
  // The platform's description (any services, with roles), validated by its own schema in runbook/topology.ts;
  // a prober that probes nothing would report "healthy" forever, so at least one service is required.
  const described = parseServicesSection(top["services"]);
  if (!described.ok) problems.push(...described.problems);
  const { services: _services, ...rest } = top;
  const checked = check(restSchema, rest, { conceal: (path) => path.startsWith("security.secrets.") });
  if (!checked.ok) problems.push(...checked.problems);
  if (top["loki"] !== undefined && top["platform"] === undefined)
    problems.push("loki: needs platform (Loki is where the platform's logs are read)");
  if (!checked.ok || !described.ok || problems.length) throw new ConfigError(problems);
  const topology = described.topology;
  const { kafka, ...cfg } = checked.value;
  return {
    ...cfg,
    services: Object.fromEntries(topology.services.map((x) => [x.name, x.urls])),
    topology,
    ...(kafka
      ? {
          kafka: {
            ...kafka,
            topic: kafka.topic ?? topicsOf(topology)[0] ?? "game-events",
            groups: kafka.groups ?? defaultGroups(topology),
          },
        }
      : {}),
  };
}
