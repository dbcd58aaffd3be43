/**
 * The ports the runbook's steps act through. Drivers implement them: Docker (packages/platform, for
 * the testcontainers stack) and Kubernetes later. The runbook package imports no driver.
 * "Not found" during an undo means already undone; every mutating call is idempotent.
 */
import type { ServiceName } from "./snapshot.js";

/** A port that cannot answer at all where it runs (e.g. Kafka seen only through the Kubernetes API): checks stop waiting on it. */
export class PortUnavailableError extends Error {
  override name = "PortUnavailableError";
}

export interface InstanceInfo {
  /** container name or pod name */
  name: string;
  service: ServiceName | "kafka" | "postgres";
  running: boolean;
  restarts: number;
  exitCode: number | null;
  oomKilled: boolean;
  memoryLimitBytes: number | null;
  memoryUsageBytes: number | null;
  startedAt: string | null;
}

/** kubectl get/describe/logs/delete/scale, as a port. */
export interface PlatformPort {
  /** `kubectl get pods -n kafka` / `-l app=event-processor-service` */
  listInstances(service: InstanceInfo["service"]): Promise<InstanceInfo[]>;
  /**
   * `kubectl logs --tail N`: the newest `tail` lines, oldest first; `previous`: the container's previous
   * run (`--previous`), where an OOM-killed or crashed run's last words are (a platform that keeps one
   * log per instance across restarts, like Docker's, reads that log)
   */
  logs(instance: string, tail: number, options?: { previous?: boolean }): Promise<string[]>;
  /** where `logs()` reads ("docker", "kubernetes", "loki"), so steps can say it; absent when unknown */
  readonly logSource?: string;
  /** `kubectl delete pod` (the controller recreates it) / docker start of a stopped or killed container */
  restart(instance: string): Promise<void>;
  /** `kubectl describe pod` → limits */
  memoryLimit(instance: string): Promise<number | null>;
  /** raise (or set) the memory limit of every instance of a service */
  setMemoryLimit(service: InstanceInfo["service"], bytes: number): Promise<void>;
  /** replicas of a service now */
  replicas(service: ServiceName): Promise<number>;
  /** scale a service (HPA min replicas in Kubernetes) */
  scale(service: ServiceName, replicas: number): Promise<void>;
  /** set the pg pool size (PG_POOL_MAX) of a service; restarts its instances to apply */
  setPoolSize(service: ServiceName, size: number): Promise<void>;
  poolSize(service: ServiceName): Promise<number>;
  /**
   * `kubectl rollout history`: the service's revisions (a Deployment's ReplicaSets; on the stack, what
   * `gm-chaos stack deploy` made), newest first. A restart or a scale is not a revision.
   */
  rollouts?(service: ServiceName): Promise<Rollout[]>;
  /** `kubectl rollout undo`: back to the previous revision (or `toRevision`); returns the revision restored */
  rollback?(service: ServiceName, toRevision?: number): Promise<number>;
}

export interface Rollout {
  service: ServiceName;
  revision: number;
  createdAt: string;
  images: string[];
  /** the `kubernetes.io/change-cause` annotation, when set */
  changeCause: string | null;
  /** the revision the service runs now */
  current: boolean;
  /** what this revision changed from the one before it, one line each, secrets masked (`PG_POOL_MAX 10 → 1`); absent when unknown */
  changes?: string[];
  /** the revision whose template this one restored, when it was made by a rollback (drivers that record it) */
  rollbackOf?: number | null;
}

export interface KafkaPort {
  /** brokers the cluster metadata knows, and whether each answers */
  brokers(): Promise<{ nodeId: number; address: string; up: boolean }[]>;
  underReplicatedPartitions(): Promise<number>;
  /** total lag of a group on its topic */
  groupLag(group: string): Promise<number>;
  /** members of a consumer group */
  groupMembers(group: string): Promise<number>;
}

export interface ConnectionRow {
  pid: number;
  state: string;
  application: string;
  user: string;
  superuser: boolean;
  /** seconds in the current state */
  stateSeconds: number;
}

export interface DatabasePort {
  /** `SELECT count(*) FROM pg_stat_activity` by state */
  connections(): Promise<ConnectionRow[]>;
  maxConnections(): Promise<{ max: number; reserved: number }>;
  /**
   * Terminate idle sessions (state idle or idle in transaction, idle for at least `minIdleSeconds`),
   * never active ones, never a superuser's, never those whose application_name is in `protect`.
   * Returns the pids terminated.
   */
  terminateIdle(opts: { minIdleSeconds: number; protect: string[] }): Promise<number[]>;
}

/** Reads the current snapshot (the prober) so verification can wait for recovery. */
export interface ObservePort {
  snapshot(): Promise<import("./snapshot.js").Snapshot>;
}

export interface Ports {
  platform: PlatformPort;
  kafka: KafkaPort;
  database: DatabasePort;
  observe: ObservePort;
  /** injected clock and sleep, so tests never wait for real time */
  now(): number;
  sleep(ms: number): Promise<void>;
}
