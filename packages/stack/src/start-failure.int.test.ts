/**
 * A container that cannot start: the stack retries it once, saying so, then fails with the
 * container's own last lines (testcontainers removes the failed container, and its logs with it),
 * and leaves nothing behind.
 */
import { expect, it } from "vitest";
import { listStackContainers } from "./docker.js";
import { startStack } from "./stack.js";

it("a service that exits at start is retried once, then fails the stack with its last log lines; nothing is left", {
  timeout: 300_000,
}, async () => {
  const id = `t-sf-${Date.now().toString(36)}`;
  const progress: string[] = [];
  const err = await startStack({
    brokers: 1,
    id,
    serviceEnv: { "stats-api": { PG_POOL_MAX: "lots" } },
    onProgress: (l) => progress.push(l),
    startupTimeoutMs: 30_000,
  }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(Error);
  expect(err!.message).toMatch(new RegExp(`stack ${id} failed to start: stats-api: `));
  // the service's own message, naming the variable, from the log lines kept before the container was removed
  expect(err!.message).toMatch(/--- last lines of stats-api ---[\s\S]*PG_POOL_MAX/);
  expect(progress.filter((l) => l.startsWith("stats-api failed to start, retrying once"))).toHaveLength(1);
  expect(await listStackContainers(id)).toEqual([]);
});
