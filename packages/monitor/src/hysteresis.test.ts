import { describe, expect, it } from "vitest";
import type { Incident, Severity } from "@gm/runbook/incident";
import { createIncidentTracker } from "./hysteresis.js";

const inc = (severity: Severity, subject = "ingest-api"): Incident => ({
  kind: "high-error-rate",
  severity,
  subject,
  summary: "",
  evidence: [],
  responseMinutes: 15,
  respondBy: "2026-11-27T10:15:00.000Z",
  escalation: "page",
  steps: [],
});

describe("incident tracker", () => {
  it("opens at once, resolves only after resolveAfter clean rounds", () => {
    const t = createIncidentTracker(3);
    expect(t.update([inc("P1")]).map((x) => x.type)).toEqual(["opened"]);
    expect(t.update([])).toEqual([]);
    expect(t.update([inc("P1")])).toEqual([]); // back before resolving: no flap
    expect(t.update([])).toEqual([]);
    expect(t.update([])).toEqual([]);
    expect(t.active()).toHaveLength(1);
    expect(t.update([]).map((x) => x.type)).toEqual(["resolved"]);
    expect(t.active()).toEqual([]);
  });

  it("escalates at once and de-escalates only after resolveAfter rounds at the lower severity", () => {
    const t = createIncidentTracker(2);
    t.update([inc("P2")]);
    expect(t.update([inc("P1")])).toMatchObject([{ type: "changed", from: "P2", incident: { severity: "P1" } }]);
    expect(t.update([inc("P2")])).toEqual([]);
    expect(t.active()[0]!.severity).toBe("P1");
    expect(t.update([inc("P2")])).toMatchObject([{ type: "changed", from: "P1", incident: { severity: "P2" } }]);
  });

  it("tracks subjects separately", () => {
    const t = createIncidentTracker(1);
    t.update([inc("P1", "a"), inc("P1", "b")]);
    expect(t.update([inc("P1", "a")]).map((x) => `${x.type}:${x.incident.subject}`)).toEqual(["resolved:b"]);
  });
});
