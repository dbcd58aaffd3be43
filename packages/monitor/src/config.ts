/**
 * gm-prober's configuration file (YAML), parsed and validated once at the edge: every problem is
 * reported with the path of its field and what was expected.
 */
import { redactText } from "@gm/runbook/redact";
import { DEFAULT_TOPOLOGY, groupsOf, parseServicesSection, type Topology, topicsOf } from "@gm/runbook/topology";
import { parseYamlText, showKey } from "@gm/runbook/yaml-text";

export interface ProberConfig {
  intervalSeconds: number;
  timeoutMs: number;
  windowSeconds: number;
  listen: { host: string; port: number };
  /** service name → base URLs of its instances (the `urls` of `topology`'s services) */
  services: Record<string, string[]>;
  /** the platform's description: `services:` with each service's endpoints and roles (runbook/topology.ts) */
  topology: Topology;
  kafka?: { brokers: string[]; expectedBrokers?: number; topic: string; groups: string[] };
  postgres?: { url: string };
  synthetic?: { players: number };
  security?: { protected: { method: string; url: string }[]; public: string[]; secrets: Record<string, string> };
  prometheus?: { url: string };
  alertmanager?: { urls: string[] };
  /** Loki: where the platform's logs are read (LogQL, streams labelled instance=<name>) instead of the driver's */
  loki?: { url: string };
  platform?:
    | { driver: "docker"; stackId: string }
    | {
        driver: "kubernetes";
        /** a kubeconfig file, or "in-cluster" (default: in-cluster inside a pod, else the default kubeconfig) */
        kubeconfig?: string;
        context?: string;
        namespaces: { kafka: string; platform: string };
        allow: { contexts: string[]; namespaces: string[] };
      };
  /** path of a severity-policy override (YAML), relative to the config file */
  policy?: string;
  hysteresis: { resolveAfter: number };
}

const TOP = [
  "intervalSeconds",
  "timeoutMs",
  "windowSeconds",
  "listen",
  "services",
  "kafka",
  "postgres",
  "synthetic",
  "security",
  "prometheus",
  "alertmanager",
  "loki",
  "platform",
  "policy",
  "hysteresis",
];

/** gm-prober's defaults, for observers that take its settings without a file (a namespace drill). */
export const PROBER_DEFAULTS = {
  intervalSeconds: 5,
  timeoutMs: 2000,
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
// A value quoted in a message: a URL's password never (postgres://gm:***@…), nor a long text that may be
// a file's content rather than a value.
const show = (v: unknown) => {
  const s = redactText(JSON.stringify(v) ?? String(v));
  return s.length <= 200 ? s : `${typeof v === "string" ? "a string" : "a value"} of ${s.length} characters`;
};

class Checker {
  readonly problems: string[] = [];
  object(v: unknown, path: string, keys: string[]): Obj | undefined {
    if (v === undefined) return undefined;
    if (!isObj(v)) {
      this.problems.push(`${path}: expected a mapping, got ${show(v)}`);
      return undefined;
    }
    for (const k of Object.keys(v))
      if (!keys.includes(k))
        this.problems.push(
          `${path ? `${path}.` : ""}${showKey(k) === `"${k}"` ? k : showKey(k)}: unknown key (expected one of ${keys.join(", ")})`,
        );
    return v;
  }
  number(v: unknown, path: string, def: number | undefined, min: number, max: number, integer = false): number | undefined {
    if (v === undefined) return def;
    if (typeof v !== "number" || Number.isNaN(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      this.problems.push(`${path}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${show(v)}`);
      return def;
    }
    return v;
  }
  string(v: unknown, path: string, def?: string): string | undefined {
    if (v === undefined) return def;
    if (typeof v !== "string" || v === "") {
      this.problems.push(`${path}: expected a non-empty string, got ${show(v)}`);
      return def;
    }
    return v;
  }
  url(v: unknown, path: string, protocols = ["http:", "https:"]): string | undefined {
    const s = this.string(v, path);
    if (s === undefined) return undefined;
    try {
      const u = new URL(s);
      if (!protocols.includes(u.protocol)) this.problems.push(`${path}: expected a ${protocols.join(" or ")} URL, got ${show(s)}`);
    } catch {
      this.problems.push(`${path}: expected a URL, got ${show(s)}`);
    }
    return s.replace(/\/+$/, "");
  }
  list<T>(v: unknown, path: string, item: (x: unknown, p: string) => T | undefined, required = false): T[] | undefined {
    if (v === undefined) {
      if (required) this.problems.push(`${path}: required`);
      return undefined;
    }
    if (!Array.isArray(v) || v.length === 0) {
      this.problems.push(`${path}: expected a non-empty list, got ${show(v)}`);
      return undefined;
    }
    return v.map((x, i) => item(x, `${path}[${i}]`)).filter((x): x is T => x !== undefined);
  }
}

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
  const c = new Checker();
  const top = c.object(raw ?? {}, "", TOP) ?? {};
  // The platform's description (any services, with roles), validated by its own schema in runbook/topology.ts;
  // a prober that probes nothing would report "healthy" forever, so at least one service is required.
  const described = parseServicesSection(top["services"]);
  if (!described.ok) c.problems.push(...described.problems);
  const topology: Topology = described.ok ? described.topology : { services: [] };
  const services = Object.fromEntries(topology.services.map((x) => [x.name, x.urls]));
  const listenRaw = c.string(top["listen"], "listen", `${PROBER_DEFAULTS.listen.host}:${PROBER_DEFAULTS.listen.port}`)!;
  const lm = /^(.+):(\d{1,5})$/.exec(listenRaw);
  if (!lm || Number(lm[2]) > 65535) c.problems.push(`listen: expected host:port with a port from 0 to 65535, got ${show(listenRaw)}`);

  const cfg: ProberConfig = {
    intervalSeconds: c.number(top["intervalSeconds"], "intervalSeconds", PROBER_DEFAULTS.intervalSeconds, 0.5, 3600)!,
    timeoutMs: c.number(top["timeoutMs"], "timeoutMs", PROBER_DEFAULTS.timeoutMs, 50, 60_000, true)!,
    windowSeconds: c.number(top["windowSeconds"], "windowSeconds", PROBER_DEFAULTS.windowSeconds, 1, 3600)!,
    listen: { host: lm?.[1] ?? "127.0.0.1", port: lm && Number(lm[2]) <= 65535 ? Number(lm[2]) : 9464 },
    services,
    topology,
    hysteresis: { resolveAfter: PROBER_DEFAULTS.hysteresis.resolveAfter },
  };
  // Numbers that judge a signal live in the policy only (one source for the prober, the drills and
  // docs/runbook.md); the prober's file says where to probe, not when a signal is bad.
  const moved = (v: Record<string, unknown> | undefined, key: string, path: string, policyField: string) => {
    if (v && key in v)
      c.problems.push(
        `${path}: not a prober setting; the policy's ${policyField} is the single source of this number (set it in the policy file the configuration names with \`policy:\`)`,
      );
  };
  const kRaw = isObj(top["kafka"]) ? top["kafka"] : undefined;
  moved(kRaw, "stallSeconds", "kafka.stallSeconds", "thresholds.consumerStall.seconds");
  const sRaw = isObj(top["synthetic"]) ? top["synthetic"] : undefined;
  moved(sRaw, "lossDeadlineSeconds", "synthetic.lossDeadlineSeconds", "thresholds.canary.lossDeadlineSeconds");
  const k = c.object(kRaw ? Object.fromEntries(Object.entries(kRaw).filter(([x]) => x !== "stallSeconds")) : top["kafka"], "kafka", [
    "brokers",
    "expectedBrokers",
    "topic",
    "groups",
  ]);
  if (k) {
    const brokers = c.list(
      k["brokers"],
      "kafka.brokers",
      (x, p) => {
        const s = c.string(x, p);
        if (s && !/^[^:\s]+:\d{1,5}$/.test(s)) c.problems.push(`${p}: expected host:port, got ${show(s)}`);
        return s;
      },
      true,
    );
    const expectedBrokers = c.number(k["expectedBrokers"], "kafka.expectedBrokers", undefined, 1, 100, true);
    cfg.kafka = {
      brokers: brokers ?? [],
      // defaults from the description's roles: the topic its services produce to, the groups they consume with
      topic: c.string(k["topic"], "kafka.topic", topicsOf(topology)[0] ?? "game-events")!,
      groups: c.list(k["groups"], "kafka.groups", (x, p) => c.string(x, p)) ?? defaultGroups(topology),
      ...(expectedBrokers !== undefined ? { expectedBrokers } : {}),
    };
  }
  const p = c.object(top["postgres"], "postgres", ["url"]);
  if (p) {
    const url = c.url(p["url"], "postgres.url", ["postgres:", "postgresql:"]);
    if (url === undefined) c.problems.push("postgres.url: required");
    cfg.postgres = { url: url ?? "" };
  }
  const syn = c.object(
    sRaw ? Object.fromEntries(Object.entries(sRaw).filter(([x]) => x !== "lossDeadlineSeconds")) : top["synthetic"],
    "synthetic",
    ["players"],
  );
  if (syn) cfg.synthetic = { players: c.number(syn["players"], "synthetic.players", 4, 1, 1000, true)! };
  const sec = c.object(top["security"], "security", ["protected", "public", "secrets"]);
  if (sec) {
    const secrets: Record<string, string> = {};
    const sm = c.object(sec["secrets"], "security.secrets", Object.keys(isObj(sec["secrets"]) ? sec["secrets"] : {}));
    for (const [name, v] of Object.entries(sm ?? {})) {
      // the name is the file's: quoted only when it reads as a field name
      const s = c.string(v, `security.secrets.${showKey(name) === `"${name}"` ? name : showKey(name)}`);
      if (s) secrets[name] = s;
    }
    cfg.security = {
      protected:
        c.list(sec["protected"], "security.protected", (x, pth) => {
          const o = c.object(x, pth, ["method", "url"]);
          const method = c.string(o?.["method"], `${pth}.method`, "GET")!.toUpperCase();
          const url = c.url(o?.["url"], `${pth}.url`);
          return url ? { method, url } : undefined;
        }) ?? [],
      public: c.list(sec["public"], "security.public", (x, pth) => c.url(x, pth)) ?? [],
      secrets,
    };
  }
  const prom = c.object(top["prometheus"], "prometheus", ["url"]);
  if (prom) cfg.prometheus = { url: c.url(prom["url"], "prometheus.url") ?? "" };
  const lk = c.object(top["loki"], "loki", ["url"]);
  if (lk) {
    const url = c.url(lk["url"], "loki.url");
    if (url === undefined) c.problems.push("loki.url: required (e.g. http://127.0.0.1:3100)");
    cfg.loki = { url: url ?? "" };
  }
  const am = c.object(top["alertmanager"], "alertmanager", ["urls"]);
  if (am) cfg.alertmanager = { urls: c.list(am["urls"], "alertmanager.urls", (x, pth) => c.url(x, pth), true) ?? [] };
  const platRaw = top["platform"];
  const driver = isObj(platRaw) ? platRaw["driver"] : undefined;
  if (platRaw !== undefined && driver === "kubernetes") {
    const plat = c.object(platRaw, "platform", ["driver", "kubeconfig", "context", "namespaces", "allow"]) ?? {};
    const ns = c.object(plat["namespaces"], "platform.namespaces", ["kafka", "platform"]) ?? {};
    const allow = c.object(plat["allow"], "platform.allow", ["contexts", "namespaces"]);
    if (!allow) c.problems.push("platform.allow: required for the kubernetes driver (contexts and namespaces it may read)");
    const kubeconfig = c.string(plat["kubeconfig"], "platform.kubeconfig");
    const context = c.string(plat["context"], "platform.context");
    cfg.platform = {
      driver: "kubernetes",
      ...(kubeconfig ? { kubeconfig } : {}),
      ...(context ? { context } : {}),
      namespaces: {
        kafka: c.string(ns["kafka"], "platform.namespaces.kafka", "kafka")!,
        platform: c.string(ns["platform"], "platform.namespaces.platform", "gamemetrics")!,
      },
      allow: {
        contexts: c.list(allow?.["contexts"], "platform.allow.contexts", (x, pth) => c.string(x, pth), allow !== undefined) ?? [],
        namespaces: c.list(allow?.["namespaces"], "platform.allow.namespaces", (x, pth) => c.string(x, pth), allow !== undefined) ?? [],
      },
    };
  } else {
    const plat = c.object(platRaw, "platform", ["driver", "stackId"]);
    if (plat) {
      if (plat["driver"] !== "docker") c.problems.push(`platform.driver: expected "docker" or "kubernetes", got ${show(plat["driver"])}`);
      cfg.platform = { driver: "docker", stackId: c.string(plat["stackId"], "platform.stackId") ?? "" };
    }
  }
  if (cfg.loki && !cfg.platform) c.problems.push("loki: needs platform (Loki is where the platform's logs are read)");
  const pol = c.string(top["policy"], "policy");
  if (pol) cfg.policy = pol;
  const hy = c.object(top["hysteresis"], "hysteresis", ["resolveAfter"]);
  if (hy) cfg.hysteresis = { resolveAfter: c.number(hy["resolveAfter"], "hysteresis.resolveAfter", 3, 1, 100, true)! };
  if (c.problems.length) throw new ConfigError(c.problems);
  return cfg;
}
