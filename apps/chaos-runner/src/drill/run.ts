/**
 * A drill against the testcontainers stack: the stack as a target of the one lifecycle (lifecycle.ts) —
 * gm-prober's own round as the observer, the Docker driver as the platform, the built-in (or k6) load,
 * and integrity read back from PostgreSQL.
 */
import type { Policy } from "@gm/runbook/policy";
import { redactUrl } from "@gm/runbook/redact";
import type { Ports } from "@gm/runbook/ports";
import type { Step } from "@gm/runbook/steps";
import type { ProberConfig } from "@gm/monitor/config";
import type { RunningAlertmanager } from "@gm/monitor/alertmanager-run";
import { createDockerPlatform } from "@gm/platform/docker";
import { createLokiLogs, withLokiLogs } from "@gm/platform/loki";
import { createKafkaPort } from "@gm/platform/kafka-admin";
import { createDatabasePort } from "@gm/platform/postgres";
import type { DrillReport } from "@gm/report/schema";
import { checkStored } from "@gm/stack/load-generator";
import type { StackEndpoints } from "@gm/stack/stack";
import { fileURLToPath } from "node:url";
import { startHttpLoad } from "../load/http-load.js";
import { findK6, startK6Load } from "../load/k6.js";
import { createFault, type Fault } from "./faults.js";
import { type DrillProgress, type DrillTarget, type IntegrityResult, runLifecycle } from "./lifecycle.js";
import { createStackObserver, drillProberConfig, type Observer } from "./observe.js";
import type { Scenario } from "./scenario.js";

export type { DrillProgress } from "./lifecycle.js";

export interface DrillOptions {
  scenario: Scenario;
  endpoints: StackEndpoints;
  brokers: number;
  policy: Policy;
  onProgress?: (p: DrillProgress) => void;
  /** aborts the drill (SIGINT/SIGTERM, halt); the fault is undone before it returns */
  signal?: AbortSignal;
  /** replaces the runbook's steps (tests prove that a broken remediation fails the drill) */
  steps?: Step[];
  /** replaces the scenario's fault (tests prove that a fault never injected is "not detected") */
  fault?: Fault;
  /** "k6": the scenarios/k6 script through a k6 binary (GM_K6_BIN or PATH); default: the built-in generator */
  load?: "builtin" | "k6";
  /** called right after the fault was applied (tests make a service misbehave here) */
  afterInject?: () => Promise<void>;
  /** called after the load stopped and before integrity is checked, with the ids the load got acknowledged (tests tamper here) */
  beforeIntegrity?: (acknowledged: readonly string[]) => Promise<void>;
  /** a Loki base URL: the runbook's log steps read Loki (label instance=<name>) instead of the containers */
  lokiUrl?: string;
  /** the prober configuration to observe with (default: the one the stack writes for gm-prober: its defaults) */
  proberConfig?: ProberConfig;
  /** an Alertmanager the prober alerts (with the committed routing, its receivers recording): time to page */
  alertmanager?: RunningAlertmanager;
  /** a running prober to observe with (createStackObserver), kept running across drills like production's; default: one for this drill */
  observer?: Observer;
}

/**
 * Everything acknowledged is in PostgreSQL exactly once: waits until the processor caught up (lag 0) or
 * all are there, by id; then compares every stored event's content with what was sent (`digests`), once.
 */
async function storedOnce(
  e: StackEndpoints,
  kafka: Pick<ReturnType<typeof createKafkaPort>, "groupLag">,
  acknowledged: string[],
  digests?: ReadonlyMap<string, string>,
): Promise<IntegrityResult> {
  const until = Date.now() + 180_000;
  let r = await checkStored(e.postgresUrl, acknowledged);
  while (r.lost.length > 0 && Date.now() < until) {
    const lag = await kafka.groupLag(e.consumerGroup).catch(() => -1);
    if (lag === 0) break;
    await new Promise((res) => setTimeout(res, 1_000));
    r = await checkStored(e.postgresUrl, acknowledged);
  }
  return await checkStored(e.postgresUrl, acknowledged, digests);
}

/**
 * The drill's load (the built-in generator, or k6) against ingest-api and stats-api at `e`, and the
 * integrity check of what it got acknowledged, read back from PostgreSQL: one for every target that
 * takes load (the stack, a namespace reached by its cluster names).
 */
export function loadAndIntegrity(
  e: StackEndpoints,
  sc: Scenario,
  kafka: Pick<ReturnType<typeof createKafkaPort>, "groupLag">,
  k6: string | null = null,
): Required<Pick<DrillTarget, "startLoad" | "checkIntegrity">> {
  return {
    startLoad: (runId) =>
      k6
        ? startK6Load({
            bin: k6,
            script: fileURLToPath(new URL("../../../../scenarios/k6/ingest-load.ts", import.meta.url)),
            ingestUrl: e.services["ingest-api"],
            runId,
            rate: sc.load.rate,
            batch: sc.load.batch,
          })
        : startHttpLoad({
            ingestUrl: e.services["ingest-api"],
            runId,
            rate: sc.load.rate,
            batch: sc.load.batch,
            reads: { statsUrl: e.services["stats-api"], rate: sc.load.reads },
          }),
    checkIntegrity: (acknowledged, digests) => storedOnce(e, kafka, acknowledged, digests),
  };
}

/** The prober configuration drills observe with; its Alertmanager sink (built by buildProber) points at the drill's. */
export function observingConfig(o: {
  endpoints: StackEndpoints;
  proberConfig?: ProberConfig;
  alertmanager?: RunningAlertmanager;
}): ProberConfig {
  const given = o.proberConfig ?? drillProberConfig(o.endpoints).config;
  return o.alertmanager ? { ...given, alertmanager: { urls: [o.alertmanager.url] } } : given;
}

/**
 * One prober for a series of drills on a stack, started now and running until stopped — as the
 * production prober runs continuously: its windows and hysteresis carry from one drill to the next.
 * Pass it to each runDrill (with the same proberConfig and alertmanager).
 */
export async function startDrillObserver(o: {
  endpoints: StackEndpoints;
  policy: Policy;
  proberConfig?: ProberConfig;
  alertmanager?: RunningAlertmanager;
  /** the prober's JSON log lines (default: dropped) */
  log?: (record: Record<string, unknown>) => void;
}): Promise<Observer> {
  const observer = await createStackObserver({
    endpoints: o.endpoints,
    policy: o.policy,
    platform: createDockerPlatform({ stackId: o.endpoints.stackId }),
    config: observingConfig(o),
    ...(o.log ? { log: o.log } : {}),
  });
  observer.start();
  return observer;
}

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const sc = o.scenario;
  const e = o.endpoints;
  const k6 = o.load === "k6" ? findK6() : null;
  if (o.load === "k6" && !k6) throw new Error("--load k6: no k6 binary (set GM_K6_BIN or put k6 on PATH)");
  const platform = createDockerPlatform({ stackId: e.stackId });
  const kafka = createKafkaPort({ brokers: e.kafkaBootstrapServers, topic: e.topic });
  const database = createDatabasePort({ url: e.postgresUrl });
  const config = observingConfig(o);
  const observer = o.observer ?? (await createStackObserver({ endpoints: e, policy: o.policy, platform, config }));
  const stepPlatform = o.lokiUrl ? withLokiLogs(platform, createLokiLogs({ url: o.lokiUrl })) : platform;
  const ports: Ports = {
    platform: stepPlatform,
    kafka,
    database,
    observe: observer.observe,
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  const target: DrillTarget = {
    kind: "testcontainers",
    name: e.stackId,
    ports,
    observer,
    ...(o.observer ? { sharedObserver: true } : {}),
    observerInfo: {
      source: "gm-prober round (@gm/monitor createProber)",
      intervalSeconds: config.intervalSeconds,
      timeoutMs: config.timeoutMs,
      windowSeconds: config.windowSeconds,
      resolveAfterRounds: config.hysteresis.resolveAfter,
      // an Alertmanager behind basic auth: named without its password
      alertmanager: o.alertmanager ? redactUrl(o.alertmanager.url) : null,
    },
    fault: o.fault ?? createFault(sc.fault, { stackId: e.stackId, brokers: o.brokers, postgresUrl: e.postgresUrl }),
    journal: { stackId: e.stackId, postgresUrl: e.postgresUrl },
    ...loadAndIntegrity(e, sc, kafka, k6),
    // rates need two rounds and the canary a round trip: allow a minute and a half at any interval
    steadyState: { timeoutMs: Math.max(90_000, 6 * config.intervalSeconds * 1000), what: "the prober to classify the stack as healthy" },
    close: async () => {
      await Promise.all([kafka.close(), database.close()]);
    },
  };
  return runLifecycle({
    scenario: sc,
    target,
    policy: o.policy,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.steps ? { steps: o.steps } : {}),
    ...(o.afterInject ? { afterInject: o.afterInject } : {}),
    ...(o.beforeIntegrity ? { beforeIntegrity: o.beforeIntegrity } : {}),
    ...(o.alertmanager ? { alertmanager: o.alertmanager } : {}),
  });
}
