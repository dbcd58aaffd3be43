/**
 * The content of a game event in one canonical form, and its SHA-256: what integrity compares between
 * what a client sent and what PostgreSQL stored. The event travels as JSON → Kafka → the processor →
 * a jsonb column, and jsonb reorders keys and normalizes numbers and whitespace, so the bytes sent are
 * never the bytes read back; the parsed values are the same. The canonical form is JSON of the parsed
 * value with object keys sorted at every depth and `ts` as the instant it names (ISO 8601, UTC, ms).
 * stats-api computes the same digest over the stored row (apps/demo-platform/src/events.ts, kept in
 * step by a test there).
 */
import { createHash } from "node:crypto";

/** The fields of an event that integrity compares. */
export interface EventContent {
  id: string;
  playerId: string;
  type: string;
  /** ISO 8601 text or a Date (as the pg driver reads timestamptz) */
  ts: string | Date;
  payload: unknown;
}

/** JSON with object keys sorted at every depth; `undefined` members are dropped as JSON.stringify drops them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** The instant a timestamp names, as PostgreSQL's timestamptz keeps it and the pg driver reads it back (milliseconds). */
function instant(ts: string | Date): string {
  const d = ts instanceof Date ? ts : new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

/** The canonical text of an event's content. */
export function canonicalEvent(e: EventContent): string {
  return canonicalJson({ id: e.id, playerId: e.playerId, type: e.type, ts: instant(e.ts), payload: e.payload });
}

/** SHA-256 (hex) of the canonical text of an event's content. */
export function eventDigest(e: EventContent): string {
  return createHash("sha256").update(canonicalEvent(e)).digest("hex");
}
