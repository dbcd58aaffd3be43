/** The prober's /metrics: probe results, every signal as a gauge, and incident_active. One registry per prober. */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Incident } from "@gm/runbook/incident";
import type { Snapshot } from "@gm/runbook/snapshot";

export function createProberMetrics() {
  const registry = new Registry();
  const g = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const m = {
    probeSuccess: g("probe_success", "1 when the target's GET /health answered 200", ["service", "target"]),
    probeDuration: g("probe_duration_seconds", "Duration of the target's health probe", ["service", "target"]),
    collectorOk: g("gm_collector_success", "1 when the collector succeeded in the last round", ["collector"]),
    roundSeconds: g("gm_prober_round_duration_seconds", "Duration of the last prober round"),
    rounds: new Counter({ name: "gm_prober_rounds_total", help: "Prober rounds", registers: [registry] }),
    // every round, not only the last: a round that overran the interval stays visible after the next one
    // (buckets at whole seconds up to 10, so an interval of 1–10 s is a bucket boundary)
    roundHistogram: new Histogram({
      name: "gm_prober_round_seconds",
      help: "Duration of each prober round",
      buckets: [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 60],
      registers: [registry],
    }),
    errorRate: g("gm_error_rate", "Error rate (5xx / all) over the window", ["service", "source"]),
    requests: g("gm_requests_in_window", "Requests counted in the error-rate window", ["service", "source"]),
    usersFailing: g("gm_users_failing_ratio", "Share of synthetic players whose journey failed"),
    brokersUp: g("gm_kafka_brokers_up", "Kafka brokers alive"),
    brokersExpected: g("gm_kafka_brokers_expected", "Kafka brokers expected"),
    urp: g("gm_kafka_under_replicated_partitions", "Under-replicated partitions"),
    offline: g("gm_kafka_offline_partitions", "Partitions without a live leader"),
    lag: g("gm_kafka_consumer_lag", "Total consumer lag in messages", ["group", "topic"]),
    lagPartition: g("gm_kafka_consumer_lag_partition", "Consumer lag per partition", ["group", "topic", "partition"]),
    lagSeconds: g("gm_kafka_consumer_lag_seconds", "Seconds behind the newest message", ["group"]),
    lagTrend: g("gm_kafka_consumer_lag_trend_per_second", "Change of the total lag per second", ["group"]),
    consumerStatus: g("gm_consumer_status", "1 for the group's current status (Burrow-like)", ["group", "status"]),
    pgConnections: g("gm_pg_connections", "PostgreSQL client connections by state", ["state"]),
    pgMax: g("gm_pg_max_connections", "max_connections"),
    pgUsage: g("gm_pg_connection_usage_ratio", "Connections / (max_connections − reserved)"),
    poolWaiting: g("gm_pg_pool_waiting", "Requests waiting for a pooled connection", ["service", "instance"]),
    poolTotal: g("gm_pg_pool_total", "Connections open in a service's pool", ["service", "instance"]),
    poolTimeouts: g("gm_pg_pool_timeouts_per_second", "Pool connection timeouts per second", ["service", "instance"]),
    instanceUp: g("gm_instance_running", "1 when the instance runs", ["service", "instance"]),
    instanceOom: g("gm_instance_oom_killed", "1 when the instance was OOM-killed (confirmed by the engine)", ["service", "instance"]),
    instanceRestarts: g("gm_instance_restarts", "Restarts of the instance", ["service", "instance"]),
    memUsage: g("gm_instance_memory_usage_bytes", "Memory in use", ["service", "instance"]),
    memLimit: g("gm_instance_memory_limit_bytes", "Memory limit", ["service", "instance"]),
    securityOk: g("gm_security_check_ok", "1 when the protected endpoint refused an unauthenticated request", ["endpoint"]),
    leaked: g("gm_security_leaked_secrets", "Configured secrets seen in public responses"),
    canaryLost: g("gm_canary_lost", "Canary events acknowledged but never readable"),
    canaryAltered: g("gm_canary_altered", "Canary events read back with other content than was sent, still altered"),
    canaryRtt: g("gm_canary_round_trip_ms", "Last canary round trip"),
    canaryFresh: g("gm_canary_freshness_seconds", "Seconds since a canary was last read back"),
    incident: g("incident_active", "1 for every open incident", ["kind", "severity", "subject"]),
  };

  return {
    registry,
    record(s: Snapshot, incidents: Incident[], collectors: string[], roundSeconds: number) {
      for (const x of Object.values(m)) if (x instanceof Gauge) x.reset();
      m.rounds.inc();
      m.roundSeconds.set(roundSeconds);
      m.roundHistogram.observe(roundSeconds);
      const failed = new Set(s.collectionErrors.map((e) => e.collector));
      for (const c of collectors) m.collectorOk.set({ collector: c }, failed.has(c) ? 0 : 1);
      for (const svc of s.services)
        for (const i of svc.instances) {
          m.probeSuccess.set({ service: svc.service, target: i.url }, i.ok ? 1 : 0);
          if (i.latencyMs !== null) m.probeDuration.set({ service: svc.service, target: i.url }, i.latencyMs / 1000);
        }
      for (const e of s.errorRates) {
        m.requests.set({ service: e.service, source: e.source }, e.requests);
        if (e.rate !== null) m.errorRate.set({ service: e.service, source: e.source }, e.rate);
      }
      if (s.users) m.usersFailing.set(s.users.total ? s.users.failing / s.users.total : 0);
      if (s.kafka) {
        m.brokersUp.set(s.kafka.brokers.filter((b) => b.up).length);
        m.brokersExpected.set(s.kafka.brokersExpected);
        m.urp.set(s.kafka.underReplicatedPartitions);
        m.offline.set(s.kafka.offlinePartitions);
        for (const gl of s.kafka.groups) {
          m.lag.set({ group: gl.group, topic: gl.topic }, gl.totalLag);
          for (const p of gl.partitions) m.lagPartition.set({ group: gl.group, topic: gl.topic, partition: String(p.partition) }, p.lag);
          if (gl.lagSeconds !== null) m.lagSeconds.set({ group: gl.group }, gl.lagSeconds);
          if (gl.trendPerSecond !== null) m.lagTrend.set({ group: gl.group }, gl.trendPerSecond);
        }
      }
      for (const c of s.consumers) m.consumerStatus.set({ group: c.group, status: c.status }, 1);
      if (s.postgres) {
        for (const [state, n] of Object.entries(s.postgres.byState)) m.pgConnections.set({ state }, n);
        m.pgMax.set(s.postgres.maxConnections);
        m.pgUsage.set(s.postgres.usage);
        for (const p of s.postgres.pools) {
          m.poolWaiting.set({ service: p.service, instance: p.instance }, p.waiting);
          m.poolTotal.set({ service: p.service, instance: p.instance }, p.total);
          m.poolTimeouts.set({ service: p.service, instance: p.instance }, p.timeoutsPerSecond);
        }
      }
      for (const i of s.instances) {
        const l = { service: i.service, instance: i.instance };
        m.instanceUp.set(l, i.running ? 1 : 0);
        m.instanceOom.set(l, i.oomKilled ? 1 : 0);
        m.instanceRestarts.set(l, i.restarts);
        if (i.memoryUsageBytes !== null) m.memUsage.set(l, i.memoryUsageBytes);
        if (i.memoryLimitBytes !== null) m.memLimit.set(l, i.memoryLimitBytes);
      }
      if (s.security) {
        for (const c of s.security.checks) m.securityOk.set({ endpoint: c.endpoint }, c.ok ? 1 : 0);
        m.leaked.set(s.security.leakedSecrets.length);
      }
      if (s.canary) {
        m.canaryLost.set(s.canary.lost);
        if (s.canary.altered !== undefined) m.canaryAltered.set(s.canary.altered);
        if (s.canary.lastRoundTripMs !== null) m.canaryRtt.set(s.canary.lastRoundTripMs);
        if (s.canary.freshnessSeconds !== null) m.canaryFresh.set(s.canary.freshnessSeconds);
      }
      for (const i of incidents) m.incident.set({ kind: i.kind, severity: i.severity, subject: i.subject }, 1);
    },
  };
}
