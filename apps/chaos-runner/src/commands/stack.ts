/**
 * `gm-chaos stack up|status|down|compose|deploy|rollback|revisions`: the drill stack from the shell.
 * `deploy` makes a new revision of a service (changed variables or image), `rollback` restores the one
 * before, `revisions` lists them — the stack's equivalent of `kubectl set env` / `rollout undo` / `rollout
 * history`, recorded on the containers (packages/platform/src/docker-revisions.ts).
 */
import { writeFileSync } from "node:fs";
import { readConfigFile } from "@gm/monitor/config-file";
import type { Argv } from "yargs";
import { renderCompose } from "@gm/stack/compose";
import { checkStackId, forgetStack, loadStacks, printable, saveStack, type StackRecord } from "../state.js";
import { CliError, fail, type Out } from "../output.js";
import { maskEnvValue } from "@gm/runbook/deployments";
import type { Rollout } from "@gm/runbook/ports";
import { redactText } from "@gm/runbook/redact";

/** Writes a file named by an option; a failure (EACCES, ENOENT, EISDIR …) is a message naming both, exit 2. */
function writeFile(path: string, option: string, text: string, mode?: number): void {
  try {
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
  } catch (err) {
    fail(`${option} ${path}: cannot write: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
}

/** The services a revision can be made of. */
export const DEPLOYABLE = ["ingest-api", "event-processor-service", "stats-api"] as const;
export type Deployable = (typeof DEPLOYABLE)[number];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `--env K=V` values as a map; a malformed one is a message naming it (its value masked: a K=V may
 * hold a password), exit 2. `K=` sets an empty value.
 */
export function parseEnvAssignments(list: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !ENV_NAME.test(name))
      throw new CliError(
        `--env: expected NAME=VALUE with NAME a variable name ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(redactText(eq < 0 ? item : `${name}=${maskEnvValue(name, item.slice(eq + 1))}`))}`,
        2,
      );
    if (name in env) throw new CliError(`--env: ${name} is given twice`, 2);
    env[name] = item.slice(eq + 1);
  }
  return env;
}

/** The service argument, checked: one of the stack's services, else exit 2 naming it. */
export function checkDeployable(service: string): Deployable {
  if (!(DEPLOYABLE as readonly string[]).includes(service))
    throw new CliError(`<service>: expected one of ${DEPLOYABLE.join(", ")}, got ${JSON.stringify(service)}`, 2);
  return service as Deployable;
}

/** The stack named by --stack-id (default: the most recent recorded), else exit 2 naming it. */
function recordedStack(id: string | undefined): StackRecord {
  if (id !== undefined) checkStackId(id, "--stack-id");
  const records = loadStacks();
  const rec = id ? records.find((r) => r.stackId === id) : records[0];
  if (!rec)
    fail(
      id
        ? `--stack-id: no recorded stack "${id}" (gm-chaos stack status lists them)`
        : "no stack recorded; start one with gm-chaos stack up",
      2,
    );
  return rec;
}

/** A platform error that is the user's (an image not present, no previous revision): exit 2 with its message. */
async function userErrors<T>(f: () => Promise<T>): Promise<T> {
  const { PlatformError } = await import("@gm/platform/errors");
  try {
    return await f();
  } catch (err) {
    if (err instanceof PlatformError && err.code === "not-found") fail(err.message, 2);
    throw err;
  }
}

const revisionText = (r: Rollout): string =>
  `revision ${r.revision}${r.current ? " (current)" : ""}  ${r.createdAt}  ${r.changeCause ?? ""}${r.changes && r.changes.length > 0 ? `: ${r.changes.join("; ")}` : ""}`;

export function stackCommand(y: Argv, out: Out): Argv {
  return y
    .command(
      "up",
      "Start the stack (Kafka KRaft, PostgreSQL, the demo services), print its endpoints and leave it running",
      (a) =>
        a
          .option("brokers", {
            type: "number",
            choices: [1, 3],
            default: 1,
            describe: "Kafka brokers (drills use 3: replication factor 3, min.insync.replicas 2)",
          })
          .option("processors", { type: "number", default: 1, describe: "event-processor-service replicas" })
          .option("kafka-version", { type: "string", default: "3.9.1", describe: "Apache Kafka version (kafkajs is untested against 4.x)" })
          .option("kafka-image", {
            type: "string",
            describe: "Kafka image (default: the local build if present, else apache/kafka:VERSION)",
          })
          .option("postgres-image", {
            type: "string",
            describe: "PostgreSQL image (default: the local build if present, else postgres:15)",
          })
          .option("platform-image", { type: "string", describe: "demo-platform image (default: built from apps/demo-platform/Dockerfile)" })
          .option("id", { type: "string", describe: "stack id (default: random)" })
          .option("prober-config", { type: "string", describe: "write a gm-prober configuration for this stack to FILE" })
          .option("json", {
            type: "boolean",
            default: false,
            describe: "print the endpoints as JSON (passwords and the admin token as ***: the record file holds them)",
          })
          .check((a) => {
            if (a.id !== undefined) checkStackId(a.id);
            if (!Number.isInteger(a.processors) || a.processors < 1 || a.processors > 8)
              throw new CliError(
                `--processors: expected a whole number from 1 to 8, got ${Number.isNaN(a.processors) ? "something that is not a number" : a.processors}`,
                2,
              );
            return true;
          }),
      async (argv) => {
        const { startStack } = await import("@gm/stack/stack");
        const stack = await startStack({
          brokers: argv.brokers as 1 | 3,
          processorReplicas: argv.processors,
          kafkaVersion: argv["kafka-version"],
          ...(argv.id ? { id: argv.id } : {}),
          images: {
            ...(argv["kafka-image"] ? { kafka: argv["kafka-image"] } : {}),
            ...(argv["postgres-image"] ? { postgres: argv["postgres-image"] } : {}),
            ...(argv["platform-image"] ? { platform: argv["platform-image"] } : {}),
          },
          onProgress: (m) => out.progress(m),
        });
        const rec: StackRecord = {
          stackId: stack.options.id,
          startedAt: new Date().toISOString(),
          brokers: stack.options.brokers,
          processorReplicas: stack.options.processorReplicas,
          images: stack.options.images,
          endpoints: stack.endpoints,
        };
        const file = saveStack(rec);
        if (argv["prober-config"]) {
          const { proberConfigFor } = await import("../prober-config.js");
          writeFile(argv["prober-config"], "--prober-config", proberConfigFor(stack.endpoints), 0o600);
          out.progress(`prober configuration written to ${argv["prober-config"]}`);
        }
        // what is printed ends up in terminals, CI logs and tickets: the secrets stay in the owner-only record
        if (argv.json) out.json(printable(stack.endpoints, [stack.endpoints]));
        else {
          const e = printable(stack.endpoints, [stack.endpoints]);
          out.line(`stack ${e.stackId} is up (record: ${file}); stop it with: gm-chaos stack down --id ${e.stackId}`);
          out.line(`  kafka bootstrap   ${e.kafkaBootstrapServers.join(",")}`);
          out.line(`  postgres          ${e.postgresUrl}`);
          out.line(`  ingest-api        ${e.services["ingest-api"]}`);
          out.line(`  stats-api         ${e.services["stats-api"]}`);
          for (const [i, u] of e.services["event-processor-service"].entries()) out.line(`  event-processor-${i + 1} ${u}`);
        }
      },
    )
    .command(
      "status",
      "Show the stacks left running and the state of their containers (found by label)",
      (a) =>
        a
          .option("id", { type: "string", describe: "only this stack" })
          .option("json", { type: "boolean", default: false, describe: "as JSON (passwords and the admin token as ***)" })
          .check((x) => (x.id === undefined ? true : Boolean(checkStackId(x.id)))),
      async (argv) => {
        const { listStackContainers } = await import("@gm/stack/docker");
        const containers = await listStackContainers(argv.id);
        const records = loadStacks().filter((r) => !argv.id || r.stackId === argv.id);
        const ids = [...new Set([...records.map((r) => r.stackId), ...containers.map((c) => c.stack)])];
        const stacks = ids.map((id) => ({
          stackId: id,
          record: records.find((r) => r.stackId === id) ?? null,
          containers: containers
            .filter((c) => c.stack === id)
            .map(({ name, role, instance, state, status }) => ({ name, role, instance, state, status })),
        }));
        if (argv.json)
          out.json(
            printable(
              { stacks },
              records.map((r) => r.endpoints),
            ),
          );
        else if (stacks.length === 0) out.line("no stacks");
        else
          for (const s of stacks) {
            const running = s.containers.filter((c) => c.state === "running").length;
            out.line(
              `stack ${s.stackId}: ${running}/${s.containers.length} containers running${s.record ? `, started ${s.record.startedAt}` : " (no record: left behind by a crashed run)"}`,
            );
            for (const c of s.containers) out.line(`  ${c.instance.padEnd(28)} ${c.state.padEnd(8)} ${c.status}`);
          }
      },
    )
    .command(
      "down",
      "Remove a stack's containers and network (by label)",
      (a) =>
        a
          .option("id", { type: "string", describe: "stack id (default: the most recent one)" })
          .option("all", { type: "boolean", default: false, describe: "every stack this tool labelled, also those left behind" })
          .check((x) => (x.id === undefined ? true : Boolean(checkStackId(x.id)))),
      async (argv) => {
        const { listStackContainers, removeStack } = await import("@gm/stack/docker");
        let ids: string[];
        if (argv.all) ids = [...new Set([...loadStacks().map((r) => r.stackId), ...(await listStackContainers()).map((c) => c.stack)])];
        else if (argv.id) ids = [argv.id];
        else {
          const latest = loadStacks()[0];
          if (!latest) return fail("no stack is recorded; pass --id ID or --all", 2);
          ids = [latest.stackId];
        }
        for (const id of ids) {
          const removed = await removeStack(id);
          forgetStack(id);
          out.line(`stack ${id}: removed ${removed.containers} container(s), ${removed.networks} network(s)`);
        }
      },
    )
    .command(
      "compose",
      "Print docker-compose.yml generated from the stack definition (--write FILE, --check FILE)",
      (a) =>
        a
          .option("write", { type: "string", describe: "write it to FILE" })
          .option("check", { type: "string", describe: "exit 1 when FILE differs from the definition" }),
      (argv) => {
        const text = renderCompose();
        if (argv.check) {
          let current: string;
          try {
            current = readConfigFile(argv.check, "--check");
          } catch (err) {
            return fail((err as Error).message, 2);
          }
          if (current !== text) return fail(`${argv.check} has drifted from the stack definition; run \`npm run compose:generate\``, 1);
          out.line(`${argv.check} matches the stack definition`);
        } else if (argv.write) {
          writeFile(argv.write, "--write", text);
          out.line(`wrote ${argv.write}`);
        } else out.raw(text);
      },
    )
    .command(
      "deploy <service>",
      "Roll out a new revision of a service: changed environment (--env K=V, repeatable) and/or image (--image I); recorded with its time and what changed",
      (a) =>
        a
          .positional("service", { type: "string", demandOption: true, describe: DEPLOYABLE.join(" | ") })
          .option("env", { type: "string", array: true, default: [] as string[], describe: "NAME=VALUE to set (repeatable)" })
          .option("image", { type: "string", describe: "an image present on the Docker engine (nothing is pulled)" })
          .option("stack-id", { type: "string", describe: "the stack (default: the most recent one started by gm-chaos stack up)" })
          .option("json", { type: "boolean", default: false, describe: "print the new revision as JSON" })
          .check((x) => {
            checkDeployable(String(x.service));
            parseEnvAssignments((x.env as string[]).map(String));
            if ((x.env as string[]).length === 0 && !x.image)
              throw new CliError("name a change: --env NAME=VALUE (repeatable) or --image IMAGE", 2);
            if (x.image !== undefined && !/\S/.test(x.image)) throw new CliError("--image: expected an image name, got an empty string", 2);
            if (x["stack-id"] !== undefined) checkStackId(x["stack-id"], "--stack-id");
            return true;
          }),
      async (argv) => {
        const service = checkDeployable(String(argv.service));
        const env = parseEnvAssignments(argv.env.map(String));
        const rec = recordedStack(argv["stack-id"]);
        const { createDockerPlatform } = await import("@gm/platform/docker");
        const platform = createDockerPlatform({ stackId: rec.stackId });
        out.progress(`${service}: rolling out a new revision to every instance (one at a time, each answering /health before the next)`);
        const r = await userErrors(() => platform.deploy(service, { env, ...(argv.image ? { image: argv.image } : {}) }));
        const shown = printable(r, [rec.endpoints]);
        if (argv.json) return out.json({ stackId: rec.stackId, service, revision: shown, changed: shown !== null });
        if (!shown) return out.line(`${service}: nothing changes (the running template already has it); no new revision`);
        out.line(`${service}: ${revisionText(shown)}`);
        out.line(`  undo: gm-chaos stack rollback ${service} --stack-id ${rec.stackId}`);
      },
    )
    .command(
      "rollback <service>",
      "Restore the revision before the current one (or --to-revision N), as a new revision: kubectl rollout undo",
      (a) =>
        a
          .positional("service", { type: "string", demandOption: true, describe: DEPLOYABLE.join(" | ") })
          .option("to-revision", { type: "number", describe: "the revision to restore (default: the one before the current)" })
          .option("stack-id", { type: "string", describe: "the stack (default: the most recent one started by gm-chaos stack up)" })
          .option("json", { type: "boolean", default: false, describe: "print the revisions (from, restored, now) and the undo as JSON" })
          .check((x) => {
            checkDeployable(String(x.service));
            const n = x["to-revision"];
            if (n !== undefined && (!Number.isInteger(n) || n < 1))
              throw new CliError(
                `--to-revision: expected a revision number (a whole number from 1), got ${Number.isNaN(n) ? "something that is not a number" : n}`,
                2,
              );
            if (x["stack-id"] !== undefined) checkStackId(x["stack-id"], "--stack-id");
            return true;
          }),
      async (argv) => {
        const service = checkDeployable(String(argv.service));
        const rec = recordedStack(argv["stack-id"]);
        const { createDockerPlatform } = await import("@gm/platform/docker");
        const platform = createDockerPlatform({ stackId: rec.stackId });
        const from = (await userErrors(() => platform.rollouts(service))).find((r) => r.current)?.revision;
        const to = await userErrors(() => platform.rollback(service, argv["to-revision"]));
        const now = (await platform.rollouts(service)).find((r) => r.current);
        const undo = `gm-chaos stack rollback ${service} --to-revision ${from ?? "N"} --stack-id ${rec.stackId}`;
        if (argv.json)
          return out.json({
            stackId: rec.stackId,
            service,
            from: from ?? null,
            restored: to,
            revision: now ? printable(now, [rec.endpoints]) : null,
            undo,
          });
        out.line(
          `${service}: rolled back from revision ${from ?? "?"} to revision ${to}'s template${now ? ` (now revision ${now.revision})` : ""}`,
        );
        out.line(`  undo (roll forward): ${undo}`);
      },
    )
    .command(
      "revisions <service>",
      "List a service's revisions, newest first, with their time and what changed (kubectl rollout history)",
      (a) =>
        a
          .positional("service", { type: "string", demandOption: true, describe: DEPLOYABLE.join(" | ") })
          .option("stack-id", { type: "string", describe: "the stack (default: the most recent one started by gm-chaos stack up)" })
          .option("json", { type: "boolean", default: false, describe: "as JSON" })
          .check((x) => {
            checkDeployable(String(x.service));
            if (x["stack-id"] !== undefined) checkStackId(x["stack-id"], "--stack-id");
            return true;
          }),
      async (argv) => {
        const service = checkDeployable(String(argv.service));
        const rec = recordedStack(argv["stack-id"]);
        const { createDockerPlatform } = await import("@gm/platform/docker");
        const list = printable(await userErrors(() => createDockerPlatform({ stackId: rec.stackId }).rollouts(service)), [rec.endpoints]);
        if (argv.json) return out.json({ stackId: rec.stackId, service, revisions: list });
        for (const r of list) out.line(`${service} ${revisionText(r)}`);
      },
    )
    .demandCommand(1, "name a stack command: up, status, down, compose, deploy, rollback or revisions");
}
