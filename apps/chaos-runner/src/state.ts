/** Where `gm-chaos stack up` records the stacks it left running, so `status`/`down` find them. */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { STACK_ID_PATTERN } from "@gm/stack/definition";
import type { StackEndpoints } from "@gm/stack/stack";
import { ConfigFileError, readConfigFile } from "@gm/monitor/config-file";
import { redactDeep } from "@gm/runbook/redact";
import { CliError } from "./output.js";

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

/** Refuses a stack id that is not one (`--id ../../x` named a file outside the state directory); exit 2 naming the option. */
export function checkStackId(id: string, option = "--id"): string {
  if (!STACK_ID_PATTERN.test(id))
    throw new CliError(
      `${option}: expected a stack id (lower-case letters, digits and dashes, at most 31, matching ${STACK_ID_PATTERN.source}), got ${JSON.stringify(id)}`,
      2,
    );
  return id;
}

/** A stack record or a fault journal is a few KiB; a larger file under the state directory is not one. */
export const MAX_STATE_BYTES = 1024 * 1024;

/**
 * A state file's JSON; a corrupt one is a message naming the file, not a stack trace. Only a regular file
 * of at most MAX_STATE_BYTES is read: a FIFO left in the state directory hung every command that lists it.
 */
export function readStateFile<T>(file: string, what: string, valid: (v: unknown) => boolean): T {
  let text: string;
  try {
    text = readConfigFile(file, what, MAX_STATE_BYTES, "JSON");
  } catch (err) {
    if (err instanceof ConfigFileError) throw new CliError(`${err.message}; move it away if nothing uses it`, 2);
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CliError(`${file}: not a readable ${what} (invalid JSON); move it away if nothing uses it`, 2);
  }
  if (!valid(v)) throw new CliError(`${file}: not a ${what} (fields missing); move it away if nothing uses it`, 2);
  return v as T;
}

export function saveStack(rec: StackRecord): string {
  checkStackId(rec.stackId);
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
    .map(({ f }) =>
      readStateFile<StackRecord>(
        join(dir, f),
        "stack record",
        (v) =>
          typeof v === "object" &&
          v !== null &&
          typeof (v as StackRecord).stackId === "string" &&
          typeof (v as StackRecord).endpoints === "object",
      ),
    );
}

export function forgetStack(stackId: string): void {
  checkStackId(stackId);
  rmSync(join(stacksDir(), `${stackId}.json`), { force: true });
}

/** The secrets of a stack, by name: its admin token and its PostgreSQL passwords (the record keeps them, owner-only). */
export function namedStackSecrets(e: Partial<StackEndpoints>): { name: string; value: string }[] {
  const password = (u: string | undefined) => {
    try {
      return u ? decodeURIComponent(new URL(u).password) : "";
    } catch {
      return "";
    }
  };
  return [
    { name: "ADMIN_TOKEN", value: e.adminToken ?? "" },
    { name: "POSTGRES_PASSWORD", value: password(e.postgresUrl) },
    { name: "PROBER_PG_PASSWORD", value: password(e.proberPostgresUrl) },
  ].filter((x) => x.value.length > 0);
}

/** The secrets of a stack: its admin token and its PostgreSQL passwords. */
export function stackSecrets(e: Partial<StackEndpoints>): string[] {
  return namedStackSecrets(e).map((x) => x.value);
}

/** `value` as it may be printed: URL passwords and the stack's secrets replaced by `***`. */
export function printable<T>(value: T, endpoints: Partial<StackEndpoints>[]): T {
  return redactDeep(value, endpoints.flatMap(stackSecrets));
}
