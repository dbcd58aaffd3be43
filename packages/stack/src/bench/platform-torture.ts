/**
 * `npm run torture:platform`: the platform under faults it does not expect (issue 13 §4). Starts its
 * own 3-broker stack and, under continuous load through ingest-api, restarts brokers round-robin,
 * partitions a broker from the stack's network, restarts PostgreSQL, SIGKILLs an event processor
 * mid-batch and forces a redelivery after a rebalance. After each phase it waits for the processors to
 * catch up and checks that every 202-acknowledged event is in PostgreSQL exactly once with the content
 * that was sent, and that none was acknowledged without being in the topic. Prints a table of counts
 * per phase; exit 1 when anything acknowledged was lost, duplicated, altered or never in Kafka, 2 for
 * a bad option. Every fault's undo is registered before the fault acts and run in a finally (and on
 * SIGINT/SIGTERM); the stack is removed at the end.
 */
import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { dockerode } from "@gm/docker-engine/docker";
import { kafkaName, PORTS } from "../definition.js";
import { exitAfterFlush, requireNode24, silenceKafkajsTimeoutWarning } from "../runtime.js";
import { startStack, waitUntil, type Stack } from "../stack.js";
import { broken, judge, type PhaseIntegrity, storedHash, type StoredRow } from "./torture-integrity.js";
import { TortureLoad, type StatusCounts } from "./torture-load.js";
import { HELP, parseTortureArgs, type PhaseName, TortureOptionError, type TortureOptions } from "./torture-options.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const secs = (ms: number) => +(ms / 1000).toFixed(1);

interface PhaseRow {
  name: string;
  counts: StatusCounts;
  integrity: PhaseIntegrity;
  /** from the fault's undo to every event acknowledged so far stored; null when it never caught up */
  catchUpSeconds: number | null;
  /** the longest time in the phase (its start to the catch-up) in which the processors stored no row at all */
  stallSeconds: number | null;
  notes: string[];
}

/** Undo actions of the faults in force, registered before each fault acts (Chaos Mesh's rule: record the way back first). */
class Undo {
  private readonly pending = new Map<string, () => Promise<void>>();
  set(key: string, f: () => Promise<void>): void {
    this.pending.set(key, f);
  }
  /** Runs one undo now (the fault's normal end). */
  async run(key: string): Promise<void> {
    const f = this.pending.get(key);
    if (!f) return;
    await f();
    this.pending.delete(key);
  }
  /** Runs every undo still pending, each on its own; returns what failed. */
  async all(): Promise<string[]> {
    const failed: string[] = [];
    for (const [key, f] of [...this.pending]) {
      try {
        await f();
        this.pending.delete(key);
        log(`undone: ${key}`);
      } catch (err) {
        failed.push(`${key}: ${(err as Error).message}`);
      }
    }
    return failed;
  }
}

/** The platform, its clients and the torture's state; one per run. */
class Torture {
  readonly undo = new Undo();
  readonly kafkaCopies = new Map<string, number>();
  private readonly nextOffset = new Map<number, bigint>();
  private readerRuns = 0;
  readonly confirmedStored = new Set<string>();

  constructor(
    readonly stack: Stack,
    readonly d: Dockerode,
    readonly load: TortureLoad,
    readonly o: TortureOptions,
    readonly runId: string,
  ) {}

  get pgUrl(): string {
    return this.stack.endpoints.postgresUrl;
  }

  kafka(clientId: string): Kafka {
    return new Kafka({
      clientId,
      brokers: this.stack.endpoints.kafkaBootstrapServers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
  }

  async withPg<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.pgUrl, connectionTimeoutMillis: 5_000 });
    c.on("error", () => undefined);
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  processors(): string[] {
    return this.stack.containers.filter((c) => c.role === "event-processor-service").map((c) => c.name);
  }

  /** A processor's HTTP address on the host (by its container: the endpoints list is in another order than the containers). */
  processorUrl(name: string): string {
    const c = this.stack.container(name).container;
    return `http://${c.getHost() === "localhost" ? "127.0.0.1" : c.getHost()}:${c.getMappedPort(PORTS.http)}`;
  }

  async ip(name: string): Promise<string> {
    const info = await this.stack.inspect(name);
    const ip = info.NetworkSettings.Networks[this.stack.endpoints.network]?.IPAddress;
    if (!ip) throw new Error(`${name} has no address on ${this.stack.endpoints.network}`);
    return ip;
  }

  async waitProcessorReady(name: string, ms = 120_000): Promise<void> {
    const url = this.processorUrl(name);
    await waitUntil(
      async () => (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(3_000) })).status === 200,
      ms,
      `${name} /ready = 200`,
      500,
    );
  }

  /**
   * Whether each broker is in the cluster now, as the cluster's metadata says (a killed broker leaves it
   * when its 3 s session lapses; a restarted one comes back once it registered). A host port says
   * nothing: docker-proxy accepts a connection whether or not Kafka listens behind it.
   */
  async brokersAlive(): Promise<boolean[]> {
    const admin = new Kafka({
      clientId: "torture-admin",
      brokers: this.stack.endpoints.kafkaBootstrapServers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      requestTimeout: 3_000,
      retry: { retries: 1 },
    }).admin();
    try {
      await admin.connect();
      const alive = new Set((await admin.describeCluster()).brokers.map((x) => x.nodeId));
      return Array.from({ length: this.stack.options.brokers }, (_, i) => alive.has(i + 1));
    } catch {
      return Array.from({ length: this.stack.options.brokers }, () => false);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Partitions with fewer in-sync replicas than replicas (0 when the cluster is whole). */
  async underReplicated(): Promise<number> {
    const admin = this.kafka("torture-admin").admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [this.stack.endpoints.topic] });
      const cluster = await admin.describeCluster();
      const parts = meta.topics[0]?.partitions ?? [];
      if (cluster.brokers.length < 3) return parts.length;
      return parts.filter((p) => p.leader < 0 || p.isr.length < p.replicas.length).length;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Waits for every broker running and every partition fully replicated; returns the seconds it took. */
  async waitClusterWhole(ms = 180_000): Promise<number> {
    const t0 = Date.now();
    await waitUntil(
      async () => (await this.underReplicated()) === 0,
      ms,
      "every partition of the topic fully replicated on 3 brokers",
      1_000,
    );
    return secs(Date.now() - t0);
  }

  /** The broker that is KRaft's active controller, as the quorum says (LeaderId). */
  async activeController(): Promise<number> {
    const running = this.stack.containers.find((c) => c.role === "kafka")!;
    const r = await running.container.exec([
      "kafka-metadata-quorum.sh",
      "--bootstrap-server",
      `${running.name}:${PORTS.kafkaInternal}`,
      "describe",
      "--status",
    ]);
    const id = /LeaderId:\s*(\d+)/.exec(r.output)?.[1];
    if (!id) throw new Error(`no LeaderId in kafka-metadata-quorum.sh output (exit ${r.exitCode}): ${r.output.slice(-300)}`);
    return Number(id);
  }

  /**
   * Reads the topic from where the last read stopped to its high watermark, counting the copies of
   * each event id. A fresh consumer group each time (never committed); messages below the position
   * already read are skipped, so a seek that lands late cannot count a message twice.
   */
  async readTopic(ms = 180_000): Promise<void> {
    const kafka = this.kafka("torture-reader");
    const topic = this.stack.endpoints.topic;
    const admin = kafka.admin();
    await admin.connect();
    let target: Map<number, bigint>;
    try {
      target = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const done = () => [...target].every(([p, high]) => (this.nextOffset.get(p) ?? 0n) >= high);
    if (done()) return;
    const consumer = kafka.consumer({
      groupId: `torture-reader-${this.runId}-${this.readerRuns++}`,
      maxWaitTimeInMs: 250,
      sessionTimeout: 30_000,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let finish: () => void = () => undefined;
      const finished = new Promise<void>((r) => {
        finish = r;
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const p = batch.partition;
          for (const m of batch.messages) {
            const off = BigInt(m.offset);
            if (off < (this.nextOffset.get(p) ?? 0n)) continue;
            this.nextOffset.set(p, off + 1n);
            try {
              const id = (JSON.parse(m.value?.toString("utf8") ?? "null") as { id?: unknown } | null)?.id;
              if (typeof id === "string") this.kafkaCopies.set(id, (this.kafkaCopies.get(id) ?? 0) + 1);
            } catch {
              // not an event of ours: nothing to count
            }
          }
          if (done()) finish();
        },
      });
      for (const [p, off] of this.nextOffset) if (off > 0n) consumer.seek({ topic, partition: p, offset: off.toString() });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>(
          (_, reject) =>
            (timer = setTimeout(() => reject(new Error(`reading ${topic} to its high watermark took over ${ms / 1000} s`)), ms)),
        ),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  /** Waits until every event acknowledged in phases up to `phase` is in PostgreSQL; the time it was all there, or null. */
  async waitStored(phase: number, ms: number): Promise<number | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const outstanding = [...this.load.ledger]
        .filter(([id, e]) => e.acked && e.phase <= phase && !this.confirmedStored.has(id))
        .map(([id]) => id);
      if (outstanding.length === 0) return Date.now();
      try {
        await this.withPg(async (c) => {
          for (let i = 0; i < outstanding.length; i += 20_000) {
            const res = await c.query<{ id: string }>("SELECT id FROM events WHERE id = ANY($1::text[])", [
              outstanding.slice(i, i + 20_000),
            ]);
            for (const r of res.rows) this.confirmedStored.add(r.id);
          }
        });
      } catch {
        // PostgreSQL not back yet: the deadline decides
      }
      if (Date.now() > deadline) return null;
      await sleep(1_000);
    }
  }

  /** The rows (how many per id, and the content hash of the first) of the events sent in `phases`. */
  async rows(phases: ReadonlySet<number>): Promise<Map<string, { rows: number; hash: string }>> {
    const ids = [...this.load.ledger].filter(([, e]) => phases.has(e.phase)).map(([id]) => id);
    const out = new Map<string, { rows: number; hash: string }>();
    await this.withPg(async (c) => {
      for (let i = 0; i < ids.length; i += 10_000) {
        const res = await c.query<StoredRow>(
          `SELECT id, player_id, type, (extract(epoch FROM ts) * 1000000)::bigint::text AS ts_us, payload::text AS payload
             FROM events WHERE id = ANY($1::text[])`,
          [ids.slice(i, i + 10_000)],
        );
        for (const r of res.rows) {
          const seen = out.get(r.id);
          if (seen) seen.rows += 1;
          else out.set(r.id, { rows: 1, hash: storedHash(r) });
        }
      }
    });
    return out;
  }

  /** The longest time between `from` and `to` (epoch ms) in which no row was stored (stored_at). */
  async longestStall(from: number, to: number): Promise<number | null> {
    return this.withPg(async (c) => {
      const r = await c.query<{ s: string | null }>(
        `SELECT extract(epoch FROM max(gap))::text AS s FROM (
           SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM (
             SELECT stored_at AS t FROM events WHERE stored_at > to_timestamp($1) AND stored_at < to_timestamp($2)
             UNION ALL SELECT to_timestamp($1) UNION ALL SELECT to_timestamp($2)) points) gaps`,
        [from / 1000, to / 1000],
      );
      return r.rows[0]?.s == null ? null : +Number(r.rows[0].s).toFixed(1);
    }).catch(() => null);
  }
}

/** A phase's fault: acts, undoes itself, and says what happened; `afterCatchUp` adds what can only be said once the processors caught up. */
interface PhaseOutcome {
  notes: string[];
  /** when the fault was undone (the last broker started, the network reconnected …): catch-up is measured from here */
  undoneAt: number;
  afterCatchUp?: () => Promise<string[]>;
}

async function brokerRestarts(t: Torture): Promise<PhaseOutcome> {
  const { o, stack } = t;
  const end = Date.now() + o.restartMinutes * 60_000;
  let restarts = 0;
  let overlapping = 0;
  let tick = Date.now();
  let undoneAt = Date.now();
  while (Date.now() < end) {
    const b = (restarts % stack.options.brokers) + 1;
    const name = kafkaName(b);
    // the interval is the fault: the next broker goes even when the last one has not booted yet (said in the notes)
    const othersDown = (await t.brokersAlive()).filter((up, i) => !up && i + 1 !== b).length;
    if (othersDown > 0) overlapping += 1;
    t.undo.set(name, () => stack.startBroker(b));
    if (o.restartSignal === "kill") await stack.killBroker(b);
    else await stack.stopContainer(name);
    await t.undo.run(name);
    undoneAt = Date.now();
    restarts += 1;
    log(`broker-restarts: ${name} restarted (${o.restartSignal === "kill" ? "SIGKILL" : "docker stop"}, then start), ${restarts} so far`);
    tick += o.restartIntervalSeconds * 1000;
    const wait = Math.min(tick, end) - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const whole = await t.waitClusterWhole();
  return {
    undoneAt,
    notes: [
      `${restarts} broker restarts (${o.restartSignal === "kill" ? "SIGKILL" : "graceful stop"} + start) every ${o.restartIntervalSeconds} s, round-robin`,
      `${overlapping} of them while another broker was not yet back in the cluster (its boot outlasted the interval): two or three brokers down at once, writes refused (min.insync.replicas 2)`,
      `cluster whole again ${whole} s after the last restart`,
    ],
  };
}

async function partition(t: Torture): Promise<PhaseOutcome> {
  const { o, stack, d } = t;
  const b = o.partitionBroker === "controller" ? await t.activeController() : o.partitionBroker;
  const name = kafkaName(b);
  const id = stack.container(name).id;
  const network = d.getNetwork(stack.endpoints.network);
  const reconnect = async () => {
    const info = await d.getContainer(id).inspect();
    if (info.NetworkSettings.Networks[stack.endpoints.network]) return; // already connected: undone
    await network.connect({ Container: id, EndpointConfig: { Aliases: [name] } });
  };
  t.undo.set(`network ${name}`, reconnect);
  await network.disconnect({ Container: id, Force: true });
  log(
    `partition: ${name}${o.partitionBroker === "controller" ? " (active controller)" : ""} disconnected from ${stack.endpoints.network} for ${o.partitionSeconds} s`,
  );
  await sleep(o.partitionSeconds * 1000);
  await t.undo.run(`network ${name}`);
  const undoneAt = Date.now();
  log(`partition: ${name} reconnected`);
  const whole = await t.waitClusterWhole();
  return {
    undoneAt,
    notes: [
      `${name}${o.partitionBroker === "controller" ? " (the active KRaft controller)" : ""} cut off the stack's network for ${o.partitionSeconds} s`,
      `cluster whole again ${whole} s after the reconnect`,
    ],
  };
}

async function postgresRestart(t: Torture): Promise<PhaseOutcome> {
  const { o, stack } = t;
  t.undo.set("postgres", () => stack.startContainer("postgres"));
  const t0 = Date.now();
  await stack.stopContainer("postgres");
  log(`postgres-restart: stopped in ${secs(Date.now() - t0)} s; down for ${o.postgresDownSeconds} s`);
  await sleep(o.postgresDownSeconds * 1000);
  await t.undo.run("postgres");
  const t1 = Date.now();
  await waitUntil(
    async () => t.withPg(async (c) => (await c.query("SELECT 1")).rowCount === 1),
    120_000,
    "PostgreSQL accepting connections",
    500,
  );
  return {
    undoneAt: t1,
    notes: [
      `PostgreSQL stopped (docker stop), down ${o.postgresDownSeconds} s, started; accepting connections ${secs(Date.now() - t1)} s after the start`,
    ],
  };
}

async function processorKill(t: Torture): Promise<PhaseOutcome> {
  const { o, d, stack } = t;
  const names = t.processors();
  let midBatch = 0;
  let undoneAt = Date.now();
  const notes: string[] = [];
  const watcher = new pg.Client({ connectionString: t.pgUrl, connectionTimeoutMillis: 5_000 });
  watcher.on("error", () => undefined);
  await watcher.connect();
  try {
    for (let k = 0; k < o.processorKills; k++) {
      const name = names[k % names.length]!;
      const ip = await t.ip(name);
      // Mid-batch: the processor has a transaction open on an INSERT into events (its rows written, not
      // yet committed in PostgreSQL, and the batch's offsets not committed in Kafka).
      const deadline = Date.now() + 30_000;
      let seen = false;
      while (!seen && Date.now() < deadline) {
        const r = await watcher.query(
          "SELECT 1 FROM pg_stat_activity WHERE client_addr = $1::inet AND xact_start IS NOT NULL AND query LIKE 'INSERT INTO events%' AND state IN ('active', 'idle in transaction')",
          [ip],
        );
        seen = (r.rowCount ?? 0) > 0;
        if (!seen) await sleep(5);
      }
      t.undo.set(name, () => stack.startContainer(name));
      await d.getContainer(stack.container(name).id).kill({ signal: "SIGKILL" });
      if (seen) midBatch += 1;
      log(`processor-kill: ${name} SIGKILLed ${seen ? "with a batch's transaction open" : "(no open transaction seen in 30 s)"}`);
      await sleep(5_000);
      await t.undo.run(name);
      const t0 = Date.now();
      undoneAt = t0;
      await t.waitProcessorReady(name);
      notes.push(
        `${name} SIGKILLed ${seen ? "mid-batch (INSERT transaction open)" : "(mid-batch not observed)"}, ready ${secs(Date.now() - t0)} s after its start`,
      );
      await sleep(5_000);
    }
  } finally {
    await watcher.end().catch(() => undefined);
  }
  notes.unshift(`${o.processorKills} SIGKILLs, ${midBatch} of them with a batch's transaction open`);
  return { undoneAt, notes };
}

async function redelivery(t: Torture): Promise<PhaseOutcome> {
  const { o, d, stack } = t;
  const names = t.processors();
  const { topic, consumerGroup } = stack.endpoints;
  const notes: string[] = [];

  // 1. A rebalance under load: one member frozen past its session timeout (15 s); its partitions move
  // to the others from their last committed offsets, and whatever it had written but not committed is
  // delivered again. Thawed, the zombie finishes its batch with a stale generation.
  const frozen = names[names.length - 1]!;
  const container = d.getContainer(stack.container(frozen).id);
  // docker pause (the cgroup freezer) can fail on a loaded machine ("unable to freeze"): tried three
  // times, then SIGSTOP to the whole container, which freezes it as surely.
  let how = "docker pause";
  t.undo.set(`thaw ${frozen}`, async () => {
    if (how === "docker pause") {
      await container.unpause().catch((err: { statusCode?: number; message?: string }) => {
        if (!/not paused/.test(err.message ?? "") && err.statusCode !== 409 && err.statusCode !== 304) throw err;
      });
    } else await container.kill({ signal: "SIGCONT" });
  });
  for (let attempt = 1; ; attempt++) {
    try {
      await container.pause();
      break;
    } catch (err) {
      log(
        `redelivery: docker pause of ${frozen} failed (${(err as Error).message.trim()})${attempt < 3 ? ", trying again" : ", sending SIGSTOP instead"}`,
      );
      if (attempt < 3) {
        await sleep(1_000);
        continue;
      }
      how = "SIGSTOP";
      await container.kill({ signal: "SIGSTOP" });
      break;
    }
  }
  log(`redelivery: ${frozen} frozen (${how}) for ${o.pauseSeconds} s`);
  await sleep(o.pauseSeconds * 1000);
  await t.undo.run(`thaw ${frozen}`);
  await t.waitProcessorReady(frozen);
  notes.push(`${frozen} frozen (${how}) ${o.pauseSeconds} s (past its 15 s session: the group rebalanced), thawed, rejoined`);

  // 2. A redelivery that is certain: every processor stopped (the group empty), its committed offsets
  // moved back `rewind` messages per partition, the processors started again: they read those messages
  // a second time, and the table must not change.
  for (const n of names) t.undo.set(`start ${n}`, () => stack.startContainer(n));
  await Promise.all(names.map((n) => stack.stopContainer(n)));
  const admin = t.kafka("torture-admin").admin();
  await admin.connect();
  let rewound = 0;
  let targets: Map<number, bigint>;
  let rewoundTo: Map<number, bigint>;
  try {
    await waitUntil(
      async () => (await admin.describeGroups([consumerGroup])).groups[0]?.state === "Empty",
      60_000,
      `consumer group ${consumerGroup} empty`,
      500,
    );
    const committed = (await admin.fetchOffsets({ groupId: consumerGroup, topics: [topic] }))[0]?.partitions ?? [];
    const partitions = committed
      .filter((p) => Number(p.offset) > 0)
      .map((p) => ({ partition: p.partition, offset: String(Math.max(0, Number(p.offset) - o.rewind)) }));
    rewound = committed.reduce((sum, p) => sum + Math.min(Math.max(0, Number(p.offset)), o.rewind), 0);
    await admin.setOffsets({ groupId: consumerGroup, topic, partitions });
    targets = new Map(committed.map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset)))]));
    rewoundTo = new Map(committed.map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset) - o.rewind))]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  log(`redelivery: processors stopped, group offsets rewound by ${rewound} messages, processors starting`);
  // PostgreSQL's clock, which stamps stored_at: rows stored from here on are the restarted processors'
  const restartedAt = await t.withPg(async (c) => (await c.query<{ now: string }>("SELECT now()::text AS now")).rows[0]!.now);
  for (const n of names) await t.undo.run(`start ${n}`);
  const undoneAt = Date.now();
  await Promise.all(names.map((n) => t.waitProcessorReady(n)));
  notes.push(`every processor stopped, the group's offsets rewound ${o.rewind} per partition (${rewound} messages), processors started`);

  return {
    notes,
    undoneAt,
    // Once the group committed past where it was before the rewind, every rewound message was read
    // again and stored (a processor commits only after PostgreSQL did). The group's offsets (Kafka's
    // word) say how many messages were read since the rewind, the table how many rows they added; the
    // difference was delivered again and deduplicated. Offsets are read before the rows, so a batch
    // stored but not yet committed makes the difference smaller, never larger: a lower bound.
    afterCatchUp: async () => {
      const admin2 = t.kafka("torture-admin").admin();
      await admin2.connect();
      let consumed = 0n;
      try {
        await waitUntil(
          async () => {
            const now = (await admin2.fetchOffsets({ groupId: consumerGroup, topics: [topic] }))[0]?.partitions ?? [];
            return now.every((p) => BigInt(Math.max(0, Number(p.offset))) >= (targets.get(p.partition) ?? 0n));
          },
          t.o.catchupTimeoutSeconds * 1000,
          "the group's offsets past where they were before the rewind",
          1_000,
        );
        const now = (await admin2.fetchOffsets({ groupId: consumerGroup, topics: [topic] }))[0]?.partitions ?? [];
        for (const p of now) consumed += BigInt(Math.max(0, Number(p.offset))) - (rewoundTo.get(p.partition) ?? 0n);
      } finally {
        await admin2.disconnect().catch(() => undefined);
      }
      const added = await t.withPg(async (c) =>
        Number(
          (await c.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE stored_at >= $1::timestamptz", [restartedAt])).rows[0]!.n,
        ),
      );
      return [
        `since the rewind the group committed ${consumed} messages and the table gained ${added} rows: at least ${Number(consumed) - added} messages delivered again and deduplicated (rewound: ${rewound})`,
      ];
    },
  };
}

const FAULTS: Record<PhaseName, (t: Torture) => Promise<PhaseOutcome>> = {
  "broker-restarts": brokerRestarts,
  partition,
  "postgres-restart": postgresRestart,
  "processor-kill": processorKill,
  redelivery,
};

/** Closes the load's current phase, waits for its requests and for the processors, and judges it. */
async function checkPhase(t: Torture, name: string, outcome: PhaseOutcome, startedAt: number): Promise<PhaseRow> {
  const phase = t.load.currentPhase;
  t.load.nextPhase();
  await waitUntil(async () => t.load.inFlightOf(phase) === 0, 120_000, `the requests of phase ${name} to end`, 250);
  const storedAt = await t.waitStored(phase, t.o.catchupTimeoutSeconds * 1000);
  const notes = [...outcome.notes];
  if (outcome.afterCatchUp) notes.push(...(await outcome.afterCatchUp()));
  await t.readTopic();
  const integrity = judge(t.load.ledger, new Set([phase]), await t.rows(new Set([phase])), t.kafkaCopies);
  const stallSeconds = await t.longestStall(startedAt, storedAt ?? Date.now());
  const row: PhaseRow = {
    name,
    counts: t.load.counts[phase]!,
    integrity,
    catchUpSeconds: storedAt === null ? null : secs(Math.max(0, storedAt - outcome.undoneAt)),
    stallSeconds,
    notes,
  };
  log(
    `${name}: ${JSON.stringify({ ...row.counts, ...row.integrity, examples: undefined, catchUpSeconds: row.catchUpSeconds, stallSeconds })}`,
  );
  return row;
}

function render(rows: PhaseRow[], total: PhaseRow | undefined): string {
  const head = [
    "phase",
    "acked",
    "202",
    "5xx",
    "other",
    "stored",
    "lost",
    "dup",
    "altered",
    "not-in-kafka",
    "kafka-dup",
    "unacked-stored",
    "catch-up s",
    "stall s",
  ];
  const line = (r: PhaseRow) =>
    [
      r.name,
      r.integrity.acknowledged,
      r.counts.s202,
      r.counts.s5xx,
      r.counts.other,
      r.integrity.stored,
      r.integrity.lost,
      r.integrity.duplicated,
      r.integrity.altered,
      r.integrity.ackedNotInKafka,
      r.integrity.kafkaCopiesOverOne,
      r.integrity.unackedStored,
      r.catchUpSeconds === null ? "never" : r.catchUpSeconds,
      r.stallSeconds ?? "—",
    ].map(String);
  const all = [head, ...rows.map(line), ...(total ? [line(total)] : [])];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")}`;
  const out = ["platform torture: every 202-acknowledged event stored exactly once with the content sent", fmt(head)];
  for (const r of rows) out.push(fmt(line(r)));
  if (total) out.push(fmt(line(total)));
  out.push(
    "",
    "  202/5xx/other: requests, retries included (other: 4xx, no answer in 15 s, refused); acked/stored/lost/dup/altered: events",
  );
  out.push(
    "  catch-up s: from the fault's undo to every event acknowledged so far stored; stall s: the longest time in the phase in which no row at all was stored",
  );
  out.push(
    "  not-in-kafka: acknowledged but in neither the topic nor the table; kafka-dup: acknowledged events with more than one copy in the topic (each must still be one row)",
  );
  for (const r of [...rows, ...(total ? [total] : [])]) {
    for (const n of r.notes) out.push(`  ${r.name}: ${n}`);
    const ex = r.integrity.examples;
    for (const [what, ids] of Object.entries(ex)) if (ids.length > 0) out.push(`  ${r.name}: ${what}, e.g. ${ids.join(", ")}`);
    if (r.counts.throttled > 0) out.push(`  ${r.name}: ${r.counts.throttled} sends skipped (128 requests already in flight)`);
  }
  return out.join("\n") + "\n";
}

async function run(o: TortureOptions): Promise<number> {
  const runId = `tt-${Date.now().toString(36)}`;
  const stackId = o.stackId ?? `torture-${randomBytes(3).toString("hex")}`;
  let stack: Stack | undefined;
  let load: TortureLoad | undefined;
  let t: Torture | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      if (load) await load.stop().catch(() => undefined);
      if (t) {
        const failed = await t.undo.all();
        for (const f of failed) log(`UNDO FAILED ${f}`);
      }
      if (stack) {
        await stack.stop().catch((err: Error) => log(`stack ${stackId} not removed: ${err.message}`));
        log(`stack ${stackId} removed`);
      }
    })());
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`${sig}: undoing the faults in force and removing the stack`);
      void cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
    });
  }

  const rows: PhaseRow[] = [];
  let total: PhaseRow | undefined;
  let failure: string | undefined;
  const t0 = Date.now();
  try {
    log(`starting stack ${stackId}: 3 brokers, PostgreSQL, ${o.processors} processor(s)`);
    stack = await startStack({ id: stackId, brokers: 3, processorReplicas: o.processors, onProgress: (m) => log(`  ${m}`) });
    const d = await dockerode();
    load = new TortureLoad({ ingestUrl: stack.endpoints.services["ingest-api"], runId, rate: o.rate, batch: o.batch });
    t = new Torture(stack, d, load, o, runId);
    load.start();
    log(`load: ${o.rate} events/s in batches of ${o.batch}`);

    const loadStart = Date.now();
    await sleep(o.baselineSeconds * 1000);
    rows.push(await checkPhase(t, "baseline", { undoneAt: Date.now(), notes: [`${o.baselineSeconds} s of load, no fault`] }, loadStart));
    for (const name of o.phases) {
      log(`phase ${name}`);
      const startedAt = Date.now();
      const outcome = await FAULTS[name](t);
      rows.push(await checkPhase(t, name, outcome, startedAt));
    }

    log("stopping the load; final check of every event");
    await load.stop();
    const last = load.currentPhase;
    const storedAt = await t.waitStored(last, o.catchupTimeoutSeconds * 1000);
    await t.readTopic();
    const everything = new Set(Array.from({ length: last + 1 }, (_, i) => i));
    const sum = load.counts.reduce((a, c) => ({
      requests: a.requests + c.requests,
      s202: a.s202 + c.s202,
      s5xx: a.s5xx + c.s5xx,
      other: a.other + c.other,
      throttled: a.throttled + c.throttled,
    }));
    total = {
      name: "TOTAL (rechecked)",
      counts: sum,
      integrity: judge(load.ledger, everything, await t.rows(everything), t.kafkaCopies),
      catchUpSeconds: storedAt === null ? null : 0,
      stallSeconds: null,
      notes: [`${secs(Date.now() - t0)} s in all, stack start included`],
    };
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  } finally {
    await cleanup();
  }
  process.stdout.write(render(rows, total));
  if (failure !== undefined) {
    process.stdout.write(`  the run stopped early: ${failure}\n`);
    if (o.json) process.stdout.write(`${JSON.stringify({ phases: rows, total, failure })}\n`);
    return 1;
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ phases: rows, total })}\n`);
  const bad = [...rows, ...(total ? [total] : [])].some((r) => broken(r.integrity) || r.catchUpSeconds === null);
  return bad ? 1 : 0;
}

function main(): void {
  requireNode24("torture:platform");
  silenceKafkajsTimeoutWarning();
  let o: TortureOptions | "help";
  try {
    o = parseTortureArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof TortureOptionError) {
      process.stderr.write(`torture:platform: ${err.message}\n`);
      exitAfterFlush(2);
      return;
    }
    throw err;
  }
  if (o === "help") {
    process.stdout.write(HELP);
    exitAfterFlush(0);
    return;
  }
  run(o).then(exitAfterFlush, (err: unknown) => {
    process.stderr.write(`torture:platform failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    exitAfterFlush(1);
  });
}

main();
