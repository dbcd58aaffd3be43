/** Reading an Alertmanager routing file: bad input is a ConfigFileError naming the file and the field, never an exception of the YAML parser. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  COMMITTED_ROUTING,
  parseRouting,
  renderForStandIns,
  renderTimeInterval,
  toNotification,
  withReceiversAt,
  zoneWhereNowIs,
} from "./alertmanager-run.js";
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
      "r.yml: invalid Alertmanager configuration:\n  - receivers[0].webhook_configs[0].url: expected a http or https URL (or url_file)\n  - receivers[1]: expected a mapping with a name",
    );
  });

  it("the committed routing renders for the stand-ins: every endpoint on the origin, every secret file replaced", () => {
    const shipped = readFileSync(COMMITTED_ROUTING, "utf8");
    const { yaml, files } = renderForStandIns(shipped, { origin: "http://127.0.0.1:5001", dir: "/tmp/stand-ins", secret: "s3cret" });
    const urls = [...yaml.matchAll(/\burl: (\S+)/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u).toMatch(/^http:\/\/127\.0\.0\.1:5001\//);
    expect(yaml).not.toContain("/etc/alertmanager/secrets");
    const fileRefs = [...yaml.matchAll(/_file: (\S+)/g)].map((m) => m[1]);
    expect(fileRefs.length).toBeGreaterThanOrEqual(3);
    for (const f of fileRefs) expect(files.has(f!)).toBe(true);
    expect(files.get(fileRefs.find((f) => f!.includes("slack"))!)).toBe("http://127.0.0.1:5001/slack/team-ticket-notify/s3cret");
    expect(files.get(fileRefs.find((f) => f!.includes("routing-key"))!)).toBe("s3cret");
    // nothing but receivers changed
    const before = parse(shipped) as Record<string, unknown>;
    const after = parse(yaml) as Record<string, unknown>;
    for (const key of ["route", "time_intervals", "inhibit_rules", "global"]) expect(after[key]).toEqual(before[key]);
    expect(withReceiversAt(shipped, "http://127.0.0.1:5001")).toContain("url: http://127.0.0.1:5001/pagerduty/oncall-page");
  });

  it("reads PagerDuty, Slack and Alertmanager webhook bodies as notifications with the alert's labels", () => {
    expect(
      toNotification(
        "/pagerduty/oncall-page",
        { event_action: "trigger", payload: { custom_details: { kind: "service-down", severity: "P0", subject: "ingest-api" } } },
        1,
      ),
    ).toMatchObject({
      vendor: "pagerduty",
      receiver: "oncall-page",
      alerts: [{ status: "firing", labels: { kind: "service-down", severity: "P0" } }],
    });
    expect(toNotification("/pagerduty/oncall-page", { event_action: "resolve", payload: {} }, 1)?.alerts[0]?.status).toBe("resolved");
    expect(
      toNotification(
        "/slack/team-ticket-notify/x",
        { attachments: [{ title: "P2 high-consumer-lag on event-processor-service (firing)" }] },
        1,
      ),
    ).toMatchObject({ vendor: "slack", alerts: [{ status: "firing", labels: { severity: "P2", kind: "high-consumer-lag" } }] });
    expect(toNotification("/alertmanager", { receiver: "ticket", alerts: [{ status: "firing", labels: { kind: "k" } }] }, 1)).toMatchObject(
      {
        vendor: "webhook",
        receiver: "ticket",
      },
    );
    expect(toNotification("/alertmanager", { hello: 1 }, 1)).toBeNull();
  });

  it("renders a time interval around now or away from it, whatever the hour", () => {
    for (let h = 0; h < 24; h++) {
      const at = new Date(Date.UTC(2026, 11, 5, h, 30)); // a Saturday
      const z3 = zoneWhereNowIs(3, at);
      expect((h + z3.offsetHours + 24) % 24).toBe(3);
      const config = parse(readFileSync(COMMITTED_ROUTING, "utf8")) as Record<string, unknown>;
      const location = renderTimeInterval(config, "business-hours", "inside", at);
      const interval = (config["time_intervals"] as { time_intervals: { location: string; weekdays: string[] }[] }[])[0]!
        .time_intervals[0]!;
      expect(interval.location).toBe(location);
      expect(["saturday", "sunday"]).toContain(interval.weekdays[0]);
    }
    expect(() => renderTimeInterval({}, "business-hours", "inside")).toThrow('time_intervals: no interval named "business-hours"');
  });
});

/** The shipped deploy/alertmanager/alertmanager.yml: escalation by severity, secrets only from files. */
describe("the shipped Alertmanager routing", () => {
  const text = readFileSync(COMMITTED_ROUTING, "utf8");
  type Route = { matchers?: string[]; receiver: string; active_time_intervals?: string[]; routes?: Route[] };
  const config = parse(text) as {
    route: Route;
    time_intervals: { name: string; time_intervals: { weekdays: string[]; times: unknown[]; location: string }[] }[];
    receivers: Record<string, unknown>[];
  };
  const routeFor = (sev: string) => config.route.routes?.find((r) => r.matchers?.includes(`severity="${sev}"`));
  const receiver = (name: string) => config.receivers.find((r) => r["name"] === name) ?? {};

  it("contains no secret literal: keys, Slack URLs, passwords and tokens come from *_file only", () => {
    const lines = text.split("\n").filter((l) => !l.trim().startsWith("#"));
    const offending = lines.filter(
      (l) =>
        /^\s*-?\s*(routing_key|service_key|api_url|api_key|password|bearer_token|credentials|auth_password|secret|token)\s*:/.test(l) ||
        /https?:\/\/[^\s/@]+@/.test(l) ||
        /hooks\.slack\.com|events\.pagerduty\.com/.test(l) ||
        /[?&](token|key|secret)=/i.test(l),
    );
    expect(offending).toEqual([]);
    expect(text).toMatch(/routing_key_file: \/etc\/alertmanager\/secrets\//);
    expect(text).toMatch(/api_url_file: \/etc\/alertmanager\/secrets\//);
    expect(text).toMatch(/credentials_file: \/etc\/alertmanager\/secrets\//);
  });

  it("pages PagerDuty for P0/P1, Slack and the ticket webhook for P2, the ticket webhook in business hours for P3", () => {
    expect(routeFor("P0")?.receiver).toBe(routeFor("P1")?.receiver);
    expect(Object.keys(receiver(routeFor("P0")!.receiver))).toEqual(["name", "pagerduty_configs"]);
    expect(Object.keys(receiver(routeFor("P2")!.receiver)).sort()).toEqual(["name", "slack_configs", "webhook_configs"]);
    expect(Object.keys(receiver(routeFor("P3")!.receiver))).toEqual(["name", "webhook_configs"]);
    for (const sev of ["P0", "P1", "P2"]) expect(routeFor(sev)?.active_time_intervals).toBeUndefined();
    expect(routeFor("P3")?.active_time_intervals).toEqual(["business-hours"]);
    const hours = config.time_intervals.find((t) => t.name === "business-hours")?.time_intervals;
    expect(hours).toEqual([
      { weekdays: ["monday:friday"], times: [{ start_time: "09:00", end_time: "17:00" }], location: expect.any(String) },
    ]);
  });
});
