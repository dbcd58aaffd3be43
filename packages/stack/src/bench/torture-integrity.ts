/**
 * The platform torture's bookkeeping (pure): what was sent, in a form that PostgreSQL's row and
 * Kafka's message can be compared with, and the verdict of one phase. An event is "altered" when the
 * stored row's content differs from what ingest-api acknowledged: player, type, the instant (to the
 * microsecond, timestamptz's resolution) and the payload as JSON with its keys sorted (jsonb keeps no
 * key order, so order is not content).
 */
import { createHash } from "node:crypto";

export interface SentEvent {
  id: string;
  playerId: string;
  type: string;
  ts: string;
  payload: Record<string, unknown>;
}

/** A value as JSON with every object's keys sorted: two equal payloads give the same text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Microseconds since the epoch of an RFC 3339 timestamp, as a decimal string, rounded half up to the
 * microsecond as PostgreSQL rounds a timestamptz (the sub-millisecond digits Date.parse drops are kept).
 */
export function epochMicros(ts: string): string {
  const m = RFC3339.exec(ts);
  if (!m) throw new Error(`ts: expected an RFC 3339 timestamp such as 2026-11-27T10:00:00.123456Z, got ${JSON.stringify(ts)}`);
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) throw new Error(`ts: not a valid date: ${JSON.stringify(ts)}`);
  const frac = (m[2] ?? "").padEnd(9, "0");
  const nanos = BigInt(frac);
  const micros = nanos / 1000n + (nanos % 1000n >= 500n ? 1n : 0n);
  return (BigInt(seconds) * 1000n + micros).toString();
}

/** The hash of what an event says (everything but its id, which is the key it is looked up by). */
export function contentHash(playerId: string, type: string, tsMicros: string, payload: unknown): string {
  return createHash("sha256")
    .update(canonicalJson([playerId, type, tsMicros, payload]))
    .digest("base64url")
    .slice(0, 22);
}

/** The hash of an event as sent. */
export function sentHash(e: SentEvent): string {
  return contentHash(e.playerId, e.type, epochMicros(e.ts), e.payload);
}

/** A row of `events` as the torture reads it: ts as epoch microseconds, payload as jsonb's text. */
export interface StoredRow {
  id: string;
  player_id: string;
  type: string;
  ts_us: string;
  payload: string;
}

export function storedHash(r: StoredRow): string {
  return contentHash(r.player_id, r.type, r.ts_us, JSON.parse(r.payload));
}

/** What the torture knows of one event it sent. */
export interface LedgerEntry {
  /** index of the phase in which it was first sent */
  phase: number;
  hash: string;
  acked: boolean;
}

export interface PhaseIntegrity {
  acknowledged: number;
  stored: number;
  lost: number;
  duplicated: number;
  altered: number;
  /** acknowledged (202) but in neither the topic nor the table */
  ackedNotInKafka: number;
  /** acknowledged events with more than one copy in the topic (a client retry or a producer retry): each must still be one row */
  kafkaCopiesOverOne: number;
  /** sent, never acknowledged, stored all the same (a 5xx or timeout after Kafka had the event): allowed */
  unackedStored: number;
  examples: { lost: string[]; duplicated: string[]; altered: string[]; ackedNotInKafka: string[] };
}

/**
 * The verdict over the events of the phases in `phases`: each acknowledged event must be stored
 * exactly once (`rowsById`: how many rows have the id, and the hash of the first), with the content
 * sent, and be in the topic (`kafkaCopies`: copies seen in the topic by id) or the table.
 */
export function judge(
  ledger: ReadonlyMap<string, LedgerEntry>,
  phases: ReadonlySet<number>,
  rowsById: ReadonlyMap<string, { rows: number; hash: string }>,
  kafkaCopies: ReadonlyMap<string, number>,
): PhaseIntegrity {
  const r: PhaseIntegrity = {
    acknowledged: 0,
    stored: 0,
    lost: 0,
    duplicated: 0,
    altered: 0,
    ackedNotInKafka: 0,
    kafkaCopiesOverOne: 0,
    unackedStored: 0,
    examples: { lost: [], duplicated: [], altered: [], ackedNotInKafka: [] },
  };
  const note = (list: string[], id: string) => {
    if (list.length < 5) list.push(id);
  };
  for (const [id, e] of ledger) {
    if (!phases.has(e.phase)) continue;
    const row = rowsById.get(id);
    if (!e.acked) {
      if (row) r.unackedStored += 1;
      continue;
    }
    r.acknowledged += 1;
    const copies = kafkaCopies.get(id) ?? 0;
    if (copies > 1) r.kafkaCopiesOverOne += 1;
    if (!row) {
      r.lost += 1;
      note(r.examples.lost, id);
      if (copies === 0) {
        r.ackedNotInKafka += 1;
        note(r.examples.ackedNotInKafka, id);
      }
      continue;
    }
    r.stored += 1;
    if (row.rows > 1) {
      r.duplicated += 1;
      note(r.examples.duplicated, id);
    }
    if (row.hash !== e.hash) {
      r.altered += 1;
      note(r.examples.altered, id);
    }
  }
  return r;
}

/** Whether a verdict breaks the promise: anything acknowledged lost, stored twice, changed, or never handed to Kafka. */
export function broken(r: PhaseIntegrity): boolean {
  return r.lost > 0 || r.duplicated > 0 || r.altered > 0 || r.ackedNotInKafka > 0;
}
