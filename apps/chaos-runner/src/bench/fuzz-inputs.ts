/**
 * `npm run fuzz`: malformed prober configurations, policies and drill files, fed to the real CLIs as
 * child processes (`gm-prober check --config F`, `gm-chaos plan service-oom --policy F`,
 * `gm-chaos plan F`), each with a timeout. Prints, per kind of input, how many cases exited 2 with a
 * message naming a field or the file, and how many hung, printed a stack trace, crashed (any other exit
 * code) or were accepted. The goal is 100% exit 2, clear, no hang, no trace; the script exits 1 otherwise.
 *
 * Cases are generated from a seeded PRNG (`--seed`, `--cases` per kind), mutating the committed drill
 * files, the default policy and a full prober configuration so that each case is invalid by
 * construction: YAML alias bombs, 1 MB strings, non-UTF-8 bytes and NUL, duplicate keys, wrong types,
 * values out of range, unknown keys, YAML syntax errors and tags, deep nesting, and special files:
 * a directory, a FIFO, /dev/zero, a socket, symlink loops, /proc and /etc/shadow, and unreadable files.
 * The fuzz runs as root, which reads a chmod 000 file anyway: the unreadable cases run their CLI as the
 * user `nobody` (spawn's uid/gid) so the permission check is real. A case that hits the timeout is run
 * once more with four times as long before it counts as a hang: the machine is shared.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { defaultPolicy } from "@gm/runbook/policy";
import { isMap, isScalar, isSeq, parseDocument, stringify } from "yaml";

type Kind = "prober config" | "policy" | "drill file";
interface Case {
  kind: Kind;
  /** what was done to the input, e.g. "alias bomb (9^8)" */
  what: string;
  path: string;
  /** run the CLI as nobody (a file root could read anyway) */
  asNobody?: boolean;
}
interface Result extends Case {
  code: number | null;
  signal: string | null;
  hung: boolean;
  ms: number;
  stderr: string;
  stdout: string;
}

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../..");
const PROBER_CLI = join(ROOT, "apps/prober/dist/cli.js");
const CHAOS_CLI = join(ROOT, "apps/chaos-runner/dist/cli.js");
const SCENARIOS = join(ROOT, "scenarios");

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`fuzz: --${name}: expected a whole number ≥ 1, got ${process.argv[i + 1]}\n`);
    process.exit(2);
  }
  return v;
}
const SEED = arg("seed", 1);
const PER_KIND = arg("cases", 200);
const TIMEOUT_MS = arg("timeout-ms", 15_000);
const CONCURRENCY = arg("concurrency", 2);

/** mulberry32: a small seeded PRNG, so a run can be repeated case for case. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}
const rnd = prng(SEED);

// ---------------------------------------------------------------------------------------------------
// Valid inputs to start from

const PROBER_BASE = `intervalSeconds: 5
timeoutMs: 2000
windowSeconds: 60
listen: "127.0.0.1:9464"
services:
  ingest-api: ["http://127.0.0.1:18081"]
  event-processor-service: ["http://127.0.0.1:18082"]
  stats-api: ["http://127.0.0.1:18083"]
kafka:
  brokers: ["127.0.0.1:29092", "127.0.0.1:29093"]
  expectedBrokers: 3
  topic: game-events
  groups: [event-processor-service]
postgres:
  url: "postgres://gm_prober:prober-pw@127.0.0.1:5432/gamemetrics"
synthetic:
  players: 4
security:
  protected:
    - { method: DELETE, url: "http://127.0.0.1:18083/admin/players/x" }
  public: ["http://127.0.0.1:18083/metrics"]
  secrets: { adminToken: "0123456789abcdef" }
alertmanager:
  urls: ["http://127.0.0.1:9093"]
hysteresis:
  resolveAfter: 3
`;
const POLICY_BASE = stringify(defaultPolicy);
const DRILL_BASES = readdirSync(SCENARIOS)
  .filter((f) => f.endsWith(".yaml") && f !== "policy.yaml")
  .sort()
  .map((f) => readFileSync(join(SCENARIOS, f), "utf8"));
const baseOf = (k: Kind) => (k === "prober config" ? PROBER_BASE : k === "policy" ? POLICY_BASE : rnd.pick(DRILL_BASES));

// ---------------------------------------------------------------------------------------------------
// Mutations: each returns bytes that are invalid for every kind, and says what it did

type Mutation = (base: string, kind: Kind) => { what: string; bytes: Buffer | string };

/** Leaves (path, value) of a YAML text's mapping, through maps and lists. */
function leaves(text: string): { path: (string | number)[]; value: unknown }[] {
  const doc = parseDocument(text);
  const out: { path: (string | number)[]; value: unknown }[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) for (const p of node.items) walk(p.value, [...path, String(isScalar(p.key) ? p.key.value : p.key)]);
    else if (isSeq(node)) {
      for (const [i, x] of node.items.entries()) walk(x, [...path, i]);
    } else if (isScalar(node)) out.push({ path, value: node.value });
  };
  walk(doc.contents, []);
  return out;
}
/** Mappings (paths) of a YAML text, the root included. */
function mappings(text: string): (string | number)[][] {
  const doc = parseDocument(text);
  const out: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      out.push(path);
      for (const p of node.items) walk(p.value, [...path, String(isScalar(p.key) ? p.key.value : p.key)]);
    } else if (isSeq(node)) {
      for (const [i, x] of node.items.entries()) walk(x, [...path, i]);
    }
  };
  walk(doc.contents, []);
  return out;
}
function setIn(text: string, path: (string | number)[], value: unknown): string {
  const doc = parseDocument(text);
  doc.setIn(path, doc.createNode(value));
  return doc.toString({ lineWidth: 0 });
}
const show = (path: (string | number)[]) =>
  path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
// free-form fields, where any key or any string is valid: mutations avoid them
const freeForm = (path: (string | number)[]) =>
  path.some(
    (p) => p === "secrets" || p === "params" || p === "hypothesis" || p === "reason" || p === "claim" || p === "subject" || p === "protect",
  );

function aliasBomb(levels: number, shape: "seq" | "map" | "merge"): string {
  if (shape === "seq") {
    let s = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (let i = 1; i <= levels; i++)
      s += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    return s;
  }
  if (shape === "map") {
    let s = "a0: &a0 {k: lol}\n";
    for (let i = 1; i <= levels; i++) s += `a${i}: &a${i} {${Array.from({ length: 9 }, (_, j) => `k${j}: *a${i - 1}`).join(", ")}}\n`;
    return s;
  }
  let s = "a0: &a0 {k0: lol}\n";
  for (let i = 1; i <= levels; i++)
    s += `a${i}: &a${i}\n  <<: [${Array(9)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n  own${i}: x\n`;
  return s;
}

const MUTATIONS: [string, Mutation][] = [
  [
    "alias bomb",
    (base) => {
      const levels = 3 + rnd.int(10);
      const shape = rnd.pick(["seq", "map", "merge"] as const);
      // as extra top-level keys, or in place of the whole file
      return {
        what: `alias bomb (${shape}, 9^${levels})`,
        bytes: rnd.next() < 0.5 ? aliasBomb(levels, shape) : `${base}${aliasBomb(levels, shape)}`,
      };
    },
  ],
  [
    "1 MB string",
    (base) => {
      const ls = leaves(base).filter((l) => !freeForm(l.path));
      const l = rnd.pick(ls);
      const size = rnd.pick([1024 * 1024 - 4096, 1024 * 1024 + 10, 3 * 1024 * 1024]);
      const big = rnd.pick(["x", "é", "ключ ", "\\n"]).repeat(Math.ceil(size / 2));
      if (rnd.next() < 0.3) return { what: `1 MB key (${size} bytes)`, bytes: `${big.slice(0, size)}: 1\n${base}` };
      return { what: `1 MB string at ${show(l.path)} (${size} bytes)`, bytes: setIn(base, l.path, big.slice(0, size)) };
    },
  ],
  [
    "1 MB of duplicate keys",
    () => {
      let s = "services:\n";
      while (s.length < 1_000_000) s += "a: 1\n";
      return { what: "1 MB of duplicate keys", bytes: s };
    },
  ],
  [
    "non-UTF-8 bytes",
    (base) => {
      const bad = rnd.pick([[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe9], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
      const b = Buffer.from(base);
      const at = rnd.int(b.length);
      return {
        what: `bytes ${bad.map((x) => x.toString(16)).join(" ")} at ${at}`,
        bytes: Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]),
      };
    },
  ],
  [
    "UTF-16 or NUL",
    (base) => {
      if (rnd.next() < 0.5)
        return { what: "UTF-16LE with BOM", bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(base, "utf16le")]) };
      const b = Buffer.from(base);
      const at = rnd.int(b.length);
      return { what: `NUL at ${at}`, bytes: Buffer.concat([b.subarray(0, at), Buffer.from([0]), b.subarray(at)]) };
    },
  ],
  [
    "duplicate key",
    (base) => {
      const lines = base.split("\n");
      // a key with its value on its line, again on the next line: same indentation, same mapping
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[A-Za-z][\w-]*:\s*\S/.test(l));
      const [line, i] = rnd.pick(keyed);
      const key = line.trim().split(":")[0]!;
      lines.splice(i + 1, 0, `${/^\s*/.exec(line)![0]}${key}: 1`);
      return { what: `duplicate key ${key} (line ${i + 2})`, bytes: lines.join("\n") };
    },
  ],
  [
    "wrong type",
    (base) => {
      const l = rnd.pick(leaves(base).filter((x) => !freeForm(x.path)));
      const replacement =
        typeof l.value === "number"
          ? rnd.pick<unknown>(["seven", { n: 1 }, [1, 2], true])
          : typeof l.value === "string"
            ? rnd.pick<unknown>([{ s: "x" }, [l.value], 12345, false])
            : rnd.pick<unknown>(["text", 1]);
      return {
        what: `${show(l.path)}: ${JSON.stringify(l.value)} → ${JSON.stringify(replacement)}`,
        bytes: setIn(base, l.path, replacement),
      };
    },
  ],
  [
    "out of range",
    (base) => {
      const nums = leaves(base).filter((x) => typeof x.value === "number" && !freeForm(x.path));
      const l = rnd.pick(nums);
      const v = rnd.pick([-1e9, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.5]);
      return { what: `${show(l.path)}: ${l.value} → ${v}`, bytes: setIn(base, l.path, v) };
    },
  ],
  [
    "unknown key",
    (base) => {
      const m = rnd.pick(mappings(base).filter((p) => !freeForm(p) && !(p.length === 2 && p[0] === "fault" && p[1] === "params")));
      const key = rnd.pick([
        "colour",
        "intervalSecond",
        "k".repeat(300),
        "ключ",
        "a b",
        "$ref",
        "constructor",
        "toString",
        "hasOwnProperty",
        "__proto__",
        "root:x:0:0:root:/root:/bin/bash",
      ]);
      const doc = parseDocument(base);
      const target = m.length === 0 ? doc.contents : doc.getIn(m, true);
      if (isMap(target)) target.add(doc.createPair(key, 1));
      return {
        what: `unknown key ${key.length > 20 ? `${key.slice(0, 10)}…(${key.length})` : key} in ${show(m) || "(root)"}`,
        bytes: doc.toString({ lineWidth: 0 }),
      };
    },
  ],
  [
    "YAML syntax",
    (base) => {
      const b = base;
      switch (rnd.int(6)) {
        case 0: {
          const at = rnd.int(b.length);
          return { what: `truncated at ${at} with an open quote`, bytes: `${b.slice(0, at)}\n"unclosed: [` };
        }
        case 1: {
          const lines = b.split("\n");
          const indented = lines.map((l, i) => [l, i] as const).filter(([l]) => /^ {2,}\S/.test(l));
          const [l, i] = rnd.pick(indented);
          lines[i] = l.replace(/^ +/, "\t");
          return { what: `tab indentation (line ${i + 1})`, bytes: lines.join("\n") };
        }
        case 2:
          return { what: "two documents", bytes: `${b}---\n${b}` };
        case 3:
          return { what: "unbalanced flow", bytes: `${b}\nextra: {a: [1, 2}\n` };
        case 4:
          return { what: "a bad indentation", bytes: b.replace(/\n(\S)/, "\n   $1") + "\n  broken: [\n" };
        default:
          return { what: "an undefined alias", bytes: `${b}\nref: *nowhere\n` };
      }
    },
  ],
  [
    "YAML tags",
    (base) => {
      const nums = leaves(base).filter((x) => typeof x.value === "number" && !freeForm(x.path));
      const l = rnd.pick(nums);
      const tag = rnd.pick([
        "!!binary aGVsbG8=",
        "!!str 5",
        "!!js/function 'function(){}'",
        "!custom 5",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!!timestamp 2001-12-14",
        "!!float nope",
        "!!int 1.5",
      ]);
      const key = l.path.at(-1);
      const lines = base.split("\n");
      const i = lines.findIndex((x) => typeof key === "string" && new RegExp(`^\\s*${key}:\\s*\\S`).test(x));
      if (i < 0) return { what: `tag ${tag} as the file`, bytes: `${tag}\n` };
      lines[i] = lines[i]!.replace(/:\s*.*$/, `: ${tag}`);
      return { what: `tag ${tag} at line ${i + 1}`, bytes: lines.join("\n") };
    },
  ],
  [
    "deep nesting",
    () => {
      const depth = rnd.pick([1000, 10_000, 100_000]);
      const shape = rnd.pick(["[", "{a: ", "- "]);
      const s =
        shape === "["
          ? `x: ${"[".repeat(depth)}1${"]".repeat(depth)}\n`
          : shape === "{a: "
            ? `x: ${"{a: ".repeat(depth)}1${"}".repeat(depth)}\n`
            : Array.from({ length: Math.min(depth, 5000) }, (_, i) => `${" ".repeat(i * 2)}-`).join("\n");
      return { what: `nesting ${depth} deep (${shape.trim()})`, bytes: s };
    },
  ],
  [
    "not a mapping",
    (_base, kind) => {
      // an empty policy (nothing, a comment, null) is the runbook's defaults: valid, so not among them
      const v = rnd.pick([
        "- a\n- b\n",
        "just text\n",
        "42\n",
        "[]\n",
        "''\n",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
        "KEY=value\nPATH=/usr/bin\n",
        ...(kind === "policy" ? [] : ["", "# only a comment\n", "null\n", "~\n"]),
      ]);
      return { what: `not a ${kind}: ${JSON.stringify(v.slice(0, 20))}`, bytes: v };
    },
  ],
  [
    "random bytes",
    () => {
      const n = 1 + rnd.int(2000);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = rnd.int(256);
      return { what: `${n} random bytes`, bytes: b };
    },
  ],
];

// ---------------------------------------------------------------------------------------------------
// Special files: the same for every kind

function specialFiles(dir: string, kind: Kind): Case[] {
  const d = join(dir, "special");
  mkdirSync(d, { recursive: true });
  const fifo = join(d, "fifo.yaml");
  execFileSync("mkfifo", [fifo]);
  const unreadable = join(d, "unreadable.yaml");
  writeFileSync(unreadable, baseOf(kind));
  chmodSync(unreadable, 0o000);
  const closedDir = join(d, "closed");
  mkdirSync(closedDir);
  writeFileSync(join(closedDir, "inside.yaml"), baseOf(kind));
  chmodSync(closedDir, 0o000);
  const loop = join(d, "loop.yaml");
  symlinkSync(loop, loop);
  const dangling = join(d, "dangling.yaml");
  symlinkSync(join(d, "nowhere.yaml"), dangling);
  const notDir = join(d, "file");
  writeFileSync(notDir, "x");
  const cases: Case[] = [
    { kind, what: "a directory", path: d },
    { kind, what: "a FIFO without a writer", path: fifo },
    { kind, what: "/dev/zero", path: "/dev/zero" },
    { kind, what: "/dev/urandom", path: "/dev/urandom" },
    { kind, what: "/dev/null", path: "/dev/null" },
    { kind, what: "/proc/self/environ", path: "/proc/self/environ" },
    { kind, what: "/etc/shadow", path: "/etc/shadow" },
    { kind, what: "/proc/self/mem", path: "/proc/self/mem" },
    { kind, what: "a unix socket", path: SOCKET },
    { kind, what: "a symlink loop", path: loop },
    { kind, what: "a dangling symlink", path: dangling },
    { kind, what: "a path through a file (ENOTDIR)", path: join(notDir, "x.yaml") },
    { kind, what: "a name too long", path: join(d, `${"n".repeat(300)}.yaml`) },
    { kind, what: "a missing file", path: join(d, "missing.yaml") },
    { kind, what: "chmod 000 (read as nobody)", path: unreadable, asNobody: true },
    { kind, what: "in a chmod 000 directory (as nobody)", path: join(closedDir, "inside.yaml"), asNobody: true },
  ];
  return cases;
}

// ---------------------------------------------------------------------------------------------------
// Running the CLIs

function commandFor(c: Case): string[] {
  switch (c.kind) {
    case "prober config":
      return [PROBER_CLI, "check", "--config", c.path];
    case "policy":
      return [CHAOS_CLI, "plan", "service-oom", "--policy", c.path];
    case "drill file":
      return [CHAOS_CLI, "plan", c.path];
  }
}

let SOCKET = "";
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

function runCase(c: Case, stateDir: string, timeoutMs: number): Promise<Result> {
  return new Promise((resolveResult) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, commandFor(c), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GM_DEBUG: "", GM_STATE_DIR: stateDir, UNSET_FOR_FUZZ: undefined },
      ...(c.asNobody && asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    let stdout = "";
    let stderr = "";
    // at most 64 KiB of each kept: a message that long is a failure anyway
    child.stdout.on("data", (b: Buffer) => {
      if (stdout.length < 65_536) stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      if (stderr.length < 65_536) stderr += b.toString();
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveResult({ ...c, code, signal, hung, ms: Date.now() - t0, stderr, stdout });
    });
  });
}

/** Cases that hit the timeout once and were run again (the machine is shared: a slow moment is not a hang). */
let retried = 0;

async function runAll(cases: Case[], stateDir: string): Promise<Result[]> {
  const results: Result[] = new Array(cases.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      let r = await runCase(cases[i]!, stateDir, TIMEOUT_MS);
      // a hang is a case that times out twice, the second time with four times as long
      if (r.hung) {
        retried++;
        r = await runCase(cases[i]!, stateDir, 4 * TIMEOUT_MS);
      }
      results[i] = r;
      if (++done % 50 === 0) process.stderr.write(`fuzz: ${done}/${cases.length} cases run\n`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------------
// Judging a result

const TRACE = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
/** A problem line naming a field: `- services.stats-api[0]: expected …`, `kafka.brokers: required` … */
const FIELD = /(^|\n)\s*(- )?(\(file\)|\(yaml\)|\(root\)|[A-Za-z_$][\w$.[\]-]*|[\w.-]*\(a key that is not a field name; not shown\)): /;
const judge = (r: Result) => {
  const names = r.stderr.includes(r.path) || FIELD.test(r.stderr.replace(/^gm-(chaos|prober): /, ""));
  const trace = TRACE.test(r.stderr) || TRACE.test(r.stdout);
  return {
    exit2: !r.hung && r.code === 2,
    names,
    hung: r.hung,
    trace,
    crashed: !r.hung && r.code !== 0 && r.code !== 2,
    accepted: !r.hung && r.code === 0,
    long: r.stderr.length > 4096,
    warning: /\(node:\d+\) \w*Warning/.test(r.stderr),
  };
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "gm-fuzz-"));
  chmodSync(dir, 0o755);
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o777 });
  chmodSync(stateDir, 0o777);
  // a unix socket that stays open while the CLIs run
  SOCKET = join(dir, "fuzz.sock");
  const server = createServer(() => undefined);
  await new Promise<void>((r) => server.listen(SOCKET, r));

  const cases: Case[] = [];
  let n = 0;
  for (const kind of ["prober config", "policy", "drill file"] as const) {
    const kdir = join(dir, kind.replace(" ", "-"));
    mkdirSync(kdir);
    const special = specialFiles(kdir, kind);
    cases.push(...special);
    for (let i = 0; i < PER_KIND - special.length; i++) {
      // every mutation in turn, then at random
      const [, mutate] = i < MUTATIONS.length ? MUTATIONS[i]! : rnd.pick(MUTATIONS);
      const { what, bytes } = mutate(baseOf(kind), kind);
      const path = join(kdir, `case-${n++}.yaml`);
      writeFileSync(path, bytes);
      cases.push({ kind, what, path });
    }
  }
  // the prober's environment references: a variable that is not set
  const envCase = join(dir, "env.yaml");
  writeFileSync(envCase, PROBER_BASE.replace("prober-pw", ["$", "{UNSET_FOR_FUZZ}"].join("")));
  cases.push({ kind: "prober config", what: "a variable that is not set, referenced", path: envCase });
  process.stderr.write(`fuzz: ${cases.length} cases (seed ${SEED}), ${CONCURRENCY} at a time, ${TIMEOUT_MS} ms each at most\n`);
  const t0 = Date.now();
  const results = await runAll(cases, stateDir);
  server.close();

  const kinds = ["prober config", "policy", "drill file"] as const;
  const rows = [...kinds, "all"].map((k) => {
    const rs = results.filter((r) => k === "all" || r.kind === k);
    const js = rs.map(judge);
    const pct = (f: (j: ReturnType<typeof judge>) => boolean) => `${((100 * js.filter(f).length) / Math.max(1, js.length)).toFixed(1)}%`;
    const count = (f: (j: ReturnType<typeof judge>) => boolean) => String(js.filter(f).length);
    return [
      k,
      String(rs.length),
      pct((j) => j.exit2),
      pct((j) => j.exit2 && j.names && !j.trace && !j.long),
      count((j) => j.hung),
      count((j) => j.trace),
      count((j) => j.crashed),
      count((j) => j.accepted),
      count((j) => j.long),
      count((j) => j.warning),
      String(Math.max(...rs.map((r) => r.ms))),
    ];
  });
  const header = [
    "input",
    "cases",
    "exit 2",
    "clear (exit 2, names field/file, no trace, < 4 KiB)",
    "hangs",
    "traces",
    "crashes",
    "accepted",
    "> 4 KiB",
    "node warnings",
    "slowest ms",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  process.stdout.write(
    `\n${line(header)}\n|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|\n${rows.map(line).join("\n")}\n`,
  );
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  process.stdout.write(
    `\n${results.length} cases run through the real CLIs in ${((Date.now() - t0) / 1000).toFixed(0)} s (seed ${SEED}, ${CONCURRENCY} at a time); median ${ms[Math.floor(ms.length / 2)]} ms per run; ${retried} timed out once at ${TIMEOUT_MS} ms and were run again with ${4 * TIMEOUT_MS} ms; unreadable cases ran as ${asRoot ? "nobody (root reads a chmod 000 file)" : "this user"}\n`,
  );

  const bad = results.filter((r) => {
    const j = judge(r);
    return !(j.exit2 && j.names) || j.trace || j.long || j.warning;
  });
  if (bad.length > 0) {
    process.stdout.write(`\nnot clear (${bad.length}):\n`);
    for (const r of bad.slice(0, 40)) {
      const first = r.hung ? "(hung)" : (r.stderr.split("\n").find((l) => l.trim() !== "") ?? "(nothing on stderr)").slice(0, 200);
      process.stdout.write(`  ${r.kind} | ${r.what} | exit ${r.code ?? r.signal} | ${first}\n`);
    }
  }
  // unreadable files are root's to remove
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = bad.length === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
