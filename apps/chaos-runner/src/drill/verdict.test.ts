import { describe, expect, it } from "vitest";
import type { Incident } from "@gm/runbook/incident";
import { defaultPolicy } from "@gm/runbook/policy";
import { emptySnapshot } from "@gm/runbook/snapshot";
import type { StepRecord } from "@gm/report/schema";
import { judgeIncidents, measureTolerances, pagesCheck, stepChecks } from "./verdict.js";

const inc = (kind: Incident["kind"], severity: Incident["severity"], subject: string): Incident => ({
  kind,
  severity,
  subject,
  summary: `${kind} on ${subject}`,
  evidence: [],
  responseMinutes: 5,
  respondBy: new Date(0).toISOString(),
  escalation: defaultPolicy.severities[severity].escalation,
  steps: [],
});

describe("the pages a drill caused", () => {
  const expect_ = { kind: "high-consumer-lag" as const, severity: "P2" as const };
  const samples = [
    { at: 1_000, active: [inc("service-down", "P0", "stats-api")] }, // before the injection: not judged
    { at: 2_000, active: [inc("high-consumer-lag", "P3", "g")] },
    { at: 3_000, active: [inc("high-consumer-lag", "P2", "g"), inc("service-down", "P0", "event-processor-service")] },
  ];

  it("an unlisted incident of another kind fails, naming it and the page it caused", () => {
    const open = judgeIncidents(samples, 1_500, expect_, [], defaultPolicy);
    expect(open.map((o) => [o.kind, o.severity, o.verdict, o.page])).toEqual([
      ["high-consumer-lag", "P2", "expected", "ticket-and-notify"],
      ["service-down", "P0", "unexpected", "page"],
    ]);
    const c = pagesCheck(open);
    expect(c.ok).toBe(false);
    expect(c.detail).toContain(
      "service-down P0 on event-processor-service (unexpected: not listed in the drill file's alsoExpected; would page on-call)",
    );
  });

  it("listed collateral passes, with its reason; a worse severity than listed or expected fails", () => {
    const listed = [
      { kind: "service-down" as const, severity: "P0" as const, subject: "event-processor-service", reason: "every replica is paused" },
    ];
    const open = judgeIncidents(samples, 1_500, expect_, listed, defaultPolicy);
    expect(open[1]).toMatchObject({ verdict: "collateral", reason: "every replica is paused", page: "page" });
    expect(pagesCheck(open)).toMatchObject({ ok: true, detail: "worst open: P0; 1 expected collateral incident(s)" });
    const worse = judgeIncidents(
      [{ at: 2_000, active: [inc("high-consumer-lag", "P1", "g"), inc("service-down", "P0", "event-processor-service")] }],
      0,
      expect_,
      [{ ...listed[0]!, severity: "P1" }],
      defaultPolicy,
    );
    expect(worse.map((o) => o.verdict)).toEqual(["worse", "worse"]);
    expect(pagesCheck(worse).ok).toBe(false);
  });
});

describe("hypothesis tolerances", () => {
  const t = {
    claim: "producing keeps succeeding",
    signal: "5xx-share" as const,
    service: "ingest-api",
    during: "fault" as const,
    max: 0.01,
  };
  const reqs = (ok: number, bad: number, at = 5) => [
    ...Array.from({ length: ok }, () => ({ service: "ingest-api", at, status: "202" })),
    ...Array.from({ length: bad }, (_, i) => ({ service: "ingest-api", at, status: i % 2 ? "503" : "error" })),
    { service: "ingest-api", at, status: "skipped" },
    { service: "stats-api", at, status: "500" },
  ];

  it("5xx share from the load's own requests in the window: holds at 1 %, fails above with the observed value", () => {
    const w = { fault: { from: 0, to: 10 }, after: null };
    expect(measureTolerances([t], w, [], reqs(99, 1))[0]).toMatchObject({ ok: true, observed: 0.01 });
    const r = measureTolerances([t], w, [], reqs(70, 30))[0]!;
    expect(r).toMatchObject({ ok: false, observed: 0.3 });
    expect(r.detail).toBe("30 of 100 request(s) to ingest-api answered 5xx or not at all (30.0%; tolerance 1.00%)");
    // requests outside the window do not count
    expect(measureTolerances([t], w, [], reqs(0, 30, 11))[0]).toMatchObject({ ok: false, observed: null });
  });

  it("nothing measured is a failed claim, never a pass", () => {
    expect(measureTolerances([{ ...t, during: "after" }], { fault: { from: 0, to: 1 }, after: null }, [], reqs(10, 0))[0]).toMatchObject({
      ok: false,
      observed: null,
    });
  });

  it("error-rate and lag from the prober's rounds: the worst round in the window", () => {
    const snap = (rate: number | null, lag: number) => {
      const s = emptySnapshot(new Date(0).toISOString());
      s.errorRates = [{ service: "ingest-api", rate, errors: 0, requests: 0, source: "metrics", windowSeconds: 60 }];
      s.kafka = {
        brokersExpected: 3,
        brokers: [],
        underReplicatedPartitions: 0,
        offlinePartitions: 0,
        minInsyncReplicas: 2,
        groups: [{ group: "g", topic: "t", totalLag: lag, partitions: [], trendPerSecond: null, lagSeconds: null }],
      };
      return s;
    };
    const samples = [
      { at: 1, snapshot: snap(0.02, 5) },
      { at: 2, snapshot: snap(0.2, 50_000) },
      { at: 20, snapshot: snap(0.9, 90_000) },
    ];
    const w = { fault: { from: 0, to: 10 }, after: null };
    const [rate, lag] = measureTolerances(
      [
        { ...t, signal: "error-rate", max: 0.1 },
        { claim: "lag bounded", signal: "lag", during: "fault", max: 60_000 },
      ],
      w,
      samples,
      [],
    );
    expect(rate).toMatchObject({ ok: false, observed: 0.2 });
    expect(lag).toMatchObject({ ok: true, observed: 50_000 });
  });
});

describe("steps that did not do their job", () => {
  const step = (id: string, ok: boolean): StepRecord => ({
    id,
    title: id,
    runbookAction: id,
    phase: "mitigation",
    mutates: true,
    startedAt: new Date(0).toISOString(),
    seconds: 0,
    ok,
    output: [ok ? "done" : "failed: boom"],
  });

  it("fail the drill, unless the drill file says the step may fail and why", () => {
    expect(stepChecks([step("a", true), step("b", false)], [])).toEqual([
      { name: "step b did its job", ok: false, detail: "NOT ok: failed: boom" },
    ]);
    expect(stepChecks([step("b", false)], [{ step: "b", reason: "one partition only" }])).toEqual([
      { name: "step b may fail", ok: true, detail: "NOT ok (failed: boom), allowed: one partition only" },
    ]);
  });
});
