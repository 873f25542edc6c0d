#!/usr/bin/env node
// Runs the built CLI: the single-file bundle when present (faster start-up), else the tsc output.
// `npm ci` / `npm install` build both through the `prepare` script.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const bundle = fileURLToPath(new URL("../dist/cli.bundle.mjs", import.meta.url));
const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const entry = existsSync(bundle) ? bundle : compiled;
if (!existsSync(entry)) {
  console.error("error: dist/ is missing; run `npm run build` (npm ci does it for you)");
  process.exit(1);
}
await import(entry);
