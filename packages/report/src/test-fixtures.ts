/**
 * Realistic drill reports for the renderers' tests (not built into dist): a passed kafka-broker-down
 * drill and a failed db-pool-exhausted drill that lost acknowledged events. Every call returns a fresh
 * object, so a test may mutate what it gets.
 */
import type { DrillReport, SignalSample, StepRecord, TimelineEvent } from "./schema.js";

const T0 = Date.parse("2025-03-14T10:00:00.000Z");

/** ISO time `seconds` after the drill's start (10:00:00Z). */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** Samples every `every` seconds from 0 to `until`, shaped by `f(seconds)`. */
export function series(until: number, every: number, f: (s: number) => Partial<SignalSample>): SignalSample[] {
  const out: SignalSample[] = [];
  for (let s = 0; s <= until; s += every) {
    out.push({ at: at(s), errorRate: 0.002, lag: 40, poolUsage: 0.2, healthy: 4, services: 4, incidents: [], ...f(s) });
  }
  return out;
}

function step(
  id: string,
  title: string,
  runbookAction: string,
  phase: StepRecord["phase"],
  start: number,
  seconds: number,
  ok: boolean,
  output: string[],
  mutates = false,
): StepRecord {
  return { id, title, runbookAction, phase, mutates, startedAt: at(start), seconds, ok, output };
}

function ev(s: number, phase: TimelineEvent["phase"], message: string): TimelineEvent {
  return { at: at(s), phase, message };
}

/** kafka-broker-down, 3 brokers, kafka-2 killed at +30 s: detected after 12 s, recovered after 78 s. */
export function kafkaBrokerDownPassed(): DrillReport {
  const inject = 30;
  return {
    schemaVersion: 1,
    drill: {
      scenario: "kafka-broker-down",
      file: "scenarios/kafka-broker-down.yaml",
      hypothesis:
        "When one of three brokers dies, the platform keeps accepting events, the incident is detected as P2 within 60 s, and no acknowledged event is lost.",
      fault: { type: "kill-container", params: { container: "kafka-2", signal: "SIGKILL" }, description: "SIGKILL the broker kafka-2" },
      expected: { kind: "kafka-broker-down", severity: "P2" },
      target: { kind: "testcontainers", name: "gm-drill-7f3a" },
    },
    startedAt: at(0),
    finishedAt: at(180),
    outcome: "passed",
    reasons: [],
    timings: {
      detectSeconds: 12,
      mitigateSeconds: 41,
      recoverSeconds: 78,
      responseMinutes: 60,
      deadlines: { detectSeconds: 60, recoverSeconds: 300 },
    },
    detected: {
      kind: "kafka-broker-down",
      severity: "P2",
      evidence: [
        { signal: "kafka.brokers[kafka-2].up", observed: false, threshold: "== true" },
        { signal: "kafka.brokersUp", observed: 2, threshold: ">= 3" },
      ],
    },
    incidentsSeen: [
      { kind: "kafka-broker-down", severity: "P2", subject: "kafka-2", firstSeenAt: at(inject + 12) },
      { kind: "high-consumer-lag", severity: "P2", subject: "event-processor-service", firstSeenAt: at(inject + 35) },
    ],
    steps: [
      step(
        "kafka-check-broker-status",
        "Check broker status",
        "Check broker status: `kubectl get pods -n kafka`",
        "triage",
        inject + 14,
        1.2,
        true,
        ["kafka-1 running", "kafka-2 exited (137)", "kafka-3 running"],
      ),
      step(
        "kafka-restart-broker",
        "Restart broker instances that are not running",
        "Restart broker if needed: `kubectl delete pod -n kafka <broker-pod>`",
        "mitigation",
        inject + 16,
        25,
        true,
        ["restarting kafka-2", "kafka-2 running"],
        true,
      ),
      step(
        "verify-lag-drains",
        "Verify the consumer lag drains",
        "Verify replication: Check Kafka UI",
        "verification",
        inject + 42,
        36,
        true,
        ["lag 18250 → 0 in 36 s"],
      ),
    ],
    integrity: { acknowledged: 12_480, found: 12_480, lost: 0, duplicates: 0, lostSample: [] },
    cleanup: { ok: true, leftovers: [] },
    checks: [
      { name: "steady state before", ok: true, detail: "4/4 services healthy, error rate 0.2%" },
      { name: "detected within deadline", ok: true, detail: "kafka-broker-down P2 after 12 s (deadline 60 s)" },
      { name: "recovered within deadline", ok: true, detail: "steady state again after 78 s (deadline 300 s)" },
      { name: "no acknowledged event lost", ok: true, detail: "12480/12480 found" },
    ],
    timeline: [
      ev(0, "steady-state", "steady state met: 4/4 services healthy"),
      ev(5, "load", "load started: 100 events/s"),
      ev(inject, "inject", "fault injected: SIGKILL kafka-2"),
      ev(inject + 12, "detect", "detected kafka-broker-down P2"),
      ev(inject + 41, "mitigate", "step kafka-restart-broker ok"),
      ev(inject + 78, "recover", "steady state again"),
      ev(inject + 100, "integrity", "12480 acknowledged, 12480 found"),
      ev(175, "cleanup", "removed 0 leftovers"),
    ],
    signals: series(180, 5, (s) => {
      const t = s - inject;
      if (t < 0) return {};
      const down = t < 41;
      return {
        errorRate: down ? 0.03 : 0.002,
        lag: t < 78 ? Math.round(40 + 18_000 * Math.sin((Math.PI * Math.min(t, 78)) / 80)) : 40,
        healthy: down ? 3 : 4,
        incidents: t >= 12 && t < 78 ? ["kafka-broker-down:P2"] : [],
      };
    }),
  };
}

/**
 * db-pool-exhausted, P1 expected: detected late (95 s, deadline 60 s), the kill-idle step failed, 37
 * acknowledged events lost and 3 duplicated, a leftover container; lag unknown throughout.
 */
export function dbPoolExhaustedFailed(): DrillReport {
  const inject = 20;
  return {
    schemaVersion: 1,
    drill: {
      scenario: "db-pool-exhausted",
      file: "scenarios/db-pool-exhausted.yaml",
      hypothesis:
        "When 95 idle sessions hold PostgreSQL's connections, the incident is detected as P1 within 60 s, the steps free connections, and no acknowledged event is lost.",
      fault: {
        type: "hold-connections",
        params: { connections: 95, idle: true, database: "gamemetrics" },
        description: "open 95 idle sessions to PostgreSQL",
      },
      expected: { kind: "db-pool-exhausted", severity: "P1" },
      target: { kind: "testcontainers", name: "gm-drill-c0de" },
    },
    startedAt: at(0),
    finishedAt: at(240),
    outcome: "failed",
    reasons: ["detected after 95 s, deadline 60 s", "37 acknowledged events lost"],
    timings: {
      detectSeconds: 95,
      mitigateSeconds: 150,
      recoverSeconds: 190,
      responseMinutes: 15,
      deadlines: { detectSeconds: 60, recoverSeconds: 300 },
    },
    detected: {
      kind: "db-pool-exhausted",
      severity: "P1",
      evidence: [
        { signal: "postgres.usage", observed: 0.97, threshold: ">= 0.9" },
        { signal: "services[event-processor-service].errorRate", observed: 0.34, threshold: "> 0.1 (P1)" },
      ],
    },
    incidentsSeen: [{ kind: "db-pool-exhausted", severity: "P1", subject: "postgres", firstSeenAt: at(inject + 95) }],
    steps: [
      step(
        "db-check-active-connections",
        "Check active connections",
        "Check active connections: `SELECT count(*) FROM pg_stat_activity;`",
        "triage",
        inject + 97,
        0.4,
        true,
        ["97 of 100 connections in use", "95 idle > 30 s"],
      ),
      step(
        "db-kill-idle-connections",
        "Kill idle connections",
        "Kill idle connections if necessary",
        "mitigation",
        inject + 99,
        30,
        false,
        ["terminating 95 idle sessions", "\u001b[31merror\u001b[0m: permission denied to terminate process <pid 4121> & others"],
        true,
      ),
      step(
        "db-increase-pool-size",
        "Increase connection pool size",
        "Increase connection pool size in services",
        "mitigation",
        inject + 130,
        20,
        true,
        ["pool 10 → 20 for event-processor-service"],
        true,
      ),
      step("db-verify-error-rate", "Verify the error rate is normal", "Verify resolution", "verification", inject + 150, 40, true, [
        "error rate 0.4% after 40 s",
      ]),
    ],
    integrity: { acknowledged: 9_120, found: 9_086, lost: 37, duplicates: 3, lostSample: ["evt-000412", "evt-000413", "evt-001977"] },
    cleanup: { ok: false, leftovers: ["container gm-drill-c0de-holder"] },
    checks: [
      { name: "steady state before", ok: true, detail: "4/4 services healthy" },
      { name: "detected within deadline", ok: false, detail: 'detected after 95 s > 60 s: "db-pool-exhausted" <P1> & late' },
      { name: "recovered within deadline", ok: true, detail: "190 s (deadline 300 s)" },
      { name: "no acknowledged event lost", ok: false, detail: "37 of 9120 acknowledged events lost" },
    ],
    timeline: [
      ev(0, "steady-state", "steady state met"),
      ev(2, "load", "load started: 50 events/s"),
      ev(inject, "inject", "fault injected: 95 idle sessions"),
      ev(inject + 95, "detect", "detected db-pool-exhausted P1"),
      ev(inject + 150, "mitigate", "step db-increase-pool-size ok"),
      ev(inject + 190, "recover", "steady state again"),
      ev(inject + 205, "integrity", "37 lost, 3 duplicates"),
      ev(235, "cleanup", "1 leftover"),
    ],
    signals: series(240, 10, (s) => {
      const t = s - inject;
      const bad = t >= 0 && t < 170;
      return {
        lag: null,
        errorRate: s === 120 ? null : bad ? 0.34 : 0.004,
        poolUsage: bad ? 0.97 : 0.3,
        healthy: bad ? 2 : 4,
        incidents: t >= 95 && t < 190 ? ["db-pool-exhausted:P1"] : [],
      };
    }),
  };
}

/**
 * A small well-formedness check for the XML the renderers write (no XML parser among the
 * dependencies): balanced tags, attributes quoted, no raw `<` or stray `&` in text or attributes,
 * no character XML forbids. Returns the problems; [] when well-formed.
 */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  for (const ch of xml) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) problems.push(`forbidden character U+${c.toString(16).padStart(4, "0")}`);
  }
  const body = xml.replace(/^<\?xml[^>]*\?>/, "").replace(/^<!doctype html>/i, "");
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let text = "";
  const checkText = (t: string) => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(t)) problems.push(`stray & in ${JSON.stringify(t.slice(0, 60))}`);
  };
  while (i < body.length) {
    if (body[i] !== "<") {
      text += body[i];
      i++;
      continue;
    }
    checkText(text);
    text = "";
    tag.lastIndex = i;
    const m = tag.exec(body);
    if (!m) {
      problems.push(`bad markup at ${i}: ${JSON.stringify(body.slice(i, i + 60))}`);
      break;
    }
    const [all, close, name = "", attrs = "", selfClose] = m;
    checkText(attrs);
    const voidHtml = ["meta", "br", "link", "img", "hr", "input"].includes(name.toLowerCase());
    if (close) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!selfClose && !voidHtml) stack.push(name);
    i += all.length;
  }
  checkText(text);
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(", ")}`);
  return problems;
}
