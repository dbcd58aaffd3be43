/** The Kubernetes target of `gm-chaos drill|runbook --platform kubernetes`: options, allowlist, driver. */
import { isIP } from "node:net";
import type { Argv } from "yargs";
import type { KubernetesPlatform } from "@gm/platform/kubernetes";
import type { KubernetesTargetRecord } from "../drill/namespace.js";
import { CliError } from "../output.js";

/** The options; `clusterDns: false` leaves out --cluster-dns where nothing uses it (`gm-chaos runbook`). */
export function kubernetesOptions<T>(y: Argv<T>, o: { clusterDns?: boolean } = {}) {
  const withoutDns = y
    .option("platform", {
      type: "string",
      choices: ["docker", "kubernetes"],
      default: "docker",
      describe: "docker: a testcontainers stack; kubernetes: the runbook's namespaces through the API server",
    })
    .option("kubeconfig", {
      type: "string",
      describe: "kubernetes: a kubeconfig file, or in-cluster (default: in-cluster inside a pod, else $KUBECONFIG or ~/.kube/config)",
    })
    .option("context", { type: "string", describe: "kubernetes: the kubeconfig context (default: its current context)" })
    .option("allow-context", {
      type: "string",
      array: true,
      default: [] as string[],
      describe: "kubernetes: a context this runner may act on (required; in a pod: inClusterContext)",
    })
    .option("allow-namespace", {
      type: "string",
      array: true,
      default: [] as string[],
      describe: "kubernetes: a namespace this runner may act on (required: the Kafka and the platform namespace)",
    })
    .option("kafka-namespace", { type: "string", default: "kafka", describe: "kubernetes: Kafka's namespace" })
    .option("namespace", { type: "string", default: "gamemetrics", describe: "kubernetes: the platform services' namespace" });
  if (o.clusterDns === false) return withoutDns as typeof withoutDns & Argv<{ "cluster-dns": string | undefined }>;
  return withoutDns.option("cluster-dns", {
    type: "string",
    describe:
      "kubernetes: the cluster's DNS server (the kubelet's clusterDNS, e.g. 10.0.0.10), reachable from here: drills then reach the services, Kafka and PostgreSQL by their cluster names — load, integrity, real Kafka/PostgreSQL signals (default: the API server only)",
  });
}

export interface KubernetesArgs {
  platform?: string;
  kubeconfig?: string;
  context?: string;
  "allow-context": string[];
  "allow-namespace": string[];
  "kafka-namespace": string;
  namespace: string;
  "cluster-dns"?: string;
}

export function kubernetesTarget(a: KubernetesArgs, context: string): KubernetesTargetRecord {
  const dns = a["cluster-dns"];
  if (dns !== undefined && isIP(dns) === 0)
    throw new CliError(`--cluster-dns: "${dns}" is not an IP address (expected the cluster DNS Service's IP, e.g. 10.0.0.10)`, 2);
  return {
    ...(dns ? { clusterDns: dns } : {}),
    ...(a.kubeconfig ? { kubeconfig: a.kubeconfig } : {}),
    context,
    namespaces: { kafka: a["kafka-namespace"], platform: a.namespace },
    allow: { contexts: a["allow-context"], namespaces: a["allow-namespace"] },
  };
}

/** The driver for the options; a refusal by the allowlist exits 2 with its message. */
export async function kubernetesPlatformFor(a: KubernetesArgs): Promise<KubernetesPlatform> {
  return kubernetesPlatformOf({ ...kubernetesTarget(a, a.context ?? ""), ...(a.context ? {} : { context: undefined }) });
}

/** The driver for a recorded target (`context` undefined: the kubeconfig's current one). */
export async function kubernetesPlatformOf(
  t: Omit<KubernetesTargetRecord, "context"> & { context: string | undefined },
): Promise<KubernetesPlatform> {
  const { createKubernetesPlatform } = await import("@gm/platform/kubernetes");
  const { PlatformError } = await import("@gm/platform/errors");
  if (t.allow.contexts.length === 0)
    throw new CliError(
      "--platform kubernetes: name the context(s) this runner may act on with --allow-context (in a pod: inClusterContext)",
      2,
    );
  if (t.allow.namespaces.length === 0)
    throw new CliError(
      `--platform kubernetes: name the namespaces this runner may act on with --allow-namespace (the drills use ${t.namespaces.kafka} and ${t.namespaces.platform})`,
      2,
    );
  try {
    return createKubernetesPlatform({
      ...(t.kubeconfig ? { kubeconfig: t.kubeconfig } : {}),
      ...(t.context ? { context: t.context } : {}),
      namespaces: t.namespaces,
      allow: t.allow,
    });
  } catch (err) {
    if (err instanceof PlatformError) throw new CliError(err.message, 2);
    throw new CliError(`--kubeconfig ${t.kubeconfig ?? "(default)"}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}
