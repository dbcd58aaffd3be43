/**
 * gm-prober as a pod, paging through an Alertmanager in the cluster and scraped by a Prometheus in the
 * cluster (issue 12 §2), on a control plane with a real node (./node-cluster.ts): deploy/platform,
 * deploy/prober, deploy/alertmanager and deploy/prometheus applied through the overlay that only renames
 * images to the local builds (gamemetrics/gm-tools:0.1.0 as it is, quay.io/prometheus/alertmanager:v0.25.0
 * → gamemetrics/alertmanager:0.25.0-local, built from Debian's binary, quay.io/prometheus/prometheus:v2.42.0
 * → gamemetrics/prometheus:2.42.0-local, compiled from upstream's source: packages/stack/images/build.sh)
 * and forbids pulls.
 *
 * What it proves: the platform's PostgreSQL, as deployed, has the prober's read-only role; the prober in
 * its pod reaches the services, Kafka and PostgreSQL by their cluster DNS names (deploy/prober/prober.yaml)
 * and its ServiceAccount reads the pods, so its /metrics — read through its Service's ClusterIP from this
 * host — shows the platform healthy; a fault (stats-api scaled to zero) becomes an alert in the in-cluster
 * Alertmanager's /api/v2/alerts with the labels the prober sends, and a page at the PagerDuty stand-in.
 * Prometheus, with its read-only ServiceAccount, discovers the annotated pods (gm-prober and the three
 * services) and scrapes them at their pod IPs; the HPA of event-processor-service reads CPU utilization
 * from metrics-server.
 *
 * Nothing leaves this machine: every receiver of the shipped routing is pointed at one recording stand-in
 * on the node's IP (the PagerDuty and ticket URLs in the generated ConfigMap, the Slack URL in the test
 * Secret `alertmanager-receivers`), and no ClusterIP is dialled before kube-proxy's rule for it exists.
 * Prints the pods' Ready times, the time from apply to Prometheus's first scrape of the prober, the HPA's
 * utilization and the time from the fault to the alert (never asserted).
 * It is also the test of deploy/platform for real (the platform's part of the overlay changes nothing but
 * the images): three KRaft brokers (a quorum found through the headless Service's DNS names), PostgreSQL
 * and the three services go Ready, and this host reaches ingest-api and stats-api through their ClusterIPs
 * (one cluster for both: a node start and the platform's Ready wait are the slow part).
 * Needs root, runc, the node's binaries, and the local images (bash scripts/setup.sh --node).
 */
import { spawnSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { metricsServerSkipReason } from "@gm/kube-testenv/metrics-server";
import {
  AppsV1Api,
  AutoscalingV2Api,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { httpGet, isPodReady, type NodeCluster, nodeClusterSkipReason, PLATFORM_READY, startNodeCluster } from "./node-cluster.js";
import { missingTargets, parseQuery, parseTargets, type ScrapeTarget } from "./prometheus-api.js";

const GM_TOOLS = "gamemetrics/gm-tools:0.1.0";
const AM_IMAGE = "gamemetrics/alertmanager:0.25.0-local";
const PROM_IMAGE = "gamemetrics/prometheus:2.42.0-local";
const OPS = "gamemetrics-ops";

const skip = nodeClusterSkipReason([GM_TOOLS, AM_IMAGE, PROM_IMAGE]) ?? metricsServerSkipReason();
if (skip) console.warn(`prober-pod.int.test.ts skipped: ${skip}`);

interface Received {
  path: string;
  authorization: string | undefined;
  body: string;
  at: number;
}

/** The receivers' stand-in: records every POST (PagerDuty, Slack, ticket webhook) and answers 200. */
function startStandIn(host: string): Promise<{ server: http.Server; base: string; received: Received[] }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      received.push({ path: req.url ?? "", authorization: req.headers.authorization, body, at: Date.now() });
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success"}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve({ server, base: `http://${host}:${(server.address() as AddressInfo).port}`, received }));
  });
}

/** Every sample of `name` in a Prometheus text exposition: its labels and value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the first sample of `name` carrying `labels`, null when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  return samples(text, name).find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value ?? null;
}

describe.skipIf(!!skip)("gm-prober, Alertmanager and Prometheus as pods on a real node", { timeout: 900_000 }, () => {
  let cluster: NodeCluster;
  let standIn: Awaited<ReturnType<typeof startStandIn>> | undefined;
  const secretsForTest = { routingKey: "gm-test-routing-key", ticketToken: "gm-test-ticket-token" };

  /** The ClusterIP of a Service, once kube-proxy has its rule (without it the address would follow the
   * default route off this machine). */
  async function clusterIp(namespace: string, name: string): Promise<string> {
    const ip = (await cluster.core.readNamespacedService({ name, namespace })).spec!.clusterIP!;
    const deadline = Date.now() + 30_000;
    while (!(spawnSync("iptables", ["-t", "nat", "-S", "KUBE-SERVICES"], { encoding: "utf8" }).stdout ?? "").includes(`-d ${ip}/32`)) {
      if (Date.now() > deadline) throw new Error(`kube-proxy has no rule for ${namespace}/${name} (${ip}) after 30 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    return ip;
  }

  beforeAll(async () => {
    cluster = await startNodeCluster({
      deploy: ["platform", "prober", "alertmanager", "prometheus"],
      metricsServer: true,
      extraImages: [
        { name: "gamemetrics/gm-tools", image: GM_TOOLS },
        { name: "quay.io/prometheus/alertmanager", image: AM_IMAGE },
        { name: "quay.io/prometheus/prometheus", image: PROM_IMAGE },
      ],
      async transform(objects, node) {
        standIn = await startStandIn(node.nodeIp);
        const base = standIn.base;
        const cm = objects.find(
          (o) => o.kind === "ConfigMap" && o.metadata?.namespace === OPS && o.metadata.name?.startsWith("alertmanager"),
        ) as (KubernetesObject & { data: Record<string, string> }) | undefined;
        if (!cm?.data["alertmanager.yml"]) throw new Error("deploy/alertmanager rendered no ConfigMap alertmanager with alertmanager.yml");
        // the shipped routing, only the receivers' endpoints replaced (PagerDuty's default is events.pagerduty.com)
        const routing = parse(cm.data["alertmanager.yml"]) as {
          receivers: { pagerduty_configs?: { url?: string }[]; webhook_configs?: { url: string }[] }[];
        };
        for (const r of routing.receivers) {
          for (const p of r.pagerduty_configs ?? []) p.url = `${base}/pagerduty`;
          for (const w of r.webhook_configs ?? []) w.url = `${base}/ticket`;
        }
        cm.data["alertmanager.yml"] = stringify(routing);
        const receivers = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "alertmanager-receivers", namespace: OPS },
          stringData: {
            "pagerduty-routing-key": secretsForTest.routingKey,
            "slack-api-url": `${base}/slack`,
            "ticket-token": secretsForTest.ticketToken,
          },
        } as KubernetesObject;
        return [...objects, receivers];
      },
      onProgress: console.log,
    });
  }, 900_000);

  afterAll(async () => {
    const t = Date.now();
    await cluster?.stop();
    standIn?.server.close();
    console.log(`node and control plane stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }, 300_000);

  it("runs the platform, gm-prober (gamemetrics/gm-tools), Alertmanager and Prometheus to Ready", async () => {
    await cluster.waitReady([...PLATFORM_READY, [OPS, "gm-prober-", 1], [OPS, "alertmanager-", 1], [OPS, "prometheus-", 1]], 600_000);
    console.log(
      `Ready (s after apply): ${[...cluster.readyAt.entries()]
        .sort((a, b) => a[1] - b[1])
        .map(([n, t]) => `${n} ${t.toFixed(1)}`)
        .join(", ")}`,
    );
  });

  it("serves ingest-api and stats-api to this host through their ClusterIPs (deploy/platform as shipped)", async () => {
    for (const svc of ["ingest-api", "stats-api"]) {
      // only through kube-proxy's rules: without them a Service IP would follow the default route off this machine
      const ip = await clusterIp("gamemetrics", svc);
      const r = await httpGet(`http://${ip}:8080/ready`);
      expect(r.status, `${svc} /ready: ${r.body}`).toBe(200);
    }
  });

  it("has the prober's read-only role gm_prober in the platform's PostgreSQL as deployed", async () => {
    const secret = await cluster.core.readNamespacedSecret({ name: "gm-prober", namespace: OPS });
    const password = Buffer.from(secret.data!["PROBER_PG_PASSWORD"]!, "base64").toString("utf8");
    const ip = await clusterIp("gamemetrics", "postgres");
    const client = new pg.Client({
      host: ip,
      port: 5432,
      user: "gm_prober",
      password,
      database: "gamemetrics",
      connectionTimeoutMillis: 5000,
    });
    await client.connect();
    try {
      const r = await client.query<{ u: string; su: boolean; monitor: boolean; ro: string }>(
        "SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su, " +
          "pg_has_role('pg_monitor', 'member') AS monitor, current_setting('default_transaction_read_only') AS ro",
      );
      expect(r.rows[0]).toEqual({ u: "gm_prober", su: false, monitor: true, ro: "on" });
    } finally {
      await client.end();
    }
  });

  it("sees the platform healthy from its pod (cluster DNS names), on /metrics through its Service's ClusterIP", async () => {
    const url = `http://${await clusterIp(OPS, "gm-prober")}:9464/metrics`;
    const services = ["ingest-api", "event-processor-service", "stats-api"];
    const problems = (text: string): string[] => {
      const p: string[] = [];
      for (const s of services) {
        if (sample(text, "probe_success", { service: s }) !== 1)
          p.push(`probe_success{service="${s}"} is ${sample(text, "probe_success", { service: s })}, expected 1`);
        // the pods, read with the prober's ServiceAccount (deploy/prober/rbac.yaml)
        if (sample(text, "gm_instance_running", { service: s }) === null) p.push(`no gm_instance_running{service="${s}"}: pods not read`);
      }
      if (sample(text, "gm_kafka_brokers_up") !== 3) p.push(`gm_kafka_brokers_up is ${sample(text, "gm_kafka_brokers_up")}, expected 3`);
      if (sample(text, "gm_kafka_consumer_lag", { group: "event-processor-service" }) === null)
        p.push("no gm_kafka_consumer_lag for event-processor-service");
      if (sample(text, "gm_pg_max_connections") !== 100)
        p.push(`gm_pg_max_connections is ${sample(text, "gm_pg_max_connections")}, expected 100`);
      if (sample(text, "gm_pg_connection_usage_ratio") === null) p.push("no gm_pg_connection_usage_ratio");
      const open = text.split("\n").filter((l) => l.startsWith("incident_active{") && !l.endsWith(" 0"));
      if (open.length) p.push(`open incidents: ${open.join("; ")}`);
      return p;
    };
    const t0 = Date.now();
    let text = "";
    let left: string[] = ["not scraped yet"];
    while (Date.now() - t0 < 180_000) {
      text = await httpGet(url).then(
        (r) => (r.status === 200 ? r.body : `HTTP ${r.status}`),
        (e: Error) => e.message,
      );
      left = problems(text);
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(left, `gm-prober's /metrics after ${((Date.now() - t0) / 1000).toFixed(0)} s`).toEqual([]);
    console.log(
      `prober healthy ${((Date.now() - t0) / 1000).toFixed(1)}s after its pod was Ready: brokers ${sample(text, "gm_kafka_brokers_up")}, ` +
        `lag ${sample(text, "gm_kafka_consumer_lag", { group: "event-processor-service" })}, pg connections ` +
        `${text
          .split("\n")
          .filter((l) => l.startsWith("gm_pg_connections{"))
          .join(" ")}, usage ${sample(text, "gm_pg_connection_usage_ratio")}, ` +
        `stats-api memory limits ${text.split("\n").filter((l) => l.startsWith('gm_instance_memory_limit_bytes{service="stats-api"')).length}, ` +
        `usage samples ${text.split("\n").filter((l) => l.startsWith("gm_instance_memory_usage_bytes{")).length}`,
    );
  });

  it("sees each service's memory in use against its limit (metrics.k8s.io, read-only RBAC)", async () => {
    const url = `http://${await clusterIp(OPS, "gm-prober")}:9464/metrics`;
    const t0 = Date.now();
    const read = (text: string) =>
      samples(text, "gm_instance_memory_usage_bytes").map(({ labels, value }) => ({
        service: labels["service"] ?? "?",
        instance: labels["instance"] ?? "?",
        usage: value,
        limit: sample(text, "gm_instance_memory_limit_bytes", { service: labels["service"] ?? "", instance: labels["instance"] ?? "" }),
      }));
    let rows: ReturnType<typeof read> = [];
    const want = ["ingest-api", "event-processor-service", "stats-api"];
    while (Date.now() - t0 < 120_000) {
      rows = read(
        await httpGet(url).then(
          (r) => r.body,
          () => "",
        ),
      );
      if (want.every((s) => rows.filter((r) => r.service === s).length >= 2)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    for (const s of want)
      expect(
        rows.filter((r) => r.service === s).length,
        `gm_instance_memory_usage_bytes of ${s}: ${JSON.stringify(rows)}`,
      ).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.usage, `${r.instance} usage`).toBeGreaterThan(0);
      if (r.limit !== null) expect(r.usage, `${r.instance} usage below its limit`).toBeLessThan(r.limit);
    }
    console.log(
      `memory in use / limit (MiB), ${((Date.now() - t0) / 1000).toFixed(1)}s: ${rows
        .map((r) => `${r.instance} ${(r.usage / 2 ** 20).toFixed(0)}/${r.limit === null ? "-" : (r.limit / 2 ** 20).toFixed(0)}`)
        .join(", ")}`,
    );
  });

  it("is scraped by the in-cluster Prometheus at its pod IP, with the services' pods (pod discovery, read-only RBAC)", async () => {
    const base = `http://${await clusterIp(OPS, "prometheus")}:9090`;
    const query = async (q: string) => parseQuery((await httpGet(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).body);
    // every annotated pod of deploy/prober and deploy/platform, as the pod job labels it
    const want: [string, string, number][] = [
      [OPS, "gm-prober", 1],
      ["gamemetrics", "ingest-api", 2],
      ["gamemetrics", "event-processor-service", 2],
      ["gamemetrics", "stats-api", 2],
    ];
    const t0 = Date.now();
    let targets: ScrapeTarget[] = [];
    let missing = ["not asked yet"];
    while (Date.now() - t0 < 120_000) {
      try {
        targets = parseTargets((await httpGet(`${base}/api/v1/targets?state=active`)).body);
        missing = missingTargets(targets, want);
      } catch (e) {
        missing = [(e as Error).message];
      }
      if (!missing.length) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const seen = targets.map((t) => `${t.labels["job"]}/${t.labels["pod"] ?? t.scrapeUrl} ${t.health}`).join(", ");
    expect(missing, `Prometheus's targets after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${seen}`).toEqual([]);
    // the prober's own pod, at its pod IP and the port of its prometheus.io/port annotation
    const pod = (await cluster.core.listNamespacedPod({ namespace: OPS, labelSelector: "app=gm-prober" })).items.find(isPodReady);
    const name = pod?.metadata?.name ?? "?";
    expect(targets.find((t) => t.labels["pod"] === name)?.scrapeUrl).toBe(`http://${pod?.status?.podIP}:9464/metrics`);
    // what it scraped is stored: a gm-prober metric carrying the pod's labels
    const brokers = await query(`gm_kafka_brokers_up{namespace="${OPS}",pod="${name}"}`);
    expect(
      brokers.map((s) => s.samples[0]?.value),
      "gm_kafka_brokers_up of the prober's pod in Prometheus",
    ).toEqual([3]);
    // alerts would go to the in-cluster Alertmanager's Service
    const ams = JSON.parse((await httpGet(`${base}/api/v1/alertmanagers`)).body) as { data: { activeAlertmanagers: { url: string }[] } };
    expect(ams.data.activeAlertmanagers.map((a) => a.url)).toEqual([`http://alertmanager.${OPS}.svc:9093/api/v2/alerts`]);
    // every scrape writes a sample of `up`: 1 when it succeeded, 0 when not (a pod is discovered before it is Ready)
    const ups = (await query(`up{namespace="${OPS}",pod="${name}"}[30m]`))[0]?.samples ?? [];
    const since = (at: number | undefined) => (at === undefined ? "?" : ((at - cluster.appliedAt) / 1000).toFixed(1));
    const promReady = [...cluster.readyAt.entries()].find(([n]) => n.startsWith(`${OPS}/prometheus-`))?.[1];
    console.log(
      `Prometheus scraped gm-prober first ${since(ups.find((x) => x.value === 1)?.at)}s after apply (first attempt ${since(ups[0]?.at)}s) ` +
        `(its pod Ready ${promReady?.toFixed(1) ?? "?"}s, the prober's ${cluster.readyAt.get(`${OPS}/${name}`)?.toFixed(1) ?? "?"}s); ` +
        `all ${want.reduce((n, w) => n + w[2], 0)} pod targets up ${((Date.now() - t0) / 1000).toFixed(1)}s into this test: ${seen}`,
    );
  });

  it("has the HPA of event-processor-service reading CPU utilization from metrics-server", async () => {
    const autoscaling = cluster.kc.makeApiClient(AutoscalingV2Api);
    const read = (h: V2HorizontalPodAutoscaler | undefined) => ({
      utilization: h?.status?.currentMetrics?.find((m) => m.type === "Resource" && m.resource?.name === "cpu")?.resource?.current
        .averageUtilization,
      active: h?.status?.conditions?.find((c) => c.type === "ScalingActive"),
    });
    const t0 = Date.now();
    let hpa: V2HorizontalPodAutoscaler | undefined;
    while (Date.now() - t0 < 180_000) {
      hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: "event-processor-service", namespace: "gamemetrics" });
      const { utilization, active } = read(hpa);
      if (typeof utilization === "number" && active?.status === "True") break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const { utilization, active } = read(hpa);
    const status = JSON.stringify(hpa?.status);
    expect(typeof utilization, `the HPA's CPU utilization after ${((Date.now() - t0) / 1000).toFixed(0)} s; status: ${status}`).toBe(
      "number",
    );
    expect(active?.status, `ScalingActive; status: ${status}`).toBe("True");
    console.log(
      `HPA event-processor-service: CPU ${utilization}% of requests (target ${hpa?.spec?.metrics?.[0]?.resource?.target.averageUtilization}%: the manifests' 70% × the node's CPU request divisor), replicas ${hpa?.status?.currentReplicas} → ` +
        `${hpa?.status?.desiredReplicas}, ScalingActive ${active?.reason}, ${((Date.now() - t0) / 1000).toFixed(1)}s into this test ` +
        `(${((Date.now() - cluster.appliedAt) / 1000).toFixed(1)}s after apply)`,
    );
  });

  it("pages through the in-cluster Alertmanager when stats-api is scaled to zero", async () => {
    const amUrl = `http://${await clusterIp(OPS, "alertmanager")}:9093/api/v2/alerts`;
    const proberUrl = `http://${await clusterIp(OPS, "gm-prober")}:9464/metrics`;
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    // A clean start first: gm-prober pages while the platform is still starting (it has no start-up grace),
    // and Alertmanager folds a new alert into a page that was never resolved (same group, same labels), so
    // the fault's page is only new once every earlier one is resolved at PagerDuty (its group_interval, 1m).
    const openPages = () => {
      const last = new Map<string, string>();
      for (const x of standIn!.received.filter((r) => r.path === "/pagerduty")) {
        const e = JSON.parse(x.body) as { dedup_key?: string; event_action?: string };
        last.set(e.dedup_key ?? "?", e.event_action ?? "?");
      }
      return [...last].filter(([, action]) => action === "trigger").map(([key]) => key);
    };
    const tClean = Date.now();
    while (openPages().length && Date.now() - tClean < 180_000) await new Promise((res) => setTimeout(res, 1000));
    expect(openPages(), "pages still open at the PagerDuty stand-in before the fault").toEqual([]);
    console.log(`start-up pages resolved at the stand-in: waited ${((Date.now() - tClean) / 1000).toFixed(1)}s before the fault`);
    const t0 = Date.now();
    await apps.patchNamespacedDeploymentScale(
      { name: "stats-api", namespace: "gamemetrics", body: { spec: { replicas: 0 } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    type Alert = { labels: Record<string, string>; status: { state: string } };
    let alert: Alert | undefined;
    let seen = "";
    while (!alert && Date.now() - t0 < 180_000) {
      const r = await httpGet(amUrl).catch((e: Error) => ({ status: 0, body: e.message }));
      seen = r.body;
      if (r.status === 200)
        alert = (JSON.parse(r.body) as Alert[]).find((a) => a.labels["kind"] === "service-down" && a.labels["subject"] === "stats-api");
      if (!alert) await new Promise((res) => setTimeout(res, 1000));
    }
    const detected = (Date.now() - t0) / 1000;
    expect(
      alert,
      `no service-down alert for stats-api in Alertmanager after ${detected.toFixed(0)} s; /api/v2/alerts: ${seen.slice(0, 500)}`,
    ).toBeDefined();
    console.log(
      `stats-api scaled to 0 → alert in the in-cluster Alertmanager after ${detected.toFixed(1)}s: ${JSON.stringify(alert!.labels)}`,
    );
    // the labels the prober sends: its own open incident, as on its /metrics
    const metrics = (await httpGet(proberUrl)).body;
    const incident = metrics
      .split("\n")
      .find((l) => l.startsWith("incident_active{") && l.includes('kind="service-down"') && l.includes('subject="stats-api"'));
    expect(incident, "the prober's own incident_active for stats-api").toBeDefined();
    const severity = /severity="(P[0-3])"/.exec(incident!)![1]!;
    expect(alert!.labels).toMatchObject({
      alertname: "GameMetricsServiceDown",
      kind: "service-down",
      subject: "stats-api",
      service: "stats-api",
      severity,
      source: "gm-prober",
    });
    expect(alert!.status.state).toBe("active");
    // P0/P1 page on-call: the PagerDuty receiver posts to the stand-in with the routing key from the Secret
    expect(["P0", "P1"], `severity ${severity} of a service with no pod left`).toContain(severity);
    // only a page sent after the fault counts (one run found a page mentioning stats-api 45 s before it);
    // a group that paged and resolved before flushes a new alert at its group_interval (1m), hence 90 s
    const summary = (x: Received) => {
      const e = JSON.parse(x.body) as { event_action?: string; payload?: { summary?: string } };
      return `${((x.at - t0) / 1000).toFixed(1)}s ${e.event_action}: ${e.payload?.summary}`;
    };
    const earlier = standIn!.received.filter((x) => x.path === "/pagerduty" && x.at < t0);
    if (earlier.length) console.log(`pages before the fault: ${earlier.map(summary).join("; ")}`);
    const deadline = Date.now() + 90_000;
    let page: Received | undefined;
    while (!page && Date.now() < deadline) {
      page = standIn!.received.find((x) => x.path === "/pagerduty" && x.at >= t0 && x.body.includes("stats-api"));
      if (!page) await new Promise((res) => setTimeout(res, 500));
    }
    expect(page, `no page at the PagerDuty stand-in; received: ${standIn!.received.map((x) => x.path).join(", ")}`).toBeDefined();
    const event = JSON.parse(page!.body) as { routing_key: string; event_action: string };
    expect(event).toMatchObject({ routing_key: secretsForTest.routingKey, event_action: "trigger" });
    console.log(`page at the PagerDuty stand-in ${((page!.at - t0) / 1000).toFixed(1)}s after the fault`);
  });
});
