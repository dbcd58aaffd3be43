/** `gm-chaos stack`: what it prints keeps the stack's secrets out, and ids cannot leave the state directory. */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StackEndpoints } from "@gm/stack/stack";
import { run } from "../cli.js";
import type { Out } from "../output.js";

const TOKEN = "admin-token-0123456789abcdef";
const PG_PASSWORD = "pg-superuser-s3cret";
const PROBER_PASSWORD = "prober-s3cret";
const endpoints: StackEndpoints = {
  stackId: "t-secrets",
  kafkaBootstrapServers: ["127.0.0.1:29092"],
  kafkaInternalBootstrapServers: ["kafka-1:19092"],
  postgresUrl: `postgres://gm:${PG_PASSWORD}@127.0.0.1:5432/gamemetrics`,
  proberPostgresUrl: `postgres://gm_prober:${PROBER_PASSWORD}@127.0.0.1:5432/gamemetrics`,
  services: {
    "ingest-api": "http://127.0.0.1:8081",
    "stats-api": "http://127.0.0.1:8083",
    "event-processor-service": ["http://127.0.0.1:8082"],
  },
  topic: "game-events",
  consumerGroup: "event-processor-service",
  adminToken: TOKEN,
  network: "gm-t-secrets",
};

const removeStack = vi.fn(async (_id: string) => ({ containers: 0, networks: 0 }));
vi.mock("@gm/stack/docker", () => ({ listStackContainers: async () => [], removeStack: (id: string) => removeStack(id) }));
vi.mock("@gm/stack/stack", () => ({
  startStack: async () => ({
    options: { id: endpoints.stackId, brokers: 1, processorReplicas: 1, images: { kafka: "k", postgres: "p", platform: "d" } },
    endpoints,
  }),
}));

function capture(): Out & { text: () => string } {
  const lines: string[] = [];
  return {
    text: () => lines.join("\n"),
    line: (s) => void lines.push(s),
    raw: (s) => void lines.push(s),
    json: (v) => void lines.push(JSON.stringify(v, null, 2)),
    progress: (s) => void lines.push(s),
  };
}

let state: string;
let stderr: string[];
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), "gm-stack-cmd-"));
  vi.stubEnv("GM_STATE_DIR", join(state, "state"));
  stderr = [];
  vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    stderr.push(String(s));
    return true;
  });
  removeStack.mockClear();
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("gm-chaos stack", { timeout: 30_000 }, () => {
  it("up (text and --json) and status --json print no password and no admin token", async () => {
    for (const args of [
      ["stack", "up"],
      ["stack", "up", "--json"],
      ["stack", "status", "--json"],
      ["stack", "status"],
    ]) {
      const out = capture();
      expect(await run(args, out), args.join(" ")).toBe(0);
      const printed = out.text() + stderr.join("");
      for (const secret of [TOKEN, PG_PASSWORD, PROBER_PASSWORD])
        expect(printed, `${args.join(" ")} prints ${secret}`).not.toContain(secret);
      if (args.includes("up")) expect(printed).toContain("postgres://gm:***@127.0.0.1:5432/gamemetrics");
      if (args.join(" ") === "stack status --json") expect(printed).toContain('"stackId": "t-secrets"');
    }
  });

  it("down --id ../../x is refused naming --id, and deletes nothing outside the state directory", async () => {
    mkdirSync(join(state, "state", "stacks"), { recursive: true });
    const outside = join(state, "x.json");
    writeFileSync(outside, "{}\n");
    expect(await run(["stack", "down", "--id", "../../x"], capture())).toBe(2);
    expect(stderr.join("")).toContain("--id: expected a stack id (lower-case letters, digits and dashes, at most 31");
    expect(existsSync(outside)).toBe(true);
    expect(removeStack).not.toHaveBeenCalled();
    for (const args of [
      ["stack", "status", "--id", "../x"],
      ["stack", "up", "--id", "a/b"],
      ["runbook", "service-oom", "--stack-id", "../x"],
      ["drill", "service-oom", "--stack-id", "../x"],
    ]) {
      expect(await run(args, capture()), args.join(" ")).toBe(2);
    }
  });

  it("deploy and rollback refuse bad input with a message naming it, exit 2, before touching any stack", async () => {
    mkdirSync(join(state, "state", "stacks"), { recursive: true });
    writeFileSync(join(state, "state", "stacks", "t-secrets.json"), JSON.stringify({ stackId: "t-secrets", endpoints }));
    const cases: [string[], string][] = [
      [
        ["stack", "deploy", "nope", "--env", "A=1"],
        '<service>: expected one of ingest-api, event-processor-service, stats-api, got "nope"',
      ],
      [
        ["stack", "deploy", "stats-api", "--env", "1A=x"],
        '--env: expected NAME=VALUE with NAME a variable name ([A-Za-z_][A-Za-z0-9_]*), got "1A=x"',
      ],
      [["stack", "deploy", "stats-api", "--env", "PG_POOL_MAX"], 'got "PG_POOL_MAX"'],
      [["stack", "deploy", "stats-api", "--env", "A=1", "--env", "A=2"], "--env: A is given twice"],
      [["stack", "deploy", "stats-api"], "name a change: --env NAME=VALUE (repeatable) or --image IMAGE"],
      [["stack", "deploy", "stats-api", "--env", "A=1", "--stack-id", "no-such"], '--stack-id: no recorded stack "no-such"'],
      [["stack", "deploy", "stats-api", "--env", "A=1", "--stack-id", "../x"], "--stack-id: expected a stack id"],
      [
        ["stack", "rollback", "stats-api", "--to-revision", "0"],
        "--to-revision: expected a revision number (a whole number from 1), got 0",
      ],
      [["stack", "rollback", "kafka"], '<service>: expected one of ingest-api, event-processor-service, stats-api, got "kafka"'],
    ];
    for (const [args, message] of cases) {
      stderr = [];
      expect(await run(args, capture()), args.join(" ")).toBe(2);
      expect(stderr.join(""), args.join(" ")).toContain(message);
      expect(stderr.join(""), args.join(" ")).not.toMatch(/\n\s+at /); // no stack trace
    }
    // a malformed secret is named, never printed
    stderr = [];
    expect(await run(["stack", "deploy", "stats-api", "--env", "9DB_PASSWORD=hunter2-s3cret"], capture())).toBe(2);
    expect(stderr.join("")).toContain('got "9DB_PASSWORD=***"');
    expect(stderr.join("")).not.toContain("hunter2");
  });
});
