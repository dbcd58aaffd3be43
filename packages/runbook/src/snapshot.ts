/**
 * What the prober observed at one instant: the input of `classify`. Collectors (packages/signals)
 * fill it; a collector that failed leaves its part `null` and adds an entry to `collectionErrors`
 * (a failed collection is itself a signal). Times are ISO 8601 strings; ratios are 0..1.
 */

import { DEFAULT_TOPOLOGY, type Topology } from "./topology.js";

/**
 * A service of the platform's description (topology.ts): any name. GameMetrics Pro's three services are
 * the default description, not a closed union, so a fourth service is monitored without a code change.
 */
export type ServiceName = string;

export interface InstanceProbe {
  /** e.g. http://127.0.0.1:32771 or the pod IP URL */
  url: string;
  ok: boolean;
  /** HTTP status of GET /health, null when no response */
  status: number | null;
  latencyMs: number | null;
  error?: string;
}

export interface ServiceHealth {
  service: ServiceName;
  instances: InstanceProbe[];
}

export type ErrorRateSource = "metrics" | "prometheus" | "synthetic";

export interface ErrorRateSignal {
  service: ServiceName | "all";
  source: ErrorRateSource;
  windowSeconds: number;
  requests: number;
  errors: number;
  /** errors / requests; null when there were no requests in the window */
  rate: number | null;
  /**
   * The same over the last round(s) only — the short window of a multiwindow rule (Google SRE Workbook,
   * "Alerting on SLOs", multiwindow alerts): when the errors stopped, the long window still averages them
   * in for a whole window, the short one no longer does. Absent when the source keeps no short window.
   */
  recent?: { windowSeconds: number; requests: number; errors: number; rate: number | null };
}

/** "Users affected": the share of synthetic players whose journey (post an event, read stats) failed. */
export interface UsersSignal {
  total: number;
  /** players whose journey failed in the last round */
  failing: number;
  /**
   * Journeys over the prober's window, as for error rates: a P1 ("> 50% of users") must hold over the
   * window too, not for one round only — a broker's failover stalls every acks=all write for a few
   * seconds, which one round of a handful of players reads as "every user". Absent: the round judges alone.
   */
  window?: { windowSeconds: number; journeys: number; failed: number };
}

export interface PartitionLag {
  partition: number;
  committedOffset: number | null;
  endOffset: number;
  lag: number;
}

export interface GroupLag {
  group: string;
  topic: string;
  totalLag: number;
  partitions: PartitionLag[];
  /** messages per second the total lag grew (+) or shrank (−) over the trend window; null until known */
  trendPerSecond: number | null;
  /** age of the oldest unconsumed message, seconds; null when no lag or unknown */
  lagSeconds: number | null;
}

export interface BrokerState {
  nodeId: number;
  address: string;
  up: boolean;
}

/**
 * The brokers the cluster metadata names, padded with down entries up to `expected`. A bootstrap
 * address is only a way in: it may differ from what the brokers advertise (another host name for the
 * same machine, a load balancer), so one missing from the metadata is not by itself a broker down.
 * A missing broker is named after a bootstrap address the metadata does not cover (by address, then
 * by port), or "unknown".
 */
export function reconcileBrokers(metadata: BrokerState[], bootstrap: string[], expected: number): BrokerState[] {
  const addresses = new Set(metadata.map((b) => b.address));
  const ports = new Set(metadata.map((b) => portOf(b.address)));
  const uncovered = bootstrap.filter((a) => !addresses.has(a) && !ports.has(portOf(a)));
  const out = [...metadata];
  for (let i = 0; out.length < expected; i++) out.push({ nodeId: -1, address: uncovered[i] ?? "unknown", up: false });
  return out;
}

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(":") + 1);
}

export interface KafkaSignal {
  brokersExpected: number;
  brokers: BrokerState[];
  underReplicatedPartitions: number;
  offlinePartitions: number;
  /** min.insync.replicas of the topic the platform writes to */
  minInsyncReplicas: number;
  groups: GroupLag[];
}

export interface ServicePoolSignal {
  service: ServiceName;
  instance: string;
  max: number;
  total: number;
  idle: number;
  waiting: number;
  /** connection timeouts per second over the window (pg_pool_connection_timeouts_total rate) */
  timeoutsPerSecond: number;
  /** the same over the last round (the short window, as for error rates); absent when unknown */
  recentTimeoutsPerSecond?: number;
}

export interface PostgresSignal {
  maxConnections: number;
  reservedConnections: number;
  /** connections by pg_stat_activity.state (active, idle, idle in transaction, …) */
  byState: Record<string, number>;
  totalConnections: number;
  /** totalConnections / (maxConnections − reservedConnections) */
  usage: number;
  pools: ServicePoolSignal[];
}

export interface InstanceSignal {
  service: ServiceName | "kafka" | "postgres";
  instance: string;
  running: boolean;
  restarts: number;
  exitCode: number | null;
  /** OOM kill confirmed by the engine's `oom` event or the cgroup's memory events, not by exit 137 alone */
  oomKilled: boolean;
  oomKilledAt: string | null;
  memoryUsageBytes: number | null;
  memoryLimitBytes: number | null;
}

export type ConsumerStatus = "ok" | "stalled" | "stopped" | "unknown";

/** Burrow's judgement in seconds: committed offsets frozen while lag grows = stalled; no commits at all = stopped. */
export interface ConsumerProgress {
  group: string;
  status: ConsumerStatus;
  secondsSinceCommitMoved: number | null;
  lagGrowing: boolean;
}

export interface SecurityCheck {
  endpoint: string;
  /** e.g. "401 without a token" */
  expectation: string;
  ok: boolean;
  observed: string;
}

export interface SecuritySignal {
  checks: SecurityCheck[];
  /** names (never values) of configured secrets that appeared in a public response */
  leakedSecrets: { endpoint: string; secret: string }[];
}

export interface CanarySignal {
  sent: number;
  /** canaries acknowledged by ingest-api but not readable from stats-api after the loss deadline */
  lost: number;
  lastRoundTripMs: number | null;
  /** seconds since the last canary was read back */
  freshnessSeconds: number | null;
  /**
   * canaries read back from stats-api with other content than was sent (payload or checksum differ),
   * still altered; absent from a collector that compares ids only
   */
  altered?: number;
  /** the ids of those canaries (at most 10) */
  alteredIds?: string[];
}

export interface ExternalAlert {
  name: string;
  labels: Record<string, string>;
  /** labelled as a security incident (e.g. label incident="security") */
  security: boolean;
}

export interface Snapshot {
  at: string;
  /**
   * The platform description the snapshot was collected against (the prober's `services:`): rules and
   * steps read roles from it. Absent = GameMetrics Pro's default description.
   */
  topology?: Topology;
  services: ServiceHealth[];
  errorRates: ErrorRateSignal[];
  users: UsersSignal | null;
  kafka: KafkaSignal | null;
  postgres: PostgresSignal | null;
  instances: InstanceSignal[];
  consumers: ConsumerProgress[];
  security: SecuritySignal | null;
  canary: CanarySignal | null;
  externalAlerts: ExternalAlert[];
  collectionErrors: { collector: string; error: string }[];
}

/** The description a snapshot was collected against: its own, or GameMetrics Pro's default. */
export function topologyOf(s: Pick<Snapshot, "topology">): Topology {
  return s.topology ?? DEFAULT_TOPOLOGY;
}

/** A snapshot in which nothing was observed: the base that tests and partial collectors build on. */
export function emptySnapshot(at: string): Snapshot {
  return {
    at,
    services: [],
    errorRates: [],
    users: null,
    kafka: null,
    postgres: null,
    instances: [],
    consumers: [],
    security: null,
    canary: null,
    externalAlerts: [],
    collectionErrors: [],
  };
}
