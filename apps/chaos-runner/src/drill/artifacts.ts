/**
 * Everything a game day writes that a person, a CI log or a scraper could read — the report files, the
 * drill's progress and result lines (text and --json), the prober's log lines and /metrics, `gm-chaos
 * stack status` (text and --json), and every container's log — gathered as artifacts, so that one grep
 * (findLeaks, @gm/runbook/leaks) can show that no configured secret is in any of them. The game-day
 * test and `npm run security` collect with it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createDockerPlatform } from "@gm/platform/docker";
import type { Artifact } from "@gm/runbook/leaks";
import { listStackContainers } from "@gm/stack/docker";
import type { StackEndpoints } from "@gm/stack/stack";
import type { DrillProgress } from "./lifecycle.js";
import type { DrillReport } from "@gm/report/schema";

/** Every file under `dir` (recursively), named by its path relative to `label`. */
export function fileArtifacts(dir: string, label = dir): Artifact[] {
  const out: Artifact[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ name: `${label}/${relative(dir, p)}`, text: readFileSync(p, "utf8") });
    }
  };
  walk(dir);
  return out;
}

/**
 * What `gm-chaos drill` prints for these progress events and reports: the text lines and the --json lines
 * (the same renderings as commands/drill.ts' runEach).
 */
export function drillOutputArtifacts(progress: readonly DrillProgress[], reports: readonly DrillReport[]): Artifact[] {
  const text = progress.map((p) => `${p.scenario} [${p.phase}] ${p.message}`);
  const json = [
    ...progress.map((p) => JSON.stringify({ event: "progress", ...p })),
    ...reports.map((r) =>
      JSON.stringify({
        event: "result",
        scenario: r.drill.scenario,
        outcome: r.outcome,
        timings: r.timings,
        worstSeverity: r.worstSeverity ?? null,
        intervalSeconds: r.observer?.intervalSeconds ?? null,
        integrity: r.integrity,
        reasons: r.reasons,
      }),
    ),
  ];
  return [
    { name: "drill progress lines", text: text.join("\n") },
    { name: "drill --json lines", text: json.join("\n") },
  ];
}

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/**
 * `gm-chaos stack status` and `stack status --json` for this stack, run as the built CLI against a
 * state directory holding the stack's record (as `stack up` leaves it), with stdout and stderr.
 */
export function stackStatusArtifacts(e: StackEndpoints, brokers: number): Artifact[] {
  const dir = mkdtempSync(join(tmpdir(), "gm-state-"));
  try {
    mkdirSync(join(dir, "stacks"), { recursive: true, mode: 0o700 });
    const record = {
      stackId: e.stackId,
      startedAt: new Date().toISOString(),
      brokers,
      processorReplicas: e.services["event-processor-service"].length,
      images: { kafka: "", postgres: "", platform: "" },
      endpoints: e,
    };
    writeFileSync(join(dir, "stacks", `${e.stackId}.json`), JSON.stringify(record), { mode: 0o600 });
    return [
      ["stack", "status", "--id", e.stackId],
      ["stack", "status", "--id", e.stackId, "--json"],
    ].map((args) => {
      const r = spawnSync(process.execPath, [CLI, ...args], {
        encoding: "utf8",
        env: { ...process.env, GM_STATE_DIR: dir },
        timeout: 60_000,
      });
      if (r.status !== 0) throw new Error(`gm-chaos ${args.join(" ")} exited with ${r.status}: ${r.stderr}`);
      return { name: `gm-chaos ${args.join(" ")}`, text: `${r.stdout}\n${r.stderr}` };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The log of every container of the stack (`docker logs`, stdout and stderr). */
export async function containerLogArtifacts(stackId: string): Promise<Artifact[]> {
  const platform = createDockerPlatform({ stackId });
  const containers = await listStackContainers(stackId);
  return Promise.all(
    containers.map(async (c) => ({ name: `docker logs ${c.instance}`, text: (await platform.logs(c.instance, 1_000_000)).join("\n") })),
  );
}

/** Records JSON log lines (a prober's `log`) as an artifact's text. */
export function lineRecorder(name: string): { log: (record: Record<string, unknown>) => void; artifact: () => Artifact } {
  const lines: string[] = [];
  return { log: (r) => lines.push(JSON.stringify(r)), artifact: () => ({ name, text: lines.join("\n") }) };
}
