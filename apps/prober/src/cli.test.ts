/** gm-prober as a process: bad input, and `run` against a real HTTP target it probes. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readIncidentJournal } from "@gm/monitor/incident-journal";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "gm-prober-"));

describe("gm-prober as a process", { timeout: 60_000 }, () => {
  it("refuses a bad configuration with one message per problem and exit code 2", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "intervalSeconds: -1\nservices: { ingest-api: [ftp://x] }\n");
    const r = spawnSync(process.execPath, [cli, "once", "--config", file], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("intervalSeconds: expected a number from 0.5 to 3600, got -1");
    expect(r.stderr).toContain('services.ingest-api[0]: expected a URL (http or https), got "ftp://x"');
    // check: the same validation, touching nothing
    const c = spawnSync(process.execPath, [cli, "check", "--config", file], { encoding: "utf8" });
    expect(c.status).toBe(2);
    expect(c.stderr).toContain("intervalSeconds: expected a number from 0.5 to 3600, got -1");
    const good = join(dir, "good.yaml");
    writeFileSync(good, "services: { stats-api: [http://127.0.0.1:1] }\nkafka: { brokers: ['127.0.0.1:1'] }\n");
    const ok = spawnSync(process.execPath, [cli, "check", "--config", good], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(
      `${good}: valid: probes stats-api (1); kafka; every 5 s; policy (the runbook's defaults) (P1 above 10% errors)\n`,
    );
    for (const args of [["--help"], ["once", "--help"], ["run", "--help"], ["check", "--help"]]) {
      const h = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
      expect(h.status, args.join(" ")).toBe(0);
      expect(h.stdout).toContain("--config");
    }
  });

  it("runs the loop: /metrics and /healthz, a JSON line when an incident opens, exit 0 on SIGTERM", async () => {
    let healthy = true;
    const target = createServer((req, res) => {
      if (req.url === "/health") res.writeHead(healthy ? 200 : 500).end();
      else if (req.url === "/metrics") res.writeHead(200).end('http_requests_total{route="/events",method="POST",code="202"} 1\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    const port = (target.address() as AddressInfo).port;
    const listen = 20_000 + Math.floor(Math.random() * 20_000);
    const file = join(dir, "run.yaml");
    writeFileSync(
      file,
      `intervalSeconds: 0.5\nlisten: "127.0.0.1:${listen}"\nhysteresis: { resolveAfter: 1 }\nservices:\n  stats-api: ["http://127.0.0.1:${port}"]\n`,
    );
    const journal = join(dir, "journal");
    const child = spawn(process.execPath, [cli, "run", "--config", file, "--journal-dir", journal], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const until = async (what: string, check: () => Promise<boolean> | boolean) => {
      const deadline = Date.now() + 20_000;
      while (!(await Promise.resolve(check()).catch(() => false))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await until("probe_success 1", async () =>
        (await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text()).includes(
          `probe_success{service="stats-api",target="http://127.0.0.1:${port}"} 1`,
        ),
      );
      expect((await fetch(`http://127.0.0.1:${listen}/healthz`)).status).toBe(200);
      healthy = false;
      await until("incident_opened", () => stdout.includes('"event":"incident_opened"'));
      const line = JSON.parse(stdout.split("\n").find((l) => l.includes("incident_opened"))!) as Record<string, unknown>;
      expect(line).toMatchObject({ kind: "service-down", severity: "P0", subject: "stats-api", escalation: "page" });
      // the log line names the incident's id, under which the journal keeps its life
      expect(readIncidentJournal(journal).incidents.get(String(line["id"]))).toMatchObject({ kind: "service-down", subject: "stats-api" });
      await until("incident_active", async () =>
        (await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text()).includes(
          'incident_active{kind="service-down",severity="P0",subject="stats-api"} 1',
        ),
      );
      healthy = true;
      await until("incident_resolved", () => stdout.includes('"event":"incident_resolved"'));
    } finally {
      child.kill("SIGTERM");
      target.close();
    }
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    expect(code).toBe(0);
  });

  const prober = (args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}) =>
    spawnSync(process.execPath, [cli, ...args], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeout ?? 30_000,
      env: { ...process.env, GM_DEBUG: "", GM_PROBER_STATE_DIR: join(dir, "state"), ...opts.env },
    });
  const config = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const down = 'services: { stats-api: ["http://127.0.0.1:1"] }\n';

  it("refuses bad numbers on the command line, naming the option", () => {
    const file = config("ok.yaml", down);
    for (const [args, message] of [
      [["once", "--settle", "abc"], "--settle: expected a number of seconds from 0 to 3600, got something that is not a number"],
      [["once", "--settle", "-1"], "--settle: expected a number of seconds from 0 to 3600, got -1"],
      [["run", "--rounds", "-1"], "--rounds: expected a whole number of rounds ≥ 1, got -1"],
      [["run", "--rounds", "1.5"], "--rounds: expected a whole number of rounds ≥ 1, got 1.5"],
    ] as const) {
      const r = prober([...args, "--config", file]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it("refuses a listen port above 65535 and a configuration that probes nothing", () => {
    const r = prober(["run", "--rounds", "1", "--config", config("port.yaml", `${down}listen: 127.0.0.1:99999\n`)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('listen: expected host:port with a port from 0 to 65535, got "127.0.0.1:99999"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const e = prober(["once", "--settle", "0", "--config", config("empty.yaml", "services: {}\n")]);
    expect(e.status).toBe(2);
    expect(e.stderr).toContain("services: expected at least one service with a list of base URLs, got none");
    expect(e.stdout).not.toContain("healthy");
  });

  it("says which listen address is in use, exit 2, no stack trace", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = prober(["run", "--rounds", "1", "--config", config("busy.yaml", `${down}listen: "127.0.0.1:${port}"\n`)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`listen: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      busy.close();
    }
  });

  it("once --json prints one whole JSON document on a pipe, also beyond 64 KiB and with an incident open", () => {
    let text = "timeoutMs: 200\nservices:\n  stats-api:\n";
    for (let i = 0; i < 600; i++) text += `    - http://127.0.0.1:1/instance-${i}\n`;
    const r = prober(["once", "--json", "--settle", "0", "--config", config("many.yaml", text)], { timeout: 60_000 });
    expect(r.status).toBe(1); // service-down is open
    expect(r.stdout.length).toBeGreaterThan(64 * 1024);
    const doc = JSON.parse(r.stdout) as { incidents: { kind: string }[] };
    expect(doc.incidents.map((i) => i.kind)).toContain("service-down");
    expect(r.stderr).toContain('"event":"incident_opened"');
  });

  it("once --json never prints a configured secret's value (security.secrets), on stdout or stderr", () => {
    const token = "adm-9f8e7d6c5b4a3210";
    const text = `timeoutMs: 200\nservices:\n  stats-api: ["http://127.0.0.1:1/health-check?token=${token}"]\nsecurity:\n  secrets: { adminToken: "${token}" }\n`;
    const r = prober(["once", "--json", "--settle", "0", "--config", config("secret.yaml", text)], { timeout: 60_000 });
    expect(r.status).toBe(1); // service-down is open, its evidence naming the instance's URL
    const doc = JSON.parse(r.stdout) as { incidents: { kind: string; evidence: { signal: string }[] }[] };
    expect(doc.incidents.find((i) => i.kind === "service-down")?.evidence[0]?.signal).toBe(
      "services[stats-api].instances[http://127.0.0.1:1/health-check?token=***].ok",
    );
    expect(r.stdout).not.toContain(token);
    expect(r.stderr).not.toContain(token);
  });

  it("refuses a FIFO as the configuration at once, and never prints a policy file's lines", () => {
    const fifo = join(dir, "config.fifo");
    execFileSync("mkfifo", [fifo]);
    const f = prober(["once", "--config", fifo], { timeout: 10_000 });
    expect(f.status).toBe(2);
    expect(f.stderr).toContain(`--config ${fifo}: expected a regular file, got a FIFO`);
    const shadow = config("shadow", "root:$y$j9T$hunter2:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n");
    const p = prober(["once", "--config", config("shadow.yaml", `${down}policy: ${shadow}\n`)]);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain(`policy ${shadow}: invalid`);
    expect(p.stderr).not.toContain("hunter2");
  });

  it("keeps a URL's password out of a configuration error", () => {
    const r = prober(["once", "--config", config("pw.yaml", `${down}postgres: { url: "postgres://gm:\${PGPW}@pg/gm" }\n`)], {
      env: { PGPW: "pa#ss-s3cret" },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("postgres://gm:***@pg/gm");
    expect(r.stderr).not.toContain("s3cret");
  });
});
