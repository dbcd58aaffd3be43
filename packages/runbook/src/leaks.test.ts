import { describe, expect, it } from "vitest";
import { describeLeaks, findLeaks, secretForms } from "./leaks.js";
import { redactText } from "./redact.js";

const TOKEN = { name: "ADMIN_TOKEN", value: "5f1c0ffee5f1c0ffee5f1c0ffee5f1c0" };
const PASSWORD = { name: "POSTGRES_PASSWORD", value: "p@ss/w#rd<&>'\"x" };

describe("findLeaks", () => {
  it("finds a secret as written, URL-encoded, JSON-escaped and XML-escaped, naming the artifact and the line", () => {
    const leaks = findLeaks(
      [
        { name: "progress lines", text: `drill started\nstep ok: curl -H 'Authorization: Bearer ${TOKEN.value}'\n` },
        { name: "report.json", text: `{\n  "url": ${JSON.stringify(`postgres://gm:${PASSWORD.value}@h/db`)}\n}` },
        { name: "status --json", text: `{"postgresUrl":"postgres://gm:${encodeURIComponent(PASSWORD.value)}@127.0.0.1:5432/gm"}` },
        { name: "junit.xml", text: `<failure message="p@ss/w#rd&lt;&amp;&gt;&#39;&quot;x"/>` },
      ],
      [TOKEN, PASSWORD],
    );
    expect(leaks.map((l) => [l.secret, l.artifact, l.line, l.form])).toEqual([
      ["ADMIN_TOKEN", "progress lines", 2, "raw"],
      ["POSTGRES_PASSWORD", "report.json", 2, "json-escaped"],
      ["POSTGRES_PASSWORD", "status --json", 1, "url-encoded"],
      ["POSTGRES_PASSWORD", "junit.xml", 1, "xml-escaped"],
    ]);
  });

  it("finds nothing in what redact.ts made of the same text", () => {
    const text = `postgres://gm:${PASSWORD.value}@h/db and Bearer ${TOKEN.value}`;
    expect(findLeaks([{ name: "a", text }], [TOKEN, PASSWORD])).toHaveLength(2);
    expect(findLeaks([{ name: "a", text: redactText(text, [TOKEN.value, PASSWORD.value]) }], [TOKEN, PASSWORD])).toEqual([]);
  });

  it("never prints a secret's value: excerpts and the description name it instead", () => {
    const leaks = findLeaks([{ name: "log", text: `${"x".repeat(500)} token=${TOKEN.value} ${"y".repeat(500)}` }], [TOKEN]);
    expect(leaks).toHaveLength(1);
    const text = describeLeaks(leaks);
    expect(text).not.toContain(TOKEN.value);
    expect(text).toContain("token=<ADMIN_TOKEN>");
    expect(text.length).toBeLessThan(300);
  });

  it("refuses a secret too short to search for, and skips an empty one", () => {
    expect(() => findLeaks([{ name: "a", text: "" }], [{ name: "PW", value: "abc" }])).toThrow(
      "secret PW: expected at least 8 characters to search for, got 3",
    );
    expect(findLeaks([{ name: "a", text: "anything" }], [{ name: "UNSET", value: "" }])).toEqual([]);
  });

  it("lists each distinct form once", () => {
    expect(secretForms("abcdef0123456789").map((f) => f.form)).toEqual(["raw"]);
    expect(secretForms('a b"<').map((f) => f.form)).toEqual(["raw", "url-encoded", "json-escaped", "xml-escaped"]);
  });
});
