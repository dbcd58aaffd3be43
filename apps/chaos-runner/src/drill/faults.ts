/**
 * Faults a drill injects, each with `apply` and `recover`, both safe to call twice; the undo is
 * recorded before anything changes; "not found" while recovering means already recovered. They act
 * through the platform's drivers (packages/platform: Docker, PostgreSQL), not the engine or SQL directly.
 */
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { createDockerPlatform, PlatformError } from "@gm/platform/docker";
import { createDatabasePort, type DatabaseDriver } from "@gm/platform/postgres";
import { type DeployMistake, isTableName, type FaultSpec } from "./scenario.js";

export interface FaultTarget {
  stackId: string;
  brokers: number;
  /** administrative PostgreSQL URL (the stack's superuser) */
  postgresUrl: string;
}

export interface Fault {
  describe(): string;
  /** computes the undo record (before anything changes) */
  prepare(): Promise<Record<string, unknown>>;
  apply(undo: Record<string, unknown>): Promise<void>;
  recover(undo: Record<string, unknown>): Promise<void>;
  /** what is still left of this fault (for the clean-up proof); empty when none */
  leftovers(undo: Record<string, unknown>): Promise<string[]>;
}

/** The role a drill's "leaking client" connects as: never a superuser, so the runbook may terminate it. */
export const FAULT_ROLE = "gm_chaos_fault";
export const FAULT_APPLICATION = "gm-chaos-fault";

/** An instance that no longer exists: nothing to act on (when applying) or already recovered (when recovering). */
async function unlessGone(action: Promise<void>): Promise<void> {
  try {
    await action;
  } catch (err) {
    if (!(err instanceof PlatformError && err.code === "not-found")) throw err;
  }
}

/** One administrative statement (or a few) on a short-lived session through the PostgreSQL driver. */
async function withAdmin<T>(url: string, fn: (db: DatabaseDriver) => Promise<T>): Promise<T> {
  const db = createDatabasePort({ url, applicationName: "gm-chaos" });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/**
 * A drill file's table name as SQL: checked again here (a spec may not come through parseScenario) and
 * every part quoted, never interpolated raw — the statements run as the superuser, and without bind
 * parameters node-postgres sends them in the simple protocol, where `;` starts another statement.
 * Folded to lower case first, as PostgreSQL folds an unquoted name, so `Events` still means `events`.
 */
export function quoteTableName(table: string): string {
  if (!isTableName(table))
    throw new Error(
      `fault.params.table: expected a table name ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified), got ${JSON.stringify(table)}`,
    );
  return table
    .toLowerCase()
    .split(".")
    .map((part) => pg.escapeIdentifier(part))
    .join(".");
}

/** Creates (or re-keys) the fault role; returns a URL that logs in as it. */
async function faultRoleUrl(adminUrl: string, grantUpdateOn?: string): Promise<string> {
  const password = randomBytes(12).toString("hex");
  // DDL takes no bind parameters: the role is quoted as an identifier and the password as a literal.
  const role = pg.escapeIdentifier(FAULT_ROLE);
  await withAdmin(adminUrl, async (db) => {
    const exists = (await db.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [FAULT_ROLE])).length > 0;
    await db.query(`${exists ? "ALTER" : "CREATE"} ROLE ${role} LOGIN NOSUPERUSER PASSWORD ${pg.escapeLiteral(password)}`);
    if (grantUpdateOn) await db.query(`GRANT UPDATE ON ${quoteTableName(grantUpdateOn)} TO ${role}`);
  });
  const u = new URL(adminUrl);
  u.username = FAULT_ROLE;
  u.password = password;
  return u.toString();
}

async function terminateFaultSessions(adminUrl: string): Promise<number> {
  return (await withAdmin(adminUrl, (db) => db.terminateRole(FAULT_ROLE))).length;
}

async function faultSessions(adminUrl: string): Promise<number> {
  return (await withAdmin(adminUrl, (db) => db.connections())).filter((c) => c.user === FAULT_ROLE).length;
}

/** A value's digest, so an undo record can say "this variable is back as it was" without holding a password. */
export const digest = (v: string | undefined): string | null => (v === undefined ? null : createHash("sha256").update(v).digest("hex"));

/**
 * The variable a bad deployment's mistake changes, and its bad value from the good one: a database URL
 * with another password (a rotated secret deployed half way), or a pool of one connection.
 */
export function deployMistake(mistake: DeployMistake, env: Readonly<Record<string, string>>): { name: string; value: string } {
  switch (mistake) {
    case "wrong-database-password": {
      const url = env["DATABASE_URL"];
      if (!url) throw new Error("bad-deployment: the service has no DATABASE_URL to get wrong");
      const u = new URL(url);
      u.password = `wrong-${randomBytes(6).toString("hex")}`;
      return { name: "DATABASE_URL", value: u.toString() };
    }
    case "pool-size-1":
      return { name: "PG_POOL_MAX", value: "1" };
  }
}

/**
 * The leaking client (`hold-connections`: idle connections until max_connections less the reserved is
 * reached) and the lock holder (`lock-table`), as the fault role on `postgresUrl` (the administrative
 * URL): for the stack, and for a namespace reached through its cluster DNS. `settle` waits for what
 * the platform was still doing (the stack's half-done rolling update) before the sessions are cut.
 */
export function createConnectionFault(spec: FaultSpec, postgresUrl: string, settle: () => Promise<void>): Fault {
  const held: pg.Client[] = [];
  const target = { postgresUrl };
  const lock = spec.type === "lock-table";
  const table = String(spec.params["table"] ?? "events");
  return {
    describe: () =>
      lock
        ? `a client holds an ACCESS EXCLUSIVE lock on ${table} in an idle transaction, so the services' queries queue and their pools run dry`
        : `a leaking client opens and holds connections until max_connections (less the reserved ones) is reached${spec.params["count"] ? ` (at most ${spec.params["count"]})` : ""}`,
    prepare: async () => ({ role: FAULT_ROLE }),
    async apply() {
      // A bad name is refused before anything changes (no role created, no connection held).
      const quoted = lock ? quoteTableName(table) : undefined;
      const url = await faultRoleUrl(target.postgresUrl, lock ? table : undefined);
      const max = lock ? 1 : Number(spec.params["count"] ?? 10_000);
      for (let i = 0; i < max; i++) {
        const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000, application_name: FAULT_APPLICATION });
        c.on("error", () => undefined); // terminated by the remediation: expected
        try {
          await c.connect();
        } catch {
          break; // the server refuses: every non-reserved slot is taken
        }
        held.push(c);
      }
      if (lock) {
        const c = held[0];
        if (!c) throw new Error("could not open the lock-holding connection");
        await c.query("BEGIN");
        await c.query(`LOCK TABLE ${quoted} IN ACCESS EXCLUSIVE MODE`);
      }
    },
    async recover() {
      await Promise.all(held.splice(0).map((c) => c.end().catch(() => undefined)));
      await settle();
      // Also what a killed runner left behind, by role.
      await terminateFaultSessions(target.postgresUrl);
    },
    async leftovers() {
      const n = await faultSessions(target.postgresUrl);
      return n > 0 ? [`${n} connection(s) of ${FAULT_ROLE} still open`] : [];
    },
  };
}

export function createFault(spec: FaultSpec, target: FaultTarget): Fault {
  const platform = createDockerPlatform({ stackId: target.stackId });
  switch (spec.type) {
    case "kill-broker": {
      const count = Number(spec.params["count"] ?? 1);
      return {
        describe: () => `SIGKILL ${count} of ${target.brokers} Kafka broker(s)${count > target.brokers / 2 ? " (a majority)" : ""}`,
        prepare: async () => ({ instances: Array.from({ length: count }, (_, i) => `kafka-${target.brokers - i}`) }),
        async apply(undo) {
          for (const inst of undo["instances"] as string[]) await unlessGone(platform.kill(inst, "SIGKILL"));
        },
        async recover(undo) {
          await platform.settle();
          for (const inst of undo["instances"] as string[]) await unlessGone(platform.start(inst));
        },
        async leftovers(undo) {
          const out: string[] = [];
          for (const inst of undo["instances"] as string[]) {
            const st = await platform.state(inst);
            if (st && !st.running) out.push(`${inst} is not running`);
          }
          return out;
        },
      };
    }
    case "hold-connections":
    case "lock-table":
      // a rolling update of the pool size (the runbook's step) that a killed runner left half done
      return createConnectionFault(spec, target.postgresUrl, async () => {
        await platform.settle();
      });
    case "pause-consumers":
      return {
        describe: () =>
          "every event-processor-service replica is paused (docker pause: frozen, holding its partitions until the session times out) while load goes on",
        async prepare() {
          const list = await platform.listInstances("event-processor-service");
          return { instances: list.map((i) => i.name), replicas: list.length };
        },
        async apply(undo) {
          for (const inst of undo["instances"] as string[]) await unlessGone(platform.pause(inst));
        },
        async recover(undo) {
          await platform.settle();
          for (const inst of undo["instances"] as string[]) await unlessGone(platform.unpause(inst));
          // Replicas the remediation added are removed: the stack returns to its own shape.
          await platform.scale("event-processor-service", undo["replicas"] as number);
        },
        async leftovers(undo) {
          const out: string[] = [];
          const list = await platform.listInstances("event-processor-service");
          for (const inst of undo["instances"] as string[]) if ((await platform.state(inst))?.paused) out.push(`${inst} is paused`);
          if (list.length !== undo["replicas"])
            out.push(`event-processor-service has ${list.length} replicas, not ${String(undo["replicas"])}`);
          return out;
        },
      };
    case "bad-deployment": {
      const service = String(spec.params["service"] ?? "stats-api") as "stats-api" | "event-processor-service";
      const mistake = String(spec.params["mistake"] ?? "wrong-database-password") as DeployMistake;
      const variable = mistake === "pool-size-1" ? "PG_POOL_MAX" : "DATABASE_URL";
      return {
        describe: () =>
          `a new revision of ${service} is deployed with ${mistake === "pool-size-1" ? "a pool of one connection (PG_POOL_MAX=1)" : "a wrong database password in DATABASE_URL"}; its undo is the rollback to the revision before`,
        async prepare() {
          const current = (await platform.rollouts(service)).find((r) => r.current);
          const env = await platform.serviceEnv(service);
          // the variable's digest, not its value: the journal holds no password
          return {
            service,
            revision: current?.revision ?? 1,
            replicas: (await platform.listInstances(service)).length,
            variable,
            digest: digest(env[variable]),
          };
        },
        async apply() {
          const bad = deployMistake(mistake, await platform.serviceEnv(service));
          await platform.deploy(service, { env: { [bad.name]: bad.value } }, `bad-deployment drill: ${mistake}`);
        },
        async recover(undo) {
          await platform.settle();
          // Replicas the remediation added go first, so the rollback rolls fewer instances.
          await platform.scale(service, Number(undo["replicas"] ?? 1));
          const before = Number(undo["revision"]);
          const current = (await platform.rollouts(service)).find((r) => r.current)?.revision;
          // the rollback to the revision before the fault; a no-op when the runbook's own rollback restored its
          // template. Not rolling: a drill's undo is bounded to seconds (an abort, a halt), and the drill has failed by then.
          if (current !== undefined && current !== before) await platform.rollback(service, before, { rolling: false });
        },
        async leftovers(undo) {
          const out: string[] = [];
          const env = await platform.serviceEnv(service);
          if (digest(env[String(undo["variable"])]) !== undo["digest"])
            out.push(`${service}'s ${String(undo["variable"])} is not what it was before the bad deployment`);
          const n = (await platform.listInstances(service)).length;
          if (n !== Number(undo["replicas"])) out.push(`${service} has ${n} replicas, not ${String(undo["replicas"])}`);
          return out;
        },
      };
    }
    case "memory-limit": {
      const service = String(spec.params["service"] ?? "stats-api") as "stats-api";
      const bytes = Number(spec.params["bytes"] ?? 32 * 1024 * 1024);
      return {
        describe: () =>
          `the memory limit of ${service} is lowered to ${Math.round(bytes / 1024 / 1024)} MiB, below what it uses: the kernel OOM-kills it`,
        async prepare() {
          const list = await platform.listInstances(service);
          return { service, replicas: list.length, limits: Object.fromEntries(list.map((i) => [i.name, i.memoryLimitBytes])) };
        },
        async apply() {
          await platform.setMemoryLimit(service, bytes);
        },
        async recover(undo) {
          const limits = Object.values(undo["limits"] as Record<string, number | null>);
          const original = Math.max(...limits.map((l) => l ?? 0));
          // Replicas the remediation added ("scale horizontally") go first: the stack returns to its shape
          // (scale settles first: an instance whose replacement a killed runner left half done is restored).
          await platform.scale(service, Number(undo["replicas"] ?? 1));
          if (original > 0) await platform.setMemoryLimit(service, original);
          for (const i of await platform.listInstances(service)) if (!i.running) await platform.restart(i.name);
        },
        async leftovers(undo) {
          const limits = undo["limits"] as Record<string, number | null>;
          const out: string[] = [];
          const now = await platform.listInstances(service);
          if (now.length !== Number(undo["replicas"] ?? now.length))
            out.push(`${service} has ${now.length} replicas, not ${String(undo["replicas"])}`);
          for (const i of now) {
            const want = limits[i.name] ?? null;
            if (want !== null && i.memoryLimitBytes !== null && i.memoryLimitBytes < want)
              out.push(`${i.name} limit ${i.memoryLimitBytes} < ${want}`);
            if (!i.running) out.push(`${i.name} is not running`);
          }
          return out;
        },
      };
    }
  }
}
