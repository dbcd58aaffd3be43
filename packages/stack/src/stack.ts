/**
 * Starts the drill stack on testcontainers: Kafka (KRaft, 1 or 3 brokers), PostgreSQL and the
 * demo services on one labelled Docker network, and hands back endpoints and container handles.
 */
import { randomBytes } from "node:crypto";
import type { ContainerInspectInfo } from "dockerode";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { GenericContainer, getContainerRuntimeClient, Wait, type StartedTestContainer } from "testcontainers";
import {
  containerSpecs,
  databaseUrl,
  kafkaName,
  PORTS,
  resolveOptions,
  type ContainerSpec,
  type ResolvedStackOptions,
  type Role,
  type ServiceRole,
  type StackOptions,
} from "./definition.js";
import { demuxDockerLogs, dockerode, listStackContainers } from "@gm/docker-engine/docker";
import { freePort } from "@gm/docker-engine/net";
import { createNetwork, removeStack } from "./docker.js";
import { ensurePlatformImage, resolveImages } from "./images.js";

// Ryuk would remove a `gm-chaos stack up` stack as soon as the CLI exits, and its image cannot be
// pulled in an air-gapped workplace: clean-up is ours, by label (docker.ts).
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

export interface StackEndpoints {
  stackId: string;
  /** Bootstrap servers for clients on the host. */
  kafkaBootstrapServers: string[];
  /** Bootstrap servers for containers on the stack's network. */
  kafkaInternalBootstrapServers: string[];
  postgresUrl: string;
  /** a read-only monitoring role (pg_monitor) for the prober, distinct from the services' user */
  proberPostgresUrl: string;
  services: { "ingest-api": string; "stats-api": string; "event-processor-service": string[] };
  /** each service beyond the three (`extraServices`), by name: its base URL and the image's program it runs */
  extraServices?: Record<string, { url: string; program: ServiceRole }>;
  topic: string;
  consumerGroup: string;
  adminToken: string;
  network: string;
  /** each broker's JMX exporter agent /metrics (broker n at index n-1), when the stack loads it (`kafkaJmxExporter`) */
  kafkaJmxExporterUrls?: string[];
}

export interface StackContainer {
  name: string;
  role: Role;
  id: string;
  container: StartedTestContainer;
  spec: ContainerSpec;
}

export interface Stack {
  readonly options: ResolvedStackOptions;
  readonly endpoints: StackEndpoints;
  readonly containers: StackContainer[];
  container(name: string): StackContainer;
  /** SIGKILL broker n (1-based). */
  killBroker(n: number): Promise<void>;
  /** Starts a killed or stopped broker again: same container, same address, same data. */
  startBroker(n: number): Promise<void>;
  /** docker stop / start of any container by name (kafka-1, postgres, ingest-api …). */
  stopContainer(name: string): Promise<void>;
  startContainer(name: string): Promise<void>;
  /** docker inspect of a container by name. */
  inspect(name: string): Promise<ContainerInspectInfo>;
  /** Waits until every service answers /ready with 200. */
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions extends StackOptions {
  /** Progress lines for people (stderr in the CLI). */
  onProgress?: (msg: string) => void;
  startupTimeoutMs?: number;
}

const random = () => randomBytes(16).toString("hex");

// Lives in packages/docker-engine (the platform driver allocates host ports too); exported here as well for the tests that take it with the stack.
export { freePort };

function waitStrategyFor(spec: ContainerSpec, pgUser: string): ReturnType<typeof Wait.forLogMessage> {
  switch (spec.role) {
    case "kafka":
      return Wait.forLogMessage(/Kafka Server started/);
    case "postgres":
      // The official image runs a temporary server on the unix socket during init; TCP means the real one.
      return Wait.forSuccessfulCommand(`pg_isready -h 127.0.0.1 -p ${PORTS.postgres} -U ${pgUser}`);
    default:
      return Wait.forHttp("/health", PORTS.http).forStatusCode(200);
  }
}

function buildContainer(
  spec: ContainerSpec,
  network: string,
  stackId: string,
  pgUser: string,
  timeoutMs: number,
  tail?: string[],
): GenericContainer {
  let c = new GenericContainer(spec.image)
    .withName(`gm-${stackId}-${spec.name}`)
    .withNetworkMode(network)
    .withNetworkAliases(spec.name)
    .withHostname(spec.name)
    .withEnvironment(spec.env)
    .withLabels(spec.labels)
    .withExposedPorts(...spec.ports.map((p) => (p.host === null ? p.container : { container: p.container, host: p.host })))
    .withWaitStrategy(waitStrategyFor(spec, pgUser))
    .withStartupTimeout(timeoutMs)
    // No image can be pulled in an air-gapped workplace; a present image is always used as is.
    .withPullPolicy({ shouldPull: () => false });
  if (spec.command) c = c.withCommand(spec.command);
  if (spec.memoryBytes) c = c.withResourcesQuota({ memory: spec.memoryBytes / 1024 ** 3 });
  if (spec.files) c = c.withCopyFilesToContainer(spec.files);
  // testcontainers removes a container that fails its wait strategy, and its logs with it: keep the
  // last lines here so that the failure can say why
  if (tail)
    c = c.withLogConsumer((stream) =>
      stream.on("data", (line: Buffer | string) => {
        tail.push(String(line).trimEnd());
        if (tail.length > 30) tail.shift();
      }),
    );
  return c;
}

export async function startStack(opts: StartOptions = {}): Promise<Stack> {
  const progress = opts.onProgress ?? (() => undefined);
  const timeoutMs = opts.startupTimeoutMs ?? 120_000;
  const images = await resolveImages(opts.kafkaVersion ?? "3.9.1");
  const platform = opts.images?.platform || images.platform || (await ensurePlatformImage(images.platformBase, progress));
  const s = resolveOptions(opts, random, { kafka: images.kafka, postgres: images.postgres, platform });
  const kafkaPorts = await Promise.all(Array.from({ length: s.brokers }, () => freePort()));
  // The host at which this process reaches the containers' ports: 127.0.0.1 on a plain machine, the
  // bridge gateway when this process runs in a container itself. The brokers advertise exactly it, so
  // the bootstrap servers handed out and the addresses in the cluster metadata are the same.
  const runtimeHost = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const host = runtimeHost === "localhost" ? "127.0.0.1" : runtimeHost;
  // Every host port is fixed before start, so a container that is stopped or killed and started again
  // (a drill) keeps its address; Docker would pick a new random one otherwise.
  const specs = await Promise.all(
    containerSpecs(s, kafkaPorts, host).map(async (spec) => ({
      ...spec,
      ports: await Promise.all(spec.ports.map(async (p) => ({ container: p.container, host: p.host ?? (await freePort()) }))),
    })),
  );
  progress(`stack ${s.id}: ${s.brokers} broker(s) ${s.images.kafka}, ${s.images.postgres}, ${s.images.platform}`);

  const proberPassword = random();
  const network = await createNetwork(s.id);
  const started: StackContainer[] = [];
  const startOne = async (spec: ContainerSpec) => {
    const t0 = Date.now();
    const attempt = async () => {
      const tail: string[] = [];
      try {
        return await buildContainer(spec, network, s.id, s.postgres.user, timeoutMs, tail).start();
      } catch (err) {
        throw new Error(
          `${spec.name}: ${err instanceof Error ? err.message : String(err)}${tail.length ? `\n--- last lines of ${spec.name} ---\n${tail.join("\n")}` : ""}`,
          { cause: err },
        );
      }
    };
    let container: StartedTestContainer;
    try {
      container = await attempt();
    } catch (err) {
      // One more try, said out loud: a container that dies while it boots on a loaded machine should
      // not cost a whole game day; a second failure is the stack's failure.
      progress(`${spec.name} failed to start, retrying once: ${err instanceof Error ? err.message : String(err)}`);
      container = await attempt();
    }
    started.push({ name: spec.name, role: spec.role, id: container.getId(), container, spec });
    progress(`${spec.name} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  try {
    // Kafka and PostgreSQL in parallel; then the topic; then the services in parallel.
    await Promise.all(specs.filter((x) => x.role === "kafka" || x.role === "postgres").map(startOne));
    const bootstrap = kafkaPorts.map((p) => `${host}:${p}`);
    await Promise.all([
      createTopic(bootstrap, s),
      createProberRole(databaseUrl(s, host, pgHostPort(specs)), proberPassword, s.postgres.database),
    ]);
    progress(
      `topic ${s.topic}: ${s.topicPartitions} partitions, replication factor ${s.replicationFactor}, min.insync.replicas ${s.minInsyncReplicas}`,
    );
    await Promise.all(specs.filter((x) => x.role !== "kafka" && x.role !== "postgres").map(startOne));
  } catch (err) {
    const logs = await exitedContainerLogs(s.id).catch(() => "");
    await removeStack(s.id).catch(() => undefined);
    throw new Error(`stack ${s.id} failed to start: ${err instanceof Error ? err.message : String(err)}${logs}`, { cause: err });
  }
  const byName = new Map(started.map((c) => [c.name, c]));
  const get = (name: string): StackContainer => {
    const c = byName.get(name);
    if (!c) throw new Error(`stack ${s.id} has no container named "${name}" (has: ${[...byName.keys()].join(", ")})`);
    return c;
  };
  const url = (name: string) => {
    const c = get(name).container;
    return `http://${c.getHost() === "localhost" ? "127.0.0.1" : c.getHost()}:${c.getMappedPort(PORTS.http)}`;
  };
  const pg = get("postgres").container;
  const pgHost = host;
  const endpoints: StackEndpoints = {
    stackId: s.id,
    kafkaBootstrapServers: kafkaPorts.map((p) => `${pgHost}:${p}`),
    kafkaInternalBootstrapServers: Array.from({ length: s.brokers }, (_, i) => `${kafkaName(i + 1)}:${PORTS.kafkaInternal}`),
    postgresUrl: databaseUrl(s, pgHost, pg.getMappedPort(PORTS.postgres)),
    proberPostgresUrl: `postgres://${PROBER_ROLE}:${proberPassword}@${pgHost}:${pg.getMappedPort(PORTS.postgres)}/${encodeURIComponent(s.postgres.database)}`,
    services: {
      "ingest-api": url("ingest-api"),
      "stats-api": url("stats-api"),
      "event-processor-service": specs.filter((x) => x.role === "event-processor-service").map((x) => url(x.name)),
    },
    ...(s.extraServices.length > 0
      ? { extraServices: Object.fromEntries(s.extraServices.map((x) => [x.name, { url: url(x.name), program: x.program }])) }
      : {}),
    ...(s.kafkaJmxExporter
      ? {
          kafkaJmxExporterUrls: specs
            .filter((x) => x.role === "kafka")
            .map((x) => `http://${host}:${x.ports.find((p) => p.container === PORTS.kafkaJmxExporter)?.host}/metrics`),
        }
      : {}),
    topic: s.topic,
    consumerGroup: "event-processor-service",
    adminToken: s.adminToken,
    network,
  };

  const d = await dockerode();
  const stack: Stack = {
    options: s,
    endpoints,
    containers: started,
    container: get,
    async killBroker(n) {
      await d.getContainer(get(kafkaName(n)).id).kill({ signal: "SIGKILL" });
    },
    async startBroker(n) {
      await stack.startContainer(kafkaName(n));
    },
    async stopContainer(name) {
      await d
        .getContainer(get(name).id)
        .stop({ t: 10 })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 304) throw err; // 304: already stopped
        });
    },
    async startContainer(name) {
      await d
        .getContainer(get(name).id)
        .start()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 304) throw err; // 304: already running
        });
    },
    inspect: (name) => d.getContainer(get(name).id).inspect(),
    async waitReady(ms = 60_000) {
      const urls = [
        endpoints.services["ingest-api"],
        endpoints.services["stats-api"],
        ...endpoints.services["event-processor-service"],
        ...Object.values(endpoints.extraServices ?? {}).map((x) => x.url),
      ];
      await waitUntil(
        async () => {
          const res = await Promise.all(
            urls.map((u) =>
              fetch(`${u}/ready`, { signal: AbortSignal.timeout(5_000) }).then(
                (r) => r.status === 200,
                () => false,
              ),
            ),
          );
          return res.every(Boolean);
        },
        ms,
        "every service /ready = 200",
      );
    },
    async stop() {
      await removeStack(s.id);
    },
  };
  try {
    await stack.waitReady(timeoutMs);
  } catch (err) {
    await removeStack(s.id).catch(() => undefined);
    throw err;
  }
  progress(`stack ${s.id} ready`);
  return stack;
}

/** The last log lines of every container that is not running: why a start failed. */
async function exitedContainerLogs(stackId: string): Promise<string> {
  const d = await dockerode();
  const dead = (await listStackContainers(stackId)).filter((c) => c.state !== "running");
  const parts = await Promise.all(
    dead.map(async (c) => {
      const buf = (await d.getContainer(c.id).logs({ stdout: true, stderr: true, tail: 25 })) as unknown as Buffer;
      const text = demuxDockerLogs(buf);
      return `\n--- ${c.instance} (${c.status}) ---\n${text}`;
    }),
  );
  return parts.join("");
}

export const PROBER_ROLE = "gm_prober";

function pgHostPort(specs: ContainerSpec[]): number {
  const port = specs.find((x) => x.role === "postgres")?.ports[0]?.host;
  if (!port) throw new Error("postgres has no host port");
  return port;
}

/**
 * The prober's role: may read pg_stat_activity of every session (pg_monitor) and nothing else; every
 * transaction is read-only by default. A session may turn that default off, so what keeps the role from
 * writing is its privileges: none on the tables, and none of the two writes PostgreSQL grants every role
 * by default — temporary tables (TEMPORARY on the database) and large objects (lo_create and kin) —
 * revoked from PUBLIC (the services connect as the superuser, which needs neither grant). Idempotent.
 * prober-role.int.test.ts tries every write as this role against the real server.
 */
async function createProberRole(adminUrl: string, password: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [PROBER_ROLE]);
    const verb = exists.rowCount ? "ALTER" : "CREATE";
    // DDL takes no bind parameters: identifier and literal quoted by node-postgres, never interpolated raw.
    const role = pg.escapeIdentifier(PROBER_ROLE);
    await client.query(`${verb} ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    await client.query(`GRANT pg_monitor TO ${role}`);
    await client.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
    await client.query(`REVOKE TEMPORARY ON DATABASE ${pg.escapeIdentifier(database)} FROM PUBLIC`);
    await client.query(
      "REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_import(text), lo_import(text, oid) FROM PUBLIC",
    );
  } finally {
    await client.end();
  }
}

/** Runs `f` until it resolves, retrying KafkaJSBrokerNotFound (stale metadata) until `ms` passed. */
async function retryUntil(ms: number, f: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await f();
      return;
    } catch (err) {
      if ((err as Error).name !== "KafkaJSBrokerNotFound" || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function createTopic(brokers: string[], s: ResolvedStackOptions): Promise<void> {
  const kafka = new Kafka({
    clientId: "gm-stack",
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 3_000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Right after a KRaft cluster formed, the broker kafkajs asks may not list every broker yet, and
    // createTopics (sent to the controller) fails with KafkaJSBrokerNotFound, which kafkajs does not
    // retry: a loaded 2-core machine hit it at stack start. Retry with fresh metadata until a deadline.
    await retryUntil(30_000, async () => {
      await admin.createTopics({
        // kafkajs' own waitForLeaders asks one broker, which may not know the topic yet right after a
        // KRaft cluster formed (UNKNOWN_TOPIC_OR_PARTITION): wait below instead.
        waitForLeaders: false,
        topics: [
          {
            topic: s.topic,
            numPartitions: s.topicPartitions,
            replicationFactor: s.replicationFactor,
            configEntries: [{ name: "min.insync.replicas", value: String(s.minInsyncReplicas) }],
          },
        ],
      });
    });
    await waitUntil(
      async () => {
        const meta = await admin.fetchTopicMetadata({ topics: [s.topic] });
        const parts = meta.topics[0]?.partitions ?? [];
        return parts.length === s.topicPartitions && parts.every((p) => p.leader >= 0 && p.isr.length === s.replicationFactor);
      },
      30_000,
      `leaders and full ISR for ${s.topic}`,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` until it returns true or the deadline passes (never a fixed sleep). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 250): Promise<void> {
  await waitFor(what, async () => ((await check()) ? true : undefined), timeoutMs, intervalMs);
}

/**
 * Polls `check` until it returns a value other than undefined, or fails naming `what` and the last
 * error a check threw.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
