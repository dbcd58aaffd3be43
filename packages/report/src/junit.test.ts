import { describe, expect, it } from "vitest";
import { toJUnit } from "./junit.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed, xmlProblems } from "./test-fixtures.js";

const attr = (xml: string, element: string, name: string): string | undefined =>
  new RegExp(`<${element}\\b[^>]*\\s${name}="([^"]*)"`).exec(xml)?.[1];

describe("toJUnit", () => {
  const xml = toJUnit([kafkaBrokerDownPassed(), dbPoolExhaustedFailed()], { suiteName: "game-day 2025-03" });

  it("writes well-formed XML with one suite per drill", () => {
    expect(xmlProblems(xml)).toEqual([]);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="game-day 2025-03"')).toBe(true);
    expect(xml.match(/<testsuite /g)).toHaveLength(2);
    expect(xml).toContain('<testsuite name="kafka-broker-down" tests="5" failures="0" errors="0" skipped="0" time="180.000"');
    expect(xml).toContain('<testsuite name="db-pool-exhausted" tests="5" failures="3" errors="0" skipped="0" time="240.000"');
  });

  it("totals on <testsuites>: 10 cases, 3 failures (the drill and two checks)", () => {
    expect(attr(xml, "testsuites", "tests")).toBe("10");
    expect(attr(xml, "testsuites", "failures")).toBe("3");
    expect(attr(xml, "testsuites", "skipped")).toBe("0");
    expect(attr(xml, "testsuites", "time")).toBe("420.000");
    expect(xml.match(/<failure /g)).toHaveLength(3);
  });

  it("one case for the drill and one per check, classname gameday.<scenario>", () => {
    expect(xml).toContain('<testcase name="drill kafka-broker-down" classname="gameday.kafka-broker-down" time="180.000"/>');
    expect(xml).toContain('<testcase name="no acknowledged event lost" classname="gameday.kafka-broker-down" time="0.000"/>');
    expect(xml).toContain(
      '<testcase name="drill db-pool-exhausted" classname="gameday.db-pool-exhausted" time="240.000">\n      <failure message="detected after 95 s, deadline 60 s; 37 acknowledged events lost" type="DrillFailed">outcome: failed\nreason: detected after 95 s',
    );
  });

  it("escapes <, &, and quotes in messages and details", () => {
    // check detail: 'detected after 95 s > 60 s: "db-pool-exhausted" <P1> & late'
    expect(xml).toContain(
      '<failure message="detected after 95 s &gt; 60 s: &quot;db-pool-exhausted&quot; &lt;P1&gt; &amp; late" type="CheckFailed">',
    );
    expect(xml).not.toContain("<P1>");
    expect(xml).not.toMatch(/& late/);
  });

  it("keeps multi-line messages in attributes and drops characters XML forbids", () => {
    const r = dbPoolExhaustedFailed();
    r.reasons = ["line one\nline two", "\u001b[31mred\u001b[0m 'quoted'\u0007"];
    const out = toJUnit([r]);
    expect(out).toContain('message="line one&#10;line two; red &apos;quoted&apos;"');
    expect(xmlProblems(out)).toEqual([]);
  });

  it("marks an aborted drill and its failed checks <skipped/>, not failures", () => {
    const r = dbPoolExhaustedFailed();
    r.outcome = "aborted";
    r.reasons = ["steady state not met: 2/4 services healthy"];
    const out = toJUnit([r]);
    expect(attr(out, "testsuites", "failures")).toBe("0");
    expect(attr(out, "testsuites", "skipped")).toBe("3");
    expect(out).toContain(
      '<testcase name="drill db-pool-exhausted" classname="gameday.db-pool-exhausted" time="240.000">\n      <skipped message="steady state not met: 2/4 services healthy"/>',
    );
  });

  it("an empty list is an empty, valid <testsuites>", () => {
    const out = toJUnit([]);
    expect(out).toContain('<testsuites name="gameday" tests="0" failures="0" errors="0" skipped="0" time="0.000">\n</testsuites>');
    expect(xmlProblems(out)).toEqual([]);
  });
});
