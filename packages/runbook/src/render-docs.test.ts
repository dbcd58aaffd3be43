import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { defaultPolicy, parsePolicy } from "./policy.js";
import { businessHours, renderRunbookMarkdown } from "./render-docs.js";

describe("renderRunbookMarkdown", () => {
  it("docs/runbook.md is up to date", async () => {
    const committed = await readFile(new URL("../../../docs/runbook.md", import.meta.url), "utf8").catch(() => "(missing)");
    // toBe would print a huge diff first; say what to do instead.
    expect(committed === renderRunbookMarkdown(), "docs/runbook.md is out of date: run `npm run docs -w @gm/runbook`").toBe(true);
  });

  it("renders the policy's numbers", () => {
    const r = parsePolicy("thresholds: { consumerLag: { above: 25000 } }\nseverities: { P2: { responseMinutes: 90 } }");
    if (!r.ok) throw new Error(r.problems.join("\n"));
    const md = renderRunbookMarkdown(r.policy);
    expect(md).toContain("| Consumer group lag | > 25000 messages |");
    expect(md).toContain(
      "| P2 - Medium | Service degradation affecting < 50% users; Moderate error rates (5-10%) | < 90 min | ticket-and-notify: Create ticket, notify team |",
    );
    expect(renderRunbookMarkdown()).toBe(renderRunbookMarkdown(defaultPolicy));
  });

  it("marks reversible, irreversible and advisory steps and quotes the runbook command", () => {
    const md = renderRunbookMarkdown();
    expect(md).toContain(
      "| 3 | mitigation | Restart broker instances that are not running (`kafka-restart-broker`) | Restart broker if needed: `kubectl delete pod -n kafka <broker-pod>` | **irreversible**, asked first (starting a stopped broker is not undone by stopping it again: that would take a replica away) |",
    );
    expect(md).toContain(
      "| 3 | mitigation | Raise the memory limit, up to the policy's maximum (`oom-increase-memory-limits`) | Increase memory limits if needed | **reversible**, asked first (undo: set the memory limit back to what it was) |",
    );
    expect(md).toContain(
      "| 2 | mitigation | Scale up the database (advice) (`db-scale-up-database`) | Scale up database if needed | advisory (prints what to do) |",
    );
  });
});

describe("businessHours", () => {
  it("states the routing's business-hours interval, so the document follows the routing", () => {
    const yaml = `time_intervals:\n  - name: business-hours\n    time_intervals:\n      - weekdays: ['monday:thursday']\n        times:\n          - { start_time: '08:00', end_time: '16:30' }\n        location: Europe/Berlin\n`;
    expect(businessHours(yaml)).toBe("monday:thursday 08:00–16:30 in Europe/Berlin");
    expect(renderRunbookMarkdown(defaultPolicy, yaml)).toContain("(monday:thursday 08:00–16:30 in Europe/Berlin;");
  });
  it("says when the routing has no business-hours interval", () => {
    expect(businessHours("route: {receiver: x}\n")).toMatch(/^not defined/);
  });
});
