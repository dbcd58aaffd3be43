/**
 * The stack's definition as data (pure): which containers, with which image, environment, command,
 * ports and labels. The testcontainers starter and the docker-compose.yml generator both read it, so
 * the two cannot drift apart.
 */

// The label contract lives in packages/docker-engine, shared with the platform driver that finds containers by it.
import { LABEL } from "@gm/docker-engine/docker";

export const SERVICE_ROLES = ["ingest-api", "event-processor-service", "stats-api"] as const;
/** A program of the demo-platform image (its SERVICE variable). */
export type ServiceRole = (typeof SERVICE_ROLES)[number];
/** A container's role label: Kafka, PostgreSQL, or the name of the service it is an instance of (any, see `extraServices`). */
export type Role = "kafka" | "postgres" | ServiceRole | (string & {});

/** A service beyond GameMetrics Pro's three: another instance of one of the image's programs under a name of its own. */
export interface ExtraService {
  /** the service's name: container, network alias and role label (e.g. leaderboard-api) */
  name: string;
  /** which program of the demo-platform image it runs, with that program's environment (its own pool, its own /health and /metrics) */
  program: ServiceRole;
}

export interface StackImages {
  kafka: string;
  postgres: string;
  platform: string;
}

export interface StackOptions {
  /** Short id used in container names and labels; random when omitted. */
  id?: string;
  /** 1 for tests that need no replication, 3 for drills (replication factor 3, min.insync.replicas 2). */
  brokers?: 1 | 3;
  kafkaVersion?: string;
  images?: Partial<StackImages>;
  processorReplicas?: number;
  topic?: string;
  topicPartitions?: number;
  postgres?: { user?: string; password?: string; database?: string; maxConnections?: number };
  /** Pool size of each service's pg Pool. */
  pgPoolMax?: number;
  pgConnectionTimeoutMs?: number;
  adminToken?: string;
  kafkaHeap?: string;
  /**
   * The Prometheus JMX exporter java agent in every broker (`npm run bench:page`'s Kafka broker metrics):
   * the jar and its configuration, paths on this machine, are copied into each broker, loaded with
   * KAFKA_OPTS=-javaagent, and its /metrics port is published on a host port (`kafkaJmxExporterUrls`).
   * Off by default: the stack's brokers run without it. A Kafka tool run with `docker exec` in such a
   * broker inherits KAFKA_OPTS and its agent would find the port taken: run it with `env -u KAFKA_OPTS`.
   */
  kafkaJmxExporter?: { jar: string; config: string };
  /** Extra environment per service role. */
  serviceEnv?: Partial<Record<ServiceRole, Record<string, string>>>;
  /** services beyond the three, started from the same image (a fourth service a team adds) */
  extraServices?: ExtraService[];
}

export interface ResolvedStackOptions {
  id: string;
  brokers: 1 | 3;
  kafkaVersion: string;
  images: StackImages;
  processorReplicas: number;
  topic: string;
  topicPartitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  postgres: { user: string; password: string; database: string; maxConnections: number };
  pgPoolMax: number;
  pgConnectionTimeoutMs: number;
  adminToken: string;
  kafkaHeap: string;
  kafkaJmxExporter: { jar: string; config: string } | null;
  clusterId: string;
  serviceEnv: Partial<Record<ServiceRole, Record<string, string>>>;
  extraServices: ExtraService[];
}

/** Memory limit of each demo service container. */
export const SERVICE_MEMORY_BYTES = 512 * 1024 * 1024;

/** Ports inside the containers. */
export const PORTS = {
  kafkaInternal: 19092,
  kafkaController: 9093,
  kafkaExternal: 9094,
  /** the JMX exporter agent's /metrics in a broker, when `kafkaJmxExporter` is set */
  kafkaJmxExporter: 9404,
  postgres: 5432,
  http: 8080,
} as const;

/** Where `kafkaJmxExporter`'s jar and configuration are copied in each broker. */
export const KAFKA_JMX_EXPORTER_DIR = "/opt/jmx-exporter";

export interface ContainerSpec {
  /** Network alias and compose service name: kafka-1, postgres, ingest-api, event-processor-service-2 … */
  name: string;
  role: Role;
  image: string;
  env: Record<string, string>;
  command?: string[];
  /** Container port → host port (host port chosen by the starter; `null` means any free port). */
  ports: { container: number; host: number | null }[];
  labels: Record<string, string>;
  dependsOn: string[];
  /** memory limit (the runbook's "check memory limits" reads it; the OOM drill lowers it) */
  memoryBytes?: number;
  /** files of this machine copied into the container before it starts (the brokers' JMX exporter agent) */
  files?: { source: string; target: string }[];
}

export class StackOptionError extends Error {
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`stack option ${field}: expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = "StackOptionError";
  }
}

/** The variables that choose each image, read by `gm-chaos stack up` and by docker-compose.yml alike. */
export const IMAGE_VARIABLES: Record<keyof StackImages, string> = {
  kafka: "GM_KAFKA_IMAGE",
  postgres: "GM_POSTGRES_IMAGE",
  platform: "GM_PLATFORM_IMAGE",
};

export function defaultPublicImages(kafkaVersion: string): StackImages {
  return { kafka: `apache/kafka:${kafkaVersion}`, postgres: "postgres:15", platform: "gamemetrics/demo-platform:latest" };
}

/** A stack id: it names containers, labels and the state file `<id>.json`, so nothing that could leave a directory. */
export const STACK_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function resolveOptions(o: StackOptions, random: () => string, images: StackImages): ResolvedStackOptions {
  const brokers = o.brokers ?? 1;
  if (brokers !== 1 && brokers !== 3) throw new StackOptionError("brokers", "1 or 3", brokers);
  const replicas = o.processorReplicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 8)
    throw new StackOptionError("processorReplicas", "an integer from 0 to 8", replicas);
  const partitions = o.topicPartitions ?? 6;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 256)
    throw new StackOptionError("topicPartitions", "an integer from 1 to 256", partitions);
  const id = o.id ?? random().slice(0, 8);
  if (!STACK_ID_PATTERN.test(id)) throw new StackOptionError("id", "lower-case letters, digits and dashes (at most 31)", id);
  const kafkaVersion = o.kafkaVersion ?? "3.9.1";
  const extraServices = o.extraServices ?? [];
  const taken = new Set<string>(["kafka", "postgres", ...SERVICE_ROLES]);
  for (const [i, x] of extraServices.entries()) {
    if (!STACK_ID_PATTERN.test(x.name) || taken.has(x.name) || /^kafka-\d+$|^event-processor-service-\d+$/.test(x.name))
      throw new StackOptionError(
        `extraServices[${i}].name`,
        "a new name: lower-case letters, digits and dashes, not a name the stack uses",
        x.name,
      );
    if (!(SERVICE_ROLES as readonly string[]).includes(x.program))
      throw new StackOptionError(`extraServices[${i}].program`, `one of ${SERVICE_ROLES.join(", ")}`, x.program);
    taken.add(x.name);
  }
  if (!/^\d+\.\d+\.\d+$/.test(kafkaVersion)) throw new StackOptionError("kafkaVersion", "a version such as 3.9.1", kafkaVersion);
  const jmx = o.kafkaJmxExporter ?? null;
  if (jmx !== null) {
    if (typeof jmx.jar !== "string" || !jmx.jar.startsWith("/") || !jmx.jar.endsWith(".jar"))
      throw new StackOptionError("kafkaJmxExporter.jar", "an absolute path to the agent's .jar", jmx.jar);
    if (typeof jmx.config !== "string" || !jmx.config.startsWith("/"))
      throw new StackOptionError("kafkaJmxExporter.config", "an absolute path to the agent's YAML configuration", jmx.config);
  }
  const rf = brokers === 3 ? 3 : 1;
  return {
    id,
    brokers,
    kafkaVersion,
    images: { ...images, ...o.images },
    processorReplicas: replicas,
    topic: o.topic ?? "game-events",
    topicPartitions: partitions,
    replicationFactor: rf,
    minInsyncReplicas: rf === 3 ? 2 : 1,
    postgres: {
      user: o.postgres?.user ?? "gamemetrics",
      password: o.postgres?.password ?? random(),
      database: o.postgres?.database ?? "gamemetrics",
      maxConnections: o.postgres?.maxConnections ?? 100,
    },
    pgPoolMax: o.pgPoolMax ?? 10,
    pgConnectionTimeoutMs: o.pgConnectionTimeoutMs ?? 2_000,
    adminToken: o.adminToken ?? random() + random(),
    kafkaHeap: o.kafkaHeap ?? "-Xmx512m -Xms256m",
    kafkaJmxExporter: jmx === null ? null : { jar: jmx.jar, config: jmx.config },
    clusterId: kraftClusterId(random() + random()),
    serviceEnv: o.serviceEnv ?? {},
    extraServices,
  };
}

/**
 * KRaft cluster id: 16 bytes, base64url without padding (22 characters), never starting with "-":
 * the image formats its storage with `kafka-storage format -t $CLUSTER_ID`, whose argument parser
 * takes such an id for an option ("argument --cluster-id/-t: expected one argument") and every broker
 * exits — one stack start in 64 failed so. Kafka's own Uuid.randomUuid() avoids them the same way.
 */
export function kraftClusterId(hex: string): string {
  const id = Buffer.from(hex.slice(0, 32), "hex").toString("base64url");
  return id.startsWith("-") ? `A${id.slice(1)}` : id;
}

export function kafkaName(n: number): string {
  return `kafka-${n}`;
}

export function processorName(n: number, replicas: number): string {
  return replicas === 1 && n === 1 ? "event-processor-service" : `event-processor-service-${n}`;
}

/** Bootstrap servers for clients inside the stack's network. */
export function internalBootstrap(s: ResolvedStackOptions): string {
  return Array.from({ length: s.brokers }, (_, i) => `${kafkaName(i + 1)}:${PORTS.kafkaInternal}`).join(",");
}

export function databaseUrl(s: ResolvedStackOptions, host = "postgres", port: number = PORTS.postgres): string {
  return `postgres://${encodeURIComponent(s.postgres.user)}:${encodeURIComponent(s.postgres.password)}@${host}:${port}/${encodeURIComponent(s.postgres.database)}`;
}

function labels(s: ResolvedStackOptions, role: Role, instance: string): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.stack]: s.id, [LABEL.role]: role, [LABEL.instance]: instance };
}

/**
 * Every container of the stack. `kafkaHostPorts[i]` is the host port of broker i+1's EXTERNAL
 * listener: it is advertised to host clients, so it is fixed before the broker starts, and a killed
 * broker comes back on the same address.
 */
export function containerSpecs(s: ResolvedStackOptions, kafkaHostPorts: number[], kafkaHost = "127.0.0.1"): ContainerSpec[] {
  const specs: ContainerSpec[] = [];
  const voters = Array.from({ length: s.brokers }, (_, i) => `${i + 1}@${kafkaName(i + 1)}:${PORTS.kafkaController}`).join(",");
  // inside each broker: the agent's jar and configuration where the stack copies them
  const agent = s.kafkaJmxExporter
    ? { jar: `${KAFKA_JMX_EXPORTER_DIR}/jmx_prometheus_javaagent.jar`, config: `${KAFKA_JMX_EXPORTER_DIR}/config.yml` }
    : null;
  for (let n = 1; n <= s.brokers; n++) {
    const name = kafkaName(n);
    const hostPort = kafkaHostPorts[n - 1];
    if (hostPort === undefined) throw new StackOptionError("kafkaHostPorts", `${s.brokers} ports`, kafkaHostPorts);
    specs.push({
      name,
      role: "kafka",
      image: s.images.kafka,
      // The same KAFKA_* variables configure the official apache/kafka image and the local one.
      env: {
        CLUSTER_ID: s.clusterId,
        KAFKA_NODE_ID: String(n),
        KAFKA_PROCESS_ROLES: "broker,controller",
        KAFKA_LISTENERS: `INTERNAL://:${PORTS.kafkaInternal},EXTERNAL://:${PORTS.kafkaExternal},CONTROLLER://:${PORTS.kafkaController}`,
        KAFKA_ADVERTISED_LISTENERS: `INTERNAL://${name}:${PORTS.kafkaInternal},EXTERNAL://${kafkaHost}:${hostPort}`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
        KAFKA_INTER_BROKER_LISTENER_NAME: "INTERNAL",
        KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
        KAFKA_CONTROLLER_QUORUM_VOTERS: voters,
        KAFKA_LOG_DIRS: "/var/lib/kafka/data",
        KAFKA_NUM_PARTITIONS: String(s.topicPartitions),
        KAFKA_DEFAULT_REPLICATION_FACTOR: String(s.replicationFactor),
        KAFKA_MIN_INSYNC_REPLICAS: String(s.minInsyncReplicas),
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: String(s.replicationFactor),
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "10",
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: String(s.replicationFactor),
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: String(s.minInsyncReplicas),
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
        KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE: "false",
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
        // A SIGKILLed broker leads its partitions until the controller fences it, when its session (no
        // heartbeat) times out: Kafka's 9 s default held a third of the producers' partitions that long.
        // 3 s (heartbeat every 1 s) fails over within a prober round and still tolerates a GC pause.
        KAFKA_BROKER_SESSION_TIMEOUT_MS: "3000",
        KAFKA_BROKER_HEARTBEAT_INTERVAL_MS: "1000",
        KAFKA_HEAP_OPTS: s.kafkaHeap,
        ...(agent ? { KAFKA_OPTS: `-javaagent:${agent.jar}=${PORTS.kafkaJmxExporter}:${agent.config}` } : {}),
      },
      ports: [{ container: PORTS.kafkaExternal, host: hostPort }, ...(agent ? [{ container: PORTS.kafkaJmxExporter, host: null }] : [])],
      labels: labels(s, "kafka", name),
      dependsOn: [],
      ...(s.kafkaJmxExporter && agent
        ? {
            files: [
              { source: s.kafkaJmxExporter.jar, target: agent.jar },
              { source: s.kafkaJmxExporter.config, target: agent.config },
            ],
          }
        : {}),
    });
  }
  specs.push({
    name: "postgres",
    role: "postgres",
    image: s.images.postgres,
    env: { POSTGRES_USER: s.postgres.user, POSTGRES_PASSWORD: s.postgres.password, POSTGRES_DB: s.postgres.database },
    command: [
      "-c",
      `max_connections=${s.postgres.maxConnections}`,
      "-c",
      "superuser_reserved_connections=3",
      "-c",
      "shared_buffers=128MB",
      "-c",
      "fsync=on",
    ],
    ports: [{ container: PORTS.postgres, host: null }],
    labels: labels(s, "postgres", "postgres"),
    dependsOn: [],
  });
  const brokersEnv = internalBootstrap(s);
  const kafkaDeps = Array.from({ length: s.brokers }, (_, i) => kafkaName(i + 1));
  const common = (role: ServiceRole): Record<string, string> => ({ SERVICE: role, PORT: String(PORTS.http), ...s.serviceEnv[role] });
  const memoryBytes = SERVICE_MEMORY_BYTES;
  const pgEnv = {
    DATABASE_URL: databaseUrl(s),
    PG_POOL_MAX: String(s.pgPoolMax),
    PG_CONNECTION_TIMEOUT_MS: String(s.pgConnectionTimeoutMs),
  };
  const kafkaEnv = {
    KAFKA_BROKERS: brokersEnv,
    KAFKA_TOPIC: s.topic,
    KAFKA_TOPIC_PARTITIONS: String(s.topicPartitions),
    KAFKA_REPLICATION_FACTOR: String(s.replicationFactor),
  };
  specs.push({
    name: "ingest-api",
    role: "ingest-api",
    image: s.images.platform,
    env: { ...kafkaEnv, ...common("ingest-api") },
    ports: [{ container: PORTS.http, host: null }],
    labels: labels(s, "ingest-api", "ingest-api"),
    dependsOn: kafkaDeps,
    memoryBytes,
  });
  for (let n = 1; n <= s.processorReplicas; n++) {
    const name = processorName(n, s.processorReplicas);
    specs.push({
      name,
      role: "event-processor-service",
      image: s.images.platform,
      env: { ...kafkaEnv, ...pgEnv, KAFKA_CLIENT_ID: name, ...common("event-processor-service") },
      ports: [{ container: PORTS.http, host: null }],
      labels: labels(s, "event-processor-service", name),
      dependsOn: [...kafkaDeps, "postgres"],
      memoryBytes,
    });
  }
  specs.push({
    name: "stats-api",
    role: "stats-api",
    image: s.images.platform,
    env: { ...pgEnv, ADMIN_TOKEN: s.adminToken, ...common("stats-api") },
    ports: [{ container: PORTS.http, host: null }],
    labels: labels(s, "stats-api", "stats-api"),
    dependsOn: ["postgres"],
    memoryBytes,
  });
  // A service a team adds: one of the image's programs, its own container, pool, /health and /metrics,
  // labelled with its own name as role, so the platform driver and the prober's description find it.
  for (const x of s.extraServices) {
    const usesKafka = x.program !== "stats-api";
    const usesPg = x.program !== "ingest-api";
    specs.push({
      name: x.name,
      role: x.name,
      image: s.images.platform,
      env: {
        ...(usesKafka ? kafkaEnv : {}),
        ...(usesPg ? pgEnv : {}),
        ...(x.program === "event-processor-service" ? { KAFKA_CLIENT_ID: x.name } : {}),
        ...(x.program === "stats-api" ? { ADMIN_TOKEN: s.adminToken } : {}),
        ...common(x.program),
      },
      ports: [{ container: PORTS.http, host: null }],
      labels: labels(s, x.name, x.name),
      dependsOn: [...(usesKafka ? kafkaDeps : []), ...(usesPg ? ["postgres"] : [])],
      memoryBytes,
    });
  }
  return specs;
}
