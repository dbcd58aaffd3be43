/** The Kubernetes driver's pure parts: quantities, the allowlist, a pod as the runbook sees it, the rollback template. */
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  checkAllowlist,
  defaultTargets,
  instanceFromPod,
  memoryUsageByPod,
  parseQuantity,
  restoredRevision,
  templateChanges,
  templateForRollback,
} from "./kubernetes.js";
import { PlatformError } from "./errors.js";

describe("parseQuantity", () => {
  it.each([
    ["512Mi", 512 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1G", 1e9],
    ["128974848", 128974848],
    ["129e6", 129e6],
    ["100k", 100_000],
  ])("%s is %d bytes", (q, bytes) => expect(parseQuantity(q)).toBe(bytes));

  it("is null when absent and refuses what is not a quantity, naming it", () => {
    expect(parseQuantity(undefined)).toBeNull();
    expect(() => parseQuantity("lots")).toThrow(/"lots" is not a Kubernetes quantity/);
  });
});

describe("checkAllowlist", () => {
  const t = defaultTargets();
  it("allows the runbook's namespaces in an allowed context", () => {
    expect(checkAllowlist("staging", t, { contexts: ["staging"], namespaces: ["kafka", "gamemetrics"] })).toEqual([]);
  });
  it("names the context and every namespace that is not allowed", () => {
    expect(checkAllowlist("prod", t, { contexts: ["staging"], namespaces: ["kafka"] })).toEqual([
      { field: "context", value: "prod", allowed: ["staging"] },
      ...["ingest-api", "event-processor-service", "stats-api", "postgres"].map((r) => ({
        field: `targets.${r}.namespace`,
        value: "gamemetrics",
        allowed: ["kafka"],
      })),
    ]);
  });
  it("follows moved namespaces", () => {
    const moved = defaultTargets({ kafka: "drill-kafka", platform: "drill" });
    expect(moved["kafka"]?.namespace).toBe("drill-kafka");
    expect(moved["stats-api"]).toEqual({
      namespace: "drill",
      selector: "app=stats-api",
      workload: { kind: "Deployment", name: "stats-api" },
      container: "stats-api",
    });
    expect(checkAllowlist("c", moved, { contexts: ["c"], namespaces: ["kafka", "gamemetrics"] })).toHaveLength(5);
  });
});

describe("instanceFromPod", () => {
  const now = Date.parse("2026-11-27T12:00:00Z");
  const pod = (status: V1Pod["status"], limit = "256Mi"): V1Pod => ({
    metadata: { name: "event-processor-service-abc" },
    spec: { containers: [{ name: "event-processor-service", image: "x", resources: { limits: { memory: limit } } }] },
    status,
  });
  it("a running pod: running, its limit, no OOM", () => {
    const i = instanceFromPod(
      pod({
        phase: "Running",
        startTime: new Date("2026-11-27T11:00:00Z"),
        containerStatuses: [
          {
            name: "event-processor-service",
            image: "x",
            imageID: "",
            ready: true,
            restartCount: 0,
            state: { running: { startedAt: new Date("2026-11-27T11:00:01Z") } },
          },
        ],
      }),
      "event-processor-service",
      "event-processor-service",
      now,
      300,
    );
    expect(i).toEqual({
      name: "event-processor-service-abc",
      service: "event-processor-service",
      running: true,
      restarts: 0,
      exitCode: null,
      oomKilled: false,
      memoryLimitBytes: 256 * 2 ** 20,
      memoryUsageBytes: null,
      startedAt: "2026-11-27T11:00:01.000Z",
    });
  });
  const oomLast = (finishedAt: string, state: object) => ({
    phase: "Running",
    containerStatuses: [
      {
        name: "event-processor-service",
        image: "x",
        imageID: "",
        ready: false,
        restartCount: 3,
        state,
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: new Date(finishedAt) } },
      },
    ],
  });
  it("OOMKilled in the last state counts while the container waits in CrashLoopBackOff", () => {
    const i = instanceFromPod(
      pod(oomLast("2026-11-27T10:00:00Z", { waiting: { reason: "CrashLoopBackOff" } })),
      "event-processor-service",
      "event-processor-service",
      now,
      300,
    );
    expect(i).toMatchObject({ running: false, oomKilled: true, exitCode: 137, restarts: 3 });
  });
  it("OOMKilled counts for the window after it while running again, and is history after that", () => {
    const recent = instanceFromPod(
      pod(oomLast("2026-11-27T11:58:00Z", { running: { startedAt: new Date("2026-11-27T11:58:01Z") } })),
      "event-processor-service",
      "event-processor-service",
      now,
      300,
    );
    expect(recent).toMatchObject({ running: true, oomKilled: true });
    const old = instanceFromPod(
      pod(oomLast("2026-11-27T11:50:00Z", { running: { startedAt: new Date("2026-11-27T11:50:01Z") } })),
      "event-processor-service",
      "event-processor-service",
      now,
      300,
    );
    expect(old).toMatchObject({ running: true, oomKilled: false });
  });
  it("exit 137 without OOMKilled is a kill, not an OOM", () => {
    const i = instanceFromPod(
      pod({
        phase: "Running",
        containerStatuses: [
          {
            name: "event-processor-service",
            image: "x",
            imageID: "",
            ready: false,
            restartCount: 1,
            state: { waiting: {} },
            lastState: { terminated: { exitCode: 137, reason: "Error" } },
          },
        ],
      }),
      "event-processor-service",
      "event-processor-service",
      now,
      300,
    );
    expect(i).toMatchObject({ running: false, oomKilled: false, exitCode: 137 });
  });
  it("a pod being deleted is not running", () => {
    const p = pod({
      phase: "Running",
      containerStatuses: [
        { name: "event-processor-service", image: "x", imageID: "", ready: true, restartCount: 0, state: { running: {} } },
      ],
    });
    p.metadata!.deletionTimestamp = new Date(now);
    expect(instanceFromPod(p, "event-processor-service", "event-processor-service", now, 300).running).toBe(false);
  });
  it("carries the memory in use of a running pod, none for a stopped one", () => {
    const running = { name: "event-processor-service", image: "x", imageID: "", ready: true, restartCount: 0, state: { running: {} } };
    const p = pod({ phase: "Running", containerStatuses: [running] });
    expect(instanceFromPod(p, "event-processor-service", "event-processor-service", now, 300, 123_456)).toMatchObject({
      memoryUsageBytes: 123_456,
      memoryLimitBytes: 256 * 2 ** 20,
    });
    expect(instanceFromPod(p, "event-processor-service", "event-processor-service", now, 300).memoryUsageBytes).toBeNull();
    const stopped = pod({ phase: "Failed", containerStatuses: [{ ...running, state: { terminated: { exitCode: 1 } } }] });
    expect(instanceFromPod(stopped, "event-processor-service", "event-processor-service", now, 300, 123_456).memoryUsageBytes).toBeNull();
  });
});

describe("memoryUsageByPod", () => {
  it("takes the named container's working set from a PodMetricsList (kubectl top pod --containers)", () => {
    const usage = memoryUsageByPod(
      [
        {
          metadata: { name: "stats-api-1" },
          containers: [
            { name: "sidecar", usage: { memory: "1Gi" } },
            { name: "stats-api", usage: { cpu: "3m", memory: "41200Ki" } },
          ],
        },
        { metadata: { name: "stats-api-2" }, containers: [{ name: "other", usage: { memory: "64Mi" } }] },
        {
          metadata: { name: "stats-api-3" },
          containers: [
            { name: "a", usage: { memory: "1Mi" } },
            { name: "b", usage: { memory: "2Mi" } },
          ],
        },
        { metadata: { name: "stats-api-4" }, containers: [{ name: "stats-api", usage: { cpu: "1m" } }] },
      ],
      "stats-api",
    );
    // a pod's only container counts even when named otherwise; with several, only the named one
    expect([...usage.entries()]).toEqual([
      ["stats-api-1", 41200 * 1024],
      ["stats-api-2", 64 * 2 ** 20],
    ]);
  });
});

describe("templateForRollback", () => {
  it("drops the ReplicaSet's pod-template-hash and keeps the rest", () => {
    expect(
      templateForRollback({
        metadata: { labels: { app: "stats-api", "pod-template-hash": "abc" }, annotations: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i:1" }] },
      }),
    ).toEqual({
      metadata: { labels: { app: "stats-api" }, annotations: { a: "b" } },
      spec: { containers: [{ name: "c", image: "i:1" }] },
    });
  });
});

it("PlatformError carries its code", () => {
  expect(new PlatformError("x", "forbidden", false).code).toBe("forbidden");
});

describe("what a ReplicaSet's revision changed", () => {
  const tpl = (image: string, env: { name: string; value?: string; valueFrom?: object }[]) => ({
    spec: { containers: [{ name: "stats-api", image, env }] },
  });
  it("names image and literal variable changes, a password masked, a Secret reference by its source", () => {
    const older = tpl("gm:1", [
      { name: "PG_POOL_MAX", value: "10" },
      { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "postgres", key: "DATABASE_URL" } } },
    ]);
    const newer = tpl("gm:2", [
      { name: "PG_POOL_MAX", value: "1" },
      { name: "DATABASE_URL", value: "postgres://gm:s3cret@postgres/gm" },
    ]);
    const lines = templateChanges(older, newer);
    expect(lines).toEqual(["image gm:1 → gm:2", "DATABASE_URL (from secretKeyRef) → postgres://gm:***@postgres/gm", "PG_POOL_MAX 10 → 1"]);
    expect(templateChanges(undefined, newer)).toEqual([]);
  });
  it("reads the revision a rollback restored from revision-history", () => {
    expect(restoredRevision({ "deployment.kubernetes.io/revision-history": "1,3" })).toBe(3);
    expect(restoredRevision({})).toBeNull();
    expect(restoredRevision(undefined)).toBeNull();
  });
});
