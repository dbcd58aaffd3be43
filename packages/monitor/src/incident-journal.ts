/**
 * The incident journal: each real incident's life as gm-prober saw it — opened (with the end of the
 * last round that did not show it, so time to detect can be bounded), severity changes, evidence while
 * it stays open, resolved — so `gm-chaos report incident <id>` writes the report a drill gets.
 *
 * Why an append-only JSON-lines file with size-capped rotation (incidents.jsonl, incidents.1.jsonl …):
 * a record is one small `write` with O_APPEND and an fsync, so a crash loses at most the line being
 * written (read back as "incomplete", never as a corrupt journal) and nothing is rewritten in place;
 * the size cap bounds the disk whatever happens (a flapping incident, a long one), where a cap on the
 * number of incidents would not bound an incident that stays open for a week. Rotation starts the new
 * file with a `carried` record of every open incident, so an incident outlives the file it opened in;
 * what is rotated out is the oldest closed history. Total disk: `files × maxBytes`.
 *
 * Every incident has a stable id, given when it opens and kept through its changes and its
 * resolution — and across a prober restart: the prober reads the journal's open incidents at start and
 * continues them (they resolve after the usual clean rounds if they are gone).
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  type Escalation,
  type Evidence,
  INCIDENT_KINDS,
  type Incident,
  type IncidentKind,
  SEVERITIES,
  type Severity,
} from "@gm/runbook/incident";
import type { Transition } from "./hysteresis.js";

/** Appends `text` to `file` (created 0600) and fsyncs it: a crash loses at most the line being written. */
export function appendDurably(file: string, text: string): void {
  const fd = openSync(file, "a", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The journal's file names, newest first: incidents.jsonl, incidents.1.jsonl, … */
export const JOURNAL_FILE = "incidents.jsonl";
const rotated = (n: number) => (n === 0 ? JOURNAL_FILE : `incidents.${n}.jsonl`);

/** An incident id: `<kind>-<UTC time it opened, compact>-<4 hex>`, e.g. `service-down-20261203T071612Z-3f9a`. */
export const INCIDENT_ID_PATTERN = /^[a-z][a-z-]{1,40}-\d{8}T\d{6}Z-[0-9a-f]{4}$/;

/** Where gm-prober keeps its journal when neither the configuration nor `--journal-dir` says: GM_PROBER_STATE_DIR, else $XDG_STATE_HOME/gm-prober, else ~/.local/state/gm-prober. */
export function defaultJournalDir(env: NodeJS.ProcessEnv = process.env): string {
  return env["GM_PROBER_STATE_DIR"] || join(env["XDG_STATE_HOME"] || join(homedir(), ".local", "state"), "gm-prober");
}

interface Base {
  v: 1;
  id: string;
  at: string;
}
/** The incident as the record keeps it (its steps are the catalog's, not repeated). */
interface Described {
  kind: IncidentKind;
  subject: string;
  severity: Severity;
  summary: string;
  evidence: Evidence[];
  responseMinutes: number;
  respondBy: string;
  escalation: Escalation;
}
export type JournalRecord =
  | (Base & Described & { type: "opened"; clearSince: string | null })
  | (Base & { type: "severity"; from: Severity; to: Severity; responseMinutes: number; summary: string; evidence: Evidence[] })
  | (Base & { type: "evidence"; summary: string; evidence: Evidence[] })
  | (Base & { type: "resolved"; severity: Severity; summary: string })
  | (Base & { type: "carried"; life: IncidentLife });

/** One incident's life, as read back from the journal. */
export interface IncidentLife extends Described {
  id: string;
  openedAt: string;
  /** the end of the last prober round that did not show it (null: the prober had just started) */
  clearSince: string | null;
  /** the worst severity it reached */
  worstSeverity: Severity;
  /** the severity and response time of that worst severity (the report judges against it) */
  worstResponseMinutes: number;
  changes: { at: string; from: Severity; to: Severity }[];
  /** evidence as it was recorded: at opening, at each change, and while it stayed open (bounded) */
  evidenceLog: { at: string; summary: string; evidence: Evidence[] }[];
  resolvedAt: string | null;
}

/** Evidence entries kept per incident in memory and in a carried record (the newest; the first is the opening's). */
export const MAX_EVIDENCE_PER_INCIDENT = 50;

const rank = (s: Severity) => SEVERITIES.indexOf(s);
const compact = (iso: string) => iso.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** A new incident id for `kind` opened at `at`. */
export function newIncidentId(kind: IncidentKind, at: string, random: () => string = () => randomBytes(2).toString("hex")): string {
  return `${kind}-${compact(at)}-${random()}`;
}

function pushEvidence(life: IncidentLife, e: IncidentLife["evidenceLog"][number]): void {
  life.evidenceLog.push(e);
  // keep the opening's evidence and the newest ones
  if (life.evidenceLog.length > MAX_EVIDENCE_PER_INCIDENT) life.evidenceLog.splice(1, life.evidenceLog.length - MAX_EVIDENCE_PER_INCIDENT);
}

/** Applies one record to the lives read so far (the reader and the writer's own memory share it). */
export function applyRecord(lives: Map<string, IncidentLife>, r: JournalRecord): void {
  switch (r.type) {
    case "opened": {
      const { v: _v, type: _t, at, ...d } = r;
      lives.set(r.id, {
        ...d,
        openedAt: at,
        worstSeverity: r.severity,
        worstResponseMinutes: r.responseMinutes,
        changes: [],
        evidenceLog: [{ at, summary: r.summary, evidence: r.evidence }],
        resolvedAt: null,
      });
      return;
    }
    case "carried":
      // a life carried over a rotation: complete as of then (an older file may be gone)
      if (!lives.has(r.id)) lives.set(r.id, structuredClone(r.life));
      return;
    case "severity": {
      const l = lives.get(r.id);
      if (!l) return;
      l.changes.push({ at: r.at, from: r.from, to: r.to });
      l.severity = r.to;
      l.responseMinutes = r.responseMinutes;
      l.summary = r.summary;
      l.evidence = r.evidence;
      if (rank(r.to) < rank(l.worstSeverity)) {
        l.worstSeverity = r.to;
        l.worstResponseMinutes = r.responseMinutes;
      }
      pushEvidence(l, { at: r.at, summary: r.summary, evidence: r.evidence });
      return;
    }
    case "evidence": {
      const l = lives.get(r.id);
      if (!l) return;
      l.summary = r.summary;
      l.evidence = r.evidence;
      pushEvidence(l, { at: r.at, summary: r.summary, evidence: r.evidence });
      return;
    }
    case "resolved": {
      const l = lives.get(r.id);
      if (l) l.resolvedAt = r.at;
      return;
    }
  }
}

// ------------------------------------------------------------------------------------- reading

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isTime = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));
const isSeverity = (v: unknown): v is Severity => SEVERITIES.includes(v as Severity);
const isEvidence = (v: unknown) =>
  Array.isArray(v) && v.every((e) => isObj(e) && typeof e["signal"] === "string" && typeof e["threshold"] === "string");

/** Why `v` is not a journal record ("" when it is one). */
export function recordProblem(v: unknown): string {
  if (!isObj(v)) return "expected a JSON object";
  if (v["v"] !== 1) return `field v: expected 1 (this reader understands version 1), got ${JSON.stringify(v["v"]) ?? "nothing"}`;
  if (typeof v["id"] !== "string" || !INCIDENT_ID_PATTERN.test(v["id"]))
    return `field id: expected an incident id, got ${JSON.stringify(v["id"])}`;
  if (!isTime(v["at"])) return `field at: expected an ISO 8601 time, got ${JSON.stringify(v["at"])}`;
  switch (v["type"]) {
    case "opened":
      if (!INCIDENT_KINDS.includes(v["kind"] as IncidentKind))
        return `field kind: expected an incident kind, got ${JSON.stringify(v["kind"])}`;
      if (!isSeverity(v["severity"])) return `field severity: expected P0–P3, got ${JSON.stringify(v["severity"])}`;
      if (typeof v["subject"] !== "string") return "field subject: expected a string";
      if (!isEvidence(v["evidence"])) return "field evidence: expected a list of {signal, observed, threshold}";
      if (typeof v["responseMinutes"] !== "number") return "field responseMinutes: expected a number";
      return "";
    case "severity":
      return isSeverity(v["from"]) && isSeverity(v["to"]) && typeof v["responseMinutes"] === "number" && isEvidence(v["evidence"])
        ? ""
        : "fields from, to, responseMinutes, evidence: expected two severities, minutes and evidence";
    case "evidence":
      return isEvidence(v["evidence"]) ? "" : "field evidence: expected a list of {signal, observed, threshold}";
    case "resolved":
      return isSeverity(v["severity"]) ? "" : `field severity: expected P0–P3, got ${JSON.stringify(v["severity"])}`;
    case "carried":
      return isObj(v["life"]) && v["life"]["id"] === v["id"] && isTime(v["life"]["openedAt"])
        ? ""
        : "field life: expected the incident's life so far";
    default:
      return `field type: expected opened, severity, evidence, resolved or carried, got ${JSON.stringify(v["type"])}`;
  }
}

/** A journal file is at most its cap; anything far larger is not one (and reading it could exhaust memory). */
const MAX_READ_BYTES = 256 * 1024 * 1024;

export interface JournalRead {
  /** every incident found, by id, in the order they opened */
  incidents: Map<string, IncidentLife>;
  /** one line per line skipped, naming the file and line and why; a torn last line after a crash is one */
  problems: string[];
  /** the files read, oldest first */
  files: string[];
}

/**
 * Reads the journal in `dir` (its rotated files oldest first). A line that is not a record is skipped
 * and told in `problems` (file, line, why); a missing directory is an empty journal.
 */
export function readIncidentJournal(dir: string, keepFiles = 100): JournalRead {
  const lives = new Map<string, IncidentLife>();
  const problems: string[] = [];
  const files: string[] = [];
  for (let n = keepFiles - 1; n >= 0; n--) {
    const file = join(dir, rotated(n));
    if (!existsSync(file)) continue;
    const st = statSync(file);
    if (!st.isFile()) {
      problems.push(`${file}: not a regular file; skipped`);
      continue;
    }
    if (st.size > MAX_READ_BYTES) {
      problems.push(`${file}: ${st.size} bytes, more than a journal file can be (${MAX_READ_BYTES}); skipped`);
      continue;
    }
    files.push(file);
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    const torn = !text.endsWith("\n") && text.length > 0;
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      const where = `${file} line ${i + 1}`;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        problems.push(
          i === lines.length - 1 && torn
            ? `${where}: incomplete (the prober stopped while writing it); skipped`
            : `${where}: not a journal record (invalid JSON: ${e instanceof Error ? e.message : String(e)}); skipped`,
        );
        return;
      }
      const why = recordProblem(v);
      if (why) {
        problems.push(`${where}: not a journal record (${why}); skipped`);
        return;
      }
      applyRecord(lives, v as JournalRecord);
    });
  }
  return { incidents: lives, problems, files };
}

// ------------------------------------------------------------------------------------- writing

export interface IncidentJournalOptions {
  dir: string;
  /** a file is rotated before it would pass this many bytes (default 1 MiB) */
  maxBytes?: number;
  /** files kept, the current one included (default 3): the journal never takes more than files × maxBytes */
  files?: number;
  /** an open incident's evidence is recorded again at most this often, when it changed (default 60 s) */
  evidenceEverySeconds?: number;
  now?: () => number;
  random?: () => string;
}

export type IncidentJournal = ReturnType<typeof openIncidentJournal>;

/**
 * Opens (creating) the journal in `dir` for appending. Reads what is there first: the open incidents
 * it returns in `open()` are continued under their ids; lines it could not read are in `problems`.
 */
export function openIncidentJournal(o: IncidentJournalOptions) {
  const maxBytes = o.maxBytes ?? 1024 * 1024;
  const keep = o.files ?? 3;
  const every = (o.evidenceEverySeconds ?? 60) * 1000;
  const now = o.now ?? Date.now;
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const file = join(o.dir, JOURNAL_FILE);
  const read = readIncidentJournal(o.dir, keep);
  // open incidents only: a resolved one is history, and only its id could collide (it cannot: the time is in it)
  const lives = new Map([...read.incidents].filter(([, l]) => l.resolvedAt === null));
  const byKey = new Map([...lives.values()].map((l) => [`${l.kind}|${l.subject}`, l.id]));
  const lastEvidence = new Map<string, { at: number; summary: string }>();
  let size = existsSync(file) ? statSync(file).size : 0;
  // a torn last line (a crash mid-write) ends here, so the next record starts on a line of its own
  if (size > 0 && !readFileSync(file, "utf8").endsWith("\n")) appendRaw("\n");

  function appendRaw(text: string): void {
    appendDurably(file, text);
    size += Buffer.byteLength(text);
  }

  function rotate(): void {
    rmSync(join(o.dir, rotated(keep - 1)), { force: true });
    for (let n = keep - 2; n >= 0; n--) {
      const from = join(o.dir, rotated(n));
      if (existsSync(from)) renameSync(from, join(o.dir, rotated(n + 1)));
    }
    size = 0;
    const at = new Date(now()).toISOString();
    // every open incident starts the new file, so it outlives the file it opened in
    for (const life of lives.values()) appendRaw(`${JSON.stringify({ v: 1, type: "carried", id: life.id, at, life })}\n`);
  }

  function append(r: JournalRecord): void {
    const line = `${JSON.stringify(r)}\n`;
    if (keep > 1 && size > 0 && size + Buffer.byteLength(line) > maxBytes) rotate();
    appendRaw(line);
    applyRecord(lives, r);
  }

  const described = (i: Incident): Described => ({
    kind: i.kind,
    subject: i.subject,
    severity: i.severity,
    summary: i.summary,
    evidence: i.evidence,
    responseMinutes: i.responseMinutes,
    respondBy: i.respondBy,
    escalation: i.escalation,
  });

  return {
    dir: o.dir,
    /** lines of the existing journal that could not be read (file, line, why) */
    problems: read.problems,
    /** the incidents open in the journal (a restarted prober continues them) */
    open(): IncidentLife[] {
      return [...lives.values()];
    },
    /**
     * Records one round: its transitions, and the evidence of incidents that stayed open (when it
     * changed, at most every `evidenceEverySeconds`). `clearSince` is when the previous round ended.
     * Returns the id of each transition's incident, in order.
     */
    record(transitions: Transition[], active: Incident[], clearSince: string | null): string[] {
      const at = new Date(now()).toISOString();
      const ids: string[] = [];
      const touched = new Set<string>();
      for (const t of transitions) {
        const i = t.incident;
        const key = `${i.kind}|${i.subject}`;
        let id = byKey.get(key);
        if (t.type === "opened" || !id) {
          id = newIncidentId(i.kind, at, o.random);
          byKey.set(key, id);
          append({ v: 1, type: "opened", id, at, ...described(i), clearSince });
          if (t.type === "opened") lastEvidence.set(id, { at: now(), summary: i.summary });
        }
        if (t.type === "changed")
          append({
            v: 1,
            type: "severity",
            id,
            at,
            from: t.from,
            to: i.severity,
            responseMinutes: i.responseMinutes,
            summary: i.summary,
            evidence: i.evidence,
          });
        if (t.type === "resolved") {
          append({ v: 1, type: "resolved", id, at, severity: i.severity, summary: i.summary });
          byKey.delete(key);
          lives.delete(id);
          lastEvidence.delete(id);
        }
        touched.add(key);
        ids.push(id);
      }
      for (const i of active) {
        const key = `${i.kind}|${i.subject}`;
        const id = byKey.get(key);
        if (!id || touched.has(key)) continue;
        const last = lastEvidence.get(id);
        if (last && (now() - last.at < every || last.summary === i.summary)) continue;
        append({ v: 1, type: "evidence", id, at, summary: i.summary, evidence: i.evidence });
        lastEvidence.set(id, { at: now(), summary: i.summary });
      }
      return ids;
    },
  };
}

/** The incidents a restarted prober continues, as the tracker holds them. */
export function incidentsOf(lives: IncidentLife[]): Incident[] {
  return lives.map((l) => ({
    kind: l.kind,
    severity: l.severity,
    subject: l.subject,
    summary: l.summary,
    evidence: l.evidence,
    responseMinutes: l.responseMinutes,
    respondBy: l.respondBy,
    escalation: l.escalation,
    steps: [],
  }));
}
