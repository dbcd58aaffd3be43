/**
 * The namespace faults' undo logic (the consumers scaled to zero, the bad deployment) over a fake driver
 * that records what it was told; the faults themselves run on a real node in kubernetes-node.int.test.ts.
 */
import type { KubernetesPlatform } from "@gm/platform/kubernetes";
import type { Rollout } from "@gm/runbook/ports";
import { describe, expect, it } from "vitest";
import { createNamespaceFault } from "./namespace.js";

const target = (name: string) => ({ namespace: "gamemetrics", workload: { kind: "Deployment", name } });

/** A Deployment with an HPA (the processor) and one without (stats-api), their revisions and env. */
function fakeK8s() {
  const state = {
    replicas: { "event-processor-service": 2, "stats-api": 2 } as Record<string, number>,
    hpa: { minReplicas: 2, maxReplicas: 6 },
    revisions: [{ revision: 1, env: { DATABASE_URL: "postgres://gm:good@postgres/gm" }, rollbackOf: null as number | null }],
    calls: [] as string[],
  };
  const current = () => state.revisions.at(-1)!;
  const k8s = {
    context: "admin@test",
    targets: { "event-processor-service": target("event-processor-service"), "stats-api": target("stats-api") },
    replicas: async (s: string) => state.replicas[s],
    hpa: async (s: string) => (s === "event-processor-service" ? { name: s, ...state.hpa, currentReplicas: state.replicas[s] } : null),
    scaleWorkload: async (s: string, n: number) => {
      state.calls.push(`scale ${s} ${n}`);
      state.replicas[s] = n;
    },
    // the runbook's scale-up: the HPA's min follows (never below 1)
    scale: async (s: string, n: number) => {
      state.hpa.minReplicas = Math.max(1, n);
      state.replicas[s] = n;
    },
    setHpaReplicas: async (_s: string, r: { minReplicas: number; maxReplicas: number }) => {
      state.calls.push(`hpa ${r.minReplicas}-${r.maxReplicas}`);
      state.hpa = { ...r };
    },
    workloadEnv: async () => ({ ...current().env }),
    deploy: async (_s: string, change: { env: Record<string, string> }) => {
      state.revisions.push({ revision: current().revision + 1, env: { ...current().env, ...change.env }, rollbackOf: null });
    },
    rollouts: async (): Promise<Rollout[]> =>
      [...state.revisions].reverse().map((r, i) => ({
        service: "stats-api",
        revision: r.revision,
        createdAt: "",
        images: [],
        changeCause: null,
        current: i === 0,
        rollbackOf: r.rollbackOf,
      })),
    rollback: async (_s: string, to: number) => {
      state.calls.push(`rollback ${to}`);
      const back = state.revisions.find((r) => r.revision === to)!;
      state.revisions.push({ revision: current().revision + 1, env: { ...back.env }, rollbackOf: to });
      return to;
    },
  };
  return { k8s: k8s as unknown as KubernetesPlatform, state };
}

const reach = { postgresUrl: "postgres://gm:good@postgres/gm" };

describe("consumers scaled to zero on a namespace", () => {
  it("scales the workload alone, then restores the HPA's bounds and the replicas the runbook's scale-up left below", async () => {
    const { k8s, state } = fakeK8s();
    const fault = createNamespaceFault({ type: "pause-consumers", params: {} }, k8s, reach);
    const undo = await fault.prepare();
    expect(undo).toEqual({ replicas: 2, hpa: { minReplicas: 2, maxReplicas: 6 } });
    await fault.apply(undo);
    expect(state.replicas["event-processor-service"]).toBe(0);
    expect(state.hpa).toEqual({ minReplicas: 2, maxReplicas: 6 });
    // the runbook's "increase HPA min replicas" by one: 0 → 1, the HPA's min lowered to 1 with it
    await k8s.scale("event-processor-service", 1);
    expect(await fault.leftovers(undo)).toEqual([
      "hpa of event-processor-service: min 1 max 6, not min 2 max 6",
      "deployment/event-processor-service has 1 replicas, fewer than its HPA's min 2",
    ]);
    await fault.recover(undo);
    expect(state.hpa).toEqual({ minReplicas: 2, maxReplicas: 6 });
    expect(state.replicas["event-processor-service"]).toBe(2);
    expect(await fault.leftovers(undo)).toEqual([]);
    // twice is safe, and more replicas than before (the HPA's own choice) are left to the HPA
    state.replicas["event-processor-service"] = 3;
    await fault.recover(undo);
    expect(state.replicas["event-processor-service"]).toBe(3);
  });

  it("with an HPA, leaves the count to it: scaled out to 5 before the drill, 4 after is not a leftover, below its min is", async () => {
    const { k8s, state } = fakeK8s();
    state.replicas["event-processor-service"] = 5;
    const fault = createNamespaceFault({ type: "pause-consumers", params: {} }, k8s, reach);
    const undo = await fault.prepare();
    await fault.apply(undo);
    await k8s.scale("event-processor-service", 2);
    await fault.recover(undo);
    expect(state.replicas["event-processor-service"]).toBe(2);
    // the HPA, its bounds back, scales down as the load asks (CI of 1b48339: 5 before, 4 at the check)
    state.replicas["event-processor-service"] = 4;
    expect(await fault.leftovers(undo)).toEqual([]);
    state.replicas["event-processor-service"] = 1;
    expect(await fault.leftovers(undo)).toEqual(["deployment/event-processor-service has 1 replicas, fewer than its HPA's min 2"]);
    // at zero (the runbook never scaled up) the HPA cannot act: the count before is put back
    state.replicas["event-processor-service"] = 0;
    await fault.recover(undo);
    expect(state.replicas["event-processor-service"]).toBe(5);
  });

  it("without an HPA, the count before the drill is the floor", async () => {
    const { k8s, state } = fakeK8s();
    (k8s as unknown as { hpa: () => Promise<null> }).hpa = async () => null;
    const fault = createNamespaceFault({ type: "pause-consumers", params: {} }, k8s, reach);
    const undo = await fault.prepare();
    expect(undo).toEqual({ replicas: 2, hpa: null });
    await fault.apply(undo);
    state.replicas["event-processor-service"] = 1;
    expect(await fault.leftovers(undo)).toEqual(["deployment/event-processor-service has 1 replicas, fewer than 2"]);
    await fault.recover(undo);
    expect(state.replicas["event-processor-service"]).toBe(2);
    expect(await fault.leftovers(undo)).toEqual([]);
  });

  it("is refused without the cluster's DNS, saying what it needs", () => {
    expect(() => createNamespaceFault({ type: "pause-consumers", params: {} }, fakeK8s().k8s)).toThrow(
      /pause-consumers cannot be drilled against a namespace through the API server alone: it needs Kafka consumer lag.*--cluster-dns/,
    );
  });
});

describe("a bad deployment on a namespace", () => {
  const spec = { type: "bad-deployment" as const, params: { service: "stats-api", mistake: "wrong-database-password" } };

  it("records a digest (never the password), deploys the mistake, and its undo rolls back to the revision before", async () => {
    const { k8s, state } = fakeK8s();
    const fault = createNamespaceFault(spec, k8s, reach);
    const undo = await fault.prepare();
    expect(undo).toMatchObject({ service: "stats-api", revision: 1, replicas: 2, variable: "DATABASE_URL" });
    expect(JSON.stringify(undo)).not.toContain("good");
    await fault.apply(undo);
    expect(state.revisions.at(-1)!.env.DATABASE_URL).toMatch(/^postgres:\/\/gm:wrong-[0-9a-f]{12}@postgres\/gm$/);
    expect(await fault.leftovers(undo)).toEqual(["deployment/stats-api's DATABASE_URL is not what it was before the bad deployment"]);
    await fault.recover(undo);
    expect(state.calls).toContain("rollback 1");
    expect(await fault.leftovers(undo)).toEqual([]);
  });

  it("does not roll back again when the runbook's rollback already restored the revision before", async () => {
    const { k8s, state } = fakeK8s();
    const fault = createNamespaceFault(spec, k8s, reach);
    const undo = await fault.prepare();
    await fault.apply(undo);
    await k8s.rollback("stats-api", 1);
    state.calls.length = 0;
    await fault.recover(undo);
    expect(state.calls).toEqual([]);
    expect(await fault.leftovers(undo)).toEqual([]);
  });
});
