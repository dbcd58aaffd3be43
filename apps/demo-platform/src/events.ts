/**
 * The game event accepted by ingest-api and its validation (pure): the event's shape is a zod schema
 * compiled once (`eventSchema`, GameEvent inferred from it); what PostgreSQL cannot store inside a
 * payload is found by a walk without recursion (`checkPayload`), as a schema would recurse.
 */
import { z } from "zod";

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
  /** levels of nested objects and arrays in a payload, the payload itself being level 1 */
  payloadDepth: 32,
  /** problems named per payload; past it, one more says how many were left out */
  payloadProblems: 10,
} as const;

// Date and time with an explicit offset: RFC 3339, the profile of ISO 8601 that JSON APIs use.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
const TS_FORMAT = "expected an ISO 8601 timestamp with time zone, e.g. 2026-11-27T10:00:00Z";

/**
 * What PostgreSQL refuses in a string, or cannot store as sent: NUL (text and jsonb cannot hold it:
 * SQLSTATE 22021 / 22P05) and a lone UTF-16 surrogate (not Unicode: encoded as UTF-8 it becomes
 * U+FFFD in text, so two ids differing only there are stored as one; jsonb refuses it, 22P02).
 * With the `u` flag a lone surrogate is a code point of its own, which \p{Cs} matches; a pair is not.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** The first unstorable character of `v`, said; undefined when there is none. */
function unstorable(v: string): string | undefined {
  const nul = v.indexOf("\u0000");
  const lone = LONE_SURROGATE.exec(v);
  if (nul >= 0 && (!lone || nul < lone.index)) return `contains a NUL character (\\u0000) at index ${nul}, which PostgreSQL cannot store`;
  if (lone)
    return `contains a lone UTF-16 surrogate (\\u${lone[0].charCodeAt(0).toString(16)}) at index ${lone.index}: not valid Unicode, cannot be stored`;
  return undefined;
}

/**
 * A JSON number that a double cannot hold as written: JSON.parse turns 12345678901234567890 into
 * 12345678901234567000, 1e400 into Infinity (null once serialised again), 1e-400 into 0, and drops
 * digits past the 17th; what went to Kafka and PostgreSQL was then another number than the one sent.
 * parseJson leaves this marker in its place so that validation can refuse it by path.
 */
export class InexactNumber {
  constructor(readonly source: string) {}
}

/** A JSON number's text as sign, significant digits and exponent ("-1234e-2"), zero as "0": equal texts are equal values. */
function decimal(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return text;
  const frac = m[3] ?? "";
  let digits = (m[2]! + frac).replace(/^0+/, "");
  let exp = Number(m[4] ?? 0) - frac.length;
  if (digits === "") return "0";
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return `${m[1]}${digits}e${exp}`;
}

/** Whether the double JSON.parse made of `source` is the number `source` says (the sign of zero aside: numeric has none). */
export function exactNumber(source: string, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const sent = decimal(source);
  return sent === decimal(String(value)) || (sent === "0" && value === 0);
}

/**
 * JSON.parse that leaves an InexactNumber where a number would not survive as written (the source
 * text of each number, Node 21+: JSON.parse source text access).
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text, ((_key: string, value: unknown, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined && !exactNumber(context.source, value)
        ? new InexactNumber(context.source)
        : value) as (this: unknown, key: string, value: unknown) => unknown);
  } catch (err) {
    // V8 walks a reviver recursively: a body nested thousands deep overflows the stack (RangeError)
    // where JSON.parse alone does not. Validation refuses such a body for its depth anyway (no field
    // may nest past LIMITS.payloadDepth), so it is parsed without the number check.
    if (err instanceof RangeError) return JSON.parse(text);
    throw err;
  }
}

const inexact = (v: InexactNumber) =>
  `number ${v.source.length > 40 ? `${v.source.slice(0, 40)}…` : v.source} cannot be stored exactly (a double holds about 17 significant digits, magnitudes from 5e-324 to 1.8e308): send it as a string`;

/**
 * A path parameter that names a stored value (`GET /events/:id`, `/players/:id/stats`): the same bounds
 * as the field it is compared with, so PostgreSQL is never asked about a value it refuses (a NUL made
 * it answer 22021, and stats-api 500). Returns the problem, or undefined.
 */
export function checkPathId(value: string, max: number): string | undefined {
  if (value.trim() === "") return "expected a non-empty id";
  if (value.length > max) return `expected at most ${max} characters, got ${value.length}`;
  return unstorable(value);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof InexactNumber);
}

/** A required string field's problem (blank, too long, unstorable), or undefined. */
function stringProblem(v: string, max: number): string | undefined {
  if (v.trim() === "") return "expected a non-empty string";
  if (v.length > max) return `expected at most ${max} characters, got ${v.length}`;
  return unstorable(v);
}

const daysIn = (year: number, month: number): number =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/**
 * An RFC 3339 timestamp that PostgreSQL's timestamptz takes as it is: JavaScript's Date.parse accepts
 * year 0000 (PostgreSQL: 22008), 2026-02-30 (rolled over to March 2; PostgreSQL: 22008) and offsets up
 * to ±23:59 (PostgreSQL: at most ±15:59, 22009). Returns the problem, or undefined.
 */
function checkTimestamp(ts: unknown): string | undefined {
  if (typeof ts !== "string") return TS_FORMAT;
  const m = ISO_8601.exec(ts);
  if (!m || Number.isNaN(Date.parse(ts))) return TS_FORMAT;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1) return `year ${m[1]} is out of range: expected 0001 to 9999`;
  if (month < 1 || month > 12) return `month ${m[2]} is out of range: expected 01 to 12`;
  if (day < 1 || day > daysIn(year, month)) return `day ${m[3]} does not exist in ${m[1]}-${m[2]}`;
  if (hour > 23 || minute > 59 || second > 59) return `time ${m[4]}:${m[5]}:${m[6]} is out of range: expected 00:00:00 to 23:59:59`;
  if (m[9] !== undefined && (Number(m[9]) > 15 || Number(m[10]) > 59))
    return `time zone offset ${m[8]} is out of range: expected at most ±15:59 (PostgreSQL's limit)`;
  return undefined;
}

/** A payload key as a path segment: `.score` when it reads as a name, `["any key"]` otherwise (JSON-escaped). */
const keyPath = (k: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);

/**
 * Walks a payload without recursion (a deep one must not overflow the stack: JSON.stringify of a
 * 10,000-deep object throws RangeError), refusing nesting past LIMITS.payloadDepth and every key or
 * string PostgreSQL cannot store. Returns false when the payload was refused.
 */
function checkPayload(payload: Record<string, unknown>, at: string, out: FieldProblem[]): boolean {
  const found: FieldProblem[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: payload, path: at, depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value instanceof InexactNumber) {
      found.push({ path, message: inexact(value) });
      continue;
    }
    if (typeof value === "string") {
      const bad = unstorable(value);
      if (bad) found.push({ path, message: bad });
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth > LIMITS.payloadDepth) {
      out.push({ path, message: `expected at most ${LIMITS.payloadDepth} levels of nested objects and arrays in payload, got more` });
      return false;
    }
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [`[${i}]`, v])
      : Object.entries(value).map(([k, v]) => [keyPath(k), v]);
    if (!Array.isArray(value)) {
      for (const k of Object.keys(value)) {
        const bad = unstorable(k);
        if (bad) found.push({ path: `${path}${keyPath(k)}`, message: `key ${bad}` });
      }
    }
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], path: `${path}${entries[i]![0]}`, depth: depth + 1 });
  }
  out.push(...found.slice(0, LIMITS.payloadProblems));
  if (found.length > LIMITS.payloadProblems)
    out.push({ path: at, message: `${found.length - LIMITS.payloadProblems} more unstorable key(s) or string(s) not listed` });
  return found.length === 0;
}

/** "required" for a missing field, else what was expected and the kind of value found. */
const wrongType = (expected: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? "required" : `expected ${expected}, got ${kind(iss.input)}`;

const boundedString = (max: number) =>
  z.string({ error: wrongType("a string") }).superRefine((v, ctx) => {
    const problem = stringProblem(v, max);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** One game event's shape: strict (an unknown field is refused), each field with the message it has always had. */
export const eventSchema = z.strictObject(
  {
    id: boundedString(LIMITS.idLength),
    playerId: boundedString(LIMITS.playerIdLength),
    type: boundedString(LIMITS.typeLength),
    /** ISO 8601 timestamp with a time zone, e.g. 2026-11-27T10:00:00.000Z */
    ts: z.string({ error: (iss) => (iss.input === undefined ? "required" : TS_FORMAT) }).superRefine((v, ctx) => {
      const problem = checkTimestamp(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    // walked by checkPayload below (unstorable keys and strings, depth, size), not by the schema
    payload: z.custom<Record<string, unknown>>(isPlainObject, { error: wrongType("an object") }),
  },
  { error: (iss) => (iss.code === "unrecognized_keys" ? "unknown field" : `expected an event object, got ${kind(iss.input)}`) },
);

export type GameEvent = z.infer<typeof eventSchema>;

/**
 * One event's problems, each with its path under `at` (`[3]` in a batch): the checks ingest-api
 * applies before acknowledging, and the processor again on what it reads from Kafka.
 */
export function checkEvent(item: unknown, at: string, problems: FieldProblem[]): item is GameEvent {
  const before = problems.length;
  if (!isPlainObject(item)) {
    problems.push({ path: at, message: `expected an event object, got ${kind(item)}` });
    return false;
  }
  const r = eventSchema.safeParse(item, { reportInput: true });
  if (!r.success) {
    const unknown: FieldProblem[] = [];
    for (const issue of r.error.issues) {
      if (issue.code === "unrecognized_keys")
        for (const key of issue.keys) unknown.push({ path: `${at}${keyPath(key)}`, message: issue.message });
      // one message per field (a refinement does not run on a value of the wrong type)
      else
        problems.push({
          path: `${at}${issue.path.map((k) => (typeof k === "number" ? `[${k}]` : keyPath(String(k)))).join("")}`,
          message: issue.message,
        });
    }
    problems.splice(before, 0, ...unknown);
  }
  const payload = item["payload"];
  if (isPlainObject(payload) && checkPayload(payload, `${at}.payload`, problems)) {
    const size = Buffer.byteLength(JSON.stringify(payload));
    if (size > LIMITS.payloadBytes)
      problems.push({ path: `${at}.payload`, message: `expected at most ${LIMITS.payloadBytes} bytes, got ${size}` });
  }
  return problems.length === before;
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof InexactNumber) return "a number";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Validate a parsed request body: a non-empty array of game events with unique ids.
 * Returns the events when valid, otherwise every problem with the path of its field.
 */
export function validateBatch(
  body: unknown,
  maxEvents: number,
): { ok: true; events: GameEvent[] } | { ok: false; tooLarge: boolean; problems: FieldProblem[] } {
  if (!Array.isArray(body))
    return { ok: false, tooLarge: false, problems: [{ path: "$", message: `expected a JSON array of events, got ${kind(body)}` }] };
  if (body.length === 0) return { ok: false, tooLarge: false, problems: [{ path: "$", message: "expected at least one event" }] };
  if (body.length > maxEvents) {
    return {
      ok: false,
      tooLarge: true,
      problems: [{ path: "$", message: `expected at most ${maxEvents} events per batch, got ${body.length}` }],
    };
  }
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  body.forEach((item, i) => {
    const at = `[${i}]`;
    checkEvent(item, at, problems);
    if (!isPlainObject(item)) return;
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
