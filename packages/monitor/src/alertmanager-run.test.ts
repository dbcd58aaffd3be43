/** Reading an Alertmanager routing file: bad input is a ConfigFileError naming the file and the field, never an exception of the YAML parser. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMMITTED_ROUTING, parseRouting, withReceiversAt } from "./alertmanager-run.js";
import { ConfigFileError } from "./config-file.js";

function aliasBomb(levels: number): string {
  let s = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i <= levels; i++)
    s += `a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  return s;
}
const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
};

describe("Alertmanager routing files", () => {
  it("an alias bomb is a ConfigFileError naming the file (it was yaml's ReferenceError: exit 1)", () => {
    const err = thrown(() => withReceiversAt(`${aliasBomb(12)}receivers: []\n`, "http://127.0.0.1:1", "--alertmanager-routing bomb.yml"));
    expect(err).toBeInstanceOf(ConfigFileError);
    expect(err.message).toBe(
      "--alertmanager-routing bomb.yml: more than 100 aliases resolved: refused (a resource-exhaustion attack, or a file that is not a configuration)",
    );
  });

  it("syntax errors, duplicate keys and receivers of the wrong shape name the field", () => {
    expect(thrown(() => parseRouting("route: [", "r.yml")).message).toMatch(/^r\.yml: not valid YAML \(line 1/);
    expect(thrown(() => parseRouting("receivers: []\nreceivers: []\n", "r.yml")).message).toBe(
      'r.yml: duplicate key "receivers" (line 2): each key may appear once in a mapping',
    );
    expect(thrown(() => parseRouting("- a\n", "r.yml")).message).toBe(
      "r.yml: expected a mapping (an Alertmanager configuration), got a list",
    );
    expect(
      thrown(() => parseRouting("receivers:\n  - name: page\n    webhook_configs: [{ url: 'not a url' }]\n  - 5\n", "r.yml")).message,
    ).toBe(
      "r.yml: invalid Alertmanager configuration:\n  - receivers[0].webhook_configs[0].url: expected a http or https URL\n  - receivers[1]: expected a mapping with a name",
    );
  });

  it("the committed routing passes and its receivers move to the origin, paths kept", () => {
    const out = withReceiversAt(readFileSync(COMMITTED_ROUTING, "utf8"), "http://127.0.0.1:5001");
    const urls = [...out.matchAll(/url: (\S+)/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u).toMatch(/^http:\/\/127\.0\.0\.1:5001\//);
  });
});
