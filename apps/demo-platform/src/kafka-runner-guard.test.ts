/**
 * guardStoppedRunner (kafka-clients.ts) against kafkajs' own fetch manager: fetchers running for a
 * stopped runner (in the game day: the ones the fetch manager re-created after a rebalance error, once
 * the runner had stopped) must end instead of spinning on the event loop. The test starts the fetch
 * manager on an already stopped runner, which leaves its fetchers in that same state without timing a
 * rebalance. The fetch manager and the runner's `fetch` are kafkajs' real code; only the runner's state
 * (stopped) and the node ids are set up here. A spinning loop is stopped by the test itself after 1,000 fetches, so that a broken
 * guard fails the test instead of hanging it.
 */
import createFetchManager from "kafkajs/src/consumer/fetchManager.js";
import Runner from "kafkajs/src/consumer/runner.js";
import { describe, expect, it } from "vitest";
import { guardStoppedRunner, StoppedRunnerError } from "./kafka-clients.js";

const quiet = () => undefined;
const logger = { namespace: () => logger, debug: quiet, info: quiet, warn: quiet, error: quiet };

/** A stopped runner (what `consumer.disconnect()` leaves) whose fetch manager is still starting fetchers. */
function stoppedRunner(): Runner {
  const r = Object.create(Runner.prototype) as Runner & Record<string, unknown>;
  r.running = false;
  r.logger = logger;
  r.consumerGroup = { groupId: "g", memberId: "m" };
  return r;
}

async function fetchLoop(): Promise<{ calls: number; error: unknown }> {
  const runner = stoppedRunner();
  let calls = 0;
  const manager = createFetchManager({
    logger,
    getNodeIds: () => [1, 2],
    fetch: async (nodeId) => {
      calls += 1;
      if (calls > 1_000) throw new Error(`spinning: ${calls} fetches of a stopped runner`);
      return Runner.prototype.fetch.call(runner, nodeId);
    },
    handler: async () => undefined,
  });
  const error = await manager.start().then(
    () => null,
    (e: unknown) => e,
  );
  return { calls, error };
}

describe("guardStoppedRunner", () => {
  it("a stopped runner's fetchers end at their first fetch instead of looping", async () => {
    guardStoppedRunner();
    const { calls, error } = await fetchLoop();
    expect(error).toBeInstanceOf(StoppedRunnerError);
    expect(calls).toBeLessThanOrEqual(2); // one per fetcher (two node ids)
  });

  it("a running runner's fetch is kafkajs' own", async () => {
    guardStoppedRunner();
    const r = stoppedRunner() as Runner & Record<string, unknown>;
    r.running = true;
    r.instrumentationEmitter = { emit: () => undefined };
    r.consumerGroup = { groupId: "g", memberId: "m", fetch: async () => ["batch"] };
    await expect(r.fetch(1)).resolves.toEqual(["batch"]);
  });
});
