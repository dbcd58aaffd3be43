/** The game event accepted by ingest-api and its validation (pure). */

export interface GameEvent {
  id: string;
  playerId: string;
  type: string;
  /** ISO 8601 timestamp with a time zone, e.g. 2026-11-27T10:00:00.000Z */
  ts: string;
  payload: Record<string, unknown>;
}

export interface FieldProblem {
  /** Path of the bad field in the request body, e.g. `[3].ts` or `$` for the body itself. */
  path: string;
  message: string;
}

export const LIMITS = {
  idLength: 128,
  playerIdLength: 128,
  typeLength: 64,
  payloadBytes: 4096,
} as const;

const KNOWN_KEYS = new Set(["id", "playerId", "type", "ts", "payload"]);
// Date and time with an explicit offset: RFC 3339, the profile of ISO 8601 that JSON APIs use.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkString(obj: Record<string, unknown>, key: string, max: number, at: string, out: FieldProblem[]): void {
  const v = obj[key];
  if (v === undefined) out.push({ path: `${at}.${key}`, message: "required" });
  else if (typeof v !== "string") out.push({ path: `${at}.${key}`, message: `expected a string, got ${kind(v)}` });
  else if (v.trim() === "") out.push({ path: `${at}.${key}`, message: "expected a non-empty string" });
  else if (v.length > max) out.push({ path: `${at}.${key}`, message: `expected at most ${max} characters, got ${v.length}` });
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Validate a parsed request body: a non-empty array of game events with unique ids.
 * Returns the events when valid, otherwise every problem with the path of its field.
 */
export function validateBatch(body: unknown, maxEvents: number): { ok: true; events: GameEvent[] } | { ok: false; tooLarge: boolean; problems: FieldProblem[] } {
  if (!Array.isArray(body)) return { ok: false, tooLarge: false, problems: [{ path: "$", message: `expected a JSON array of events, got ${kind(body)}` }] };
  if (body.length === 0) return { ok: false, tooLarge: false, problems: [{ path: "$", message: "expected at least one event" }] };
  if (body.length > maxEvents) {
    return { ok: false, tooLarge: true, problems: [{ path: "$", message: `expected at most ${maxEvents} events per batch, got ${body.length}` }] };
  }
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  body.forEach((item, i) => {
    const at = `[${i}]`;
    if (!isPlainObject(item)) {
      problems.push({ path: at, message: `expected an event object, got ${kind(item)}` });
      return;
    }
    for (const key of Object.keys(item)) {
      if (!KNOWN_KEYS.has(key)) problems.push({ path: `${at}.${key}`, message: "unknown field" });
    }
    checkString(item, "id", LIMITS.idLength, at, problems);
    checkString(item, "playerId", LIMITS.playerIdLength, at, problems);
    checkString(item, "type", LIMITS.typeLength, at, problems);
    const ts = item["ts"];
    if (ts === undefined) problems.push({ path: `${at}.ts`, message: "required" });
    else if (typeof ts !== "string" || !ISO_8601.test(ts) || Number.isNaN(Date.parse(ts))) {
      problems.push({ path: `${at}.ts`, message: "expected an ISO 8601 timestamp with time zone, e.g. 2026-11-27T10:00:00Z" });
    }
    const payload = item["payload"];
    if (payload === undefined) problems.push({ path: `${at}.payload`, message: "required" });
    else if (!isPlainObject(payload)) problems.push({ path: `${at}.payload`, message: `expected an object, got ${kind(payload)}` });
    else {
      const size = Buffer.byteLength(JSON.stringify(payload));
      if (size > LIMITS.payloadBytes) problems.push({ path: `${at}.payload`, message: `expected at most ${LIMITS.payloadBytes} bytes, got ${size}` });
    }
    const id = item["id"];
    if (typeof id === "string") {
      const first = seen.get(id);
      if (first !== undefined) problems.push({ path: `${at}.id`, message: `duplicate of [${first}].id in this batch` });
      else seen.set(id, i);
    }
  });
  if (problems.length > 0) return { ok: false, tooLarge: false, problems };
  return { ok: true, events: body as GameEvent[] };
}
