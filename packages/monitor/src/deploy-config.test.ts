/** The prober's configuration shipped in deploy/prober is valid, and its secret comes from the environment. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { parseProberConfig } from "./config.js";

const FILE = fileURLToPath(new URL("../../../deploy/prober/prober.yaml", import.meta.url));

it("deploy/prober/prober.yaml parses, reads in-cluster, allows only the runbook's namespaces", () => {
  const text = readFileSync(FILE, "utf8");
  const c = parseProberConfig(text, { PROBER_PG_PASSWORD: "pw" });
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
