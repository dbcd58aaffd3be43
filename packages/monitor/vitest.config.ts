import { defineConfig } from "vitest/config";
import { workspaceAlias } from "../../vitest.shared.ts";

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    // Integration suites share one Docker engine (and real Kafka, PostgreSQL, Prometheus, Alertmanager
    // processes) on a 2-core machine: one file at a time.
    fileParallelism: false,
    include: ["src/**/*.test.ts"],
    setupFiles: ["../../vitest.fc-setup.ts"],
    env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
  },
});
