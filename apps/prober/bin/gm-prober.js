#!/usr/bin/env node
// The command npm links as node_modules/.bin/gm-prober. npm links a workspace's bin at install only if
// its file exists then, and dist/ is built after `npm ci`: this committed file is what it links, and
// it runs the built CLI (dist/cli.js), or says how to build it.
import { existsSync } from "node:fs";

const notBuilt = (detail) => {
  process.stderr.write(`gm-prober: not built yet (${detail}): run \`npm run build\` at the repository's root first\n`);
  process.exit(1);
};
const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) notBuilt("apps/prober/dist/cli.js is missing");
let mod;
try {
  mod = await import(cli.href);
} catch (err) {
  // a workspace package it imports is not built either (their exports point at dist/)
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes("/dist/")) throw err;
  notBuilt(String(err.message).split("\n")[0]);
}
mod.main(process.argv.slice(2));
