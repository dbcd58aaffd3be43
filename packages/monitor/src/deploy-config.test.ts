/**
 * The prober's configuration shipped in deploy/prober, through the real loader: valid, its secrets from
 * the environment, alerting the Alertmanager of deploy/alertmanager, with the security checks on.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseProberConfig } from "./config.js";

const FILE = fileURLToPath(new URL("../../../deploy/prober/prober.yaml", import.meta.url));
const ALERTMANAGER_MANIFEST = fileURLToPath(new URL("../../../deploy/alertmanager/deployment.yaml", import.meta.url));
const ENV = { PROBER_PG_PASSWORD: "pw", ADMIN_TOKEN: "admin-token-0123456789", POSTGRES_PASSWORD: "pg-pw" };

it("deploy/prober/prober.yaml parses, reads in-cluster, allows only the runbook's namespaces", () => {
  const text = readFileSync(FILE, "utf8");
  const c = parseProberConfig(text, ENV);
  expect(c.platform).toEqual({
    driver: "kubernetes",
    kubeconfig: "in-cluster",
    namespaces: { kafka: "kafka", platform: "gamemetrics" },
    allow: { contexts: ["inClusterContext"], namespaces: ["kafka", "gamemetrics"] },
  });
  expect(c.postgres?.url).toBe("postgres://gm_prober:pw@postgres.gamemetrics.svc:5432/gamemetrics");
  expect(c.kafka).toMatchObject({ expectedBrokers: 3, brokers: expect.arrayContaining(["kafka-0.kafka-headless.kafka.svc:19092"]) });
  expect(c.listen).toEqual({ host: "0.0.0.0", port: 9464 });
  expect(() => parseProberConfig(text, {})).toThrow(/PROBER_PG_PASSWORD is not set/);
});

it("deploy/prober/prober.yaml alerts the Alertmanager Service of deploy/alertmanager and checks security", () => {
  const c = parseProberConfig(readFileSync(FILE, "utf8"), ENV);
  // the Service deploy/alertmanager ships: name, namespace and port
  const service = parseAllDocuments(readFileSync(ALERTMANAGER_MANIFEST, "utf8"))
    .map((d) => d.toJSON() as { kind: string; metadata: { name: string; namespace: string }; spec: { ports: { port: number }[] } })
    .find((o) => o.kind === "Service");
  expect(service).toBeDefined();
  expect(c.alertmanager?.urls).toEqual([
    `http://${service!.metadata.name}.${service!.metadata.namespace}.svc:${service!.spec.ports[0]!.port}`,
  ]);
  // security on: a protected endpoint, public responses to search, and the secrets to search them for
  expect(c.security?.protected).toEqual([
    { method: "DELETE", url: "http://stats-api.gamemetrics.svc:8080/admin/players/gm-prober-nonexistent" },
  ]);
  expect(c.security?.public.length).toBeGreaterThan(0);
  expect(c.security?.secrets).toEqual({ ADMIN_TOKEN: ENV.ADMIN_TOKEN, POSTGRES_PASSWORD: ENV.POSTGRES_PASSWORD });
  expect(() => parseProberConfig(readFileSync(FILE, "utf8"), { PROBER_PG_PASSWORD: "pw", POSTGRES_PASSWORD: "x" })).toThrow(
    /ADMIN_TOKEN is not set/,
  );
});
