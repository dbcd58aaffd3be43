import { defineConfig } from "vitest/config";
import { workspaceAlias } from "../../vitest.shared.ts";

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    // A control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) per file on a
    // 2-core machine: one file at a time.
    fileParallelism: false,
    include: ["src/**/*.test.ts"],
  },
});
