/**
 * deploy/prometheus agrees with what it scrapes, read from the files (the scrapes themselves:
 * prober-pod.int.test.ts on a real node): the prober's interval, the Alertmanager the prober alerts, the
 * namespaces it may read, and every annotated pod template of deploy/.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const DEPLOY = fileURLToPath(new URL("../../../deploy/", import.meta.url));

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const docs = (file: string) => parseAllDocuments(readFileSync(`${DEPLOY}${file}`, "utf8")).map((d) => d.toJSON() as Doc);

const prom = parse(readFileSync(`${DEPLOY}prometheus/prometheus.yml`, "utf8")) as {
  global: { scrape_interval: string; evaluation_interval: string };
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string; namespaces?: { names: string[] } }[] }[];
};
const prober = parse(readFileSync(`${DEPLOY}prober/prober.yaml`, "utf8")) as { intervalSeconds: number; alertmanager: { urls: string[] } };
const podJob = prom.scrape_configs.find((j) => j.job_name === "kubernetes-pods");
const sdNamespaces = podJob?.kubernetes_sd_configs?.[0]?.namespaces?.names ?? [];

describe("deploy/prometheus", () => {
  it("scrapes and evaluates at gm-prober's interval", () => {
    expect(prom.global.scrape_interval).toBe(`${prober.intervalSeconds}s`);
    expect(prom.global.evaluation_interval).toBe(`${prober.intervalSeconds}s`);
  });

  it("alerts through the Alertmanager the prober alerts", () => {
    const targets = prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets));
    expect(targets).toEqual(prober.alertmanager.urls.map((u) => new URL(u).host));
  });

  it("reads pods only where its RoleBindings allow, with get/list/watch and nothing else", () => {
    expect(podJob?.kubernetes_sd_configs?.map((c) => c.role)).toEqual(["pod"]);
    const rbac = docs("prometheus/rbac.yaml");
    const bound = rbac.filter((d) => d.kind === "RoleBinding").map((d) => d.metadata.namespace);
    expect([...bound].sort()).toEqual([...sdNamespaces].sort());
    expect(rbac.filter((d) => d.kind === "ClusterRoleBinding")).toEqual([]);
    const role = rbac.find((d) => d.kind === "ClusterRole") as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    expect(role.rules.flatMap((r) => r.resources).sort()).toEqual(["endpoints", "endpointslices", "pods", "services"]);
    for (const r of role.rules) expect(r.verbs).toEqual(["get", "list", "watch"]);
  });

  it("covers every pod template of deploy/ that asks to be scraped, on a port its container declares", () => {
    type Template = {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: { ports?: { containerPort: number }[] }[] };
    };
    const annotated = ["platform/services.yaml", "prober/deployment.yaml", "platform/kafka.yaml", "platform/postgres.yaml"]
      .flatMap(docs)
      .filter((d) => d.kind === "Deployment" || d.kind === "StatefulSet")
      .map((d) => ({ d, t: (d["spec"] as { template: Template }).template }))
      .filter(({ t }) => t.metadata.annotations?.["prometheus.io/scrape"] === "true");
    expect(annotated.map(({ d }) => d.metadata.name).sort()).toEqual(["event-processor-service", "gm-prober", "ingest-api", "stats-api"]);
    for (const { d, t } of annotated) {
      expect(sdNamespaces, `${d.metadata.name}'s namespace`).toContain(d.metadata.namespace);
      const ports = t.spec.containers.flatMap((c) => c.ports ?? []).map((p) => String(p.containerPort));
      expect(ports, `${d.metadata.name}: prometheus.io/port`).toContain(t.metadata.annotations?.["prometheus.io/port"]);
    }
  });
});
