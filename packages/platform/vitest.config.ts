import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Integration suites share one Docker engine on a 2-core machine: one file at a time.
    fileParallelism: false,
    include: ["src/**/*.test.ts"],
    env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
  },
});
