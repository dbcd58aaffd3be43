import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Every gm-chaos / gm-prober command line of the README, run as a reader would (npx → the bin npm
// links in node_modules/.bin) in its --help form, so the README cannot name a command the CLIs lack.
// apps/chaos-runner/turbo.json makes this task depend on gm-prober's build and on README.md.

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TOOLS = ["gm-chaos", "gm-prober"] as const;
type Tool = (typeof TOOLS)[number];

interface ReadmeCommand {
  /** the line as the README has it (continuations joined, comment removed) */
  line: string;
  npx: boolean;
  tool: Tool;
  /** the words after the tool's name */
  words: string[];
}

/** The command lines of the fenced code blocks that run gm-chaos or gm-prober. */
function readmeCommands(readme: string): ReadmeCommand[] {
  const found: ReadmeCommand[] = [];
  for (const block of readme.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    const lines = (block[1] ?? "").replace(/\s*\\\n\s*/g, " ").split("\n");
    for (const raw of lines) {
      const line = raw.replace(/\s#\s.*$/, "").trim();
      const m = /^(npx\s+)?(gm-chaos|gm-prober)(\s.*)?$/.exec(line);
      if (!m) continue;
      const words = (m[3] ?? "").trim().split(/\s+/).filter(Boolean);
      const pipe = words.indexOf("|"); // into another program
      found.push({ line, npx: m[1] !== undefined, tool: m[2] as Tool, words: pipe < 0 ? words : words.slice(0, pipe) });
    }
  }
  return found;
}

const bin = (tool: Tool) => path.join(ROOT, "node_modules", ".bin", tool);
const helps = new Map<string, { status: number | null; stdout: string; stderr: string }>();

/** `tool ...path --help` through the linked bin, on this Node (first on PATH, as in npm scripts). */
function help(tool: Tool, subcommands: string[]) {
  const key = [tool, ...subcommands].join(" ");
  let r = helps.get(key);
  if (!r) {
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env["PATH"] ?? ""}`, COLUMNS: "200" };
    const p = spawnSync(bin(tool), [...subcommands, "--help"], { cwd: ROOT, encoding: "utf8", env, timeout: 30_000 });
    r = { status: p.status, stdout: p.stdout, stderr: p.stderr };
    helps.set(key, r);
  }
  return r;
}

/** The subcommands a help lists under "Commands:" (`  gm-chaos stack up   Start…` → "up"). */
function listedSubcommands(tool: Tool, subcommands: string[], helpText: string): string[] {
  const prefix = `  ${[tool, ...subcommands].join(" ")} `;
  return helpText
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).split(/\s+/)[0] ?? "")
    .filter((w) => w !== "" && !/^[<[]/.test(w));
}

/**
 * The subcommand path a command line names: each word that its parent's help lists as a command,
 * up to the first option, placeholder or argument. A word where a command is expected that the
 * parent does not list is the README's mistake.
 */
function subcommandPath(c: ReadmeCommand): { path: string[]; unknown?: string; listed?: string[] } {
  const found: string[] = [];
  for (const word of c.words) {
    if (/^[-<[]/.test(word)) break;
    const listed = listedSubcommands(c.tool, found, help(c.tool, found).stdout);
    if (listed.length === 0) break; // a command without subcommands: the rest are its arguments
    if (!listed.includes(word)) return { path: found, unknown: word, listed };
    found.push(word);
  }
  return { path: found };
}

const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const commands = readmeCommands(readme);

describe("the README's gm-chaos and gm-prober commands", { timeout: 60_000 }, () => {
  it("are found in its code blocks, and npm linked both CLIs", () => {
    expect(commands.length).toBeGreaterThan(15);
    for (const tool of TOOLS) {
      expect(commands.some((c) => c.tool === tool)).toBe(true);
      expect(existsSync(bin(tool)), `node_modules/.bin/${tool}: run npm ci (package.json bin points at bin/${tool}.js)`).toBe(true);
    }
  });

  it.each(commands.map((c) => [`${c.tool} ${c.words.join(" ")}`, c] as const))("%s", (_, c) => {
    // a fresh clone has no gm-chaos on PATH: `npx` finds the workspace's linked bin
    expect(c.npx, `"${c.line}" runs only where ${c.tool} is on PATH: write it as \`npx ${c.tool} …\``).toBe(true);
    const sub = subcommandPath(c);
    expect(
      sub.unknown,
      `"${c.line}": ${[c.tool, ...sub.path].join(" ")} has no command "${sub.unknown}" (it has: ${sub.listed?.join(", ")})`,
    ).toBeUndefined();
    expect(sub.path.length, `"${c.line}" names no command of ${c.tool}`).toBeGreaterThan(0);
    const r = help(c.tool, sub.path);
    expect(r.status, `${c.tool} ${sub.path.join(" ")} --help: ${r.stderr}`).toBe(0);
    const usage = r.stdout.split("\n")[0] ?? "";
    expect(`${usage} `.startsWith(`${[c.tool, ...sub.path].join(" ")} `), `its usage line is "${usage}"`).toBe(true);
  });
});

describe("readmeCommands", () => {
  it("joins continued lines, drops comments and what is piped to another program", () => {
    const md =
      "text\n```sh\nnpx gm-prober once --json | jq .   # stop\ngm-chaos drill a \\\n  --x y\necho gm-chaos\n```\nnpx gm-chaos outside\n";
    expect(readmeCommands(md).map((c) => [c.npx, c.tool, c.words.join(" ")])).toEqual([
      [true, "gm-prober", "once --json"],
      [false, "gm-chaos", "drill a --x y"],
    ]);
  });
});
