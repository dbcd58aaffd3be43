/** gm-prober as a process: bad input, and `run` against a real HTTP target it probes. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
    expect(r.stderr).toContain('services.ingest-api[0]: expected a http: or https: URL, got "ftp://x"');
    for (const args of [["--help"], ["once", "--help"], ["run", "--help"]]) {
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
    writeFileSync(file, `intervalSeconds: 0.5\nlisten: "127.0.0.1:${listen}"\nhysteresis: { resolveAfter: 1 }\nservices:\n  stats-api: ["http://127.0.0.1:${port}"]\n`);
    const child = spawn(process.execPath, [cli, "run", "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
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
      await until("probe_success 1", async () => (await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text()).includes(`probe_success{service="stats-api",target="http://127.0.0.1:${port}"} 1`));
      expect((await fetch(`http://127.0.0.1:${listen}/healthz`)).status).toBe(200);
      healthy = false;
      await until("incident_opened", () => stdout.includes('"event":"incident_opened"'));
      const line = JSON.parse(stdout.split("\n").find((l) => l.includes("incident_opened"))!) as Record<string, unknown>;
      expect(line).toMatchObject({ kind: "service-down", severity: "P0", subject: "stats-api", escalation: "page" });
      await until("incident_active", async () => (await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text()).includes('incident_active{kind="service-down",severity="P0",subject="stats-api"} 1'));
      healthy = true;
      await until("incident_resolved", () => stdout.includes('"event":"incident_resolved"'));
    } finally {
      child.kill("SIGTERM");
      target.close();
    }
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    expect(code).toBe(0);
  });
});
