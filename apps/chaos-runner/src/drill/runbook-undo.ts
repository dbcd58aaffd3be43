/**
 * A runbook step's recorded undo as a fault journal entry, so `gm-chaos recover` (and nothing else: `halt`
 * leaves them) takes back what `gm-chaos runbook --execute` changed: the replicas, memory limit or pool
 * size a reversible step had before it acted, or the revision a rollback left (rolled forward again), set
 * back through the same platform driver. Idempotent: setting a value that is already set changes nothing.
 */
import type { PlatformPort } from "@gm/runbook/ports";
import { applyUndo, describeUndo, parseUndoAction, runsRevision, type UndoAction } from "@gm/runbook/steps";
import { CliError } from "../output.js";
import type { Fault } from "./faults.js";
import type { RunbookUndoSpec } from "./journal.js";

export function runbookUndoFault(spec: RunbookUndoSpec, undo: Record<string, unknown>, platform: PlatformPort, file: string): Fault {
  const u: UndoAction | undefined = parseUndoAction(undo);
  if (!u)
    throw new CliError(
      `${file}: the undo of runbook step ${spec.params.step} is not one this tool wrote (expected {action: scale|set-memory-limit|set-pool-size|rollback, service, …}, got ${JSON.stringify(undo)}); move the file away if nothing uses it`,
      2,
    );
  return {
    describe: () => `runbook step ${spec.params.step} (incident ${spec.params.incident}): ${describeUndo(u)}`,
    prepare: async () => ({ ...u }),
    apply: async () => undefined,
    recover: () => applyUndo(platform, u),
    async leftovers() {
      switch (u.action) {
        case "scale": {
          const n = await platform.replicas(u.service);
          return n === u.replicas ? [] : [`${u.service} has ${n} replica(s), not ${u.replicas}`];
        }
        case "set-pool-size": {
          const n = await platform.poolSize(u.service);
          return n === u.size ? [] : [`${u.service} pool size ${n}, not ${u.size}`];
        }
        case "set-memory-limit":
          return (await platform.listInstances(u.service))
            .filter((i) => i.memoryLimitBytes !== u.bytes)
            .map((i) => `${i.name} memory limit ${i.memoryLimitBytes}, not ${u.bytes}`);
        case "rollback": {
          const history = platform.rollouts ? await platform.rollouts(u.service) : [];
          return runsRevision(history, u.toRevision)
            ? []
            : [
                `${u.service} runs revision ${Math.max(0, ...history.map((r) => r.revision)) || "unknown"}, not revision ${u.toRevision}'s template`,
              ];
        }
      }
    },
  };
}
