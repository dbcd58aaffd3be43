/**
 * The prober as `gm-prober` and the drills build it: a configuration file (with `${NAME}` from the
 * environment) and its policy file, then the platform driver, Loki and the Alertmanager sink it names.
 * One wiring for both, so a drill sees exactly what the service sees.
 */
import { dirname, resolve } from "node:path";
import { defaultPolicy, parsePolicy, type Policy } from "@gm/runbook/policy";
import type { PlatformPort } from "@gm/runbook/ports";
import { ConfigError, parseProberConfig, type ProberConfig } from "./config.js";
import { ConfigFileError, readConfigFile } from "./config-file.js";
import { type AlertSink, createProber, type ProberDeps } from "./prober.js";

export type { AlertSink } from "./prober.js";

export { ConfigFileError, readConfigFile } from "./config-file.js";

/** Reads a policy override (YAML) onto the runbook's defaults. */
export function loadPolicyFile(file: string, field = "policy"): Policy {
  const text = readConfigFile(file, field);
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw new ConfigFileError(`${field} ${file}: invalid:\n  - ${parsed.problems.join("\n  - ")}`);
  return parsed.policy;
}

/** Parses a prober configuration text; its `policy` (relative to `baseDir`) replaces the defaults. */
export function loadProberConfigText(
  text: string,
  where: string,
  baseDir: string,
  env: Record<string, string | undefined> = process.env,
): { config: ProberConfig; policy: Policy } {
  let config: ProberConfig;
  try {
    config = parseProberConfig(text, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigFileError(`${where}: ${err.message}`);
    throw err;
  }
  const policy = config.policy ? loadPolicyFile(resolve(baseDir, config.policy)) : defaultPolicy;
  return { config, policy };
}

/** Reads and validates a prober configuration file and its policy. */
export function loadProberConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): { config: ProberConfig; policy: Policy } {
  return loadProberConfigText(readConfigFile(path, "--config"), path, dirname(path), env);
}

/** The platform driver the configuration names (with Loki for its logs when configured). */
export async function platformFor(config: ProberConfig): Promise<PlatformPort | undefined> {
  const p = config.platform;
  const platform =
    p?.driver === "kubernetes"
      ? (await import("@gm/platform/kubernetes")).createKubernetesPlatform({
          ...(p.kubeconfig ? { kubeconfig: p.kubeconfig } : {}),
          ...(p.context ? { context: p.context } : {}),
          namespaces: p.namespaces,
          allow: p.allow,
        })
      : p?.driver === "docker"
        ? (await import("@gm/platform/docker")).createDockerPlatform({ stackId: p.stackId })
        : undefined;
  if (platform && config.loki) {
    // `loki`: the platform's logs are read from Loki, everything else from the driver.
    const { createLokiLogs, withLokiLogs } = await import("@gm/platform/loki");
    return withLokiLogs(platform, createLokiLogs({ url: config.loki.url, timeoutMs: config.timeoutMs }));
  }
  return platform;
}

/** The prober the configuration describes: its platform, Loki and Alertmanager sink; `overrides` replace what a caller brings (a drill's platform). */
export async function buildProber(config: ProberConfig, policy: Policy, overrides: Partial<Omit<ProberDeps, "config" | "policy">> = {}) {
  const platform = overrides.platform ?? (await platformFor(config));
  let alerts: AlertSink | undefined = overrides.alerts;
  if (!alerts && config.alertmanager) {
    const { createAlertmanagerSink } = await import("./alertmanager.js");
    alerts = createAlertmanagerSink({
      urls: config.alertmanager.urls,
      timeoutMs: config.timeoutMs,
      generatorURL: `http://${config.listen.host}:${config.listen.port}/metrics`,
      services: config.topology.services.map((x) => x.name),
    });
  }
  return createProber({ ...overrides, config, policy, ...(platform ? { platform } : {}), ...(alerts ? { alerts } : {}) });
}
