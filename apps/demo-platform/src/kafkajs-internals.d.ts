// kafkajs 2.2.4 ships no types for its internal modules; these are the two the processor's guard uses
// (kafka-clients.ts: guardStoppedRunner).
declare module "kafkajs/src/consumer/runner.js" {
  export default class Runner {
    running: boolean;
    fetch(nodeId: number): Promise<unknown[]>;
  }
}
declare module "kafkajs/src/consumer/fetchManager.js" {
  const createFetchManager: (opts: {
    logger: { namespace(name: string): unknown } & Record<string, unknown>;
    getNodeIds: () => number[];
    fetch: (nodeId: number) => Promise<unknown[]>;
    handler: (batch: unknown) => Promise<void>;
    concurrency?: number;
  }) => { start(): Promise<void>; stop(): Promise<void> };
  export default createFetchManager;
}
