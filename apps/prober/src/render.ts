/** `--format table`: the snapshot's essentials and the incidents, for people. */
import type { Incident } from "@gm/runbook/incident";
import type { Snapshot } from "@gm/runbook/snapshot";

const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);

export function renderTable(s: Snapshot, incidents: Incident[]): string {
  const lines: string[] = [`snapshot at ${s.at}`, ""];
  lines.push("SERVICE                   INSTANCES UP   ERROR RATE (metrics)");
  for (const svc of s.services) {
    const up = svc.instances.filter((i) => i.ok).length;
    const er = s.errorRates.find((e) => e.service === svc.service && e.source === "metrics");
    lines.push(`${svc.service.padEnd(26)}${`${up}/${svc.instances.length}`.padEnd(15)}${pct(er?.rate ?? null)}`);
  }
  for (const e of s.errorRates.filter((x) => x.service === "all"))
    lines.push(`error rate (${e.source}, all): ${pct(e.rate)} of ${e.requests} requests`);
  if (s.users) lines.push(`synthetic players failing: ${s.users.failing}/${s.users.total}`);
  if (s.kafka) {
    lines.push(
      `kafka: ${s.kafka.brokers.filter((b) => b.up).length}/${s.kafka.brokersExpected} brokers up, ${s.kafka.underReplicatedPartitions} under-replicated, ${s.kafka.offlinePartitions} offline partitions`,
    );
    for (const g of s.kafka.groups)
      lines.push(
        `  group ${g.group}: lag ${g.totalLag} (${g.lagSeconds === null ? "?" : g.lagSeconds.toFixed(1)} s behind), trend ${g.trendPerSecond === null ? "?" : g.trendPerSecond.toFixed(1)}/s`,
      );
  }
  for (const c of s.consumers) lines.push(`  consumer ${c.group}: ${c.status}`);
  if (s.postgres)
    lines.push(
      `postgres: ${s.postgres.totalConnections} connections of ${s.postgres.maxConnections - s.postgres.reservedConnections} usable (${pct(s.postgres.usage)}), ${JSON.stringify(s.postgres.byState)}`,
    );
  if (s.canary)
    lines.push(
      `canary: sent ${s.canary.sent}, lost ${s.canary.lost}, altered ${s.canary.altered ?? "?"}${(s.canary.alteredIds ?? []).length > 0 ? ` (${(s.canary.alteredIds ?? []).join(", ")})` : ""}, round trip ${s.canary.lastRoundTripMs ?? "?"} ms`,
    );
  for (const e of s.collectionErrors) lines.push(`collector ${e.collector} failed: ${e.error}`);
  lines.push("");
  if (incidents.length === 0) lines.push("no incidents: healthy");
  else {
    lines.push("SEV  KIND                 SUBJECT                    RESPOND BY                ESCALATION");
    for (const i of incidents) {
      lines.push(`${i.severity.padEnd(5)}${i.kind.padEnd(21)}${i.subject.padEnd(27)}${i.respondBy.padEnd(26)}${i.escalation}`);
      for (const e of i.evidence) lines.push(`       ${e.signal} = ${String(e.observed)} (rule: ${e.threshold})`);
    }
  }
  return lines.join("\n") + "\n";
}
