import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packages = fileURLToPath(new URL("../../packages/", import.meta.url));

export default defineConfig({
  // Tests run sibling workspace packages from their sources, so no build is needed to test.
  resolve: { alias: [{ find: /^@gm\/(runbook|signals)\/(.+)$/, replacement: `${packages}$1/src/$2.ts` }] },
  test: {
    // Integration suites spawn real Prometheus processes on a 2-core machine: one file at a time.
    fileParallelism: false,
    include: ["src/**/*.test.ts"],
  },
});
