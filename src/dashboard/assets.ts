// The dashboard's static files (plain HTML, CSS and JS next to this module; no build step). Found
// beside the compiled module or, from dist/, in the package's src/dashboard (package.json ships src).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

const here = path.dirname(fileURLToPath(import.meta.url));
// Beside this module (tsx), from dist/dashboard/ (tsc output) or from dist/ (the bundled CLI).
const CANDIDATE_DIRS = [here, path.resolve(here, "../../src/dashboard"), path.resolve(here, "../src/dashboard")];

/** The page's slot for the data it starts with (index.html). */
const INITIAL_SLOT = "<!--initial-state-->";

/** A static file; the page (index.html) with `initial` embedded as JSON when given, so its first paint shows data. */
export function dashboardAsset(name: string, initial?: unknown): { body: string; contentType: string } | null {
  // Only plain file names from the fixed set of types: nothing can be read outside the folder.
  if (!/^[a-z0-9_-]+\.(html|js|css|svg)$/.test(name)) return null;
  for (const dir of CANDIDATE_DIRS) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const body = fs.readFileSync(file, "utf8");
    return { body: initial === undefined ? body : body.replace(INITIAL_SLOT, () => embeddedJson(initial)), contentType: TYPES[path.extname(name)] };
  }
  return null;
}

/** JSON inside a non-executed script element: every "<" escaped, so no value (a "</script>" in a payload) can end the element. */
export function embeddedJson(value: unknown): string {
  const json = JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
  return `<script id="initial-state" type="application/json">${json}</script>`;
}
