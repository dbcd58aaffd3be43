import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CATALOG, PROCESS, stepById } from "./catalog.js";
import { INCIDENT_KINDS } from "./incident.js";
import { mutates, STEP_EFFECT_TYPES, type Step } from "./steps.js";

/** Every line of the runbook's "Common Incidents › Actions" and "Incident Response Process" with an action. */
const RUNBOOK_ACTIONS = [
  "Check broker status: `kubectl get pods -n kafka`",
  "Check logs: `kubectl logs -n kafka <broker-pod>`",
  "Restart broker if needed: `kubectl delete pod -n kafka <broker-pod>`",
  "Verify replication: Check Kafka UI",
  "Check active connections: `SELECT count(*) FROM pg_stat_activity;`",
  "Scale up database if needed",
  "Increase connection pool size in services",
  "Kill idle connections if necessary",
  "Check consumer status: `kubectl get pods -n gamemetrics -l app=event-processor-service`",
  "Scale up consumers: Increase HPA min replicas",
  "Check for processing errors in logs",
  "Verify Kafka broker health",
  "Check memory limits: `kubectl describe pod <pod-name>`",
  "Increase memory limits if needed",
  "Check for memory leaks in application logs",
  "Scale horizontally if possible",
  "Identify affected service(s)",
  "Check service health endpoints",
  "Review recent deployments",
  "Check Kafka consumer lag",
  "Review database connections",
  "Scale up services if needed",
  "Restart failing pods",
  "Rollback deployment if recent change",
];

const allSteps = (): Step[] => INCIDENT_KINDS.flatMap((k) => CATALOG[k].steps);

describe("catalog", () => {
  it("has an entry per incident kind, keyed by its kind", () => {
    for (const kind of INCIDENT_KINDS) expect(CATALOG[kind].kind).toBe(kind);
  });

  it("implements every runbook action as a step", () => {
    const actions = new Set(allSteps().map((s) => s.runbookAction));
    for (const a of RUNBOOK_ACTIONS) expect(actions, a).toContain(a);
  });

  it("orders each entry's steps triage → mitigation → verification", () => {
    const rank = { triage: 0, mitigation: 1, verification: 2 } as const;
    for (const kind of INCIDENT_KINDS) {
      const ranks = CATALOG[kind].steps.map((s) => rank[s.phase]);
      expect(ranks, kind).toEqual([...ranks].sort());
    }
  });

  it("gives one step per id, and only mitigation steps mutate or advise", () => {
    for (const s of allSteps()) {
      expect(stepById(s.id)).toBe(s);
      if (mutates(s) || s.advisory) expect(s.phase, s.id).toBe("mitigation");
      expect(mutates(s) && s.advisory, s.id).toBe(false);
    }
    expect(stepById("no-such-step")).toBeUndefined();
  });

  // Graded autonomy: read-only steps run unasked, the others are asked before; a reversible step's undo
  // is recorded for gm-chaos recover, so it must say what it is.
  it("types every step read-only, reversible (with its undo) or irreversible (with why)", () => {
    const byType: Record<string, string[]> = {};
    for (const s of allSteps()) {
      expect(STEP_EFFECT_TYPES, s.id).toContain(s.effect.type);
      if (s.effect.type === "reversible") expect(s.effect.undo.trim(), `${s.id}: its undo`).not.toBe("");
      if (s.effect.type === "irreversible") expect(s.effect.why.trim(), `${s.id}: why it cannot be undone`).not.toBe("");
      byType[s.effect.type] = [...(byType[s.effect.type] ?? []), s.id];
    }
    // the catalog as reviewed: a step moved between types fails here until this list says so
    expect(Object.fromEntries(Object.entries(byType).map(([t, ids]) => [t, [...new Set(ids)].sort()]))).toMatchObject({
      reversible: [
        "db-increase-pool-size",
        "lag-scale-up-consumers",
        "oom-increase-memory-limits",
        "oom-scale-horizontally",
        "rollback-if-recent-change",
        "scale-up-services",
      ],
      irreversible: ["db-kill-idle-connections", "kafka-restart-broker", "restart-failing-instances"],
    });
  });

  it("leaves data loss and security exposure without automated mitigation", () => {
    for (const kind of ["data-loss", "security-exposure"] as const)
      expect(CATALOG[kind].steps.every((s) => s.phase === "triage")).toBe(true);
  });

  it("links the process's automated items to existing steps", () => {
    expect(PROCESS.map((p) => `${p.name}:${p.items.length}`)).toEqual([
      "Detection:3",
      "Triage:5",
      "Mitigation:4",
      "Resolution:4",
      "Post-Incident:4",
    ]);
    for (const item of PROCESS.flatMap((p) => p.items)) if (item.stepId) expect(stepById(item.stepId), item.stepId).toBeDefined();
  });
});

describe("the catalog's drill index", () => {
  // Beside the index it guards (the drill loader's own test in apps/chaos-runner checks it too, through
  // the scenario parser): a new file in scenarios/ or a renamed one fails here until the catalog says so.
  it("lists each scenarios/*.yaml under the incident its `incident:` names, and only files that exist", () => {
    const dir = new URL("../../../scenarios/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "policy.yaml");
    expect(files.length).toBeGreaterThan(0);
    const onDisk = files
      .map((f) => `${(parse(readFileSync(new URL(f, dir), "utf8")) as { incident?: unknown }).incident}/${f.replace(/\.yaml$/, "")}`)
      .sort();
    const indexed = Object.values(CATALOG)
      .flatMap((c) => c.drills.map((d) => `${c.kind}/${d}`))
      .sort();
    expect(indexed).toEqual(onDisk);
  });
});
