import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { DEPLOY } from "./k8s-fixtures.js";
import { fitCpuRequests } from "./node-cluster.js";

const platform = (): KubernetesObject[] =>
  readdirSync(path.join(DEPLOY, "platform"))
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(DEPLOY, "platform", f), "utf8")).map((d) => d.toJSON() as KubernetesObject))
    .filter((o) => o !== null);

type Containers = {
  spec: {
    template: {
      spec: { containers: { name: string; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[] };
    };
  };
};
const requests = (objs: KubernetesObject[]) =>
  objs
    .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
    .flatMap((o) =>
      (o as unknown as Containers).spec.template.spec.containers.map((c) => [`${o.metadata?.name}/${c.name}`, c.resources] as const),
    );

describe("fitCpuRequests", () => {
  it("schedules deploy/platform's CPU requests at a quarter and raises the HPA's CPU target by as much; memory and limits untouched", () => {
    const before = platform();
    const after = fitCpuRequests(before, 4);
    const b = new Map(requests(before));
    const a = new Map(requests(after));
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect(a.size).toBeGreaterThanOrEqual(5);
    for (const [name, r] of b) {
      expect(a.get(name)?.requests?.["memory"], name).toBe(r?.requests?.["memory"]);
      expect(a.get(name)?.limits, name).toEqual(r?.limits);
    }
    expect(a.get("kafka/kafka")?.requests?.["cpu"]).toBe(`${Math.round(Number.parseInt(b.get("kafka/kafka")!.requests!["cpu"]!) / 4)}m`);
    expect(a.get("stats-api/stats-api")?.requests?.["cpu"]).toBe("25m");
    const target = (objs: KubernetesObject[]) =>
      (
        objs.find((o) => o.kind === "HorizontalPodAutoscaler") as unknown as {
          spec: { metrics: { resource: { target: { averageUtilization: number } } }[] };
        }
      ).spec.metrics[0]!.resource.target.averageUtilization;
    expect(target(after)).toBe(target(before) * 4);
    // the input is not changed
    expect(b.get("stats-api/stats-api")?.requests?.["cpu"]).toBe("100m");
  });

  it("reads whole cores, handles CronJobs and Pods, and refuses a divisor below 1 or a request that is not a quantity", () => {
    const cron = {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "c" },
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: "x", resources: { requests: { cpu: "1" } } }] } } } } },
    } as KubernetesObject;
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "x", resources: { requests: { cpu: "0.5" } } }] },
    } as KubernetesObject;
    const [c, p] = fitCpuRequests([cron, pod], 4) as unknown as [
      { spec: { jobTemplate: { spec: { template: { spec: { containers: { resources: { requests: { cpu: string } } }[] } } } } } },
      { spec: { containers: { resources: { requests: { cpu: string } } }[] } },
    ];
    expect(c.spec.jobTemplate.spec.template.spec.containers[0]!.resources.requests.cpu).toBe("250m");
    expect(p.spec.containers[0]!.resources.requests.cpu).toBe("125m");
    expect(() => fitCpuRequests([cron], 0.5)).toThrow(/divisor must be a number >= 1, got 0.5/);
    const bad = { ...pod, spec: { containers: [{ name: "x", resources: { requests: { cpu: "lots" } } }] } } as KubernetesObject;
    expect(() => fitCpuRequests([bad], 4)).toThrow(/Pod\/p: cpu request "lots" is not a CPU quantity/);
  });
});
