import { defineConfig } from "vitest/config";
import { workspaceAlias } from "../../vitest.shared.ts";

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    include: ["src/**/*.test.ts"],
    setupFiles: ["../../vitest.fc-setup.ts"],
    env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
  },
});
