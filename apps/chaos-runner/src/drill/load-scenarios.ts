/** Finds and validates drill files: names (`kafka-broker-down`), paths, or `all`. */
import { existsSync, readdirSync } from "node:fs";
import { ConfigFileError, readConfigFile } from "@gm/monitor/config-file";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Policy } from "@gm/runbook/policy";
import { parseScenario, type Scenario, ScenarioError } from "./scenario.js";

export function defaultScenariosDir(): string {
  // dist/drill or src/drill → the repository's scenarios/
  return resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../../scenarios");
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw new ScenarioError(dir, [`--scenarios-dir: cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
}

export function loadScenarios(names: string[], dir: string, policy: Policy): Scenario[] {
  const files: string[] = [];
  for (const n of names) {
    if (n === "all") {
      for (const f of listDir(dir)
        .filter((x) => x.endsWith(".yaml") && x !== "policy.yaml")
        .sort())
        files.push(join(dir, f));
    } else if (existsSync(n)) files.push(n);
    else if (existsSync(join(dir, `${n}.yaml`))) files.push(join(dir, `${n}.yaml`));
    else {
      const known = listDir(dir)
        .filter((x) => x.endsWith(".yaml") && x !== "policy.yaml")
        .map((x) => x.replace(/\.yaml$/, ""));
      throw new ScenarioError(n, [`no drill named "${n}" in ${dir} (known: ${known.join(", ")}, or all)`]);
    }
  }
  const failed: (ScenarioError | ConfigFileError)[] = [];
  const out: Scenario[] = [];
  for (const f of [...new Set(files)]) {
    try {
      // a directory, a FIFO or a huge file is refused before it is read, naming the path
      out.push(parseScenario(readConfigFile(f, "drill"), f, (s) => policy.severities[s].responseMinutes));
    } catch (err) {
      if (err instanceof ScenarioError || err instanceof ConfigFileError) failed.push(err);
      else throw err;
    }
  }
  // one file: its own message, not "f: invalid drill: - f: invalid drill: …"
  if (failed.length === 1) throw failed[0];
  if (failed.length)
    throw new ScenarioError(
      names.join(" "),
      failed.map((e) => e.message),
    );
  return out;
}
