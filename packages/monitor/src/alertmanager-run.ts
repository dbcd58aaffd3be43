/**
 * A real Alertmanager (Debian's `prometheus-alertmanager`) with the committed routing
 * (deploy/alertmanager/alertmanager.yml, group waits and business hours as shipped), its receivers —
 * PagerDuty, Slack, the ticket webhook — pointed at stand-ins on loopback that record when each
 * notification arrived: what a drill measures time to page with, and what the routing tests assert. Nothing
 * is rewritten but the receivers' endpoints and the secret files they read, so the page arrives when the
 * routing the on-call engineer gets would have delivered it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseYamlText, showKey } from "@gm/runbook/yaml-text";
import { parse, stringify } from "yaml";
import { ConfigFileError } from "./config-file.js";

export const COMMITTED_ROUTING = fileURLToPath(new URL("../../../deploy/alertmanager/alertmanager.yml", import.meta.url));

/** One notification a receiver got: when, at which receiver path, and its alerts' labels and status. */
export interface Notification {
  at: number;
  path: string;
  receiver: string;
  /** which stand-in got it: Alertmanager's webhook, PagerDuty's Events API v2 or a Slack incoming webhook */
  vendor: "webhook" | "pagerduty" | "slack";
  alerts: { status: "firing" | "resolved"; labels: Record<string, string> }[];
  /** the request body as received */
  body: unknown;
  /** the Authorization header it came with, if any (a credentials file at work) */
  authorization?: string;
}

export interface RunningAlertmanager {
  url: string;
  notifications: Notification[];
  /** the first notification carrying a firing alert of this kind and severity (any subject), or null */
  firstFiring(kind: string, severity: string, after?: number): Notification | null;
  /** the first notification carrying any firing alert, or null */
  firstAny(after?: number): Notification | null;
  /** what Alertmanager logged so far */
  output(): string;
  stop(): Promise<void>;
}

/** The Alertmanager binary: ALERTMANAGER_BIN, else Debian's path. */
export function alertmanagerBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  const bin = env["ALERTMANAGER_BIN"] ?? "/usr/bin/prometheus-alertmanager";
  return existsSync(bin) ? bin : null;
}

/** What of an Alertmanager routing file is rewritten here: its receivers, their endpoints and secret files. */
interface Routing {
  receivers?: {
    name: string;
    webhook_configs?: ({ url?: string; url_file?: string } & HttpConfigHolder)[];
    pagerduty_configs?: ({ url?: string; routing_key_file?: string; service_key_file?: string } & HttpConfigHolder)[];
    slack_configs?: ({ api_url?: string; api_url_file?: string } & HttpConfigHolder)[];
  }[];
  [key: string]: unknown;
}
interface HttpConfigHolder {
  http_config?: {
    authorization?: { credentials_file?: string };
    basic_auth?: { password_file?: string };
    bearer_token_file?: string;
    [key: string]: unknown;
  };
}

/**
 * An Alertmanager routing file, parsed with the limits of every configuration file (an alias bomb, a
 * duplicate key or a syntax error is a message, not an exception), and its receivers checked as far as
 * they are rewritten here. Throws ConfigFileError naming `where` and the field; Alertmanager itself
 * checks the rest when it starts.
 */
export function parseRouting(text: string, where = "--alertmanager-routing"): Routing {
  const parsed = parseYamlText(text);
  if (!parsed.ok) throw new ConfigFileError(`${where}: ${parsed.problem}`);
  const v = parsed.value;
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isObj(v))
    throw new ConfigFileError(
      `${where}: expected a mapping (an Alertmanager configuration), got ${Array.isArray(v) ? "a list" : v === null ? "nothing" : typeof v}`,
    );
  const problems: string[] = [];
  const receivers = v["receivers"];
  if (receivers !== undefined && !Array.isArray(receivers)) problems.push("receivers: expected a list of receivers");
  for (const [i, r] of (Array.isArray(receivers) ? receivers : []).entries()) {
    if (!isObj(r)) {
      problems.push(`receivers[${i}]: expected a mapping with a name`);
      continue;
    }
    if (typeof r["name"] !== "string" || r["name"] === "") problems.push(`receivers[${i}].name: expected a non-empty string`);
    const hooks = r["webhook_configs"];
    if (hooks === undefined) continue;
    if (!Array.isArray(hooks)) {
      problems.push(`receivers[${i}].webhook_configs: expected a list`);
      continue;
    }
    for (const [j, h] of hooks.entries()) {
      const url = isObj(h) ? h["url"] : undefined;
      if (url === undefined && isObj(h) && typeof h["url_file"] === "string") continue;
      let ok = false;
      try {
        ok = typeof url === "string" && ["http:", "https:"].includes(new URL(url).protocol);
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`receivers[${i}].webhook_configs[${j}].url: expected a http or https URL (or url_file)`);
    }
  }
  const top = Object.keys(v).filter((k) => showKey(k) !== `"${k}"`);
  if (top.length > 0 && receivers === undefined) problems.push("(file): not an Alertmanager configuration (no receivers)");
  if (problems.length > 0) throw new ConfigFileError(`${where}: invalid Alertmanager configuration:\n  - ${problems.join("\n  - ")}`);
  return v as Routing;
}

/** A routing file ready for loopback stand-ins, and the files it reads (path → content) to write before starting. */
export interface RenderedRouting {
  yaml: string;
  files: Map<string, string>;
}

/**
 * The routing file with every receiver pointed at stand-ins on `origin`, nothing else changed (routes,
 * matchers, timings, time intervals and inhibit rules stay the file's):
 * - a webhook's `url` keeps its path on `origin` (`url_file`: a file in `dir` holding that URL);
 * - PagerDuty gets `url: <origin>/pagerduty/<receiver>`, Slack's `api_url(_file)` becomes
 *   `<origin>/slack/<receiver>/<secret>` (a file when it was one: like Slack's, the URL is the secret);
 * - every secret file (`routing_key_file`, `service_key_file`, `credentials_file`, `password_file`,
 *   `bearer_token_file`) is replaced by a file in `dir` holding `secret`.
 */
export function renderForStandIns(
  routingYaml: string,
  opts: { origin: string; dir: string; secret?: string; where?: string },
): RenderedRouting {
  const config = parseRouting(routingYaml, opts.where);
  const secret = opts.secret ?? "stand-in-secret";
  const files = new Map<string, string>();
  const file = (name: string, content: string): string => {
    const path = join(opts.dir, `${files.size}-${name.replace(/[^A-Za-z0-9._-]/g, "_")}`);
    files.set(path, content);
    return path;
  };
  const at = (path: string) => new URL(path, opts.origin).href;
  const secrets = (h: HttpConfigHolder) => {
    const http = h.http_config;
    if (!http) return;
    if (http.authorization?.credentials_file) http.authorization.credentials_file = file("credentials", secret);
    if (http.basic_auth?.password_file) http.basic_auth.password_file = file("password", secret);
    if (http.bearer_token_file) http.bearer_token_file = file("bearer-token", secret);
  };
  for (const r of config.receivers ?? []) {
    for (const hook of r.webhook_configs ?? []) {
      if (hook.url !== undefined) hook.url = at(new URL(hook.url).pathname);
      else if (hook.url_file !== undefined) hook.url_file = file(`${r.name}-url`, at(`/webhook/${r.name}`));
      secrets(hook);
    }
    for (const pd of r.pagerduty_configs ?? []) {
      pd.url = at(`/pagerduty/${encodeURIComponent(r.name)}`);
      if (pd.routing_key_file !== undefined) pd.routing_key_file = file(`${r.name}-routing-key`, secret);
      if (pd.service_key_file !== undefined) pd.service_key_file = file(`${r.name}-service-key`, secret);
      secrets(pd);
    }
    for (const slack of r.slack_configs ?? []) {
      const url = at(`/slack/${encodeURIComponent(r.name)}/${encodeURIComponent(secret)}`);
      if (slack.api_url_file !== undefined) slack.api_url_file = file(`${r.name}-slack-url`, url);
      else slack.api_url = url;
      secrets(slack);
    }
  }
  return { yaml: stringify(config), files };
}

/** The routing file with every receiver moved to `origin` (paths kept), its secret files left out: see renderForStandIns. */
export function withReceiversAt(routingYaml: string, origin: string, where?: string): string {
  return renderForStandIns(routingYaml, { origin, dir: tmpdir(), ...(where ? { where } : {}) }).yaml;
}

/**
 * One request to a stand-in as a Notification: Alertmanager's webhook JSON, PagerDuty's Events API v2
 * (the labels from the shipped `details`: kind, severity, subject) or a Slack message (labels from its
 * title, "<severity> <kind> on <subject> (<status>)"). Anything else: null.
 */
export function toNotification(path: string, body: unknown, at: number): Notification | null {
  const b = body as Record<string, unknown>;
  if (typeof b !== "object" || b === null) return null;
  const [, vendor, receiver] = path.split("/");
  if (vendor === "pagerduty") {
    const payload = (b["payload"] ?? {}) as { custom_details?: Record<string, string> };
    const d = payload.custom_details ?? {};
    const labels: Record<string, string> = {};
    for (const k of ["kind", "severity", "subject"]) if (typeof d[k] === "string" && d[k] !== "") labels[k] = d[k];
    const status = b["event_action"] === "resolve" ? "resolved" : "firing";
    return { at, path, vendor: "pagerduty", receiver: decodeURIComponent(receiver ?? ""), alerts: [{ status, labels }], body };
  }
  if (vendor === "slack") {
    const attachments = (b["attachments"] ?? []) as { title?: string }[];
    const alerts: Notification["alerts"] = [];
    for (const a of attachments) {
      const m = /^(P\d) (\S+) on (\S+) \((firing|resolved)\)$/.exec(a.title ?? "");
      if (m) alerts.push({ status: m[4] as "firing" | "resolved", labels: { severity: m[1]!, kind: m[2]!, subject: m[3]! } });
    }
    return { at, path, vendor: "slack", receiver: decodeURIComponent(receiver ?? ""), alerts, body };
  }
  if (typeof b["receiver"] !== "string" || !Array.isArray(b["alerts"])) return null;
  const alerts = (b["alerts"] as Notification["alerts"]).map((a) => ({ status: a.status, labels: a.labels }));
  return { at, path, vendor: "webhook", receiver: b["receiver"], alerts, body };
}

/** A fixed-offset IANA zone (Etc/GMT±N: the sign is inverted) in which it is now `hour`:xx, and its offset in hours. */
export function zoneWhereNowIs(hour: number, now = new Date()): { location: string; offsetHours: number } {
  let offset = (((hour - now.getUTCHours()) % 24) + 24) % 24;
  if (offset > 12) offset -= 24;
  return { location: offset === 0 ? "Etc/UTC" : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`, offsetHours: offset };
}

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/**
 * For tests and drills that must not depend on the hour they run at: the time interval `name` of a
 * parsed configuration moved so that now is outside it (its `location` becomes a zone where it is now
 * 03:xx; weekdays and times kept) or inside it (a zone where it is now 12:xx, and its weekdays widened to
 * today's when today is not among them). Returns the location chosen.
 */
export function renderTimeInterval(config: Record<string, unknown>, name: string, now: "inside" | "outside", at = new Date()): string {
  type Interval = { name: string; time_intervals: { weekdays?: string[]; location?: string }[] };
  const found = (config["time_intervals"] as Interval[] | undefined)?.find((t) => t.name === name);
  if (!found) throw new Error(`time_intervals: no interval named ${JSON.stringify(name)}`);
  const zone = zoneWhereNowIs(now === "inside" ? 12 : 3, at);
  const today = WEEKDAYS[new Date(at.getTime() + zone.offsetHours * 3_600_000).getUTCDay()] ?? "monday";
  for (const t of found.time_intervals) {
    t.location = zone.location;
    if (now === "inside" && (today === "saturday" || today === "sunday")) t.weekdays = [today];
  }
  return zone.location;
}

async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Starts Alertmanager with `routing` (default: the committed file) rendered for the recording stand-ins
 * (renderForStandIns; `secret` is what every secret file holds), after `edit` if given (a test's change
 * to the rendered configuration, e.g. its time intervals).
 */
export async function startAlertmanager(
  opts: {
    routing?: string;
    binary?: string;
    readyTimeoutMs?: number;
    secret?: string;
    logLevel?: "debug" | "info" | "warn";
    edit?: (config: Record<string, unknown>) => void;
  } = {},
): Promise<RunningAlertmanager> {
  const bin = opts.binary ?? alertmanagerBinary();
  if (!bin) throw new Error("no Alertmanager binary: install prometheus-alertmanager (scripts/setup.sh does) or set ALERTMANAGER_BIN");
  const notifications: Notification[] = [];
  const webhook: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const n = toNotification(req.url ?? "", JSON.parse(Buffer.concat(chunks).toString()), Date.now());
        if (n) notifications.push(req.headers.authorization ? { ...n, authorization: req.headers.authorization } : n);
      } catch {
        // not JSON: ignored
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), "gm-alertmanager-"));
  const configFile = join(dir, "alertmanager.yml");
  const rendered = renderForStandIns(await readFile(opts.routing ?? COMMITTED_ROUTING, "utf8"), {
    origin,
    dir,
    where: opts.routing ?? COMMITTED_ROUTING,
    ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
  });
  for (const [path, content] of rendered.files) await writeFile(path, content, { mode: 0o600 });
  let yaml = rendered.yaml;
  if (opts.edit) {
    const config = parse(yaml) as Record<string, unknown>;
    opts.edit(config);
    yaml = stringify(config);
  }
  await writeFile(configFile, yaml);
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
      `--log.level=${opts.logLevel ?? "warn"}`,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
  child.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(killer);
    }
    await new Promise<void>((r) => webhook.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`alertmanager exited with ${child.exitCode}: ${output.join("").slice(-1000)}`);
    }
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`alertmanager not ready within ${opts.readyTimeoutMs ?? 30_000} ms: ${output.join("").slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    notifications,
    firstFiring(kind, severity, after = 0) {
      return (
        notifications.find(
          (n) =>
            n.at >= after && n.alerts.some((a) => a.status === "firing" && a.labels["kind"] === kind && a.labels["severity"] === severity),
        ) ?? null
      );
    },
    output: () => output.join(""),
    firstAny(after = 0) {
      return notifications.find((n) => n.at >= after && n.alerts.some((a) => a.status === "firing")) ?? null;
    },
    stop,
  };
}
