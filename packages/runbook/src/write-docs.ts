/** Writes docs/runbook.md from the catalog and the default policy: `npm run docs -w @gm/runbook`. */
import { mkdir, writeFile } from "node:fs/promises";
import { renderRunbookMarkdown } from "./render-docs.js";

// Same relative path from src/ and dist/: packages/runbook/<dir>/ → repository root.
const target = new URL("../../../docs/runbook.md", import.meta.url);
await mkdir(new URL(".", target), { recursive: true });
await writeFile(target, renderRunbookMarkdown());
console.log(`wrote ${target.pathname}`);
