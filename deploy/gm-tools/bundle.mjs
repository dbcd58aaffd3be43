// Bundles gm-prober and gm-chaos, each into one file, for the gamemetrics/gm-tools image (build.sh beside
// this file): the image then needs only a Node runtime, no node_modules. Bundled from the TypeScript
// sources (what the workspace packages' `types` export names), so no `npm run build` is needed first.
//
// The CLIs find files beside their modules (scenarios/, dist/cli.js for the drill watchdog, the committed
// Alertmanager routing) through `import.meta.url`, which in a bundle would name the bundle. Each module's
// `import.meta.url` is therefore rewritten to the URL its built file (dist/…/x.js) has in the repository,
// relative to the bundle: the image mirrors the repository's layout under /app (apps/<app>/dist/cli.js is
// the bundle, scenarios/ and deploy/alertmanager/ beside it), so every such path resolves as in a checkout.
//
//   node deploy/gm-tools/bundle.mjs OUTDIR     writes OUTDIR/apps/{prober,chaos-runner}/dist/cli.js
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const outRoot = process.argv[2];
if (!outRoot) {
  process.stderr.write("usage: node deploy/gm-tools/bundle.mjs OUTDIR\n");
  process.exit(2);
}

/** @gm/<name> → its folder, from the workspaces' package.json files. */
const workspaces = new Map(
  ["apps", "packages"].flatMap((top) =>
    readdirSync(join(ROOT, top), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => {
        try {
          return [[JSON.parse(readFileSync(join(ROOT, top, d.name, "package.json"), "utf8")).name, join(ROOT, top, d.name)]];
        } catch {
          return [];
        }
      }),
  ),
);

/** `@gm/<name>/<sub>` → packages/<name>/src/<sub>.ts (what the packages' `types` export names), so no build is needed. */
const workspaceSources = {
  name: "workspace-sources",
  setup(b) {
    b.onResolve({ filter: /^@gm\/[^/]+\/.+/ }, (args) => {
      const [, name, sub] = /^(@gm\/[^/]+)\/(.+)$/.exec(args.path);
      const dir = workspaces.get(name);
      if (!dir) return { errors: [{ text: `${args.path}: no workspace named ${name}` }] };
      return { path: join(dir, "src", `${sub.replace(/\.js$/, "")}.ts`) };
    });
  },
};

/** apps/x/src/a/b.ts → apps/x/dist/a/b.js: where tsc puts the module, so paths relative to it hold. */
const builtPath = (file) => relative(ROOT, file).replace(`${sep}src${sep}`, `${sep}dist${sep}`).replace(/\.ts$/, ".js");

/** Rewrites `import.meta.url` in the repository's own modules (not in node_modules) as described above. */
const moduleUrls = (bundleFile) => ({
  name: "module-urls",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return { contents: text, loader: "ts" };
      const rel = relative(dirname(bundleFile), join(ROOT, builtPath(args.path)))
        .split(sep)
        .join("/");
      return { contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: "ts" };
    });
  },
});

for (const app of ["prober", "chaos-runner"]) {
  const rel = `apps/${app}/dist/cli.js`;
  await build({
    entryPoints: [join(ROOT, `apps/${app}/src/cli.ts`)],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    outfile: join(outRoot, rel),
    // optional native addons, each required inside a try/catch with a pure-JS fallback:
    // pg's libpq binding, ssh2's crypto binding and cpu-features (testcontainers → dockerode → ssh2)
    external: ["pg-native", "cpu-features", "*.node"],
    // what the CommonJS dependencies expect of a module scope (ssh2 reads __dirname when loaded)
    banner: {
      js: [
        "import { createRequire as __gmCreateRequire } from 'node:module';",
        "import { fileURLToPath as __gmFileURLToPath } from 'node:url';",
        "const require = __gmCreateRequire(import.meta.url);",
        "const __filename = __gmFileURLToPath(import.meta.url);",
        "const __dirname = __gmFileURLToPath(new URL('.', import.meta.url));",
      ].join(" "),
    },
    plugins: [workspaceSources, moduleUrls(join(ROOT, rel))],
    // a third of the size; names kept, since messages and `instanceof`-free checks read constructor names
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
  });
}
