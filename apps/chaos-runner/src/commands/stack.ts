/** `gm-chaos stack up|status|down|compose`: the drill stack from the shell. */
import { writeFileSync } from "node:fs";
import { readConfigFile } from "@gm/monitor/config-file";
import type { Argv } from "yargs";
import { renderCompose } from "@gm/stack/compose";
import { checkStackId, forgetStack, loadStacks, printable, saveStack, type StackRecord } from "../state.js";
import { CliError, fail, type Out } from "../output.js";

/** Writes a file named by an option; a failure (EACCES, ENOENT, EISDIR …) is a message naming both, exit 2. */
function writeFile(path: string, option: string, text: string, mode?: number): void {
  try {
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
  } catch (err) {
    fail(`${option} ${path}: cannot write: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
}

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
    .demandCommand(1, "name a stack command: up, status, down or compose");
}
