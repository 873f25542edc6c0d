#!/usr/bin/env node
// Runs the built CLI: the single-file bundle when present (faster start-up), else the tsc output.
// `npm ci` / `npm install` build both through the `prepare` script.
//
// The bundle is CommonJS so that it can be compiled through vm.Script with V8's code cache
// (dist/cli.bundle.cjs.cache, written by `npm run build`): Node 20 has no code cache for ES modules
// (module.enableCompileCache() arrived in 22.1), and parsing ~900 KB of JavaScript is a large part
// of the start-up. The cache file starts with the SHA-256 of the source it was made from; when it is
// missing, stale or refused by V8 (another Node version, other V8 flags), the bundle still runs and
// a fresh cache is written beside it shortly after start (best effort: a read-only install is fine).
import crypto from "node:crypto";
import fs from "node:fs";
import { Module, createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const bundle = fileURLToPath(new URL("../dist/cli.bundle.cjs", import.meta.url));
const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
/** Long enough for the start and a first request, whose functions then land in the cache too. */
const CACHE_WRITE_DELAY_MS = 1000;

function runBundle(file) {
  const source = fs.readFileSync(file, "utf8");
  const cacheFile = `${file}.cache`;
  const digest = crypto.createHash("sha256").update(source).digest();
  let cachedData;
  try {
    const buf = fs.readFileSync(cacheFile);
    if (buf.subarray(0, digest.length).equals(digest)) cachedData = buf.subarray(digest.length);
  } catch {
    // no cache yet
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file));
  if (cachedData && !script.cachedDataRejected) return;
  const write = () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
      fs.renameSync(tmp, cacheFile);
    } catch {
      fs.rm(tmp, { force: true }, () => {});
    }
  };
  setTimeout(write, CACHE_WRITE_DELAY_MS).unref();
}

if (fs.existsSync(bundle)) runBundle(bundle);
else if (fs.existsSync(compiled)) await import(compiled);
else {
  console.error("error: dist/ is missing; run `npm run build` (npm ci does it for you)");
  process.exit(1);
}
