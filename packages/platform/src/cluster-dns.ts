/**
 * Cluster names from outside the cluster: a drill (or any client) on a node's host reaches the
 * platform by the names its manifests use — `ingest-api.gamemetrics.svc:8080`, the brokers' advertised
 * `kafka-N.kafka-headless.kafka.svc:19092`, `postgres.gamemetrics.svc` in the DATABASE_URL Secret — by
 * asking the cluster's DNS (CoreDNS at the kubelet's clusterDNS address, e.g. 10.0.0.10) for them.
 *
 * Why names and not ClusterIPs read from the Services: Kafka's clients connect to the addresses the
 * brokers advertise, which are per-pod names of a headless Service (no ClusterIP; the pod IP changes
 * when a broker pod is recreated, which is what the broker-kill drill does), so names are needed anyway;
 * resolving them the way a pod does keeps one address book — the manifests'.
 *
 * Why process-wide: every connection the drill opens — the prober's own collectors (health, metrics,
 * Kafka admin, PostgreSQL), the runbook's Kafka and PostgreSQL ports, the load, the integrity check —
 * goes through Node's `dns.lookup` (net.connect, pg, kafkajs, fetch all call it at connect time). One
 * override here covers them all without threading a resolver through five packages. It answers only
 * names under `.svc` / `.svc.<domain>` / `.<domain>`; every other name goes to the system resolver
 * unchanged, and `restore()` puts the original back.
 */
import dns, { type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";

/** The fully qualified name to ask the cluster's DNS for, or null when `host` is not a cluster name. */
export function clusterQueryName(host: string, domain = "cluster.local"): string | null {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (isIP(h)) return null;
  if (h.endsWith(`.svc.${domain}`) || h.endsWith(`.${domain}`)) return h;
  if (h.endsWith(".svc")) return `${h}.${domain}`;
  return null;
}

export interface ClusterDnsOptions {
  /** the cluster DNS server (the kubelet's clusterDNS), an IP address */
  server: string;
  /** the cluster domain (the kubelet's clusterDomain; default cluster.local) */
  domain?: string;
  /** per query (default 2000 ms) */
  timeoutMs?: number;
}

export class ClusterDnsError extends Error {
  readonly code = "ENOTFOUND";
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Resolves cluster names through `server` for every `dns.lookup` in this process until `restore()`.
 * Installing another server while one is in place is refused (two would race); the same one again
 * shares it. Restore is safe to call twice.
 */
export function useClusterDns(o: ClusterDnsOptions): { restore(): void; resolve(host: string): Promise<string[]> } {
  if (isIP(o.server) === 0) throw new ClusterDnsError(`cluster DNS server: "${o.server}" is not an IP address (expected e.g. 10.0.0.10)`);
  const holder = dns as unknown as {
    lookup: typeof dns.lookup;
    __gmClusterDns?: { server: string; resolve(h: string): Promise<string[]> };
  };
  const domain = o.domain ?? "cluster.local";
  const current = holder.__gmClusterDns;
  // the same server again (a recovery that reaches the namespace per journal entry): the one in place serves, this restore is a no-op
  if (current?.server === o.server) return { resolve: current.resolve, restore() {} };
  if (current) throw new ClusterDnsError(`cluster DNS is already set to ${current.server} in this process; restore it first`);
  const resolver = new dns.Resolver({ timeout: o.timeoutMs ?? 2_000, tries: 2 });
  resolver.setServers([o.server]);
  const original = dns.lookup;
  const resolve = async (host: string): Promise<string[]> => {
    const name = clusterQueryName(host, domain);
    if (!name) throw new ClusterDnsError(`${host} is not a cluster name (.svc, .${domain})`);
    try {
      return await new Promise<string[]>((res, rej) => resolver.resolve4(name, (err, a) => (err ? rej(err) : res(a))));
    } catch (err) {
      const e = new ClusterDnsError(`cluster DNS ${o.server}: ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      throw Object.assign(e, { hostname: host });
    }
  };
  const lookup = function (this: unknown, host: string, options: unknown, callback?: unknown) {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts = (
      typeof options === "function" ? {} : typeof options === "number" ? { family: options } : (options ?? {})
    ) as LookupOptions;
    if (clusterQueryName(host, domain) === null || opts.family === 6)
      return (original as (...a: unknown[]) => void).call(this, host, options, callback);
    resolve(host).then(
      (addresses) =>
        opts.all
          ? cb(
              null,
              addresses.map((address) => ({ address, family: 4 })),
            )
          : cb(null, addresses[0]!, 4),
      (err: Error) => cb(err as NodeJS.ErrnoException, opts.all ? [] : ""),
    );
  } as typeof dns.lookup;
  holder.lookup = lookup;
  holder.__gmClusterDns = { server: o.server, resolve };
  return {
    resolve,
    restore() {
      if (holder.lookup === lookup) {
        holder.lookup = original;
        delete holder.__gmClusterDns;
      }
    },
  };
}
