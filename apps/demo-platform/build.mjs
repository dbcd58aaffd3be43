// Bundles the services into one file for the image: the image then needs only a Node runtime.
import { build } from "esbuild";
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  outfile: "image/app/main.mjs",
  // pg tries an optional native binding; the pure-JS client is what we use.
  external: ["pg-native"],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: "warning",
});
