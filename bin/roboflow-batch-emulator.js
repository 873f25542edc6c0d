#!/usr/bin/env node
// Runs the compiled CLI (built by `npm run build`, which `npm ci`/`npm install` run via `prepare`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
if (!existsSync(compiled)) {
  console.error("error: dist/cli.js is missing; run `npm run build` (npm ci does it for you)");
  process.exit(1);
}
await import(compiled);
