import { describe, expect, it } from "vitest";
import { MAX_ITEMS, parseYamlText, showKey } from "./yaml-text.js";

const problem = (text: string) => {
  const r = parseYamlText(text);
  if (r.ok) throw new Error(`expected a problem, got ${JSON.stringify(r.value)}`);
  return r.problem;
};

/** Nine aliases of the previous level, `levels` deep: 9^levels nodes when expanded. */
function aliasBomb(levels: number): string {
  let s = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i <= levels; i++)
    s += `a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  return s;
}

describe("parseYamlText", () => {
  it("parses a mapping", () => {
    expect(parseYamlText("a: 1\nb: [x, y]\n")).toEqual({ ok: true, value: { a: 1, b: ["x", "y"] } });
  });

  it("names a syntax error's line without quoting the text", () => {
    const p = problem("a: 1\nb: [unclosed-s3cret\n");
    expect(p).toMatch(/^not valid YAML \(line \d+, column \d+\)/);
    expect(p).not.toContain("s3cret");
  });

  it("refuses an alias bomb with a message", () => {
    expect(problem(aliasBomb(12))).toContain("more than 100 aliases");
  });

  it("refuses a duplicate key, naming it and its line", () => {
    expect(problem("a: 1\nb: 2\na: 3\n")).toBe('duplicate key "a" (line 3): each key may appear once in a mapping');
    expect(problem("outer:\n  x: 1\n  x: 2\n")).toContain('duplicate key "x" (line 3)');
  });

  it("refuses 1 MB of duplicate keys, or brackets 100,000 deep, before parsing; finds a duplicate among thousands of keys", () => {
    let text = "services:\n";
    while (text.length < 1_000_000) text += "a: 1\n";
    // composing 200,000 nodes took seconds (20 s on a loaded machine): refused by counting first
    expect(problem(text)).toBe(
      `more than ${MAX_ITEMS} lines and flow items: refused before parsing (a resource-exhaustion attack, or a file that is not a configuration)`,
    );
    expect(problem(`x: ${"[".repeat(100_000)}1${"]".repeat(100_000)}\n`)).toContain(`more than ${MAX_ITEMS} lines and flow items`);
    // yaml's own uniqueKeys check compared every key with every earlier one: the one pass finds it
    expect(problem(`services:\n${"a: 1\n".repeat(MAX_ITEMS - 10)}`)).toContain('duplicate key "a" (line 3)');
  }, 60_000);

  it("shows field-like keys only", () => {
    expect(showKey("severities")).toBe('"severities"');
    expect(showKey("root:$y$j9T$abc:19000:0:99999:7:")).not.toContain("root");
  });
});
