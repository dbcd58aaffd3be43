/**
 * A real Alertmanager (Debian's `prometheus-alertmanager`) with the committed routing
 * (deploy/alertmanager/alertmanager.yml, group waits as shipped), its receivers pointed at a webhook
 * receiver on loopback that records when each notification arrived: what a drill measures time to page
 * with. Nothing is rewritten but the receivers' addresses (same paths), so the page arrives when the
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
import { stringify } from "yaml";
import { ConfigFileError } from "./config-file.js";

export const COMMITTED_ROUTING = fileURLToPath(new URL("../../../deploy/alertmanager/alertmanager.yml", import.meta.url));

/** One notification a receiver got: when, at which receiver path, and its alerts' labels and status. */
export interface Notification {
  at: number;
  path: string;
  receiver: string;
  alerts: { status: "firing" | "resolved"; labels: Record<string, string> }[];
}

export interface RunningAlertmanager {
  url: string;
  notifications: Notification[];
  /** the first notification carrying a firing alert of this kind and severity (any subject), or null */
  firstFiring(kind: string, severity: string, after?: number): Notification | null;
  /** the first notification carrying any firing alert, or null */
  firstAny(after?: number): Notification | null;
  stop(): Promise<void>;
}

/** The Alertmanager binary: ALERTMANAGER_BIN, else Debian's path. */
export function alertmanagerBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  const bin = env["ALERTMANAGER_BIN"] ?? "/usr/bin/prometheus-alertmanager";
  return existsSync(bin) ? bin : null;
}

/** What of an Alertmanager routing file is rewritten here: its receivers and their webhooks. */
interface Routing {
  receivers?: { name: string; webhook_configs?: { url: string }[] }[];
  [key: string]: unknown;
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
      let ok = false;
      try {
        ok = typeof url === "string" && ["http:", "https:"].includes(new URL(url).protocol);
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`receivers[${i}].webhook_configs[${j}].url: expected a http or https URL`);
    }
  }
  const top = Object.keys(v).filter((k) => showKey(k) !== `"${k}"`);
  if (top.length > 0 && receivers === undefined) problems.push("(file): not an Alertmanager configuration (no receivers)");
  if (problems.length > 0) throw new ConfigFileError(`${where}: invalid Alertmanager configuration:\n  - ${problems.join("\n  - ")}`);
  return v as Routing;
}

/** The routing file with every webhook receiver's URL moved to `origin` (path kept). */
export function withReceiversAt(routingYaml: string, origin: string, where?: string): string {
  const config = parseRouting(routingYaml, where);
  for (const r of config.receivers ?? [])
    for (const hook of r.webhook_configs ?? []) hook.url = new URL(new URL(hook.url).pathname, origin).href;
  return stringify(config);
}

async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts Alertmanager with `routing` (default: the committed file) and the recording webhook. */
export async function startAlertmanager(
  opts: { routing?: string; binary?: string; readyTimeoutMs?: number } = {},
): Promise<RunningAlertmanager> {
  const bin = opts.binary ?? alertmanagerBinary();
  if (!bin) throw new Error("no Alertmanager binary: install prometheus-alertmanager (scripts/setup.sh does) or set ALERTMANAGER_BIN");
  const notifications: Notification[] = [];
  const webhook: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { receiver: string; alerts: Notification["alerts"] };
        notifications.push({
          at: Date.now(),
          path: req.url ?? "",
          receiver: body.receiver,
          alerts: body.alerts.map((a) => ({ status: a.status, labels: a.labels })),
        });
      } catch {
        // not a webhook payload: ignored
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), "gm-alertmanager-"));
  const configFile = join(dir, "alertmanager.yml");
  await writeFile(
    configFile,
    withReceiversAt(await readFile(opts.routing ?? COMMITTED_ROUTING, "utf8"), origin, opts.routing ?? COMMITTED_ROUTING),
  );
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
      "--log.level=warn",
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
    firstAny(after = 0) {
      return notifications.find((n) => n.at >= after && n.alerts.some((a) => a.status === "firing")) ?? null;
    },
    stop,
  };
}
