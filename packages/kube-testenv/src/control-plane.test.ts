import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { binDir, kwokOomAnnotation, startControlPlane, toolPath } from "./control-plane.js";

describe("finding the binaries", () => {
  const saved = process.env["GM_K8S_BIN"];
  afterEach(() => {
    if (saved === undefined) delete process.env["GM_K8S_BIN"];
    else process.env["GM_K8S_BIN"] = saved;
  });

  it("uses the directory scripts/build.sh builds into, keyed by its versions", () => {
    delete process.env["GM_K8S_BIN"];
    const script = readFileSync(new URL("../scripts/build.sh", import.meta.url), "utf8");
    const k8s = /^K8S_VERSION=(\S+)/m.exec(script)?.[1];
    const kwok = /^KWOK_VERSION=(\S+)/m.exec(script)?.[1];
    expect(binDir()).toContain(`/gamemetrics/k8s/${k8s}-kwok-${kwok}-`);
    expect(binDir()).toMatch(/\/bin$/);
  });

  it("says how to build them when they are missing", async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "gm-kube-empty-"));
    try {
      process.env["GM_K8S_BIN"] = empty;
      expect(() => toolPath("kube-apiserver")).toThrow(
        /kube-apiserver not found in .*gm-kube-empty-.*npm run k8s:build.*bash scripts\/setup\.sh --k8s/,
      );
      await expect(startControlPlane()).rejects.toThrow(/npm run k8s:build.*bash scripts\/setup\.sh --k8s/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("names the OOM drill annotation that kwok/gm-oom.yaml selects on", () => {
    const stages = readFileSync(new URL("../kwok/gm-oom.yaml", import.meta.url), "utf8");
    expect(stages).toContain(`matchAnnotations:\n      ${kwokOomAnnotation}: "true"`);
  });
});
