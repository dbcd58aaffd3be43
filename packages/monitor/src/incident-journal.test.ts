import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Incident, Severity } from "@gm/runbook/incident";
import { describe, expect, it } from "vitest";
import { createIncidentTracker } from "./hysteresis.js";
import { INCIDENT_ID_PATTERN, incidentsOf, JOURNAL_FILE, openIncidentJournal, readIncidentJournal } from "./incident-journal.js";

const T0 = Date.parse("2026-12-03T07:00:00.000Z");
const tmp = () => mkdtempSync(join(tmpdir(), "gm-journal-"));

function inc(kind: Incident["kind"], subject: string, severity: Severity = "P2", summary = `${kind} on ${subject}`): Incident {
  return {
    kind,
    subject,
    severity,
    summary,
    evidence: [{ signal: `x[${subject}]`, observed: 1, threshold: "> 0" }],
    responseMinutes: { P0: 5, P1: 15, P2: 60, P3: 240 }[severity],
    respondBy: new Date(T0).toISOString(),
    escalation: "page",
    steps: [],
  };
}

/** A prober's round loop in miniature: tracker → journal, on an injected clock. */
function prober(dir: string, opts: { maxBytes?: number; files?: number; clock?: { t: number } } = {}) {
  const clock = opts.clock ?? { t: T0 };
  const journal = openIncidentJournal({
    dir,
    now: () => clock.t,
    ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
    ...(opts.files ? { files: opts.files } : {}),
  });
  const tracker = createIncidentTracker(3, incidentsOf(journal.open()));
  let previous: string | null = null;
  return {
    journal,
    clock,
    round(found: Incident[]): string[] {
      clock.t += 5_000;
      const transitions = tracker.update(found);
      const ids = journal.record(transitions, tracker.active(), previous);
      previous = new Date(clock.t).toISOString();
      return ids;
    },
  };
}

describe("incident journal", () => {
  it("records an incident's life under one id: opened, severity change, evidence, resolved", () => {
    const dir = tmp();
    const p = prober(dir);
    p.round([]);
    const [id] = p.round([inc("high-error-rate", "stats-api", "P2", "7% errors")]);
    expect(id).toMatch(INCIDENT_ID_PATTERN);
    expect(id).toMatch(/^high-error-rate-20261203T070010Z-[0-9a-f]{4}$/);
    expect(p.round([inc("high-error-rate", "stats-api", "P1", "30% errors")])).toEqual([id]);
    p.clock.t += 60_000; // evidence is recorded again at most every 60 s, and only when it changed
    p.round([inc("high-error-rate", "stats-api", "P1", "40% errors")]);
    p.round([inc("high-error-rate", "stats-api", "P1", "40% errors")]);
    p.round([]);
    p.round([]);
    expect(p.round([])).toEqual([id]);

    const { incidents, problems } = readIncidentJournal(dir);
    expect(problems).toEqual([]);
    const life = incidents.get(id!)!;
    expect(life).toMatchObject({
      id,
      kind: "high-error-rate",
      subject: "stats-api",
      openedAt: "2026-12-03T07:00:10.000Z",
      // the end of the round before, which did not show it: detection took at most this long
      clearSince: "2026-12-03T07:00:05.000Z",
      worstSeverity: "P1",
      worstResponseMinutes: 15,
      changes: [{ at: "2026-12-03T07:00:15.000Z", from: "P2", to: "P1" }],
      resolvedAt: "2026-12-03T07:01:40.000Z",
    });
    expect(life.evidenceLog.map((e) => e.summary)).toEqual(["7% errors", "30% errors", "40% errors"]);
  });

  it("survives a restart: the restarted prober continues the open incident under its id and resolves it", () => {
    const dir = tmp();
    const clock = { t: T0 };
    const first = prober(dir, { clock });
    const [id] = first.round([inc("service-down", "stats-api", "P0")]);
    // the prober is killed here; a new one starts on the same directory
    const second = prober(dir, { clock });
    expect(second.journal.open().map((l) => l.id)).toEqual([id]);
    expect(second.round([inc("service-down", "stats-api", "P0")])).toEqual([]); // still open: no new incident
    second.round([]);
    second.round([]);
    expect(second.round([])).toEqual([id]);
    const { incidents } = readIncidentJournal(dir);
    expect([...incidents.keys()]).toEqual([id]);
    expect(incidents.get(id!)?.resolvedAt).not.toBeNull();
  });

  it("stays within files × maxBytes, and an open incident outlives the file it opened in", () => {
    const dir = tmp();
    const p = prober(dir, { maxBytes: 4096, files: 3 });
    const [longId] = p.round([inc("kafka-broker-down", "kafka-3")]);
    const long = inc("kafka-broker-down", "kafka-3");
    // 200 short incidents on other subjects, each opened and resolved, while kafka-3 stays open
    for (let n = 0; n < 200; n++) {
      p.round([long, inc("service-oom", `svc-${n}`)]);
      for (let k = 0; k < 3; k++) p.round([long]);
    }
    const files = readdirSync(dir);
    expect(files.sort()).toEqual(["incidents.1.jsonl", "incidents.2.jsonl", JOURNAL_FILE]);
    for (const f of files) expect(statSync(join(dir, f)).size, f).toBeLessThanOrEqual(4096);
    const { incidents, problems } = readIncidentJournal(dir);
    expect(problems).toEqual([]);
    // the oldest short incidents were rotated out; the long one is still there, opened when it opened
    expect(incidents.size).toBeLessThan(201);
    expect(incidents.get(longId!)).toMatchObject({ openedAt: "2026-12-03T07:00:05.000Z", resolvedAt: null });
    expect([...incidents.values()].some((l) => l.subject === "svc-0")).toBe(false);
    expect([...incidents.values()].some((l) => l.subject === "svc-199")).toBe(true);
  });

  it("skips a corrupt line naming the file and the line, and a torn last line as incomplete", () => {
    const dir = tmp();
    const p = prober(dir);
    const [a] = p.round([inc("service-down", "ingest-api", "P0")]);
    appendFileSync(join(dir, JOURNAL_FILE), "this is not json\n");
    appendFileSync(join(dir, JOURNAL_FILE), `${JSON.stringify({ v: 1, type: "opened", id: "nope", at: "x" })}\n`);
    appendFileSync(join(dir, JOURNAL_FILE), '{"v":1,"type":"resolved","id":"ser'); // the prober died mid-write
    const read = readIncidentJournal(dir);
    const file = join(dir, JOURNAL_FILE);
    expect(read.problems).toEqual([
      expect.stringMatching(new RegExp(`^${file} line 2: not a journal record \\(invalid JSON: .*\\); skipped$`)),
      `${file} line 3: not a journal record (field id: expected an incident id, got "nope"); skipped`,
      `${file} line 4: incomplete (the prober stopped while writing it); skipped`,
    ]);
    expect(read.incidents.get(a!)?.resolvedAt).toBeNull();
    // a restarted prober writes its next record on a line of its own, and resolves the incident
    const q = prober(dir);
    expect(q.journal.problems).toHaveLength(3);
    q.round([]);
    q.round([]);
    expect(q.round([])).toEqual([a]);
    const after = readIncidentJournal(dir);
    expect(after.incidents.get(a!)?.resolvedAt).not.toBeNull();
    // nothing the restarted prober wrote was lost to the torn line: its first record (the evidence it saw) is there
    expect(after.incidents.get(a!)?.evidenceLog).toHaveLength(2);
    expect(readFileSync(file, "utf8").split("\n").at(-2)).toMatch(/"type":"resolved"/);
  });

  it("is an empty journal where nothing was written", () => {
    expect(readIncidentJournal(join(tmp(), "missing"))).toEqual({ incidents: new Map(), problems: [], files: [] });
    const dir = tmp();
    writeFileSync(join(dir, JOURNAL_FILE), "");
    expect(readIncidentJournal(dir).incidents.size).toBe(0);
  });
});
