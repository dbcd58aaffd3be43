/**
 * YAML configuration text parsed with limits, for every file a person hands the tools (prober
 * configuration, policy, drill files): messages name the problem and its line, never the file's text.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument, visit } from "yaml";

/** At most this many aliases are resolved: a "billion laughs" file is refused, not expanded. */
export const MAX_ALIASES = 100;

/** At most this many lines, commas and opening brackets: the committed files have a few hundred. */
export const MAX_ITEMS = 20_000;

export type ParsedYaml = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses one YAML document; refuses syntax errors, duplicate keys, alias bombs and files of too many items
 * with one message.
 * Duplicate keys are found here in one pass: yaml's own `uniqueKeys` check compares every key with
 * every earlier one, which takes minutes on a 1 MB mapping.
 */
export function parseYamlText(text: string): ParsedYaml {
  // yaml builds a node per item: a megabyte of `a: 1` lines (200,000 nodes) or of nested brackets takes
  // seconds to compose, and deep nesting recurses. A configuration has a few hundred lines: count the
  // characters that start an item first, in one pass, and refuse before parsing.
  let items = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 44 || c === 91 || c === 123) items++; // \n , [ {
  }
  if (items > MAX_ITEMS)
    return {
      ok: false,
      problem: `more than ${MAX_ITEMS} lines and flow items: refused before parsing (a resource-exhaustion attack, or a file that is not a configuration)`,
    };
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const at = first.pos ? lines.linePos(first.pos[0]) : undefined;
    return {
      ok: false,
      problem: `not valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ""}: ${first.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`,
    };
  }
  let duplicate: string | undefined; // or a collection as a key
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<string>();
      for (const pair of map.items) {
        // a mapping, a list, an alias or binary data as a key (`? {a: 1}`, `!!binary x: 1`): no configuration
        // has one, and yaml would stringify it with a process warning that quotes the file's text on stderr
        if (pair.key !== null && (!isScalar(pair.key) || (typeof pair.key.value === "object" && pair.key.value !== null))) {
          const line = isNode(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : undefined;
          duplicate = `a key that is not a plain name (a mapping, a list, an alias or binary data)${line ? ` (line ${line})` : ""}: keys must be plain names`;
          return visit.BREAK;
        }
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) {
          const line = pair.key.range ? lines.linePos(pair.key.range[0]).line : undefined;
          duplicate = `duplicate key ${showKey(key)}${line ? ` (line ${line})` : ""}: each key may appear once in a mapping`;
          return visit.BREAK;
        }
        seen.add(key);
      }
    },
  });
  if (duplicate) return { ok: false, problem: duplicate };
  try {
    // yaml refuses when its count reaches maxAliasCount, not when it passes it: + 1 for "more than"
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIASES + 1 }) };
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message))
      return {
        ok: false,
        problem: `more than ${MAX_ALIASES} aliases resolved: refused (a resource-exhaustion attack, or a file that is not a configuration)`,
      };
    return { ok: false, problem: `not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}` };
  }
}

/**
 * A key from a file, fit to quote in a message: a field-like name is shown; anything else (a line of
 * a file that is not a configuration, /etc/shadow say) is not, since it is the file's content.
 */
export function showKey(key: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(key) ? `"${key}"` : "(a key that is not a field name; not shown)";
}
