import { describe, expect, it } from "vitest";
import { toHtml } from "./html.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed, xmlProblems } from "./test-fixtures.js";

describe("toHtml", () => {
  const html = toHtml(dbPoolExhaustedFailed());

  it("is one static page: inline CSS, inline SVG, no script, no external asset", () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain("<style>");
    expect(html).toMatch(/<div class="chart">\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
    expect(xmlProblems(html)).toEqual([]);
  });

  it("has the Markdown report's sections", () => {
    for (const t of [
      "Summary",
      "Signals",
      "Hypothesis",
      "Root cause",
      "Detected incident",
      "Timeline",
      "Remediation",
      "Data integrity",
      "Clean-up",
      "Checks",
      "Post-incident follow-ups",
    ]) {
      expect(html).toContain(`<h2>${t}</h2>`);
    }
    expect(html).toContain('<span class="outcome failed">❌ failed</span>');
    expect(html).toContain('<div class="card bad"><div class="l">Time to detect</div><div class="v">1 min 35 s</div>');
    expect(html).toContain('<td class="num">9120</td>');
    expect(html).toContain('<li><span class="prio">P0</span> (data-integrity) Data loss: 37 of 9120');
  });

  it("escapes text and keeps step output in a collapsed <details>", () => {
    expect(html).toContain("<td>detected after 95 s &gt; 60 s: &quot;db-pool-exhausted&quot; &lt;P1&gt; &amp; late</td>");
    expect(html).toContain(
      "<details><summary>2 lines</summary><pre>terminating 95 idle sessions\nerror: permission denied to terminate process &lt;pid 4121&gt; &amp; others</pre></details>",
    );
  });

  it("a passed drill shows green cards and no follow-up items", () => {
    const ok = toHtml(kafkaBrokerDownPassed());
    expect(ok).toContain('<span class="outcome passed">✅ passed</span>');
    expect(ok).not.toContain('class="card bad"');
    expect(ok).toContain("none: the hypothesis held.");
  });
});

describe("toHtml: integrity with altered events", () => {
  it("counts and names the altered ids, escaped", () => {
    const r = kafkaBrokerDownPassed();
    r.integrity = { ...r.integrity!, altered: 1, alteredSample: ["evt-<1>"] };
    const html = toHtml(r);
    expect(html).toContain("<strong>1 stored altered.</strong>");
    expect(html).toContain("<p>Altered, for example: <code>evt-&lt;1&gt;</code></p>");
    expect(xmlProblems(html)).toEqual([]);
  });
});
