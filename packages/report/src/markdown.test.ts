import { describe, expect, it } from "vitest";
import { toMarkdown } from "./markdown.js";
import { dbPoolExhaustedFailed, kafkaBrokerDownPassed } from "./test-fixtures.js";

const sectionOf = (md: string, title: string): string => {
  const start = md.indexOf(`## ${title}\n`);
  if (start === -1) throw new Error(`no section ${title}`);
  const next = md.indexOf("\n## ", start + 1);
  return md.slice(start, next === -1 ? undefined : next);
};

describe("toMarkdown: passed kafka-broker-down", () => {
  const md = toMarkdown(kafkaBrokerDownPassed());

  it("has the title, the outcome and every section in order", () => {
    expect(md.startsWith("# Incident report: kafka-broker-down drill — ✅ passed\n")).toBe(true);
    expect(md).toContain("**Outcome: ✅ passed** — the hypothesis held.");
    const order = [
      "Summary",
      "Hypothesis",
      "Root cause",
      "Detected incident",
      "Signals",
      "Timeline",
      "Remediation",
      "Data integrity",
      "Clean-up",
      "Checks",
      "Post-incident follow-ups",
    ];
    const at = order.map((t) => md.indexOf(`\n## ${t}\n`));
    expect(at.every((x) => x > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("summary: times against deadline and the P2 response time", () => {
    expect(sectionOf(md, "Summary")).toContain("| Time to detect | 12 s | 1 min | 60 min | ✅ 48 s to spare |");
    expect(sectionOf(md, "Summary")).toContain("| Time to recover | 1 min 18 s | 5 min | 60 min | ✅ 3 min 42 s to spare |");
  });

  it("root cause lists the fault's parameters; evidence table; chart reference", () => {
    expect(sectionOf(md, "Root cause")).toContain("Injected fault: **SIGKILL the broker kafka-2** (`kill-container`)");
    expect(sectionOf(md, "Root cause")).toContain("| container | kafka-2 |");
    expect(sectionOf(md, "Detected incident")).toContain("| `kafka.brokers[kafka-2].up` | false | == true |");
    expect(sectionOf(md, "Detected incident")).toContain("✅ as expected");
    expect(md).toContain("](signals.svg)");
  });

  it("steps with runbook action (code spans kept), seconds, ok, and output in <details>", () => {
    const s = sectionOf(md, "Remediation");
    expect(s).toContain(
      "| 2 | Restart broker instances that are not running (`kafka-restart-broker`) · mutating | Restart broker if needed: `kubectl delete pod -n kafka <broker-pod>` | mitigation | +16 s | 25 | ✅ |",
    );
    expect(s).toContain(
      "<details><summary>✅ <code>kafka-check-broker-status</code> output (3 lines)</summary>\n\n```\nkafka-1 running\nkafka-2 exited (137)\nkafka-3 running\n```\n\n</details>",
    );
  });

  it("no follow-ups beyond the report itself", () => {
    const f = sectionOf(md, "Post-incident follow-ups");
    expect(f).toContain("3. **Update runbooks** — no change needed.");
    expect(f).toContain("4. **Implement preventive measures** — none: the hypothesis held.");
    expect(f).toContain("optional");
    expect(f).not.toContain("- [ ]");
  });

  it("can leave the chart out", () => {
    expect(toMarkdown(kafkaBrokerDownPassed(), { chart: null })).not.toContain("## Signals");
  });
});

describe("toMarkdown: failed db-pool-exhausted", () => {
  const md = toMarkdown(dbPoolExhaustedFailed());

  it("title, reasons and the late detection marked ❌", () => {
    expect(md.startsWith("# Incident report: db-pool-exhausted drill — ❌ failed\n")).toBe(true);
    expect(md).toContain("- 37 acknowledged events lost");
    expect(sectionOf(md, "Summary")).toContain("| Time to detect | 1 min 35 s | 1 min | 15 min | ❌ 35 s over the deadline |");
  });

  it("integrity, clean-up leftovers, checks with escaped HTML", () => {
    expect(sectionOf(md, "Data integrity")).toContain("| 9120 | 9086 | 37 | 3 |");
    expect(sectionOf(md, "Data integrity")).toContain("**37 acknowledged events were lost.**");
    expect(sectionOf(md, "Clean-up")).toContain("- container gm-drill-c0de-holder");
    expect(sectionOf(md, "Checks")).toContain(
      '| detected within deadline | ❌ | detected after 95 s &gt; 60 s: "db-pool-exhausted" &lt;P1&gt; &amp; late |',
    );
  });

  it("step output is fenced verbatim, without the ANSI escape bytes", () => {
    const s = sectionOf(md, "Remediation");
    expect(s).toContain("\nerror: permission denied to terminate process <pid 4121> & others\n");
    expect(s.includes("\u001b") || s.includes("[31m")).toBe(false);
    expect(s).toContain("<details><summary>❌ <code>db-kill-idle-connections</code>");
  });

  it("follow-ups from the outcome: P0 data loss first, tighten detection, update runbooks for the failed step", () => {
    const f = sectionOf(md, "Post-incident follow-ups");
    expect(f).toContain("required");
    const preventive = f
      .slice(f.indexOf("4. **Implement preventive measures**"))
      .split("\n")
      .filter((l) => l.includes("- [ ]"));
    expect(preventive[0]).toContain("**P0** (data-integrity) Data loss: 37 of 9120 acknowledged events were lost (e.g. evt-000412");
    expect(f).toContain("(detection) Tighten detection of db-pool-exhausted: it took 1 min 35 s against a 1 min deadline");
    expect(f).toMatch(
      /3\. \*\*Update runbooks\*\* — 1 item:\n {3}- \[ \] \*\*P2\*\* \(runbook\) Update runbooks: step db-kill-idle-connections/,
    );
    expect(f).toContain("(cleanup) Remove the drill's leftovers (container gm-drill-c0de-holder)");
    expect(f).toContain("(data-integrity) 3 events were stored more than once");
    // the failed checks are covered by the detection and data-loss items, not repeated
    expect(f).not.toContain("Investigate the failed check");
  });

  it("a code fence in step output cannot close the block", () => {
    const r = dbPoolExhaustedFailed();
    r.steps[0]!.output = ["```", "## not a heading"];
    expect(toMarkdown(r)).toContain("\n````\n```\n## not a heading\n````\n");
  });

  it("undetected: says so and asks for detection", () => {
    const r = dbPoolExhaustedFailed();
    r.detected = null;
    r.timings.detectSeconds = null;
    const out = toMarkdown(r);
    expect(sectionOf(out, "Detected incident")).toContain("❌ **Not detected.**");
    expect(sectionOf(out, "Summary")).toContain("| Time to detect | — | 1 min | 15 min | ❌ never reached |");
    expect(out).toContain("The incident was never detected");
  });
});

describe("toMarkdown: the verdict's evidence", () => {
  it("shows how it observed, each claim with its observed value, each open incident with its page, and step findings", () => {
    const r = kafkaBrokerDownPassed();
    r.observer = {
      source: "gm-prober round",
      intervalSeconds: 5,
      timeoutMs: 2000,
      windowSeconds: 60,
      resolveAfterRounds: 3,
      alertmanager: "http://127.0.0.1:9093",
    };
    r.hypothesisChecks = [
      {
        claim: "producing keeps succeeding",
        signal: "5xx-share",
        service: "ingest-api",
        during: "fault",
        max: 0.01,
        observed: 0.3,
        ok: false,
        detail: "30 of 100 request(s)",
      },
    ];
    r.incidentsOpen = [
      {
        kind: "service-down",
        severity: "P0",
        subject: "event-processor-service",
        firstSeenAt: r.startedAt,
        page: "page",
        verdict: "collateral",
        reason: "every replica is paused",
      },
    ];
    r.worstSeverity = "P0";
    r.steps[0]!.finding = "problem";
    const md = toMarkdown(r);
    expect(md).toContain("| producing keeps succeeding | 5xx-share of ingest-api | fault | ≤ 0.01 | 0.3 | ❌ 30 of 100 request(s) |");
    expect(md).toContain("every 5 s, collector timeout 2000 ms, error-rate window 60 s");
    expect(md).toContain("(worst: P0)");
    expect(md).toMatch(
      /\| service-down \| P0 \| event-processor-service \| .* \| page on-call \| ✅ expected collateral \| every replica is paused \|/,
    );
    expect(md).toMatch(/\| ✅ \| problem \|/);
  });
});

describe("toMarkdown: integrity with altered events", () => {
  it("counts and names the altered ids, fails the section and asks for a P0 post-mortem", () => {
    const r = kafkaBrokerDownPassed();
    r.integrity = { ...r.integrity!, altered: 3, alteredSample: ["drill-1-0-4", "drill-1-2-9", "drill-1-7-1"] };
    const md = toMarkdown(r);
    const s = sectionOf(md, "Data integrity");
    expect(s).toContain("**3 stored altered.**");
    expect(s).toContain("| 12480 | 12480 | 0 | 0 | 3 |");
    expect(s).toContain("Altered, for example: `drill-1-0-4`, `drill-1-2-9`, `drill-1-7-1`");
    expect(s).toContain("❌");
    expect(md).toContain(
      "**P0** (data-integrity) Data corruption: 3 of 12480 acknowledged events were stored with other content than was sent (e.g. drill-1-0-4",
    );
  });

  it("says when content was not compared (an older report, a k6 load) and when none was altered", () => {
    expect(sectionOf(toMarkdown(kafkaBrokerDownPassed()), "Data integrity")).toContain("Content not compared.");
    const r = kafkaBrokerDownPassed();
    r.integrity = { ...r.integrity!, altered: 0, alteredSample: [] };
    expect(sectionOf(toMarkdown(r), "Data integrity")).toContain("None altered.");
  });
});
