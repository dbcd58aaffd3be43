/**
 * The one way a file's shape is checked (zod schemas) and its problems are told: one message per
 * problem, `<field path>: expected <what>, got <what was found>`, never a file's content.
 *
 * Convention, so that messages read the same for every file: a schema's custom `error` is the phrase
 * that follows "expected" ("a number between 0 and 1"); a strict object made by `obj` carries its
 * allowed keys for the "unknown key" message; a `custom` issue (a cross-field rule, a refinement)
 * carries its whole message, unless its params say `{ expected: true }`. Schemas without a custom error get a phrase from `expectedOf` below.
 */
import { z } from "zod";
import { redactText } from "./redact.js";
import { showKey } from "./yaml-text.js";

/** Result of checking a value against a schema: the typed value, or one message per problem. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/**
 * A value quoted after "got": a list or a mapping by its kind, a long text by its length (it may be a
 * file's content rather than a value), a URL's password never.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "symbol") return "binary or tagged data";
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length === 0 ? "an empty list" : "a list";
  if (typeof v === "object") return Object.keys(v).length === 0 ? "an empty mapping" : "a mapping";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (typeof v === "string") {
    // one printable line of a value's length is quoted; a control character (a newline, NUL) marks text
    if (v.length <= 80 && !/\p{Cc}/u.test(v)) return redactText(JSON.stringify(v));
    return `a string of ${v.length} characters`;
  }
  return String(v);
}

/** A path as the messages print it: `services.stats-api[0]`, `(root)` for the file itself. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const k = String(seg);
      // a key of the file is shown only when it reads as a field name (a line of /etc/shadow is not)
      const name = showKey(k) === `"${k}"` ? k : showKey(k);
      out += out === "" ? name : `.${name}`;
    }
  }
  return out === "" ? "(root)" : out;
}

const TYPE_NAMES: Record<string, string> = {
  number: "a number",
  int: "an integer",
  string: "a string",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  nonoptional: "a value",
};

const bound = (n: number | bigint) => String(n);

/** The "expected …" phrase of an issue whose schema has no custom error. */
function expectedOf(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`;
    case "too_small": {
      const min = bound(issue.minimum as number);
      if (issue.origin === "string") return issue.minimum === 1 ? "a non-empty string" : `a string of at least ${min} characters`;
      if (issue.origin === "array" || issue.origin === "set")
        return issue.minimum === 1 ? "a non-empty list" : `a list of at least ${min} items`;
      return `a number ${issue.inclusive ? "≥" : ">"} ${min}`;
    }
    case "too_big": {
      const max = bound(issue.maximum as number);
      if (issue.origin === "string") return `a string of at most ${max} characters`;
      if (issue.origin === "array" || issue.origin === "set") return `a list of at most ${max} items`;
      return `a number ${issue.inclusive ? "≤" : "<"} ${max}`;
    }
    case "invalid_value":
      return `one of ${issue.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`;
    case "invalid_format":
      return issue.format === "url" ? "a URL" : `a ${issue.format}`;
    case "not_multiple_of":
      return `a multiple of ${String(issue.divisor)}`;
    case "invalid_union":
      // a discriminated union (fault.type): the allowed values of its discriminator
      return "options" in issue && Array.isArray(issue.options) ? `one of ${issue.options.join(", ")}` : "one of the allowed forms";
    case "invalid_key":
    case "invalid_element":
      return "a valid key";
    case "unrecognized_keys":
      return "a known key";
    default:
      return "a valid value";
  }
}

/**
 * A strict object (unknown keys refused) whose "unknown key" message lists the allowed keys and whose
 * "not a mapping" message reads as the others.
 */
export function obj<S extends z.core.$ZodLooseShape>(shape: S, expected = "a mapping") {
  const keys = Object.keys(shape).join(", ");
  return z.strictObject(shape, { error: (iss) => (iss.code === "unrecognized_keys" ? keys : expected) });
}

export interface CheckOptions {
  /** fields whose values are secrets (`security.secrets.*`): a problem there says the kind of value found, never the value */
  conceal?: (path: string) => boolean;
}

/** What a secret's wrong value is, without it. */
function concealed(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a mapping" : `a ${typeof v} (not shown: a secret)`;
}

/** One problem, in parts: the field's path, what was expected (or a whole message), what was found. */
export interface Problem {
  path: string;
  /** what follows "expected" (absent for a rule's own message) */
  expected?: string;
  /** what was found, as `describeValue` shows it; absent when the field is missing */
  got?: string;
  /** the whole line: `path: expected …, got …`, `path: required (expected …)`, `path: unknown key (…)` */
  message: string;
}

/** One problem per field: the first issue of each path, each unknown key on its own. */
export function problemListOf(error: z.ZodError, options: CheckOptions = {}): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const at = formatPath([...issue.path, key]);
        if (seen.has(at)) continue;
        seen.add(at);
        // obj() puts the allowed keys in the message; any other strict object says "a known key"
        const expected = issue.message === "a known key" ? "a known key" : `one of ${issue.message}`;
        out.push({ path: at, expected, message: `${at}: unknown key (expected ${expected})` });
      }
      continue;
    }
    const at = formatPath(issue.path);
    if (seen.has(at)) continue;
    seen.add(at);
    // a discriminated union names the discriminator's path, with the whole object as its input
    const input =
      issue.code === "invalid_union" && "discriminator" in issue && typeof issue.input === "object" && issue.input !== null
        ? (issue.input as Record<string, unknown>)[String(issue.discriminator)]
        : issue.input;
    // a refinement's message is whole, unless it says it is an "expected" phrase (`params: { expected: true }`)
    if (issue.code === "custom" && issue.params?.["expected"] !== true) out.push({ path: at, message: `${at}: ${issue.message}` });
    else if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union"))
      out.push({ path: at, expected: issue.message, message: `${at}: required (expected ${issue.message})` });
    else {
      const got = options.conceal?.(at) ? concealed(input) : describeValue(input);
      out.push({ path: at, expected: issue.message, got, message: `${at}: expected ${issue.message}, got ${got}` });
    }
  }
  return out;
}

/** One message per problem (see `problemListOf`). */
export function problemsOf(error: z.ZodError, options: CheckOptions = {}): string[] {
  return problemListOf(error, options).map((p) => p.message);
}

/** What a YAML value that is not plain data (`!!binary` bytes, a tagged object) is checked and shown as. */
const NOT_PLAIN_DATA = Symbol("binary or tagged data");

/**
 * Plain data only: mappings, lists and scalars. YAML's `!!binary` gives a Buffer, whose inherited
 * enumerable methods a schema would read as hundreds of unknown keys; it becomes one wrong value.
 */
function plainData(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(plainData);
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN_DATA;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v))
    Object.defineProperty(out, k, { value: plainData(x), enumerable: true, writable: true, configurable: true });
  return out;
}

/** `schema.safeParse` with the inputs reported and the project's "expected" phrases for schemas without their own. */
export function safeParse<S extends z.ZodType>(schema: S, value: unknown) {
  return schema.safeParse(plainData(value), { reportInput: true, error: (iss) => expectedOf(iss) });
}

/** Checks `value` against `schema`: the parsed value, or one message per problem naming its path. */
export function check<S extends z.ZodType>(schema: S, value: unknown, options: CheckOptions = {}): Checked<z.output<S>> {
  const r = safeParse(schema, value);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: problemsOf(r.error, options) };
}

/**
 * A JSON Schema (draft 2020-12) of what a file may hold, for editors (`# yaml-language-server: $schema=…`):
 * the input side, so a field with a default is optional. Rules zod cannot express (a refinement, a
 * cross-field rule) are left to the tools' own check.
 */
export function jsonSchemaOf(schema: z.ZodType, meta: { title: string; description: string }): string {
  const { $schema, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return `${JSON.stringify({ $schema, title: meta.title, description: meta.description, ...rest }, null, 2)}\n`;
}
