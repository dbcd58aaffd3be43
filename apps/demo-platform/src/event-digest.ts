/**
 * The digest stats-api returns with a stored event (GET /events/:id → `sha256`), so a client can check
 * that what it reads is what it sent without knowing how PostgreSQL's jsonb reorders keys and rewrites
 * numbers: SHA-256 of JSON of {id, playerId, type, ts, payload} with object keys sorted at every depth
 * and ts as its instant (ISO 8601, UTC, milliseconds). The same form as packages/stack/src/event-digest.ts,
 * which the drills and the canary use; this service keeps its own copy (its image bundles nothing of the
 * SRE packages) and event-digest.property.test.ts fails when the two disagree.
 */
import { createHash } from "node:crypto";

/** JSON with object keys sorted at every depth. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** SHA-256 (hex) of a stored event's canonical content; `ts` as PostgreSQL's timestamptz reads back. */
export function storedEventDigest(e: { id: string; playerId: string; type: string; ts: Date; payload: unknown }): string {
  const content = { id: e.id, playerId: e.playerId, type: e.type, ts: e.ts.toISOString(), payload: e.payload };
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}
