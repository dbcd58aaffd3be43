/**
 * Property-based tests of the YAML text reader (fast-check): no text makes it throw; any JSON-like value
 * written as YAML reads back equal; a duplicate key anywhere is refused naming the key; aliases past the
 * limit are refused however they are nested.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MAX_ALIASES, parseYamlText } from "./yaml-text.js";

// JSON values without -0 (YAML writes it "-0", which reads back as 0: not what this property is about)
const jsonArb = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v), (_, x) => (Object.is(x, -0) ? 0 : x)) as unknown);

describe("parseYamlText, over generated input", { timeout: 120_000 }, () => {
  it("never throws: any text, any bytes decoded, YAML of any value with lines spliced in", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 500 }),
      fc.string({ unit: "binary", maxLength: 500 }),
      fc
        .array(
          fc.constantFrom(
            "a:",
            " b",
            "- ",
            "&x ",
            "*x",
            "[",
            "]",
            "{",
            "}",
            ": ",
            "\n",
            "'",
            '"',
            "#",
            "!!str ",
            "!!binary ",
            "<<: *x",
            "? ",
            "|",
            ">",
            "%YAML 1.2\n",
            "---\n",
            "...\n",
            "\t",
          ),
          { maxLength: 60 },
        )
        .map((t) => t.join("")),
      fc.tuple(jsonArb, fc.string({ maxLength: 40 }), fc.nat()).map(([v, junk, at]) => {
        const s = stringify(v);
        const i = at % (s.length + 1);
        return s.slice(0, i) + junk + s.slice(i);
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parseYamlText(t);
        if (!r.ok) expect(r.problem).toMatch(/^(not valid YAML|duplicate key|a key that is not a plain name|more than \d+ aliases)/);
      }),
      { numRuns: 2000 },
    );
  });

  it("any JSON value written as YAML reads back equal", () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        expect(parseYamlText(stringify(v))).toEqual({ ok: true, value: v });
      }),
      { numRuns: 500 },
    );
  });

  it("a key repeated in any mapping, at any depth, is refused naming the key", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), fc.nat({ max: 6 }), jsonArb, jsonArb, (key, depth, a, b) => {
        const indent = (n: number) => "  ".repeat(n);
        let text = "";
        for (let d = 0; d < depth; d++) text += `${indent(d)}k${d}:\n`;
        text += `${indent(depth)}${key}: ${JSON.stringify(a)}\n${indent(depth)}${key}: ${JSON.stringify(b)}\n`;
        const r = parseYamlText(text);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.problem).toContain(`duplicate key "${key}"`);
      }),
    );
  });

  it("refuses a mapping, a list or binary data as a key, without the process warning that would quote it", () => {
    // yaml reports a collection key with process.emitWarning (shown on stderr with the key's text)
    const warned: string[] = [];
    const emit = process.emitWarning;
    process.emitWarning = ((w: string | Error) => void warned.push(String(w))) as typeof process.emitWarning;
    try {
      const key = fc.oneof(
        fc.dictionary(fc.string({ maxLength: 5 }), jsonArb, { minKeys: 1 }).map((k) => JSON.stringify(k)),
        fc.array(jsonArb, { minLength: 1 }).map((k) => JSON.stringify(k)),
        fc.base64String({ minLength: 4, maxLength: 20 }).map((b) => `!!binary ${b || "AAAA"}`),
      );
      fc.assert(
        fc.property(key, (k) => {
          expect(parseYamlText(`? ${k}\n: value\n`)).toEqual({
            ok: false,
            problem: "a key that is not a plain name (a mapping, a list, an alias or binary data) (line 1): keys must be plain names",
          });
        }),
      );
    } finally {
      process.emitWarning = emit;
    }
    expect(warned).toEqual([]);
  });

  it("refuses more than MAX_ALIASES aliases, reads up to that many", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * MAX_ALIASES }), (n) => {
        const text = `base: &b {x: 1}\nrefs:\n${Array.from({ length: n }, () => "  - *b\n").join("")}`;
        const r = parseYamlText(text);
        if (n <= MAX_ALIASES) expect(r.ok).toBe(true);
        else expect(r).toEqual({ ok: false, problem: expect.stringContaining(`more than ${MAX_ALIASES} aliases`) });
      }),
      { numRuns: 100 },
    );
  });
});
