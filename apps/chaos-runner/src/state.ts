/** Where `gm-chaos stack up` records the stacks it left running, so `status`/`down` find them. */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { StackEndpoints } from "@gm/stack/stack";

export interface StackRecord {
  stackId: string;
  startedAt: string;
  brokers: number;
  processorReplicas: number;
  images: { kafka: string; postgres: string; platform: string };
  endpoints: StackEndpoints;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env["GM_STATE_DIR"] || join(env["XDG_STATE_HOME"] || join(homedir(), ".local", "state"), "gm-chaos");
}

function stacksDir(): string {
  const dir = join(stateDir(), "stacks");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function saveStack(rec: StackRecord): string {
  const file = join(stacksDir(), `${rec.stackId}.json`);
  // It holds the database password and the admin token of a throwaway stack: owner only.
  writeFileSync(file, JSON.stringify(rec, null, 2) + "\n", { mode: 0o600 });
  return file;
}

export function loadStacks(): StackRecord[] {
  const dir = stacksDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .map(({ f }) => JSON.parse(readFileSync(join(dir, f), "utf8")) as StackRecord);
}

export function forgetStack(stackId: string): void {
  rmSync(join(stacksDir(), `${stackId}.json`), { force: true });
}
