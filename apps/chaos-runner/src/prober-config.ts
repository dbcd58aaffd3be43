/** The prober configuration a stack writes for itself (`gm-chaos stack up --prober-config FILE`). */
import { stringify } from "yaml";
import { DEFAULT_ROLES } from "@gm/runbook/topology";
import type { StackEndpoints } from "@gm/stack/stack";

export function proberConfigFor(e: StackEndpoints, opts: { listenPort?: number; alertmanagerUrls?: string[] } = {}): string {
  // Interval, timeout, window and hysteresis are gm-prober's defaults: what the drills observe with is
  // what the service runs with. Thresholds come from the policy.
  const config = {
    listen: `127.0.0.1:${opts.listenPort ?? 9464}`,
    services: {
      "ingest-api": [e.services["ingest-api"]],
      "event-processor-service": e.services["event-processor-service"],
      "stats-api": [e.services["stats-api"]],
      // a service beyond the three: described with the roles of the program it runs
      ...Object.fromEntries(
        Object.entries(e.extraServices ?? {}).map(([name, x]) => {
          const { consumes, ...roles } = DEFAULT_ROLES[x.program]!;
          return [name, { urls: [x.url], roles: { ...roles, ...(consumes ? { consumes } : {}) } }];
        }),
      ),
    },
    kafka: { brokers: e.kafkaBootstrapServers, expectedBrokers: e.kafkaBootstrapServers.length, topic: e.topic, groups: [e.consumerGroup] },
    postgres: { url: e.proberPostgresUrl },
    synthetic: { players: 4 },
    security: {
      protected: [{ method: "DELETE", url: `${e.services["stats-api"]}/admin/players/gm-prober-nonexistent` }],
      public: [
        `${e.services["ingest-api"]}/health`,
        `${e.services["stats-api"]}/health`,
        `${e.services["ingest-api"]}/metrics`,
        `${e.services["stats-api"]}/metrics`,
      ],
      secrets: { ADMIN_TOKEN: e.adminToken, POSTGRES_PASSWORD: new URL(e.postgresUrl).password },
    },
    platform: { driver: "docker", stackId: e.stackId },
    ...(opts.alertmanagerUrls?.length ? { alertmanager: { urls: opts.alertmanagerUrls } } : {}),
  };
  return `# Written by gm-chaos for stack ${e.stackId}; holds this throwaway stack's secrets.\n${stringify(config)}`;
}
