/**
 * `gm-chaos schema [drill|policy]`: the JSON Schema of a drill file or of a policy file, on stdout, made
 * from the same zod schema the tools check files with. The committed copies in schemas/ are what the
 * shipped YAML files name on their first line (`# yaml-language-server: $schema=…`) so that editors
 * complete and check them; a unit test fails when a committed copy differs from this output.
 */
import { policyJsonSchema } from "@gm/runbook/policy";
import type { Argv } from "yargs";
import { drillJsonSchema } from "../drill/scenario.js";
import type { Out } from "../output.js";

export const SCHEMA_KINDS = { drill: drillJsonSchema, policy: policyJsonSchema } as const;

export function schemaCommand<T>(y: Argv<T>, out: Out) {
  return y.command(
    "schema [kind]",
    "Print the JSON Schema of a drill file (drill, the default) or of a policy file (policy); committed in schemas/",
    (y) => y.positional("kind", { choices: Object.keys(SCHEMA_KINDS), default: "drill", describe: "which file's schema" }),
    (argv) => {
      out.raw(SCHEMA_KINDS[argv.kind as keyof typeof SCHEMA_KINDS]());
    },
  );
}
