// Bundles the CLI into one CommonJS file (dist/cli.bundle.cjs) and writes its V8 code cache
// (dist/cli.bundle.cjs.cache). Loading one file instead of a few hundred modules (zod, hono, ...)
// and not parsing it again on every start are most of the emulator's start-up time; the
// per-module dist/ files stay for the library entry points. CommonJS, not ESM, because Node 20 can
// only use a code cache for scripts (vm.Script; see bin/roboflow-batch-emulator.js, which loads it).
// better-sqlite3 stays external: it is a native addon; so does undici, required only when --ca-file
// is set (bundled, it costs every start).
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { build } from "esbuild";

const OUT = "dist/cli.bundle.cjs";
const CACHE = `${OUT}.cache`;

await build({
  entryPoints: ["src/cli.ts"],
  outfile: OUT,
  bundle: true,
  minify: true,
  sourcemap: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["better-sqlite3", "undici"],
  // import() of an external becomes require(): vm.Script has no module loader for dynamic imports.
  supported: { "dynamic-import": false },
  // The sources use import.meta.url (to find the dashboard's files); in CommonJS it is this file's URL.
  define: { "import.meta.url": "__rfImportMetaUrl" },
  banner: { js: "const __rfImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: "warning",
});
// The ES-module bundle of earlier builds.
for (const old of ["dist/cli.bundle.mjs", "dist/cli.bundle.mjs.map"]) fs.rmSync(old, { force: true });

/**
 * The code cache is made by a real start: the CLI writes a missing cache a second after it starts,
 * so it also holds every function compiled while starting and answering a first /health.
 */
async function writeCodeCache() {
  fs.rmSync(CACHE, { force: true });
  const child = spawn(process.execPath, ["bin/roboflow-batch-emulator.js", "--port", "0", "--data-dir", ":memory:", "--quiet"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const deadline = Date.now() + 30_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  let out = "";
  const url = await new Promise((resolve) => {
    child.stdout.on("data", (d) => {
      out += d;
      const found = /http:\/\/\S+/.exec(out);
      if (found) resolve(found[0]);
    });
    child.once("exit", () => resolve(undefined));
  });
  if (url) await new Promise((resolve) => http.get(`${url}/health`, (res) => res.resume().on("end", resolve)).on("error", resolve));
  // The cache starts with the SHA-256 of the bundle it belongs to (another CLI process may have left an older one).
  const digest = crypto.createHash("sha256").update(fs.readFileSync(OUT, "utf8")).digest();
  const written = () => fs.existsSync(CACHE) && fs.readFileSync(CACHE).subarray(0, digest.length).equals(digest);
  while (url && !written() && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearTimeout(timer);
  child.kill("SIGTERM");
  if (!written())
    console.warn(`warning: no ${CACHE} was written (${url ? "timed out" : "the CLI did not start"}); the CLI still runs, only its start is slower`);
}

await writeCodeCache();
